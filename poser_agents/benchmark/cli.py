"""The ``poser benchmark`` subcommands (``run``, ``aggregate``, ``criteria``, ``levels``); imports stay lazy."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from poser_agents.common.cli_args import check_level_split, json_object, positive_int, seed_list


def cmd_run(args: argparse.Namespace) -> int:
    from poser_agents.benchmark.curve import RunInterrupted
    from poser_agents.benchmark.run import Protocol, run_one
    from poser_agents.common.checkpointing import Interrupted

    proto = Protocol(
        eval_every=args.eval_every,
        val_episodes=args.val_episodes,
        test_episodes=args.test_episodes,
        eval_seeds=tuple(args.eval_seeds),
        text_encoder=args.text_encoder,
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: Iterable[dict[str, Any]]
    if args.ray:  # seeds as Ray tasks; the same results as serial (docs/scaling.md)
        from poser_agents.distributed import require_ray
        from poser_agents.distributed.benchmark import run_on_ray

        require_ray("poser benchmark run --ray")  # without Ray: one line (poser_agents.cli.main)
        results = run_on_ray(
            args.algo,
            args.env,
            args.steps,
            args.seeds,
            args.out,
            proto,
            allow_entry_points=args.allow_entry_points,
            address=args.address,
            log=log,
        )
    else:
        results = (
            run_one(
                args.algo,
                args.env,
                args.steps,
                seed,
                args.out,
                proto,
                allow_entry_points=args.allow_entry_points,
                log=log,
            )
            for seed in args.seeds
        )
    done = []
    try:
        finished = list(_announce(args, results))
    except Interrupted as e:  # RunInterrupted: saved; a second signal: did not
        what = (
            str(e)
            if isinstance(e, RunInterrupted)
            else f"stopped by {e} where the run could not save; its last checkpoint (if any) is kept: run the "
            "same command again to resume it"
        )
        print(f"poser benchmark run: {what} (earlier seeds are complete, later ones not started)", file=sys.stderr)
        return e.exit_code
    for seed, r in finished:
        done.append(
            {
                "seed": seed,
                "norm_accuracy": r["test"]["norm_accuracy"],
                "norm_alignment": r["test"]["norm_alignment"],
                "cost": r["test"]["cost"],
            }
        )
    if args.json:
        print(json.dumps({"algo": args.algo, "env_id": args.env, "out": args.out, "runs": done}))
    return 0


def _announce(args: argparse.Namespace, results: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each seed's result as it completes, with its one line on stdout."""
    for seed, r in zip(args.seeds, results):
        print(
            f"{args.algo} on {args.env} seed {seed}: test normalised accuracy {r['test']['norm_accuracy']}, "
            f"alignment {r['test']['norm_alignment']}, cost {r['test']['cost']:.2f} per episode",
            flush=True,
        )
        yield seed, r


