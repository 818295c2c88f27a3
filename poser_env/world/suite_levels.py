"""Deprecated path of :mod:`poser_env.world.suites.levels` (moved with the suite package).

``python -m poser_env.world.suite_levels [--check]`` and ``from poser_env.world.suite_levels
import ...`` keep working for one release with a ``DeprecationWarning``; use
``python -m poser_env.world.suites.levels`` and ``poser_env.world.suites.levels``.
"""

from __future__ import annotations

import sys
import warnings

from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.world.suites.levels import (
    EDIT_CHAIN,
    HELDOUT_PAIRS,
    HELDOUT_RELATIONS,
    LEVEL_SIZES,
    LONG_CHECKS,
    check_level_files,
    generate_level_files,
    generate_level_split,
    heldout_combinations,
    level_pairs,
    main,
)

warnings.warn(
    "poser_env.world.suite_levels moved to poser_env.world.suites.levels; the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "EDIT_CHAIN",
    "HELDOUT_PAIRS",
    "HELDOUT_RELATIONS",
    "LEVEL_SIZES",
    "LONG_CHECKS",
    "check_level_files",
    "generate_level_files",
    "generate_level_split",
    "heldout_combinations",
    "level_pairs",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
