"""The harder levels' prompt suites: long prompts, long edit chains, and a generalisation split.

``ImagePoser-Hard-v0`` draws from two suites generated here (additively: the base suites and
their generator, :mod:`poser_env.world.suites.generate`, are untouched):

- ``hard_longform``: generation prompts with 8 to 15 constraints (checks).
- ``hard_editing``: a source scene of 2 to 4 objects plus 4 to 8 edits.

Each has the splits ``train`` / ``val`` / ``test`` and ``gen``, the **generalisation split**
(as Procgen separates train and test levels): a fixed set of combinations, colour-shape pairs
(:data:`HELDOUT_PAIRS`) and shape-relation pairs (:data:`HELDOUT_RELATIONS`, the shape being the
subject of the relation), never appears in train, val or test, and every ``gen`` task holds at
least one of them. Train / val / test are disjoint in prompt text as the base suites are
(:func:`~poser_env.world.suites.spec.split_of`).

``gen_forms``, the second generalisation split, holds out **prompt forms** only: Hard-sized
tasks (the same lengths) built from combinations train allows (no held-out pair), written in
the v1 forms of :mod:`poser_env.world.suites.forms` (the ``forms`` suites' wording
functions), while train, val and test are written in the v0 templates of
:mod:`~poser_env.world.suites.prompts` (the two share some words and style phrases, not the
forms' constructions: docs/benchmark.md). Each task's category is its form
(:data:`~poser_env.world.suites.spec.LEVEL_FORMS`, equal numbers per form), and the grammar
reader reads every task exactly (``tests/world/test_level_forms.py``). So ``gen`` measures the
combination factor and ``gen_forms`` the form factor, apart.

Files: ``poser_env/data/suites/<suite>/<split>.jsonl``, byte-identical on regeneration
(``python -m poser_env.world.suites.levels --check``).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poser_env.types import Task
from poser_env.world import language as L
from poser_env.world import vocab
from poser_env.world.checks import Target, checks_for
from poser_env.world.sampling import sample_longform_target
from poser_env.world.scene import Scene
from poser_env.world.suites.files import task_line
from poser_env.world.suites.generate import (
    Candidate,
    candidate_task,
    editing_candidate,
    forms_candidate,
    forms_editing_candidate,
    realises,
)
from poser_env.world.suites.prompts import longform_prompt
from poser_env.world.suites.spec import LEVEL_FORMS, LEVEL_SPLITS, LEVEL_SUITES, split_of, split_rng, suite_file

#: Tasks per split of each level suite.
LEVEL_SIZES: dict[str, int] = {"train": 600, "val": 100, "test": 150, "gen": 100, "gen_forms": 100}
#: Colour-shape pairs held out of train / val / test (one per shape).
HELDOUT_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (list(vocab.COLORS)[(3 * k + 1) % len(vocab.COLORS)], shape) for k, shape in enumerate(vocab.SHAPES)
)
#: (subject shape, relation) pairs held out of train / val / test.
HELDOUT_RELATIONS: tuple[tuple[str, str], ...] = tuple(
    (shape, vocab.RELATIONS[k % len(vocab.RELATIONS)]) for k, shape in enumerate(vocab.SHAPES[::2])
)
LONG_CHECKS = (8, 15)
EDIT_CHAIN = (4, 8)


def heldout_combinations(
    target: Target, source: Scene | None = None, edits: Sequence[dict[str, Any]] = ()
) -> set[tuple[str, str]]:
    """The held-out combinations a task uses (in its target, its source, or its edits)."""
    pairs = {(g.color, g.shape) for g in (*target.groups, *target.absent) if g.color is not None}
    if source is not None:
        pairs |= {(o.color, o.shape) for o in source.objects}
    for e in edits:
        for key in ("object", "anchor"):
            ref = e.get(key)
            if isinstance(ref, dict) and ref.get("color"):
                pairs.add((ref["color"], ref["shape"]))
        if e.get("color") and isinstance(e.get("object"), dict):
            pairs.add((e["color"], e["object"]["shape"]))
        if e.get("rel") and isinstance(e.get("object"), dict):
            pairs.add((e["object"]["shape"], e["rel"]))
    rels = {(r.a.shape, r.rel) for r in target.relations}
    return (pairs & set(HELDOUT_PAIRS)) | ((rels | pairs) & set(HELDOUT_RELATIONS))


def _hard_longform(rng: np.random.Generator) -> Candidate | None:
    target = sample_longform_target(rng, n_constraints=int(rng.integers(LONG_CHECKS[0], LONG_CHECKS[1] + 1)))
    if not LONG_CHECKS[0] <= len(checks_for(target)) <= LONG_CHECKS[1]:
        return None
    return Candidate(longform_prompt(target, rng), target, finish=lambda r: realises(target, r))


def _hard_editing(rng: np.random.Generator) -> Candidate | None:
    """As the base editing suite's candidates, with a shorter source and a longer edit chain."""
    return editing_candidate(rng, sources=(2, 5), chain=(EDIT_CHAIN[0], EDIT_CHAIN[1] + 1), min_edits=EDIT_CHAIN[0])


