"""Write an evaluation report: JSON (everything), Markdown tables and the plots; and the CLI.

``python -m poser_agents.evaluation --agents random,heuristic,oracle --episodes 30 --seeds 0
--out DIR`` evaluates the agents on the same tasks and writes into ``DIR``:

- ``results.json``: the comparison (overall, per-category, paired differences) and, per agent,
  the configuration, every summary table and the per-episode records (nan written as null);
  ``warnings`` (only when there is one): episodes judged by the critic's own model;
- ``results.md``: the tables (agents as rows, ``mean [ci_low, ci_high]``), led by that warning;
- ``category_accuracy.png``, ``expert_rewards.png`` and, with ``--training-log``,
  ``training.png`` (see :mod:`.plots`);
- ``traces/*.jsonl`` when the results carry episode traces (``evaluate(..., trace=True)``),
  named in ``results.json``'s ``traces``; ``--html`` (or ``poser report DIR``) turns the folder
  into the static HTML report (:mod:`poser_agents.report`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from poser_agents.evaluation.harness import EvalResult, compare, evaluate
from poser_agents.evaluation.plots import plot_category_accuracy, plot_expert_rewards, plot_training
from poser_agents.evaluation.stats import DEFAULT_RESAMPLES, format_ci

#: Columns of the main table: (metric key, header, digits).
MAIN_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("alignment", "alignment", 3),
    ("accuracy", "accuracy", 3),
    ("fidelity", "fidelity", 3),
    ("cost", "cost", 2),
    ("steps", "steps", 2),
    ("return", "return", 3),
    ("critic_agreement", "critic agreement", 3),
)
#: Categories with fewer distinct tasks than this get a warning mark in the tables.
FEW_TASKS = 5


def jsonable(x: Any) -> Any:
    """``x`` with nan / inf floats as None and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], align: str = "l") -> list[str]:
    sep = ["---"] + ["---:" if align == "r" else "---"] * (len(head) - 1)
    return ["| " + " | ".join(head) + " |", "|" + "|".join(sep) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]


def self_evaluation_warning(results: Mapping[str, EvalResult]) -> str | None:
    """One warning line when any episode was judged by an evaluator that is the critic's model
    (a preset's ``allow_same_model = true``): the agent was graded by the judge it was trained
    against, so its scores are biased upwards. None otherwise (always, in the synthetic world)."""
    flagged = {n: [x for x in r.records if x.get("same_as_critic")] for n, r in results.items()}
    flagged = {n: v for n, v in flagged.items() if v}
    if not flagged:
        return None
    total = sum(len(r.records) for r in results.values())
    judges = sorted({x.get("judge") or "?" for v in flagged.values() for x in v})
    agents = ", ".join(f"{n} ({len(v)}/{len(results[n].records)})" for n, v in flagged.items())
    return (
        f"WARNING (self-evaluation bias): {sum(map(len, flagged.values()))} of {total} episodes were judged by an "
        f"evaluator that is the same model as the critic ({', '.join(judges)}); agents: {agents}. Their alignment, "
        "accuracy and fidelity come from the judge the agent was trained against and are likely optimistic: "
        "re-evaluate with a different [evaluator] model."
    )


