"""Statistics and command line of the prompt suites (``python -m poser_env.world.suites``).

``--check`` regenerates every file to a temporary folder and compares it byte for byte with
the committed one, ``--stats`` prints tasks per suite, category and split, and no flag
(re)writes the files (under ``--out DIR``, default the package's data).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poser_env.world.suites.files import load_suite
from poser_env.world.suites.generate import check_files, generate_all
from poser_env.world.suites.spec import CATEGORIES, DEFAULT_DIR, FORMS_SUITES, SPLITS, SUITES


def suite_stats(root: str | Path | None = None) -> str:
    """A Markdown table of tasks per suite, category and split, with mean checks per task. The
    v1 suites follow the v0 ones; their categories are prompt forms (counts per form)."""
    rows = [
        "| suite | category | train | val | test | total | checks per task (mean, min-max) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for suite in SUITES + FORMS_SUITES:
        by_split = {sp: load_suite(suite, sp, root) for sp in SPLITS}
        for cat in CATEGORIES[suite]:
            counts = [sum(1 for t in by_split[sp] if t.task_category == cat) for sp in SPLITS]
            n_checks = [len(t.checks) for sp in SPLITS for t in by_split[sp] if t.task_category == cat]
            rows.append(
                f"| {suite} | {cat} | {' | '.join(map(str, counts))} | {sum(counts)} | "
                f"{np.mean(n_checks):.2f} ({min(n_checks)}-{max(n_checks)}) |"
            )
        if len(CATEGORIES[suite]) > 1:
            counts = [len(by_split[sp]) for sp in SPLITS]
            rows.append(f"| {suite} | **all** | {' | '.join(map(str, counts))} | {sum(counts)} | |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m poser_env.world.suites", description="Generate, check or summarise the prompt suites."
    )
    parser.add_argument("--out", default=None, help=f"suites root to write or check (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="regenerate to a temporary folder and compare")
    parser.add_argument("--stats", action="store_true", help="print tasks per suite, category and split")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else DEFAULT_DIR
    if args.stats:
        print(suite_stats(root))
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
