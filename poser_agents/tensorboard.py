"""Deprecated home of the TensorBoard callback: use :mod:`poser_agents.common.tensorboard`.
This module re-exports it for one release and warns on import."""

from __future__ import annotations

import warnings

from poser_agents.common.tensorboard import NOT_IMAGES, PoserTensorBoardCallback, add_tensorboard_output
from poser_env.deprecation import ImagePoserDeprecationWarning

__all__ = ["NOT_IMAGES", "PoserTensorBoardCallback", "add_tensorboard_output"]

warnings.warn(
    "poser_agents.tensorboard moved to poser_agents.common.tensorboard; the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)