def to_markdown(
    results: Mapping[str, EvalResult], comparison: dict[str, Any] | None = None, figures: Sequence[str] = ()
) -> str:
    """The report's tables as Markdown."""
    cmp = comparison or compare(results)
    names = cmp["agents"]
    first = results[names[0]].config
    seeds = ", ".join(str(s) for s in first["seeds"])
    lines = [
        "# Evaluation report",
        "",
        f"`{first['env_id']}`, split `{first['split']}`, {first['episodes']} tasks x seeds {seeds}. "
        f"Mean [95% bootstrap CI] over episodes ({first['n_resamples']} resamples, tasks resampled as clusters). "
        "Alignment, accuracy and fidelity are the **evaluator**'s (ground truth); critic agreement is the "
        "fraction of checks where the critic (the reward's judge) agrees with it.",
        "",
    ]
    warning = self_evaluation_warning(results)
    if warning:
        lines += [f"> **{warning}**", ""]
    lines += ["## Overall", ""]
    rows = []
    for n in names:
        o = results[n].overall
        rows.append([n] + [format_ci(o[k], d) for k, _, d in MAIN_COLUMNS] + [str(o["episodes"])])
    lines += _table(["agent"] + [h for _, h, _ in MAIN_COLUMNS] + ["episodes"], rows)

    cats = cmp["categories"]
    geneval = any(cmp["geneval_score"].get(n) for n in names)
    tasks = {c: max(results[n].per_category.get(c, {}).get("tasks", 0) for n in names) for c in cats}
    episodes = {c: max(results[n].per_category.get(c, {}).get("episodes", 0) for n in names) for c in cats}
    few = [c for c in cats if tasks[c] < FEW_TASKS]
    for metric in ("accuracy", "alignment"):
        lines += ["", f"## Per-category {metric}", ""]
        if metric == "accuracy":
            lines += [
                "Accuracy is GenEval's: a task counts when all its checks pass. "
                "`GenEval` is the macro mean over the GenEval categories present.",
                "",
            ]
        rows = []
        for n in names:
            per = results[n].per_category
            row = [n] + [format_ci(per.get(c, {}).get(metric), 2, 2) for c in cats]
            if geneval and metric == "accuracy":
                row.append(format_ci(cmp["geneval_score"].get(n), 2, 2))
            rows.append(row)
        head = ["agent"] + [
            f"{c}{'*' if c in few else ''} ({tasks[c]} task{'s' * (tasks[c] != 1)}, {episodes[c]} ep.)" for c in cats
        ]
        lines += _table(head + (["GenEval"] if geneval and metric == "accuracy" else []), rows)
        if few:
            lines += [
                "",
                f"\\* fewer than {FEW_TASKS} distinct tasks: the interval (resampling tasks) is unreliable "
                "and collapses to the mean when all its tasks score alike; evaluate more episodes.",
            ]

    if cmp["paired"]:
        lines += [
            "",
            "## Paired differences (same tasks, same seeds)",
            "",
            "`a - b` over the episodes both agents ran; the verdict names a winner only when the 95% CI excludes 0.",
            "",
        ]
        rows = [
            [
                f"{p['a']} - {p['b']}",
                p["metric"],
                format_ci(p, 3),
                f"{p['wins']}/{p['losses']}/{p['ties']}",
                p["verdict"],
            ]
            for p in cmp["paired"]
        ]
        lines += _table(["a - b", "metric", "difference [95% CI]", "wins/losses/ties", "verdict"], rows)

    lines += ["", "## Per seed (plain means)", ""]
    rows = []
    for n in names:
        for seed, m in results[n].summary["per_seed"].items():
            rows.append(
                [n, seed]
                + [("-" if m.get(k) is None else f"{m[k]:.3f}") for k in ("alignment", "accuracy", "cost", "steps")]
            )
    lines += _table(["agent", "seed", "alignment", "accuracy", "cost", "steps"], rows)

    lines += [
        "",
        "## Experts (from the step logs)",
        "",
        "Reward is the critic's per-step reward (alignment gained minus cost and step penalties); "
        "pass rate is the share of calls whose command was accepted.",
        "",
    ]
    rows = []
    for n in names:
        for e, s in results[n].experts.items():
            kinds = ", ".join(f"{k} {v['calls']}" for k, v in s["by_kind"].items())
            rows.append(
                [
                    n,
                    e,
                    f"{s['calls']} ({s['share']:.0%})",
                    format_ci(s["mean_reward"], 3),
                    f"{s['pass_rate']:.2f}",
                    kinds or "-",
                ]
            )
    lines += _table(
        ["agent", "expert", "calls (share)", "mean reward [95% CI]", "pass rate", "calls per command kind"], rows
    )

    if figures:
        lines += ["", "## Figures", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in figures]
    return "\n".join(lines) + "\n"