def cmd_aggregate(args: argparse.Namespace) -> int:
    from poser_agents.benchmark.aggregate import aggregate, format_table, mismatch_line, settings_line

    result = aggregate(args.dirs, score=args.score, reps=args.reps, seed=args.seed, plots=args.plots, split=args.split)
    for level, groups in result["protocol_mismatch"].items():
        print(f"poser benchmark aggregate: {mismatch_line(level, groups)}", file=sys.stderr)
    for level, entries in result["settings_mismatch"].items():
        for entry, groups in entries.items():
            print(f"poser benchmark aggregate: {settings_line(level, entry, groups)}", file=sys.stderr)
    for p in result["partial"]:
        print(
            f"poser benchmark aggregate: partial run not averaged: {p['path']} ({p['steps_done']} of {p['steps']} steps)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(result))
    return 0


def cmd_criteria(args: argparse.Namespace) -> int:
    from poser_agents.benchmark.criteria import criteria_json, format_criteria, level_criteria, read_card

    if not args.card and not args.env:
        raise ValueError("name a level: --card FILE (its test card, from `poser benchmark levels --json`) or --env ID")
    cards = [read_card(path) for path in args.card]
    report = level_criteria(cards, args.dirs, levels=args.env, reps=args.reps, seed=args.seed)
    for line in report.warnings:
        print(f"poser benchmark criteria: {line}", file=sys.stderr)
    print(json.dumps(criteria_json(report)) if args.json else format_criteria(report), end="\n" if args.json else "")
    return 0


def cmd_levels(args: argparse.Namespace) -> int:
    from poser_agents.benchmark.levels import format_card, level_card

    check_level_split(args.env, args.split, (args.env_kwargs or {}).get("suite"))
    card = level_card(
        args.env,
        split=args.split,
        episodes=args.episodes,
        seeds=args.seeds,
        singles=not args.no_singles,
        references=args.references,
        env_kwargs=args.env_kwargs,
    )
    print(format_card(card))
    if args.json:
        print(json.dumps(card))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``benchmark`` to the ``poser`` parser."""
    from poser_agents.benchmark.algos import ALGOS
    from poser_agents.benchmark.schema import FINAL_SPLITS

    bm = sub.add_parser(
        "benchmark",
        help="the benchmark protocol: train and evaluate (run), rliable aggregates (aggregate), "
        "a level's criteria (criteria), a level's scale (levels)",
    )
    bsub = bm.add_subparsers(dest="benchmark_command", required=True)
    run = bsub.add_parser("run", help="train ALGO on a level per seed: val learning curve, normalised test score")
    run.add_argument(
        "--algo", required=True, help=f"{', '.join(ALGOS)}, or module:callable (with --allow-entry-points)"
    )
    run.add_argument(
        "--env", required=True, help="a registered level, e.g. ImagePoser-v0, ImagePoser-Hard-v0, ImagePoser-Drift-v0"
    )
    run.add_argument("--steps", type=positive_int, required=True, help="training env steps")
    run.add_argument("--seeds", type=seed_list, default=[0], help="comma-separated training seeds (default 0)")
    run.add_argument("--out", required=True, help="results folder (one subfolder per level, algorithm and seed)")
    run.add_argument(
        "--eval-every", type=positive_int, default=10_000, help="env steps between val evaluations (default 10000)"
    )
    run.add_argument("--val-episodes", type=positive_int, default=50, help="val tasks per curve point (default 50)")
    run.add_argument(
        "--test-episodes",
        type=positive_int,
        default=200,
        help="test tasks at the end, and gen / gen_forms tasks on the levels with them (default 200; the published Hard and Drift runs: 100)",
    )
    run.add_argument(
        "--eval-seeds", type=seed_list, default=[0], help="evaluation seeds, shared with the references (default 0)"
    )
    run.add_argument(
        "--text-encoder", default="hash", help="the env's text encoder (default hash, as the published runs)"
    )
    run.add_argument(
        "--allow-entry-points", action="store_true", help="let --algo name a module:callable to import and run"
    )
    run.add_argument(
        "--ray", action="store_true", help="run the seeds as Ray tasks (needs the [ray] extra); same results as serial"
    )
    run.add_argument(
        "--address",
        default=None,
        help="with --ray: a Ray cluster to join (auto or HOST:PORT; default: a new local instance)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    run.set_defaults(func=cmd_run)
    agg = bsub.add_parser(
        "aggregate", help="IQM, median, mean, optimality gap (stratified bootstrap CIs), P(improvement), plots"
    )
    agg.add_argument("dirs", nargs="+", help="folders written by `poser benchmark run --out`")
    agg.add_argument(
        "--score",
        default="norm_accuracy",
        choices=["norm_accuracy", "norm_alignment", "norm_accuracy_cost_aware", "norm_alignment_cost_aware"],
    )
    agg.add_argument(
        "--split",
        default="test",
        choices=list(FINAL_SPLITS),
        help="test (default) or a generalisation split: gen (combinations), gen_forms (prompt forms)",
    )
    agg.add_argument("--reps", type=positive_int, default=2000, help="bootstrap replications (default 2000)")
    agg.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    agg.add_argument("--plots", default=None, help="write performance profiles and sample-efficiency curves (PNG) here")
    agg.add_argument(
        "--json", action="store_true", help="print one JSON object (per level and algorithm: IQM, CI, runs)"
    )
    agg.set_defaults(func=cmd_aggregate)
    cr = bsub.add_parser(
        "criteria",
        help="a level's five criteria (solvable, not trivial, headroom, learnable, memory) from its test card and runs",
    )
    cr.add_argument("dirs", nargs="*", help="folders written by `poser benchmark run --out` (any budgets)")
    cr.add_argument(
        "--card",
        action="append",
        default=[],
        metavar="FILE",
        help="a level's test card: the JSON `poser benchmark levels --split test --json` prints (repeatable)",
    )
    cr.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="ID",
        help="a level without a card (its run criteria only; repeatable)",
    )
    cr.add_argument("--reps", type=positive_int, default=2000, help="bootstrap replications (default 2000)")
    cr.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    cr.add_argument("--json", action="store_true", help="print one JSON object: per level, its criteria")
    cr.set_defaults(func=cmd_criteria)
    lv = bsub.add_parser(
        "levels",
        help="a level's scale: every baseline's normalised score, the criteria needing no training, and the memory gain",
    )
    lv.add_argument("--env", required=True, help="a registered level")
    lv.add_argument("--split", default="val", choices=["train", "val", *FINAL_SPLITS])
    lv.add_argument("--episodes", type=positive_int, default=50, help="tasks (default 50)")
    lv.add_argument("--seeds", type=seed_list, default=[0], help="evaluation seeds (default 0)")
    lv.add_argument("--no-singles", action="store_true", help="skip the single-expert baselines")
    lv.add_argument(
        "--references",
        metavar="DIR",
        help="a 'benchmark run --out' folder: read the random and oracle references cached there, or measure and cache them",
    )
    lv.add_argument(
        "--env-kwargs",
        type=json_object,
        default=None,
        metavar="JSON",
        help="override the level's registered kwargs, e.g. '{\"drift_p\": 0.5}' (plain data; to try a setting on val)",
    )
    lv.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    lv.set_defaults(func=cmd_levels)
