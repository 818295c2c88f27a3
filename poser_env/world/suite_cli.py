"""Statistics and command line of the prompt suites (``python -m poser_env.world.suites``).

``--check`` regenerates every file to a temporary folder and compares it byte for byte with
the committed one, ``--stats`` prints tasks per suite, category and split, ``--forms`` how
many prompts use each form of issue 12 (long-form and editing; GenEval-like prompts keep
GenEval's wording), and no flag
(re)writes the files (under ``--out DIR``, default the package's data).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from poser_env.world.suite_files import load_suite
from poser_env.world.suite_gen import check_files, generate_all
from poser_env.world.suite_spec import CATEGORIES, DEFAULT_DIR, SPLITS, SUITES


def suite_stats(root: str | Path | None = None) -> str:
    """A Markdown table of tasks per suite, category and split, with mean checks per task."""
    rows = ["| suite | category | train | val | test | total | checks per task (mean, min-max) |", "|---|---|---:|---:|---:|---:|---|"]
    for suite in SUITES:
        by_split = {sp: load_suite(suite, sp, root) for sp in SPLITS}
        for cat in CATEGORIES[suite]:
            counts = [sum(1 for t in by_split[sp] if t.category == cat) for sp in SPLITS]
            n_checks = [len(t.checks) for sp in SPLITS for t in by_split[sp] if t.category == cat]
            rows.append(
                f"| {suite} | {cat} | {' | '.join(map(str, counts))} | {sum(counts)} | "
                f"{np.mean(n_checks):.2f} ({min(n_checks)}-{max(n_checks)}) |"
            )
        if len(CATEGORIES[suite]) > 1:
            counts = [len(by_split[sp]) for sp in SPLITS]
            rows.append(f"| {suite} | **all** | {' | '.join(map(str, counts))} | {sum(counts)} | |")
    return "\n".join(rows)


def _form_finders() -> dict[str, Callable[[str], bool]]:
    """Per issue-12 form the generator writes (``language.py``), a test on a prompt."""
    from poser_env.world import language as L
    from poser_env.world.chunks import chunk
    from poser_env.world.parse import split_clauses, tokenize

    def rx(pattern: str) -> Callable[[str], bool]:
        compiled = re.compile(pattern, re.IGNORECASE)
        return lambda text: compiled.search(text) is not None

    def bare_plural(text: str) -> bool:
        return any(n.det == "bare" and n.plural for run in split_clauses(tokenize(text)) for n in chunk([t[0] for t in run]))

    relations = sorted({p for ps in L.MORE_RELATION_PHRASES.values() for p in ps}, key=len, reverse=True)
    return {
        "quantifier (a pair of, a couple of, a trio of)": rx(r"\ba (?:pair|couple|trio) of\b"),
        "colour intensifier (bright red, deep purple)": rx(r"\b(?:bright|deep|vivid) (?:" + "|".join(L.COLOR_LOOKUP) + r")\b"),
        "bare plural (orange stars)": bare_plural,
        "relation wording (on top of, beneath, atop, just left of ...)": rx(r"\b(?:" + "|".join(map(re.escape, relations)) + r")\b"),
        "verbal relation sentence (rests, is placed, hangs, fronted sits)": rx(r"\b(?:rests|is placed|hangs)\b|\bsits the\b"),
        "style noun (a pencil sketch, 8-bit pixel art, a watercolour wash)": rx(r"pencil sketch|8-bit pixel art|watercolour wash"),
    }


def form_counts(root: str | Path | None = None) -> str:
    """A Markdown table: per issue-12 form, the prompts of each suite and split that use it."""
    finders = _form_finders()
    tasks = {(s, sp): load_suite(s, sp, root) for s in SUITES for sp in SPLITS}
    cols = [(s, sp) for s in SUITES for sp in SPLITS if s != "geneval"]
    rows = ["| form | " + " | ".join(f"{s} {sp}" for s, sp in cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, found in finders.items():
        rows.append(f"| {name} | " + " | ".join(str(sum(found(t.prompt) for t in tasks[c])) for c in cols) + " |")
    rows.append("| prompts | " + " | ".join(str(len(tasks[c])) for c in cols) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m poser_env.world.suites", description="Generate, check or summarise the prompt suites."
    )
    parser.add_argument("--out", default=None, help=f"suites root to write or check (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="regenerate to a temporary folder and compare")
    parser.add_argument("--stats", action="store_true", help="print tasks per suite, category and split")
    parser.add_argument("--forms", action="store_true", help="print how many prompts use each issue-12 form")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else DEFAULT_DIR
    if args.stats:
        print(suite_stats(root))
        return 0
    if args.forms:
        print(form_counts(root))
        return 0
    if args.check:
        diff = check_files(root)
        if diff is not None:
            print(f"suite files differ from the generator: {diff}", file=sys.stderr)
            return 1
        print(f"suite files under {root} match the generator")
        return 0
    t0 = time.perf_counter()
    paths = generate_all(root)
    print(f"wrote {len(paths)} files under {root} in {time.perf_counter() - t0:.1f} s")
    return 0
