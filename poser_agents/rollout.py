"""Run an agent for whole episodes and collect the end-of-episode summaries.

The shared engine of ``poser calibrate``, the evaluation harness and the demo. Episodes are
reproducible: episode ``i`` runs task ``tasks[i]`` with ``reset(seed=seed + i)``, so every
agent meets the same tasks under the same expert failures.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

from poser_env.types import Task
from poser_env.wrappers import final_summary


def pick_tasks(env: gym.Env, n: int) -> list[Task]:
    """``n`` tasks spread evenly over the env's suite mix and split (all of them if fewer)."""
    tasks = env.unwrapped.tasks
    if n >= len(tasks):
        return list(tasks)
    idx = np.linspace(0, len(tasks) - 1, n).round().astype(int)
    return [tasks[i] for i in idx]


def run_episode(env: gym.Env, agent: Any, task: Task | None = None, seed: int | None = None) -> dict[str, Any]:
    """One episode; returns the env's ``episode_summary`` plus the total reward."""
    options = {"task": task} if task is not None else None
    obs, info = env.reset(seed=seed, options=options)
    total, done = 0.0, False
    while not done:
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    summary = dict(final_summary(env, info))  # also when a wrapper ended the episode
    summary["return"] = total
    return summary


def run_episodes(
    env: gym.Env,
    agent: Any,
    tasks: Sequence[Task],
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    out = []
    for i, task in enumerate(tasks):
        out.append(run_episode(env, agent, task, seed + i))
        if progress is not None:
            progress(i + 1)
    return out


def aggregate(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means of the evaluator's metrics, cost and steps, overall and per suite."""

    def means(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
        judged = [r for r in rows if r["evaluator"].get("judged")]
        if not judged:
            return {"episodes": len(rows)}
        return {
            "alignment": float(np.mean([r["evaluator"]["alignment"] for r in judged])),
            "accuracy": float(np.mean([r["evaluator"]["accuracy"] for r in judged])),
            "fidelity": float(np.mean([r["evaluator"]["fidelity"] for r in judged])),
            "cost": float(np.mean([r["cost"] for r in rows])),
            "steps": float(np.mean([r["steps"] for r in rows])),
            "return": float(np.mean([r["return"] for r in rows])),
            "coverage": float(np.mean([r.get("coverage", 1.0) for r in rows])),
            "with_unread": int(sum(bool(r.get("not_understood")) for r in rows)),
            "episodes": len(rows),
        }

    out = means(summaries)
    suites = sorted({r["suite"] for r in summaries})
    out["per_suite"] = {s: means([r for r in summaries if r["suite"] == s]) for s in suites}
    return out
