"""``poser calibrate``: run every baseline on a split and show the testbed's scale.

The testbed is meaningful only if it is measured to be: the oracle near the top, no single
expert close to it, the command-type heuristic in between, random at the bottom. This module
prints that table (and, with ``--json``, one JSON object as the last line).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import gymnasium as gym

from poser_agents.baselines import make_baseline
from poser_agents.rollout import aggregate, pick_tasks, run_episodes


def baseline_names(env: gym.Env) -> list[str]:
    return ["random", "heuristic", "oracle"] + [f"single:{n}" for n in env.unwrapped.expert_names]


def calibrate(
    env_id: str = "ImagePoser-v0",
    split: str = "test",
    episodes: int = 300,
    seed: int = 0,
    baselines: list[str] | None = None,
    verbose: bool = True,
    heldout: bool = False,
    tasks_file: str | None = None,
    **env_kwargs: Any,
) -> dict[str, Any]:
    """Every baseline on ``episodes`` tasks of a split, on the hand-written held-out prompts, or
    on a task file of the user's (suite line format)."""
    import poser_env  # noqa: F401  (registers the ids)
    from poser_env.world.suites import load_heldout, load_tasks

    env = gym.make(env_id, split=split, **env_kwargs)
    tasks = load_tasks(tasks_file) if tasks_file else (load_heldout() if heldout else pick_tasks(env, episodes))
    results: dict[str, Any] = {}
    for name in baselines or baseline_names(env):
        t0 = time.perf_counter()
        agent = make_baseline(name, env, seed=seed)
        results[name] = aggregate(run_episodes(env, agent, tasks, seed=seed))
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
        if verbose:
            r = results[name]
            print(
                f"  {name:<22} alignment {r['alignment']:.3f}  accuracy {r['accuracy']:.3f}  cost {r['cost']:.2f}  ({r['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    env.close()
    where = f"tasks:{tasks_file}" if tasks_file else ("heldout" if heldout else split)
    return {"env": env_id, "split": where, "episodes": len(tasks), "seed": seed, "baselines": results}


def format_table(result: dict[str, Any]) -> str:
    rows = result["baselines"]
    suites = sorted({s for r in rows.values() for s in r.get("per_suite", {})})
    head = (
        "| agent | alignment | accuracy | fidelity | cost | steps | " + " | ".join(f"{s} align." for s in suites) + " |"
    )
    lines = [head, "|" + "---|" * (6 + len(suites))]
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["alignment"]):
        per = " | ".join(f"{r['per_suite'].get(s, {}).get('alignment', float('nan')):.3f}" for s in suites)
        lines.append(
            f"| {name} | {r['alignment']:.3f} | {r['accuracy']:.3f} | {r['fidelity']:.3f} | {r['cost']:.2f} | {r['steps']:.2f} | {per} |"
        )
    return "\n".join(lines)
