"""Run an agent for whole episodes: the one episode runner of the project.

:func:`run_episode` plays one episode and returns the env's end-of-episode summary plus the
total reward; ``poser calibrate``, the evaluation harness (serial and on Ray), the demo, the
honesty check and the training callbacks all call it, so an episode is played the same way
everywhere. Optional extras never change the episode: ``kinds`` collects the command kind each
step acted on, a ``tracer`` records the episode for the HTML report's viewer.

Which seed an episode resets with is the caller's explicit choice, :func:`episode_seed`:
episode ``i`` of a run seeded ``s`` resets with ``s * stride + i``, ``stride=1`` for the
consecutive scheme of :func:`run_episodes` and ``poser calibrate`` (``seed + i``), and
``stride=SEED_STRIDE`` for the evaluation harness (``s * 100000 + i``, so several evaluation
seeds never share an episode seed). Either way every agent meets the same tasks under the same
expert failures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from poser_env.types import Task
from poser_env.wrappers import final_summary

#: The evaluation harness's stride: episode ``i`` of evaluation seed ``s`` resets with ``s * SEED_STRIDE + i``.
SEED_STRIDE = 100_000


def episode_seed(run_seed: int, index: int, stride: int = 1) -> int:
    """The reset seed of episode ``index`` of a run seeded ``run_seed``: ``run_seed * stride + index``."""
    return int(run_seed) * int(stride) + int(index)


def pick_tasks(env: gym.Env, n: int) -> list[Task]:
    """``n`` tasks spread evenly over the env's suite mix and split (all of them if fewer)."""
    tasks = env.unwrapped.tasks
    if n >= len(tasks):
        return list(tasks)
    idx = np.linspace(0, len(tasks) - 1, n).round().astype(int)
    return [tasks[i] for i in idx]


def run_episode(
    env: gym.Env,
    agent: Any,
    task: Task | None = None,
    seed: int | None = None,
    *,
    kinds: list[str] | None = None,
    tracer: Any = None,
    run_seed: int = 0,
) -> dict[str, Any]:
    """One episode with the agent's greedy action; returns the env's ``episode_summary`` plus ``return``.

    ``kinds``, if given, gets the command kind each step acted on (read from the info *before*
    the step: the env's step log records the command after it). ``tracer``
    (:class:`poser_agents.report.trace.EpisodeTracer`) records the episode for the viewer, under
    ``run_seed``. Neither changes the episode.
    """
    options = {"task": task} if task is not None else None
    obs, info = env.reset(seed=seed, options=options)
    if tracer is not None:
        tracer.start(env, info, task, run_seed, seed)
    total, done = 0.0, False
    while not done:
        if kinds is not None:
            index = info.get("command_index", -1)
            commands = info.get("commands", [])
            kinds.append(commands[index]["kind"] if 0 <= index < len(commands) else "")
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        done = terminated or truncated
        if tracer is not None:
            tracer.step(env, float(reward), info)
    summary = dict(final_summary(env, info))  # also when a wrapper ended the episode
    summary["return"] = total
    if tracer is not None:
        tracer.end(summary, task)
    return summary


def run_episodes(
    env: gym.Env,
    agent: Any,
    tasks: Sequence[Task],
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    stride: int = 1,
) -> list[dict[str, Any]]:
    """:func:`run_episode` on each task; episode ``i`` resets with ``episode_seed(seed, i, stride)``
    (``seed + i`` by default)."""
    out = []
    for i, task in enumerate(tasks):
        out.append(run_episode(env, agent, task, episode_seed(seed, i, stride)))
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
