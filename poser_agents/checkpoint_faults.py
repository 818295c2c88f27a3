"""Deprecated home of the corrupted-checkpoint matrix: use :mod:`poser_agents.common.checkpoint_faults`
(``python -m poser_agents.common.checkpoint_faults``). This module re-exports it for one release,
warns, and still runs as ``python -m poser_agents.checkpoint_faults``."""

from __future__ import annotations

import sys
import warnings

from poser_agents.common.checkpoint_faults import edit_agent_json, kill_during_saves, main, run
from poser_env.deprecation import ImagePoserDeprecationWarning

__all__ = ["edit_agent_json", "kill_during_saves", "main", "run"]

warnings.warn(
    "poser_agents.checkpoint_faults moved to poser_agents.common.checkpoint_faults; the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
