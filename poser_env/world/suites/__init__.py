"""Prompt suites: what they are, their committed task files, the loader and the generator.

Three suites, each with train / val / test splits (see ``docs/suites.md``): ``geneval``
(GenEval-like short prompts in six categories), ``longform`` (4 to 10 constraints) and
``editing`` (a source scene plus 2 to 5 edits), and the harder levels' ``hard_longform`` /
``hard_editing`` (:mod:`poser_env.world.suites.levels`).

One module per job:

- :mod:`~poser_env.world.suites.spec`: names, splits, categories, sizes, seeds, file paths
  (:data:`SUITES`, :data:`CATEGORIES`, :func:`split_of`, :func:`suite_file` ...).
- :mod:`~poser_env.world.suites.files`: the JSONL line format and the loader
  (:func:`load_suite`, :func:`load_heldout`, :func:`load_tasks`).
- :mod:`~poser_env.world.suites.prompts`: surface text of long-form and editing prompts.
- :mod:`~poser_env.world.suites.generate`: the seeded generator (:func:`generate_split`,
  :func:`generate_all`, :func:`check_files`).
- :mod:`~poser_env.world.suites.levels`: the harder levels' generator.
- :mod:`~poser_env.world.suites.forms`: the v1 suites' surface forms (``forms``,
  ``forms_editing``: :data:`FORMS_SUITES`, ``ImagePoser-v1``).
- :mod:`~poser_env.world.suites.cli`: :func:`suite_stats` and the command line.

The names of all of them are importable from here, as before the package existed. The env
only *loads* suites, so the loader and the spec are imported with the package, and the
generator's names (prompts, generate, levels, cli) are imported on first use (PEP 562
``__getattr__``): a ``reset`` never imports the generator (``tests/world/test_suites_layers.py``).
Edit dicts (:func:`validate_edit`, :func:`apply_edits`, :func:`edit_target`) live in
:mod:`poser_env.world.edits` and are re-exported here.

Regeneration is byte-identical; ``python -m poser_env.world.suites --check`` verifies that
(``--stats`` prints the counts, ``--out DIR`` writes the files elsewhere).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from poser_env.world.edits import EditError, apply_edits, edit_target, validate_edit
from poser_env.world.suites.files import (
    HELDOUT_FILES,
    SuiteFormatError,
    load_heldout,
    load_suite,
    load_tasks,
    parse_task_line,
    task_line,
    task_to_dict,
)
from poser_env.world.suites.spec import (
    CATEGORIES,
    DEFAULT_DIR,
    EDIT_OPS,
    FORMS_SUITES,
    MASTER_SEED,
    MAX_EDIT_OBJECTS,
    SPLIT_FRACTIONS,
    SPLIT_SIZES,
    SPLITS,
    SUITES,
    TASK_KEYS,
    category_quota,
    split_of,
    split_rng,
    suite_file,
)

if TYPE_CHECKING:  # the types of the lazy names below, for type checkers only
    from poser_env.world.suites.cli import main, suite_stats
    from poser_env.world.suites.generate import check_files, generate_all, generate_split, sample_edits, split_text
    from poser_env.world.suites.prompts import edit_clause, editing_prompt, longform_prompt

#: The generator's public names, imported on first access (module of each).
_LAZY: dict[str, str] = {
    "main": "cli",
    "suite_stats": "cli",
    "check_files": "generate",
    "generate_all": "generate",
    "generate_split": "generate",
    "sample_edits": "generate",
    "split_text": "generate",
    "edit_clause": "prompts",
    "editing_prompt": "prompts",
    "longform_prompt": "prompts",
}


def __getattr__(name: str) -> Any:
    """The generator's names, imported when first asked for (the loader never needs them)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CATEGORIES",
    "DEFAULT_DIR",
    "EDIT_OPS",
    "FORMS_SUITES",
    "MASTER_SEED",
    "MAX_EDIT_OBJECTS",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "SPLIT_SIZES",
    "SUITES",
    "TASK_KEYS",
    "EditError",
    "HELDOUT_FILES",
    "SuiteFormatError",
    "apply_edits",
    "category_quota",
    "check_files",
    "edit_clause",
    "edit_target",
    "editing_prompt",
    "generate_all",
    "generate_split",
    "load_heldout",
    "load_suite",
    "load_tasks",
    "longform_prompt",
    "main",
    "parse_task_line",
    "sample_edits",
    "split_of",
    "split_rng",
    "split_text",
    "suite_file",
    "suite_stats",
    "task_line",
    "task_to_dict",
    "validate_edit",
]
