"""Prompt suites: the public import path for the generator, the committed task files and their loader.

Three suites, each with train / val / test splits (see ``docs/suites.md``):

- ``geneval``: GenEval-like short prompts in six categories (single_object, two_object,
  counting, colors, position, color_attr), equal numbers per category.
- ``longform``: long generation prompts with 4 to 10 constraints (objects, counts, colours,
  sizes, relations, background, style).
- ``editing``: a source scene of 2 to 5 objects plus 2 to 5 edits (add, remove, recolor, move,
  background, style); untouched source objects must be preserved.

This module only re-exports; the code lives in one module per job:

- :mod:`poser_env.world.suite_spec`: names, splits, categories, sizes, seeds, file paths
  (:data:`SUITES`, :data:`CATEGORIES`, :func:`split_of`, :func:`suite_file` ...).
- :mod:`poser_env.world.edits`: edit dicts: :func:`validate_edit`, :func:`apply_edits`,
  :func:`edit_target`.
- :mod:`poser_env.world.suite_prompts`: surface text of long-form and editing prompts.
- :mod:`poser_env.world.suite_gen`: the seeded generator (:func:`generate_split`,
  :func:`generate_all`, :func:`check_files`).
- :mod:`poser_env.world.suite_files`: the JSONL line format and the loader
  (:func:`load_suite`, :func:`load_heldout`).
- :mod:`poser_env.world.suite_cli`: :func:`suite_stats` and the command line.

Regeneration is byte-identical; ``python -m poser_env.world.suites --check`` verifies that
(``--stats`` prints the counts, ``--out DIR`` writes the files elsewhere).
"""

from __future__ import annotations

from poser_env.world.edits import EditError, apply_edits, edit_target, validate_edit
from poser_env.world.suite_cli import main, suite_stats
from poser_env.world.suite_files import (
    HELDOUT_FILES,
    SuiteFormatError,
    load_heldout,
    load_tasks,
    load_suite,
    parse_task_line,
    task_line,
    task_to_dict,
)
from poser_env.world.suite_gen import check_files, generate_all, generate_split, sample_edits, split_text
from poser_env.world.suite_prompts import edit_clause, editing_prompt, longform_prompt
from poser_env.world.suite_spec import (
    CATEGORIES,
    DEFAULT_DIR,
    EDIT_OPS,
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

__all__ = [
    "CATEGORIES",
    "DEFAULT_DIR",
    "EDIT_OPS",
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

if __name__ == "__main__":
    raise SystemExit(main())
