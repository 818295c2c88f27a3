"""Silent successes: episodes where the critic reports full success, the evaluator finds an unmet
constraint and nothing was reported as not understood.

Such an episode is the dishonest report the project must never make: the user is told "done"
while the image misses something the prompt asked and nothing says so. This module counts
them over task files (every committed suite file and the held-out files by default), with an
agent of choice, on a sample per file drawn with a fixed seed.

``python -m poser_agents.evaluation.honesty [--agent oracle] [--per-file 40] [--files forms] [--json]``
prints the table (docs/evaluation.md quotes its figure; ``--files`` keeps the files whose name
starts with one of the given prefixes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from poser_env.types import Task


def task_files() -> dict[str, list[Task]]:
    """Every committed suite file (v0 and the v1 forms suites) and every held-out file, by name
    ("geneval/test", "forms/val", "heldout/forms")."""
    from poser_env.world.suites import SPLITS, SUITES, load_suite
    from poser_env.world.suites.files import HELDOUT_FILES, load_heldout
    from poser_env.world.suites.spec import FORMS_SUITES

    out = {f"{s}/{sp}": load_suite(s, sp) for s in SUITES + FORMS_SUITES for sp in SPLITS}
    for name in HELDOUT_FILES:
        out[f"heldout/{name.removesuffix('.jsonl')}"] = load_heldout(name)
    return out


def is_silent_success(summary: dict[str, Any]) -> bool:
    """Critic score 1.0, evaluator accuracy below 1 (a constraint unmet), nothing reported unread."""
    ev = summary.get("evaluator", {})
    return (
        float(summary.get("critic_score", 0.0)) >= 1.0
        and bool(ev.get("judged"))
        and float(ev.get("accuracy", 1.0)) < 1.0
        and not summary.get("not_understood")
    )


def silent_successes(
    agent: str = "heuristic",
    per_file: int = 5,
    seed: int = 0,
    files: dict[str, Sequence[Task]] | None = None,
    env_id: str = "ImagePoser-v0",
) -> dict[str, Any]:
    """Per file: episodes run, critic full successes, of those with an unmet constraint, and the
    silent ones (none reported as not understood), with their ids. ``per_file`` tasks are drawn
    per file with ``seed`` (all of a file if it has fewer)."""
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.baselines import make_baseline
    from poser_agents.rollout import episode_seed, run_episode

    chosen: dict[str, Sequence[Task]] = dict(files) if files is not None else dict(task_files())
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    rows: dict[str, Any] = {}
    try:
        for name, tasks in chosen.items():
            tasks = list(tasks)
            pick = (
                sorted(rng.choice(len(tasks), size=min(per_file, len(tasks)), replace=False).tolist()) if tasks else []
            )
            row: dict[str, Any] = {
                "episodes": 0,
                "critic_full": 0,
                "full_but_unmet": 0,
                "silent": 0,
                "silent_ids": [],
                "with_unread": 0,
            }
            for k, i in enumerate(pick):
                ag = make_baseline(agent, env, seed=seed)
                summary = run_episode(env, ag, tasks[i], seed=episode_seed(seed, k))  # the consecutive scheme
                row["episodes"] += 1
                row["with_unread"] += bool(summary.get("not_understood"))
                if float(summary.get("critic_score", 0.0)) >= 1.0:
                    row["critic_full"] += 1
                    ev = summary.get("evaluator", {})
                    if ev.get("judged") and float(ev.get("accuracy", 1.0)) < 1.0:
                        row["full_but_unmet"] += 1
                if is_silent_success(summary):
                    row["silent"] += 1
                    row["silent_ids"].append(tasks[i].id)
            rows[name] = row
    finally:
        env.close()
    total = {
        k: sum(r[k] for r in rows.values())
        for k in ("episodes", "critic_full", "full_but_unmet", "silent", "with_unread")
    }
    return {
        "agent": agent,
        "per_file": per_file,
        "seed": seed,
        "files": rows,
        "total": total,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        "| file | episodes | critic 1.0 | of those, a constraint unmet | silent | with spans not understood |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["files"].items():
        lines.append(
            f"| {name} | {r['episodes']} | {r['critic_full']} | {r['full_but_unmet']} | {r['silent']} | {r['with_unread']} |"
        )
    t = result["total"]
    lines.append(
        f"| **all** | {t['episodes']} | {t['critic_full']} | {t['full_but_unmet']} | {t['silent']} | {t['with_unread']} |"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m poser_agents.evaluation.honesty", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--agent",
        default="heuristic",
        help="random | heuristic | heuristic_memory | oracle | single:<expert> (default heuristic)",
    )
    parser.add_argument("--per-file", type=int, default=40, help="tasks drawn per file (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--files",
        default=None,
        help="only the files whose name starts with one of these comma-separated prefixes, e.g. forms",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    if args.per_file < 1:
        parser.error("--per-file must be at least 1")
    files: dict[str, Sequence[Task]] | None = None
    if args.files:
        prefixes = tuple(p.strip() for p in args.files.split(",") if p.strip())
        every = task_files()
        files = {k: v for k, v in every.items() if k.startswith(prefixes)}
        if not files:
            parser.error(f"--files {args.files!r} names no file; the files are: {', '.join(every)}")
    result = silent_successes(args.agent, args.per_file, args.seed, files=files)
    print(format_table(result))
    print(
        f"{result['total']['silent']} silent successes in {result['total']['episodes']} episodes ({result['seconds']} s)"
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
