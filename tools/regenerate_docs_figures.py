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
import functools
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


BENCHMARK = ROOT / "docs" / "results" / "benchmark"
LEVEL_CARDS = ROOT / "docs" / "results" / "levels"


def _level_card(level: str, split: str) -> dict | None:
    """The committed `poser benchmark levels --json` card of (level, split), if there is one."""
    import json

    found = sorted(LEVEL_CARDS.glob(f"{level}-{split}-*.json"))
    return json.loads(found[-1].read_text()) if found else None


def benchmark_level_cards(level: str = "ImagePoser-Hard-v0", memory: bool = False) -> str:
    """Every committed level card of ``level`` (`poser benchmark levels --env ID --split S --episodes N --json
    [--references docs/results/benchmark]`, kept as docs/results/levels/ID-S-N.json): the
    references, the heuristic, the three best single experts, and the criteria that need no training;
    with ``memory`` also ``heuristic_memory`` and the memory gain (a Drift level)."""
    import json

    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    out: list[str] = []
    order = {"train": 0, "val": 1, "test": 2, "gen": 3, "gen_forms": 4}
    paths = sorted(LEVEL_CARDS.glob(f"{level}-*.json"), key=lambda p: (order.get(p.stem.split("-")[-2], 9), p.name))
    for path in paths:
        card = json.loads(path.read_text())
        if not (isinstance(card, dict) and "baselines" in card and "criteria" in card):
            continue  # a sweep's grid or table (tools/sweep_levels.py), not a card
        b, k = card["baselines"], card["criteria"]
        singles = sorted((n for n in b if n.startswith("single:")), key=lambda n: -(b[n]["norm_accuracy"] or 0.0))
        out += [
            f"**{card['env_id']}, {card['split']} split** ({card['episodes']} tasks, evaluation seeds "
            f"{card['seeds']}; [{path.name}](results/levels/{path.name}))",
            "",
            "| baseline | norm. accuracy | norm. alignment | accuracy | alignment | cost | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ["oracle", *(["heuristic_memory"] if memory else []), "heuristic", *singles[:3], "random"]:
            c = b[name]
            label = f"single `{name[7:]}`" if name.startswith("single:") else name
            out.append(
                f"| {label} | {fmt(c['norm_accuracy'])} | {fmt(c['norm_alignment'])} | {fmt(c['accuracy'])} | "
                f"{fmt(c['alignment'])} | {c['cost']:.2f} | {c['seconds']:.0f} |"
            )
        rest = [b[n]["norm_accuracy"] or 0.0 for n in singles[3:]]
        degenerate = b["oracle"]["n_degenerate_accuracy"]
        out += [
            "",
            f"Other single experts ({len(rest)}): normalised accuracy at most {max(rest, default=0.0):.3f}. "
            f"Tasks left out of the normalised accuracy (oracle == random): {degenerate}. "
            f"Solvable (oracle accuracy ≥ 0.9): **{'yes' if k['solvable'] else 'no'}**; "
            f"best single ≤ 0.3: **{'yes' if k['best_single_ok'] else 'no'}**; "
            f"heuristic ≤ 0.6: **{'yes' if k['heuristic_ok'] else 'no'}**."
            + (f" Memory gain (heuristic_memory − heuristic): **{card['memory_gain']:+.3f}**." if memory else ""),
            "",
        ]
    return "\n".join(out)


def benchmark_published() -> str:
    """The published baselines: per level and split, the level card's reference agents (`poser
    benchmark levels --split S --references docs/results/benchmark`, the same tasks, seeds and
    references as the runs) and each learner's runs under docs/results/benchmark (`poser benchmark
    aggregate docs/results/benchmark [--split gen|gen_forms]`: IQM with its stratified bootstrap 95% CI;
    a split no committed run was evaluated on gets no table)."""
    import json

    from poser_agents.benchmark.aggregate import aggregate

    out: list[str] = []
    if not BENCHMARK.is_dir():
        return ""
    for split in ("test", "gen", "gen_forms"):
        agg = aggregate([BENCHMARK], split=split)
        runs: dict[str, dict[str, list[dict]]] = {}
        for path in sorted(BENCHMARK.glob("*/*/seed*/result.json")):
            run = json.loads(path.read_text())
            if run["status"] == "complete" and run.get(split):
                runs.setdefault(run["env_id"], {}).setdefault(run["algo"], []).append(run)
        for level in sorted(runs):
            card = _level_card(level, split)
            any_run = next(iter(runs[level].values()))[0]
            steps = sorted({r["steps"] for rs in runs[level].values() for r in rs})
            out += [
                f"**{level}, {split} split** ({any_run[split]['n_tasks']} tasks, evaluation seeds "
                f"{any_run['protocol']['eval_seeds']}; learners trained {', '.join(f'{s:,}' for s in steps)} steps)",
                "",
                "| agent | runs | norm. accuracy | IQM [95% CI] | norm. alignment | accuracy | alignment | cost |",
                "|---|---:|---:|---|---:|---:|---:|---:|",
            ]
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            if card is not None:
                singles = {n: c for n, c in card["baselines"].items() if n.startswith("single:")}
                best = max(singles, key=lambda n: singles[n]["norm_accuracy"] or 0.0) if singles else None
                for name in ("oracle", "heuristic_memory", "heuristic", best, "random"):
                    if name is None or name not in card["baselines"]:  # heuristic_memory: newer cards
                        continue
                    c = card["baselines"][name]
                    label = f"best single (`{name[7:]}`)" if name == best else name
                    out.append(
                        f"| {label} | | {fmt(c['norm_accuracy'])} | | {fmt(c['norm_alignment'])} | "
                        f"{fmt(c['accuracy'])} | {fmt(c['alignment'])} | {c['cost']:.2f} |"
                    )
            for algo, rs in sorted(runs[level].items()):
                mean = lambda k, rs=rs, split=split: sum(r[split][k] for r in rs) / len(rs)  # noqa: E731
                e = agg["levels"][level][algo]
                out.append(
                    f"| {algo} | {len(rs)} | {mean('norm_accuracy'):.3f} | {e['iqm']:.3f} "
                    f"[{e['iqm_ci'][0]:.3f}, {e['iqm_ci'][1]:.3f}] | {mean('norm_alignment'):.3f} | "
                    f"{mean('accuracy'):.3f} | {mean('alignment'):.3f} | {mean('cost'):.2f} |"
                )
            out.append("")
            for p in agg["probability_of_improvement"].get(level, []):
                out.append(
                    f"- probability of improvement P({p['x']} > {p['y']}) = {p['p_x_better']:.3f} "
                    f"[{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]"
                )
            if agg["probability_of_improvement"].get(level):
                out.append("")
    return "\n".join(out)


#: Runs at budgets above the published 100k (the "learnable" criterion), one folder per budget.
BENCHMARK_LONGER = (ROOT / "docs" / "results" / "benchmark-300k", ROOT / "docs" / "results" / "benchmark-1m")


@functools.cache
def _aggregated(dirs: tuple[Path, ...], split: str) -> dict:
    """`poser benchmark aggregate DIRS --split SPLIT --json`, once per process (the bootstrap is slow)."""
    from poser_agents.benchmark.aggregate import aggregate

    return aggregate(list(dirs), split=split)


def benchmark_criteria() -> str:
    """`poser benchmark criteria --card docs/results/levels/ID-test-N.json ... docs/results/benchmark
    docs/results/benchmark-300k docs/results/benchmark-1m`: every level's five criteria on test, from
    its committed test card and the committed runs."""
    from poser_agents.benchmark.criteria import format_criteria, level_criteria, read_card

    dirs = tuple(d for d in (BENCHMARK, *BENCHMARK_LONGER) if d.is_dir())
    levels = ("ImagePoser-v0", "ImagePoser-Hard-v0", "ImagePoser-Drift-v0", "ImagePoser-Drift-v1")
    cards = [read_card(p) for level in levels for p in sorted(LEVEL_CARDS.glob(f"{level}-test-*.json"))[-1:]]
    return format_criteria(level_criteria(cards, list(dirs), aggregated=_aggregated(dirs, "test") if dirs else None))


def benchmark_budgets() -> str:
    """`poser benchmark aggregate docs/results/benchmark docs/results/benchmark-300k
    docs/results/benchmark-1m [--split gen|gen_forms]`: the algorithms run at several budgets (kept
    apart as ALGO@STEPS), their IQMs and the probability that one budget beats another."""
    longer = [d for d in BENCHMARK_LONGER if d.is_dir()]
    if not (BENCHMARK.is_dir() and longer):
        return ""
    rows = ["| level | split | algorithm@steps | runs | IQM [95% CI] |", "|---|---|---|---:|---|"]
    pairs: list[str] = []
    for split in ("test", "gen", "gen_forms"):
        agg = _aggregated((BENCHMARK, *longer), split)
        for level, algos in agg["levels"].items():
            for algo, e in algos.items():
                if "@" in algo:
                    rows.append(
                        f"| {level} | {split} | {algo} | {e['n_runs']} | {e['iqm']:.3f} "
                        f"[{e['iqm_ci'][0]:.3f}, {e['iqm_ci'][1]:.3f}] |"
                    )
        for level, found in agg["probability_of_improvement"].items():
            for p in found:
                if "@" in p["x"] and "@" in p["y"] and p["x"].split("@")[0] == p["y"].split("@")[0]:
                    pairs.append(
                        f"- {level}, {split}: P({p['x']} > {p['y']}) = {p['p_x_better']:.3f} "
                        f"[{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]"
                    )
    return "\n".join([*rows, "", *pairs]) + "\n"


def grpo_images_curve(name: str = "images_curve.json") -> str:
    """docs/performance.md's GRPO images curve: `format_tables` of the committed
    docs/results/grpo/images_curve.json (`python -m poser_agents.grpo.experiments images --seeds
    0,1,2 --env-starts 1/32,1/8,1`, about 30 min on a shared 2-core machine)."""
    import json

    from poser_agents.grpo.images_curve import format_tables

    return format_tables(json.loads((ROOT / "docs" / "results" / "grpo" / name).read_text()))


def grpo_images_curve_fine() -> str:
    """Ensemble points between the main grid's: docs/results/grpo/images_curve_fine.json (`... images
    --seeds 0,1,2 --fractions 3/16,3/8,3/4 --env-starts "" --result images_curve_fine.json`), no bars' table."""
    import json

    from poser_agents.grpo.images_curve import format_tables

    path = ROOT / "docs" / "results" / "grpo" / "images_curve_fine.json"
    return format_tables(json.loads(path.read_text()), crossings=False)


def grpo_images_curve_subset_prompts() -> str:
    """The same with phase 2's prompts restricted to each subset: docs/results/grpo/
    images_curve_subset_prompts.json (`... images --seeds 0,1 --env-starts 1/8 --grpo-prompts subset`)."""
    return grpo_images_curve("images_curve_subset_prompts.json")


CHEAP: dict[str, Callable[[], str]] = {
    "suite-stats": suite_stats,
    "suite-examples": suite_examples,
    "world-check-100": world_check_100,
    "editing-line": editing_line,
    "evaluation-sample": evaluation_sample,
    "extractor-heldout": extractor_heldout,
    "calibration-test": calibration_test,
    "calibration-heldout-paraphrases": calibration_heldout_paraphrases,
    "benchmark-hard-cards": benchmark_level_cards,
    "benchmark-drift-v1-cards": lambda: benchmark_level_cards("ImagePoser-Drift-v1", memory=True),
    "benchmark-published": benchmark_published,
    "benchmark-budgets": benchmark_budgets,
    "benchmark-criteria": benchmark_criteria,
    "grpo-images-curve": grpo_images_curve,
    "grpo-images-curve-subset-prompts": grpo_images_curve_subset_prompts,
    "grpo-images-curve-fine": grpo_images_curve_fine,
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