def write_report(
    results: Mapping[str, EvalResult],
    out_dir: str | Path,
    training_log: str | Path | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and the PNGs into ``out_dir``; return their paths.

    A training plot that cannot be drawn (no log, missing columns) is noted in the JSON's
    ``notes`` and on stderr instead of failing the report.
    """
    if not results:
        raise ValueError("no results to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cmp = compare(results, n_resamples=n_resamples)
    paths: dict[str, Path] = {}
    notes: list[str] = []
    paths["category_accuracy"] = plot_category_accuracy(
        {n: results[n] for n in cmp["agents"]}, out / "category_accuracy.png"
    )
    paths["expert_rewards"] = plot_expert_rewards({n: results[n] for n in cmp["agents"]}, out / "expert_rewards.png")
    if training_log is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                paths["training"] = plot_training(training_log, out / "training.png")
            except FileNotFoundError as e:
                notes.append(f"no training plot: {e}")
        # The plot's own warnings only: a ResourceWarning is the garbage collector closing some
        # unrelated object's file while the plot was drawn, not a note on this run.
        notes += [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)]
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    figures = [str(p) for p in paths.values()]  # (before the traces join paths)
    doc: dict[str, Any] = {
        "comparison": cmp,
        "agents": {n: results[n].to_dict() for n in cmp["agents"]},
        "figures": {k: p.name for k, p in paths.items()},
        "notes": notes,
    }
    traced = [n for n in cmp["agents"] if results[n].traces is not None]
    if traced:  # only then: untraced reports keep their keys
        from poser_agents.report.trace import write_traces

        doc["traces"] = {}
        for k, n in enumerate(traced):
            name = f"{k:02d}-{re.sub(r'[^A-Za-z0-9._-]+', '_', n)[:60]}.jsonl"
            paths[f"traces:{n}"] = write_traces(out / "traces" / name, n, results[n].traces or [])
            doc["traces"][n] = name
    warning = self_evaluation_warning(results)
    if warning:  # only then: synthetic reports keep their keys
        doc["warnings"] = [warning]
        print(warning, file=sys.stderr)
    paths["json"] = out / "results.json"
    paths["json"].write_text(json.dumps(jsonable(doc), allow_nan=False) + "\n")
    paths["markdown"] = out / "results.md"
    paths["markdown"].write_text(to_markdown(results, cmp, figures))
    return paths


def load_results(path: str | Path) -> dict[str, EvalResult]:
    """The agents' results back from a ``results.json``."""
    doc = json.loads(Path(path).read_text())
    return {n: EvalResult.from_dict(d) for n, d in doc["agents"].items()}


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integer seeds, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m poser_agents.evaluation", description="Evaluate agents with bootstrap CIs and write a report."
    )
    p.add_argument(
        "--agents",
        default="random,heuristic,oracle",
        help="comma-separated baseline specs: random, heuristic, heuristic_memory, oracle, single:<expert>",
    )
    p.add_argument("--env", default="ImagePoser-v0", help="a registered env id")
    p.add_argument(
        "--split",
        default="test",
        choices=["train", "val", "test", "gen", "gen_forms"],
        help="the suites' split the tasks come from (gen, gen_forms: on the levels listed in docs/env.md)",
    )
    p.add_argument("--episodes", type=int, default=30, help="tasks per seed (spread over the suites)")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples")
    p.add_argument("--env-kwargs", default="{}", help="JSON object of extra env kwargs")
    p.add_argument("--training-log", default=None, help="a training run folder (progress.csv, episodes.csv) to plot")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--html", action="store_true", help="also trace every episode and write the HTML report in OUT/report"
    )
    p.add_argument("--quiet", action="store_true", help="no per-seed progress or per-agent timing on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as e:
        print(f"error: --env-kwargs is not valid JSON: {e}", file=sys.stderr)
        return 2
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)
    from poser_agents.common.cli_args import check_level_split

    try:  # a level without the split (gen on ImagePoser-Gen-v0), an unknown id: one line, before any agent runs
        check_level_split(args.env, args.split, env_kwargs.get("suite") if isinstance(env_kwargs, dict) else None)
        gym.make(args.env, split=args.split, **env_kwargs).close()
    except (ValueError, TypeError, gym.error.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = {}
    for spec in [a.strip() for a in args.agents.split(",") if a.strip()]:
        r = evaluate(
            spec,
            env_id=args.env,
            split=args.split,
            episodes=args.episodes,
            seeds=args.seeds,
            env_kwargs=env_kwargs,
            n_resamples=args.resamples,
            verbose=not args.quiet,
            trace=args.html,
        )
        results[spec] = r
        if not args.quiet:
            print(f"{spec}: {r.seconds:.1f} s", file=sys.stderr, flush=True)
    paths = write_report(results, args.out, training_log=args.training_log, n_resamples=args.resamples)
    if args.html:
        from poser_agents.report import write_html_report

        paths["html"] = write_html_report(args.out)
    print(paths["markdown"].read_text())
    for k, p in paths.items():
        print(f"wrote {p}", file=sys.stderr)
    return 0
