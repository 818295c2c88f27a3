"""Deprecated path of :mod:`poser_env.world.world_check` (renamed: ``agreement.py`` also names
the extractor check, :mod:`poser_env.extractors.agreement`).

``python -m poser_env.world.agreement`` and ``from poser_env.world.agreement import ...`` keep
working for one release with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings

from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.world.world_check import fit_prototypes, format_report, main, world_check

warnings.warn(
    "poser_env.world.agreement was renamed poser_env.world.world_check; the old path goes in the next release",
    ImagePoserDeprecationWarning,
    stacklevel=2,
)

__all__ = ["fit_prototypes", "format_report", "main", "world_check"]

if __name__ == "__main__":
    raise SystemExit(main())
