"""Sweep a level's settings on val: the level card (``poser benchmark levels``) of each setting.

A level's kwargs are tuned on its val split only (docs/benchmark.md, "Levels"); this is the
rerunnable record of such a tuning. Each setting is a JSON object of env kwargs that override
the level's registered ones (``poser benchmark levels --env-kwargs``), measured with
:func:`poser_agents.benchmark.levels.level_card` on the same tasks and seeds as the others.

    python tools/sweep_levels.py --env ImagePoser-Drift-v0 --grid GRID.json --out SWEEP.json
    python tools/sweep_levels.py --env ImagePoser-Drift-v0 --grid '[{"drift_p": 0.5}, {}]' --out s.json

``--grid`` is a JSON list of objects (``{}`` is the registered setting), inline or in a file. The
output (written atomically) holds every card in full and the grid; the markdown table printed
(:func:`format_sweep`) is what docs/benchmark.md shows, checked against the committed file by
tests/test_docs_figures.py. The test and generalisation splits are refused: tuning on them would leak.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: import this checkout's packages
    sys.path.insert(0, str(ROOT))

from poser_agents.benchmark.levels import memory_gain  # noqa: E402

SCHEMA = "poser-level-sweep"
VERSION = 1
#: Splits a sweep may tune on.
TUNING_SPLITS = ("train", "val")


def read_grid(text: str) -> list[dict[str, Any]]:
    """The settings of ``--grid``: inline JSON, or the path of a JSON file holding it.

    A list of plain-data objects (``check_env_kwargs``); anything else is ``ValueError``."""
    from poser_agents.benchmark.levels import check_env_kwargs

    source = "--grid"
    if not text.lstrip().startswith("["):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"--grid {text!r} is neither a JSON list nor a file")
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source} is not valid JSON: {e}") from None
    if not isinstance(grid, list) or not grid:
        raise ValueError(f'{source} must be a non-empty JSON list of env kwargs objects, e.g. [{{"drift_p": 0.5}}]')
    settings = [check_env_kwargs(s) for s in grid]
    keys = [json.dumps(s, sort_keys=True) for s in settings]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{source} lists a setting twice")
    return settings


def sweep(
    env_id: str,
    grid: list[dict[str, Any]],
    split: str = "val",
    episodes: int = 50,
    seeds: list[int] | None = None,
    singles: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """The level card of every setting of ``grid`` on ``split`` (train or val)."""
    from poser_agents.benchmark.levels import level_card

    if split not in TUNING_SPLITS:
        raise ValueError(f"a sweep tunes a level: use split {' or '.join(TUNING_SPLITS)}, not {split!r}")
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the levels)

    seeds = [0] if seeds is None else list(seeds)
    for setting in grid:  # every setting builds, before the long part: a typo fails at once
        gym.make(env_id, split=split, **setting).close()
    cards = []
    for setting in grid:
        if verbose:
            print(f"{env_id} {json.dumps(setting, sort_keys=True)}", file=sys.stderr, flush=True)
        cards.append(level_card(env_id, split, episodes, seeds, singles=singles, verbose=verbose, env_kwargs=setting))
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "env_id": env_id,
        "split": split,
        "episodes": episodes,
        "seeds": seeds,
        "grid": grid,
        "cards": cards,
    }


def setting_label(env_kwargs: dict[str, Any]) -> str:
    """A setting as the table shows it: ``key=value`` pairs, sorted; ``registered`` when empty."""
    if not env_kwargs:
        return "registered"
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(env_kwargs.items()))


def _has_memory(result: dict[str, Any]) -> bool:
    """Whether the sweep measured ``heuristic_memory`` (sweeps made before it existed did not)."""
    return all("heuristic_memory" in c["baselines"] for c in result["cards"])


def sweep_rows(result: dict[str, Any]) -> list[str]:
    """One markdown row per setting: oracle raw accuracy, heuristic and best single normalised
    accuracy, and which of the three criteria hold; with ``heuristic_memory`` measured, also its
    normalised accuracy and the memory gain (it minus the heuristic) before the random column."""
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    rows = []
    for card in result["cards"]:
        b, k = card["baselines"], card["criteria"]
        best = k["best_single"]
        single = "n/a" if best is None else f"{fmt(b[best]['norm_accuracy'])} (`{best.split(':', 1)[1]}`)"
        met = [
            name
            for name, ok in (
                ("solvable", k["solvable"]),
                ("single", k["best_single_ok"]),
                ("heuristic", k["heuristic_ok"]),
            )
            if ok
        ]
        verdict = "all three" if len(met) == 3 else ", ".join(met) or "none"
        memory = ""
        if _has_memory(result):
            gain = memory_gain(b)
            memory = f"{fmt(b['heuristic_memory']['norm_accuracy'])} | {'n/a' if gain is None else f'{gain:+.3f}'} | "
        rows.append(
            f"| `{setting_label(card['env_kwargs'])}` | {fmt(b['oracle']['accuracy'])} | "
            f"{fmt(b['heuristic']['norm_accuracy'])} | {memory}{single} | {fmt(b['random']['accuracy'])} | {verdict} |"
        )
    return rows


def format_sweep(result: dict[str, Any]) -> str:
    memory = _has_memory(result)
    cols = ["setting", "oracle accuracy", "heuristic (norm.)"]
    cols += ["heuristic_memory (norm.)", "memory gain"] if memory else []
    cols += ["best single (norm.)", "random accuracy", "criteria met"]
    head = [
        f"{result['env_id']} on {result['split']} ({result['episodes']} tasks x seeds {result['seeds']})",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    return "\n".join(head + sweep_rows(result))


def main(argv: list[str] | None = None) -> int:
    from poser_agents.common.checkpoint import atomic_write_text
    from poser_agents.common.cli_args import positive_int, quiet_v0_upgrade_notice, seed_list

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True, help="a registered level, e.g. ImagePoser-Drift-v0")
    p.add_argument("--grid", required=True, help="a JSON list of env kwargs objects, inline or a file")
    p.add_argument("--out", required=True, help="the JSON file to write (atomically)")
    p.add_argument("--split", default="val", choices=TUNING_SPLITS)
    p.add_argument("--episodes", type=positive_int, default=50, help="tasks (default 50)")
    p.add_argument("--seeds", type=seed_list, default=[0], help="evaluation seeds (default 0)")
    p.add_argument("--no-singles", action="store_true", help="skip the single-expert baselines")
    args = p.parse_args(argv)
    quiet_v0_upgrade_notice()
    from gymnasium.error import Error as GymnasiumError

    try:
        grid = read_grid(args.grid)
        result = sweep(args.env, grid, args.split, args.episodes, args.seeds, singles=not args.no_singles)
    except (ValueError, TypeError, GymnasiumError) as e:  # bad input: one line
        print(f"sweep_levels: error: {e}", file=sys.stderr)
        return 2
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(format_sweep(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
