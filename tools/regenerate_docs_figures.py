"""Rewrite the generated figures of the docs: every table between ``<!-- figures: NAME -->`` and
``<!-- /figures -->`` in README.md and docs/ comes from the function NAME below, which runs the
command the page names next to the table.

    python tools/regenerate_docs_figures.py                 # the cheap ones (seconds)
    python tools/regenerate_docs_figures.py --all           # first rerun RUNS (minutes), then all
    python tools/regenerate_docs_figures.py --check         # exit 1 if a cheap figure differs
    python tools/regenerate_docs_figures.py --only world-check-canvas   # one figure

tests/test_docs_figures.py runs ``--check``: a committed figure that the code no longer gives
fails the suite. Expensive figures (EXPENSIVE) are rewritten only with ``--all``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- figures: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)


def suite_stats() -> str:
    """`python -m poser_env.world.suites --stats`: tasks and checks per task, per suite and category."""
    from poser_env.world.suites import suite_stats as stats

    return stats() + "\n"


def suite_examples() -> str:
    """Real lines of the committed test splits: the first task of each category (editing: 0001, 0002)."""
    from poser_env.world.suites import load_suite

    rows = ["| id | category | prompt |", "|---|---|---|"]
    for suite in ("geneval", "longform", "editing"):
        tasks = load_suite(suite, "test")
        picked: list = []
        if suite == "geneval":
            seen: set[str] = set()
            for t in tasks:
                if t.task_category not in seen:
                    seen.add(t.task_category)
                    picked.append(t)
        else:
            picked = tasks[:2]
        rows += [f"| {t.id} | {t.task_category} | {t.prompt} |" for t in picked]
    return "\n".join(rows) + "\n"


def world_check_100() -> str:
    """`poser world check --scenes 100 --seed 0 --json`: agreement per style (exact: seeded)."""
    from poser_env.world.world_check import world_check

    res = world_check(scenes_per_style=100, seed=0)
    rows = ["| style | checks | agreement | misses | false alarms |", "|---|---:|---:|---:|---:|"]
    for style, agree in res["agreement"].items():
        c = res["confusion"][style]
        rows.append(f"| {style} | {res['checks'][style]} | {agree:.4f} | {c['miss']} | {c['false_alarm']} |")
    return "\n".join(rows) + "\n"


def editing_line() -> str:
    """The committed line of editing-test-0000, as a JSON block."""
    path = ROOT / "poser_env" / "data" / "suites" / "editing" / "test.jsonl"
    with path.open() as f:
        return f"```json\n{f.readline().rstrip()}\n```\n"


def extractor_heldout() -> str:
    """`python -m poser_env.extractors.agreement --heldout`: recall and precision per constraint kind."""
    from poser_env.extractors.agreement import format_kind_scores, kind_scores
    from poser_env.world.suites import load_heldout

    lines = format_kind_scores(kind_scores(load_heldout())).splitlines()
    return "\n".join(line for line in lines if line.startswith("|")) + "\n"


def calibration_test() -> str:
    """docs/testbed.md's table: `format_table` of the committed docs/results/calibration_test.json
    (written by run_calibration_test)."""
    import json

    from poser_agents.calibrate import format_table

    result = json.loads((ROOT / "docs" / "results" / "calibration_test.json").read_text())
    return format_table(result) + "\n"


def calibration_heldout_paraphrases() -> str:
    """docs/testbed.md's per-expert held-out table: `format_table` of the committed
    docs/results/calibration_heldout.json (`poser calibrate --heldout --out ...` at commit 55d8e87,
    when --heldout read only the 24 paraphrases; not rerun since: the reader has changed)."""
    import json

    from poser_agents.calibrate import format_table

    result = json.loads((ROOT / "docs" / "results" / "calibration_heldout.json").read_text())
    return format_table(result) + "\n"


def run_calibration_test() -> None:
    """`poser calibrate --split test --episodes 300 --out docs/results/calibration_test.json` (minutes)."""
    from poser_agents.cli import main as poser

    if poser(
        [
            "calibrate",
            "--split",
            "test",
            "--episodes",
            "300",
            "--out",
            str(ROOT / "docs" / "results" / "calibration_test.json"),
        ]
    ):
        raise SystemExit("poser calibrate failed")


def evaluation_sample() -> str:
    """docs/evaluation.md's sample table: the Overall table of the committed
    docs/results/evaluation/results.md (written by run_evaluation_sample), less the episodes column."""
    text = (ROOT / "docs" / "results" / "evaluation" / "results.md").read_text()
    table = text.split("## Overall\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return "\n".join("|".join(row.split("|")[:-2]) + "|" for row in table) + "\n"


def run_evaluation_sample() -> None:
    """The commands of docs/evaluation.md, "Sample results": a 6,000-step DQN log for the training
    plot, then the three baselines on 30 test tasks x 3 seeds into docs/results/evaluation (minutes)."""
    import tempfile

    import gymnasium as gym
    import torch

    import poser_env  # noqa: F401
    from poser_agents.dqn.agent import DQNAgent, DQNConfig
    from poser_agents.evaluation.report import main as evaluation

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as log:
        DQNAgent(
            gym.make("ImagePoser-v0", split="train"), DQNConfig(log_dir=log, learning_starts=500, log_interval=20)
        ).learn(6000)
        rc = evaluation(
            [
                "--agents",
                "random,heuristic,oracle",
                "--episodes",
                "30",
                "--seeds",
                "0,1,2",
                "--training-log",
                log,
                "--out",
                str(ROOT / "docs" / "results" / "evaluation"),
            ]
        )
    if rc:
        raise SystemExit(f"python -m poser_agents.evaluation exited {rc}")


def world_check_500() -> str:
    """`poser world check --scenes 500 --seed S` for seeds 0 and 1: agreement per style."""
    from poser_env.world.world_check import world_check

    runs = [world_check(scenes_per_style=500, seed=seed) for seed in (0, 1)]
    rows = ["| style | checks | agreement (seed 0) | agreement (seed 1) |", "|---|---:|---:|---:|"]
    for style in runs[0]["agreement"]:
        rows.append(
            f"| {style} | {runs[0]['checks'][style]} | {runs[0]['agreement'][style]:.4f} | {runs[1]['agreement'][style]:.4f} |"
        )
    return "\n".join(rows) + "\n"


def world_check_canvas() -> str:
    """`poser world check --scenes 500 --canvas N` (seed 0) for N = 64, 96, 256: agreement per style."""
    from poser_env.world.world_check import world_check

    labels = {64: "64 px (small objects about 10 px across)", 96: "96 px", 256: "256 px"}
    rows = ["| canvas | plain | pixel-art | sketch | watercolor |", "|---:|---:|---:|---:|---:|"]
    for side, label in labels.items():
        agree = world_check(500, 0, side)["agreement"]  # positional: survives a rename of the keyword
        rows.append(
            f"| {label} | "
            + " | ".join(f"{agree[s]:.4f}" for s in ("plain", "pixel-art", "sketch", "watercolor"))
            + " |"
        )
    return "\n".join(rows) + "\n"


CHEAP: dict[str, Callable[[], str]] = {
    "suite-stats": suite_stats,
    "suite-examples": suite_examples,
    "world-check-100": world_check_100,
    "editing-line": editing_line,
    "evaluation-sample": evaluation_sample,
    "extractor-heldout": extractor_heldout,
    "calibration-test": calibration_test,
    "calibration-heldout-paraphrases": calibration_heldout_paraphrases,
}
EXPENSIVE: dict[str, Callable[[], str]] = {
    "world-check-500": world_check_500,
    "world-check-canvas": world_check_canvas,
}
#: Runs that rewrite committed result files (with --all, before the figures are read from them).
RUNS: list[Callable[[], None]] = [run_calibration_test, run_evaluation_sample]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks() -> list[tuple[Path, str, str]]:
    """(page, figure name, committed body) for every figures block of the docs."""
    return [(p, m["name"], m["body"]) for p in pages() for m in BLOCK.finditer(p.read_text())]


def regenerate(names: set[str], check: bool) -> list[str]:
    """Rewrite (or, with check, compare) the named figures; returns the stale ones."""
    makers = CHEAP | EXPENSIVE
    stale: list[str] = []
    cache: dict[str, str] = {}
    for page in pages():
        text = page.read_text()
        parts, at = [], 0
        for m in BLOCK.finditer(text):
            name = m["name"]
            if name not in makers:
                raise SystemExit(f"{page.relative_to(ROOT)}: unknown figure {name!r} (known: {', '.join(makers)})")
            if name not in names:
                continue
            if name not in cache:
                cache[name] = makers[name]()
            if cache[name] != m["body"]:
                stale.append(f"{page.relative_to(ROOT)}: {name}")
            parts += [text[at : m.start("body")], cache[name]]
            at = m.end("body")
        new = "".join(parts) + text[at:]
        if not check and new != text:
            page.write_text(new)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also the expensive figures (minutes)")
    parser.add_argument("--check", action="store_true", help="compare the cheap figures; exit 1 on a difference")
    parser.add_argument("--only", default=None, help="comma-separated figure names: rewrite just these (no RUNS)")
    args = parser.parse_args(argv)
    if args.only:
        names = set(args.only.split(","))
        unknown = names - set(CHEAP) - set(EXPENSIVE)
        if unknown:
            parser.error(f"unknown figures {sorted(unknown)}; known: {', '.join([*CHEAP, *EXPENSIVE])}")
    else:
        if args.all and not args.check:
            for run in RUNS:
                print(f"running {run.__name__} ...", flush=True)
                run()
        names = set(CHEAP) | (set(EXPENSIVE) if args.all and not args.check else set())
    stale = regenerate(names, check=args.check)
    for line in stale:
        print(("stale: " if args.check else "rewrote: ") + line)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
