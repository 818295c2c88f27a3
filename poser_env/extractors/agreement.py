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
from collections.abc import Iterable, Sequence
from typing import Any

from poser_env.extractors.base import CommandExtractor
from poser_env.types import Canvas, Check, Task
from poser_env.world.checks import SAME_POSITION_TOLERANCE, preserve_match
from poser_env.world.render import render
from poser_env.world.scene import DEFAULT_CANVAS, Scene

#: Position tolerance (canvas fractions) for preserve checks read off pixels (the world's
#: :data:`~poser_env.world.checks.SAME_POSITION_TOLERANCE`).
PRESERVE_POSITION_TOL = SAME_POSITION_TOLERANCE


def _is_preserve(c: Check) -> bool:
    return isinstance(c.spec, dict) and c.spec.get("kind") == "preserve"


def check_difference(
    got: Sequence[Check], want: Sequence[Check], tol: float = PRESERVE_POSITION_TOL
) -> tuple[list[Check], list[Check]]:
    """``(missing, extra)``: checks of ``want`` that ``got`` lacks and checks ``got`` adds.

    Preserve checks match one to one (:func:`~poser_env.world.checks.preserve_match`: shape,
    colour and size, and position within ``tol``)."""
    got_plain = [c for c in got if not _is_preserve(c)]
    want_plain = [c for c in want if not _is_preserve(c)]
    missing = [c for c in want_plain if c not in set(got_plain)]
    extra = [c for c in got_plain if c not in set(want_plain)]
    free = [c for c in got if _is_preserve(c)]
    for w in (c for c in want if _is_preserve(c)):
        hit = next((g for g in free if preserve_match(w.spec, g.spec, tol)), None)
        if hit is None:
            missing.append(w)
        else:
            free.remove(hit)
    return missing, extra + free


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
            out["suites"].setdefault(suite, {})[split] = {
                "n": n,
                "agree": agree,
                "rate": agree / n if n else 1.0,
                "failures": failures,
            }
            out["overall"]["n"] += n
            out["overall"]["agree"] += agree
    o = out["overall"]
    o["rate"] = o["agree"] / o["n"] if o["n"] else 1.0
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


#: The constraint kinds recall and precision are reported for (:func:`kind_of`).
KINDS: tuple[str, ...] = (
    "object",
    "count",
    "colour",
    "size",
    "relation",
    "background",
    "style",
    "absent",
    "preserve",
    "clean",
)


def kind_of(c: Check) -> str:
    """A check's constraint kind: its spec's kind, and for a group present in number 1 the most
    specific attribute it names (size, else colour, else just the object)."""
    spec = c.spec if isinstance(c.spec, dict) else {}
    k = spec.get("kind", "")
    if k == "exists":
        return "size" if spec.get("size") else ("colour" if spec.get("color") else "object")
    return {
        "count": "count",
        "absent": "absent",
        "relation": "relation",
        "background": "background",
        "style": "style",
        "preserve": "preserve",
        "clean": "clean",
    }.get(k, "text")


def kind_scores(tasks: Sequence[Task], extractor: CommandExtractor | None = None) -> dict[str, Any]:
    """Extractor recall and precision per constraint kind over ``tasks``' targets.

    Per kind: ``want`` (target checks), ``got`` (extracted checks), ``hit`` (extracted checks
    that are target checks, preserve checks matched one to one within the position tolerance);
    recall = hit / want, precision = hit / got (1.0 when the denominator is 0). ``failures``
    lists up to 20 tasks with a missing or extra check, and what was not understood.
    """
    from poser_env.extractors.grammar import GrammarExtractor

    ext = extractor if extractor is not None else GrammarExtractor()
    want: dict[str, int] = {k: 0 for k in KINDS}
    got: dict[str, int] = {k: 0 for k in KINDS}
    miss: dict[str, int] = {k: 0 for k in KINDS}
    extra_n: dict[str, int] = {k: 0 for k in KINDS}
    failures: list[dict[str, Any]] = []
    for task in tasks:
        commands = ext.extract(task.prompt, source=task_canvas(task))
        checks = [c for cmd in commands for c in cmd.checks]
        missing, extra = check_difference(checks, task.checks)
        for c in task.checks:
            want[kind_of(c)] = want.get(kind_of(c), 0) + 1
        for c in checks:
            got[kind_of(c)] = got.get(kind_of(c), 0) + 1
        for c in missing:
            miss[kind_of(c)] = miss.get(kind_of(c), 0) + 1
        for c in extra:
            extra_n[kind_of(c)] = extra_n.get(kind_of(c), 0) + 1
        if (missing or extra) and len(failures) < 20:
            failures.append(
                {
                    "id": task.id,
                    "prompt": task.prompt,
                    "missing": [c.question for c in missing],
                    "extra": [c.question for c in extra],
                    "not_understood": [s for cmd in commands for s in cmd.not_understood],
                }
            )
    kinds: dict[str, Any] = {}
    for k in sorted(set(want) | set(got), key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
        hit_w, hit_g = want.get(k, 0) - miss.get(k, 0), got.get(k, 0) - extra_n.get(k, 0)
        kinds[k] = {
            "want": want.get(k, 0),
            "got": got.get(k, 0),
            "recall": hit_w / want[k] if want.get(k) else 1.0,
            "precision": hit_g / got[k] if got.get(k) else 1.0,
        }
    return {"tasks": len(tasks), "kinds": kinds, "failures": failures}


def format_kind_scores(result: dict[str, Any]) -> str:
    rows = ["| kind | target checks | extracted | recall | precision |", "|---|---:|---:|---:|---:|"]
    for k, r in result["kinds"].items():
        if k == "text":  # the fallback check of a clause not understood (reported as such), no constraint
            rows.append(f"| (clauses not understood: text checks) | | {r['got']} | | |")
            continue
        rows.append(f"| {k} | {r['want']} | {r['got']} | {r['recall']:.3f} | {r['precision']:.3f} |")
    notes = [
        f"- {f['id']}: {f['prompt']!r}\n  missing: {f['missing']}\n  extra: {f['extra']}\n  not understood: {f['not_understood']}"
        for f in result["failures"]
    ]
    return "\n".join(
        [f"{result['tasks']} tasks", *rows] + (["", "Tasks with a missing or extra check:", *notes] if notes else [])
    )


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
    from poser_env.world.suites import FORMS_SUITES, SPLITS, SUITES

    parser = argparse.ArgumentParser(
        prog="python -m poser_env.extractors.agreement",
        description="Agreement of the grammar extractor's checks with the suites' target checks.",
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=SUITES + FORMS_SUITES,
        help="suite(s) to measure (default: the v0 suites; the v1 forms suites by name)",
    )
    parser.add_argument("--split", action="append", choices=SPLITS, help="split(s) to measure (default: all)")
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="recall and precision per constraint kind on the hand-written held-out files instead",
    )
    parser.add_argument("--tasks", default=None, help="the same on a task file of yours (suite line format)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.heldout or args.tasks:
        from poser_env.world.suites.files import load_heldout, load_tasks

        scores = kind_scores(load_tasks(args.tasks) if args.tasks else load_heldout())
        print(json.dumps(scores, indent=2) if args.json else format_kind_scores(scores))
        return 0
    result = extractor_agreement(args.suite, args.split)
    print(json.dumps(result, indent=2) if args.json else format_agreement(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
