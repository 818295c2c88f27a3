"""Old import paths kept for one release after a module moved (see docs/real-models.md,
"Deprecated import paths").

A module at an old path is a thin stand-in: it imports the new module, warns once (at its first
import) with a :class:`DeprecationWarning` naming the new path, and hands every attribute
lookup on to the new module, so ``from old.path import X`` gives the very same object ``X``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any


class ImagePoserDeprecationWarning(DeprecationWarning):
    """What this project warns with when a name, path or setting is renamed (kept one release).

    A ``DeprecationWarning`` (so ``-W error::DeprecationWarning`` and ``pytest.warns`` catch it),
    but shown by default: Python hides ``DeprecationWarning`` unless it is raised in ``__main__``,
    and ours are raised from deep inside ``gym.make`` or a preset loader, where a user would never
    see them. :func:`show_deprecations` (run when ``poser_env`` is imported) adds the filter,
    as Gymnasium does for its own."""


def show_deprecations() -> None:
    """Show each :class:`ImagePoserDeprecationWarning` once per place (Python's ``default`` action)."""
    warnings.filterwarnings("default", category=ImagePoserDeprecationWarning)


def forward(old: str, new: ModuleType) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module at ``old``, which now lives at ``new``; warns now.

    ``stacklevel=3`` points at the importing line where Python's import machinery allows it."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release: import {new.__name__} instead",
        ImagePoserDeprecationWarning,
        stacklevel=3,
    )

    def __getattr__(name: str) -> Any:
        try:
            return getattr(new, name)
        except AttributeError:
            raise AttributeError(f"module {old!r} (now {new.__name__!r}) has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        return dir(new)

    return __getattr__, __dir__
