"""How often an extractor's checks equal a generated task's checks: the grammar's figure.

For every task of the committed suites, the extractor reads the prompt (and, for editing,
the rendered source image, exactly as the env hands it over; generation tasks get the blank
canvas the env gives them) and the union of its commands' checks is compared with
``task.checks``. Checks are compared by category and spec (``Check`` equality), order
ignored, except preserve checks: their positions come from the pixel detector, so they must
match one to one in shape, colour and size exactly and in position within ``tol``.

``python -m poser_env.extractors.agreement`` prints the table (and ``--json`` the data).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Iterable, Sequence

from poser_env.extractors.base import CommandExtractor
from poser_env.types import Canvas, Check, Task
from poser_env.world.render import render
from poser_env.world.scene import DEFAULT_CANVAS, Scene

#: Position tolerance (canvas fractions) for preserve checks read off pixels.
PRESERVE_POSITION_TOL = 0.02


def _is_preserve(c: Check) -> bool:
    return isinstance(c.spec, dict) and c.spec.get("kind") == "preserve"


def check_difference(got: Sequence[Check], want: Sequence[Check], tol: float = PRESERVE_POSITION_TOL) -> tuple[list[Check], list[Check]]:
    """``(missing, extra)``: checks of ``want`` that ``got`` lacks and checks ``got`` adds.

    Preserve checks match one to one on shape, colour and size, and position within ``tol``."""
    got_plain = [c for c in got if not _is_preserve(c)]
    want_plain = [c for c in want if not _is_preserve(c)]
    missing = [c for c in want_plain if c not in set(got_plain)]
    extra = [c for c in got_plain if c not in set(want_plain)]
    free = [c for c in got if _is_preserve(c)]
    for w in (c for c in want if _is_preserve(c)):
        hit = next((g for g in free if _same_place(g.spec, w.spec, tol)), None)
        if hit is None:
            missing.append(w)
        else:
            free.remove(hit)
    return missing, extra + free


def _same_place(a: dict[str, Any], b: dict[str, Any], tol: float) -> bool:
    return (
        all(a.get(k) == b.get(k) for k in ("shape", "color", "size"))
        and abs(float(a.get("x", -9)) - float(b.get("x", 9))) <= tol
        and abs(float(a.get("y", -9)) - float(b.get("y", 9))) <= tol
    )


def checks_agree(got: Sequence[Check], want: Sequence[Check], tol: float = PRESERVE_POSITION_TOL) -> bool:
    """Whether two check lists ask for the same things (see :func:`check_difference`)."""
    missing, extra = check_difference(got, want, tol)
    return not missing and not extra


def task_canvas(task: Task, size: int = DEFAULT_CANVAS) -> Canvas:
    """The canvas the env starts a task from: the rendered source, or a blank canvas."""
    scene = task.source if isinstance(task.source, Scene) else Scene()
    return Canvas(image=render(scene, size), scene=scene)


def extracted_checks(extractor: CommandExtractor, task: Task) -> list[Check]:
    """The union of the checks of the commands ``extractor`` makes for ``task``."""
    return [c for cmd in extractor.extract(task.prompt, source=task_canvas(task)) for c in cmd.checks]


def extractor_agreement(
    suites: Iterable[str] | None = None,
    splits: Iterable[str] | None = None,
    extractor: CommandExtractor | None = None,
    root: str | None = None,
    max_failures: int = 10,
) -> dict[str, Any]:
    """Per (suite, split): tasks, tasks whose extracted checks agree, the rate, and up to
    ``max_failures`` failing examples (id, prompt, missing and extra check questions).

    Returns ``{"suites": {suite: {split: {...}}}, "overall": {"n", "agree", "rate"},
    "seconds": ...}``. Defaults: every suite and split, the grammar extractor.
    """
    from poser_env.extractors.grammar import GrammarExtractor
    from poser_env.world.suites import SPLITS, SUITES, load_suite

    ext = extractor if extractor is not None else GrammarExtractor()
    t0 = time.perf_counter()
    out: dict[str, Any] = {"suites": {}, "overall": {"n": 0, "agree": 0, "rate": 1.0}}
    for suite in suites if suites is not None else SUITES:
        for split in splits if splits is not None else SPLITS:
            n = agree = 0
            failures: list[dict[str, Any]] = []
            for task in load_suite(suite, split, root):
                missing, extra = check_difference(extracted_checks(ext, task), task.checks)
                n += 1
                if not missing and not extra:
                    agree += 1
                elif len(failures) < max_failures:
                    failures.append(
                        {
                            "id": task.id,
                            "prompt": task.prompt,
                            "missing": [c.question for c in missing],
                            "extra": [c.question for c in extra],
                        }
                    )
            out["suites"].setdefault(suite, {})[split] = {"n": n, "agree": agree, "rate": agree / n if n else 1.0, "failures": failures}
            out["overall"]["n"] += n
            out["overall"]["agree"] += agree
    o = out["overall"]
    o["rate"] = o["agree"] / o["n"] if o["n"] else 1.0
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def format_agreement(result: dict[str, Any]) -> str:
    """A Markdown table of :func:`extractor_agreement`'s result, failures listed below it."""
    rows = ["| suite | split | tasks | agree | rate |", "|---|---|---:|---:|---:|"]
    notes: list[str] = []
    for suite, by_split in result["suites"].items():
        for split, r in by_split.items():
            rows.append(f"| {suite} | {split} | {r['n']} | {r['agree']} | {100 * r['rate']:.2f}% |")
            for f in r["failures"]:
                notes.append(f"- {f['id']}: {f['prompt']!r}\n  missing: {f['missing']}\n  extra: {f['extra']}")
    o = result["overall"]
    rows.append(f"| **all** | | {o['n']} | {o['agree']} | {100 * o['rate']:.2f}% |")
    return "\n".join(rows + ([""] + ["Disagreements:"] + notes if notes else []))


def main(argv: Sequence[str] | None = None) -> int:
    from poser_env.world.suites import SPLITS, SUITES

    parser = argparse.ArgumentParser(
        prog="python -m poser_env.extractors.agreement",
        description="Agreement of the grammar extractor's checks with the suites' target checks.",
    )
    parser.add_argument("--suite", action="append", choices=SUITES, help="suite(s) to measure (default: all)")
    parser.add_argument("--split", action="append", choices=SPLITS, help="split(s) to measure (default: all)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = extractor_agreement(args.suite, args.split)
    print(json.dumps(result, indent=2) if args.json else format_agreement(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