_CANDIDATES = {"hard_longform": _hard_longform, "hard_editing": _hard_editing}


def _form_candidate(suite: str, form: str, rng: np.random.Generator) -> Candidate | None:
    """A ``gen_forms`` candidate: a Hard-sized task of ``suite`` written in ``form``."""
    if suite == "hard_longform":
        return forms_candidate(form, rng, constraints=(LONG_CHECKS[0], LONG_CHECKS[1] + 1), checks=LONG_CHECKS)
    return forms_editing_candidate(
        form, rng, sources=(2, 5), chain=(EDIT_CHAIN[0], EDIT_CHAIN[1] + 1), min_edits=EDIT_CHAIN[0]
    )


def form_quota(suite: str, size: int | None = None) -> dict[str, int]:
    """Tasks per form of ``suite``'s ``gen_forms`` split (equal, the first forms one more)."""
    forms = LEVEL_FORMS[suite]
    base, extra = divmod(LEVEL_SIZES["gen_forms"] if size is None else int(size), len(forms))
    return {f: base + (1 if i < extra else 0) for i, f in enumerate(forms)}


def generate_level_split(suite: str, split: str, size: int | None = None) -> list[Task]:
    """The tasks of one level (suite, split), in file order."""
    if suite not in LEVEL_SUITES or split not in LEVEL_SPLITS:
        raise ValueError(
            f"unknown level suite/split {suite}/{split}; allowed: {', '.join(LEVEL_SUITES)} / {', '.join(LEVEL_SPLITS)}"
        )
    rng = split_rng(suite, split)
    if split == "gen_forms":  # form by form; no held-out combination, any prompt hash
        quotas = form_quota(suite, size)
    else:
        quotas = {suite: LEVEL_SIZES[split] if size is None else int(size)}
    seen: set[str] = set()
    tasks: list[Task] = []
    for category, quota in quotas.items():
        made = draws = 0
        while made < quota:
            draws += 1
            if draws > 4000 + 400 * quota:
                raise RuntimeError(f"could not fill {suite}/{split}/{category}: {made} of {quota} after {draws} draws")
            cand = _CANDIDATES[suite](rng) if split != "gen_forms" else _form_candidate(suite, category, rng)
            if cand is None:
                continue
            key = L.normalise(cand.prompt)
            if key in seen:
                continue
            if split in ("train", "val", "test") and split_of(cand.prompt) != split:
                continue
            if cand.finish is not None and not cand.finish(rng):
                continue
            held = heldout_combinations(cand.target, cand.source, cand.edits or ())
            if bool(held) != (split == "gen"):
                continue
            seen.add(key)
            tasks.append(candidate_task(cand, suite, split, category, len(tasks)))
            made += 1
    return tasks


def level_pairs() -> list[tuple[str, str]]:
    return [(s, p) for s in LEVEL_SUITES for p in LEVEL_SPLITS]


def generate_level_files(
    out_dir: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None
) -> list[Path]:
    written = []
    for suite, split in pairs if pairs is not None else level_pairs():
        path = suite_file(suite, split, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(task_line(t) + "\n" for t in generate_level_split(suite, split)), encoding="utf-8")
        written.append(path)
    return written


def check_level_files(root: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None) -> str | None:
    """Regenerate and compare: None if identical, else the first differing file and line."""
    pairs = list(pairs) if pairs is not None else level_pairs()
    with tempfile.TemporaryDirectory() as tmp:
        generate_level_files(tmp, pairs)
        for suite, split in pairs:
            a = suite_file(suite, split, root).read_text(encoding="utf-8").splitlines()
            b = suite_file(suite, split, tmp).read_text(encoding="utf-8").splitlines()
            for n in range(max(len(a), len(b))):
                if (a[n] if n < len(a) else None) != (b[n] if n < len(b) else None):
                    return f"{suite_file(suite, split, root)}:{n + 1} differs from the generator"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m poser_env.world.suites.levels [--check] [--out DIR]``: write the level suites, or compare."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m poser_env.world.suites.levels",
        description="Generate (no flag) or check the harder levels' prompt suites.",
    )
    parser.add_argument(
        "--check", action="store_true", help="regenerate to a temporary folder and compare with the files"
    )
    parser.add_argument("--out", default=None, help="suites root to write or check (default: the package's data)")
    args = parser.parse_args(argv)
    if args.check:
        problem = check_level_files(args.out)
        print(problem or "level suites match the generator")
        return 1 if problem else 0
    for path in generate_level_files(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
