"""Deprecated home of the workflow vocabulary: use :mod:`poser_agents.grpo.workflow_tokens` (the
name says what it is, and no longer collides with ``poser_env/world/vocab.py``, the world's
words). This module re-exports it for one release and warns on import."""

from __future__ import annotations

import warnings

from poser_agents.grpo.workflow_tokens import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, Workflow, WorkflowError, WorkflowVocab
from poser_env.deprecation import ImagePoserDeprecationWarning

__all__ = ["BOS", "EOS", "PAD", "SEP", "SPECIAL_TOKENS", "Workflow", "WorkflowError", "WorkflowVocab"]

warnings.warn(
    "poser_agents.grpo.vocab moved to poser_agents.grpo.workflow_tokens; the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)
