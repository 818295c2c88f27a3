"""Deprecated home of the checkpoint I/O: use :mod:`poser_agents.common.checkpoint` (files, the
``agent.json`` schema, weights) and :mod:`poser_agents.common.env_description` (``describe_env``,
``compare_env``). This module re-exports them for one release and warns on import."""

from __future__ import annotations

import warnings

from poser_agents.common.checkpoint import (
    FORMATS,
    MAX_META_BYTES,
    META_FILE,
    PENDING_META,
    CheckpointError,
    atomic_write_bytes,
    atomic_write_text,
    check_finite,
    checkpoint_format,
    file_sha256,
    fsync_dir,
    inside,
    load_tensors,
    read_metadata,
    temp_path,
    verify_file,
    write_checkpoint,
)
from poser_agents.common.env_description import compare_env, describe_env
from poser_env.deprecation import ImagePoserDeprecationWarning

__all__ = [
    "FORMATS", "MAX_META_BYTES", "META_FILE", "PENDING_META", "CheckpointError", "atomic_write_bytes", "atomic_write_text",
    "check_finite", "checkpoint_format", "compare_env", "describe_env", "file_sha256", "fsync_dir", "inside", "load_tensors",
    "read_metadata", "temp_path", "verify_file", "write_checkpoint",
]  # fmt: skip

warnings.warn(
    "poser_agents.checkpoint moved to poser_agents.common.checkpoint (and describe_env / compare_env to "
    "poser_agents.common.env_description); the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)
