"""What the prompt suites are: their names, splits, categories, sizes, seeds and file paths.

Three suites, each with train / val / test splits (see ``docs/suites.md``):

- ``geneval``: GenEval-like short prompts in six categories (single_object, two_object,
  counting, colors, position, color_attr), equal numbers per category.
- ``longform``: long generation prompts with 4 to 10 constraints (objects, counts, colours,
  sizes, relations, background, style).
- ``editing``: a source scene of 2 to 5 objects plus 2 to 5 edits (add, remove, recolor, move,
  background, style); untouched source objects must be preserved.

**Splits are disjoint in prompt text by construction**: a prompt belongs to the split that a
hash of its normalised text (:func:`~poser_env.world.language.normalise`) picks with
probabilities :data:`SPLIT_FRACTIONS` (:func:`split_of`). Each (suite, split) is generated
from its own ``numpy`` Generator derived from :data:`MASTER_SEED` (:func:`split_rng`), and
lives in ``poser_env/data/suites/<suite>/<split>.jsonl`` (:func:`suite_file`).

The generator is :mod:`poser_env.world.suite_gen`, the loader
:mod:`poser_env.world.suite_files`; :mod:`poser_env.world.suites` re-exports all of them.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np

from poser_env.world import language as L

SUITES: tuple[str, ...] = ("geneval", "longform", "editing")
SPLITS: tuple[str, ...] = ("train", "val", "test")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "geneval": ("single_object", "two_object", "counting", "colors", "position", "color_attr"),
    "longform": ("longform",),
    "editing": ("editing",),
    # Hand-written prompts in words the generator never uses (data/heldout/): a test of
    # generalisation beyond the templates, never trained on. Not generated, so not in SUITES.
    "heldout": ("heldout_generation", "heldout_editing"),
}
#: Tasks per split (split equally over a suite's categories).
SPLIT_SIZES: dict[str, dict[str, int]] = {
    "geneval": {"train": 1200, "val": 240, "test": 300},
    "longform": {"train": 1000, "val": 200, "test": 300},
    "editing": {"train": 1000, "val": 200, "test": 300},
}
#: The one seed every suite file derives from.
MASTER_SEED = 20250611
#: Share of the prompt space (by hash of the normalised text) that belongs to each split.
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.65, "val": 0.15, "test": 0.20}
#: The keys of one task line.
TASK_KEYS: tuple[str, ...] = ("category", "edits", "id", "prompt", "source", "split", "suite", "target")
#: Edit operations (see :func:`~poser_env.world.edits.apply_edits`).
EDIT_OPS: tuple[str, ...] = L.EDIT_OPS
#: Most objects an editing scene holds at any time (the canvas gets crowded beyond).
MAX_EDIT_OBJECTS = 7

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "suites"


# --------------------------------------------------------------------------------------------
# Seeds and splits
# --------------------------------------------------------------------------------------------


def split_rng(suite: str, split: str) -> np.random.Generator:
    """The Generator that makes one (suite, split) file."""
    check_suite_split(suite, split)
    seq = np.random.SeedSequence([MASTER_SEED, zlib.crc32(suite.encode()), zlib.crc32(split.encode())])
    return np.random.default_rng(seq)


def split_of(prompt: str) -> str:
    """The split a prompt belongs to: a stable hash of its normalised text."""
    digest = hashlib.sha256(L.normalise(prompt).encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    acc = 0.0
    for split in SPLITS:
        acc += SPLIT_FRACTIONS[split]
        if u < acc:
            return split
    return SPLITS[-1]


def check_suite_split(suite: str, split: str) -> None:
    """A ValueError naming the allowed values when ``suite`` or ``split`` is unknown."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(SUITES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


def category_quota(suite: str, split: str) -> dict[str, int]:
    """How many tasks of each category a split holds."""
    check_suite_split(suite, split)
    cats = CATEGORIES[suite]
    total = SPLIT_SIZES[suite][split]
    base, extra = divmod(total, len(cats))
    return {c: base + (1 if i < extra else 0) for i, c in enumerate(cats)}


def suite_file(suite: str, split: str, root: str | Path | None = None) -> Path:
    check_suite_split(suite, split)
    return Path(root if root is not None else DEFAULT_DIR) / suite / f"{split}.jsonl"
