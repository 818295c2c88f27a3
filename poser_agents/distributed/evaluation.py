"""``poser eval --ray``: an evaluation's episodes as Ray tasks, with the serial run's results.

The serial harness (:func:`poser_agents.evaluation.evaluate`) plays episode ``i`` of seed ``s``
with ``reset(seed=s * SEED_STRIDE + i, options={"task": tasks[i]})`` and an agent built once per
seed. Here the same (seed, episode) pairs are cut into shards, each shard is one Ray task that
builds the env and the agent in its worker and plays its episodes in order, and the records are
put back in the serial order, so the records and the summary are those of the serial run.

What may be cut where: an episode depends only on its reset seed and the agent's state. Agents
whose actions depend on nothing but the observation and the env (the heuristic, single-expert,
oracle baselines, a saved DQN acting greedily) are cut into ranges of episodes, and one Ray
task plays one range for every seed (so the env's caches of a task's prompt are filled once,
as serially, not once per worker); agents that carry a generator from one episode to the next
(``random``, GRPO, the LLM planner) are cut per seed only, so each shard replays the seed's
episodes in the serial order. A shard is therefore never smaller than what keeps the results
exact.

The agent is named by the same string as on the command line (a baseline spec or a checkpoint
folder); each worker loads it, so on a cluster the folder must be readable on every node.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poser_agents.distributed.runtime import init_ray

if TYPE_CHECKING:
    from poser_agents.evaluation.harness import EvalResult

#: Baseline specs whose actions depend only on the observation and the env (no generator).
EPISODE_INDEPENDENT_BASELINES = ("heuristic", "oracle")

_ENVS: dict[str, Any] = {}  # one env per worker process and configuration (reused by its shards)


def episode_independent(agent: str) -> bool:
    """True when ``agent`` acts the same in an episode whatever episodes it played before."""
    if agent in EPISODE_INDEPENDENT_BASELINES or agent.startswith("single:"):
        return True
    path = Path(agent)
    if path.exists():
        from poser_agents.grpo.agent import is_grpo_checkpoint

        return not is_grpo_checkpoint(path)  # a DQN acts greedily (argmax), a GRPO policy samples
    return False


#: Ray tasks per worker an evaluation of an episode-independent agent is cut into: enough for
#: the last tasks to even out the workers' loads, few enough that a task's own cost (a few ms)
#: stays small against its episodes.
TASKS_PER_WORKER = 8


def plan_shards(n_episodes: int, seeds: Sequence[int], independent: bool, workers: int) -> list[tuple[int, list[int]]]:
    """``(seed, episode indices)`` per shard: whole seeds, or the same ranges of episodes for
    every seed (about :data:`TASKS_PER_WORKER` ranges per worker), listed range by range."""
    if not independent:
        return [(s, list(range(n_episodes))) for s in seeds]
    size = max(1, -(-n_episodes // max(1, TASKS_PER_WORKER * workers)))
    return [(s, list(range(i, min(i + size, n_episodes)))) for i in range(0, n_episodes, size) for s in seeds]


def group_shards(shards: Sequence[tuple[int, list[int]]], independent: bool) -> list[list[tuple[int, list[int]]]]:
    """The shards of one Ray task each: for an episode-independent agent, the shards of one range
    of episodes for every seed together, so that a task (one worker) meets each of its tasks'
    prompts for every seed: the env's caches (extracted commands, text embeddings) then work
    as in the serial run instead of every worker filling them for every task."""
    if not independent:
        return [[shard] for shard in shards]
    groups: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    for seed, idx in shards:
        groups.setdefault(tuple(idx), []).append((seed, idx))
    return list(groups.values())


def _env(env_id: str, split: str, env_kwargs: Mapping[str, Any]) -> Any:
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)

    key = json.dumps([env_id, split, dict(env_kwargs)], sort_keys=True, default=str)
    if key not in _ENVS:
        from poser_agents.common.cli_args import quiet_v0_upgrade_notice

        quiet_v0_upgrade_notice()  # a worker process: the driver's filter does not reach it
        _ENVS[key] = gym.make(env_id, split=split, **dict(env_kwargs))
    return _ENVS[key]


def warm_up(env_id: str = "ImagePoser-v0", split: str = "test", env_kwargs: Mapping[str, Any] | None = None) -> int:
    """Import the project and build the env in this worker, playing no episode; the process id.

    What a long-lived cluster's workers have done before an evaluation (the env's caches stay
    empty); :mod:`.bench` runs it on every worker to time evaluations on warm workers."""
    import os

    from poser_agents.evaluation.harness import SEED_STRIDE  # noqa: F401  (what run_shard imports)
    from poser_agents.factory import load_agent  # noqa: F401

    _env(env_id, split, env_kwargs or {})
    return os.getpid()


def run_shard(
    agent: str,
    env_id: str,
    split: str,
    env_kwargs: Mapping[str, Any],
    seed: int,
    indices: Sequence[int],
    tasks: Sequence[Any],
    allow_entry_points: bool = False,
) -> list[dict[str, Any]]:
    """Play episodes ``indices`` of ``seed`` (tasks ``tasks``, in that order); their records.

    The function a Ray task runs (plain Python, so it also runs without Ray). ``allow_entry_points``
    is the caller's flag for a saved agent whose env settings name code (docs/security.md)."""
    from poser_agents.evaluation.harness import SEED_STRIDE
    from poser_agents.evaluation.summary import record_from_summary
    from poser_agents.factory import load_agent
    from poser_agents.rollout import episode_seed, run_episode

    env = _env(env_id, split, env_kwargs)
    agent_obj = load_agent(agent, env, seed=seed, allow_entry_points=allow_entry_points)
    records = []
    for i, task in zip(indices, tasks):
        reset_seed = episode_seed(seed, i, SEED_STRIDE)  # the harness's scheme: the same episodes as serially
        kinds: list[str] = []
        summary = run_episode(env, agent_obj, task, reset_seed, kinds=kinds)
        records.append(record_from_summary(summary, seed, reset_seed, kinds))
    return records


def run_shards(
    agent: str,
    env_id: str,
    split: str,
    env_kwargs: Mapping[str, Any],
    shards: Sequence[tuple[int, Sequence[int]]],
    tasks: Mapping[int, Any],
    allow_entry_points: bool = False,
) -> list[list[dict[str, Any]]]:
    """:func:`run_shard` for each ``(seed, indices)`` of ``shards`` in turn (one Ray task);
    ``tasks`` maps an episode index to its task."""
    return [
        run_shard(agent, env_id, split, env_kwargs, seed, idx, [tasks[i] for i in idx], allow_entry_points)
        for seed, idx in shards
    ]


def evaluate_on_ray(
    agent: str,
    env_id: str = "ImagePoser-v0",
    split: str = "test",
    episodes: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    env_kwargs: Mapping[str, Any] | None = None,
    name: str | None = None,
    n_resamples: int | None = None,
    verbose: bool = False,
    tasks: Sequence[Any] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    allow_entry_points: bool = False,
) -> EvalResult:
    """:func:`poser_agents.evaluation.evaluate` with the episodes run as Ray tasks.

    ``agent`` is a baseline spec or a saved agent's folder (each worker builds its own);
    ``address`` joins a running cluster (None starts a local instance with ``num_cpus``).
    Returns an :class:`~poser_agents.evaluation.EvalResult` whose ``records`` and ``summary``
    equal the serial run's; ``extra["ray"]`` says how it was sharded.
    """
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.evaluation.harness import SEED_STRIDE, EvalResult
    from poser_agents.evaluation.stats import DEFAULT_RESAMPLES
    from poser_agents.evaluation.summary import summarize
    from poser_agents.rollout import pick_tasks

    if not isinstance(agent, str):
        raise TypeError(
            "evaluate_on_ray needs the agent as a string (a baseline spec or a saved agent's folder): "
            "every Ray worker builds its own copy from it"
        )
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    n_resamples = DEFAULT_RESAMPLES if n_resamples is None else n_resamples
    env_kwargs = dict(env_kwargs or {})
    probe = gym.make(env_id, split=split, **env_kwargs)  # fails here, in the driver, on bad settings
    try:
        tasks = list(tasks) if tasks is not None else pick_tasks(probe, episodes)
        experts = list(getattr(probe.unwrapped, "action_names", []))
        if not Path(agent).exists():
            from poser_agents.baselines import make_baseline

            make_baseline(agent, probe, seed=seeds[0])  # an unknown spec is refused before any task starts
    finally:
        probe.close()

    ray = init_ray(address=address, num_cpus=num_cpus)
    workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    independent = episode_independent(agent)
    shards = plan_shards(len(tasks), seeds, independent, workers)
    groups = group_shards(shards, independent)
    remote = ray.remote(num_cpus=1)(run_shards)
    t0 = time.perf_counter()
    refs = {
        remote.remote(
            agent, env_id, split, env_kwargs, group, {i: tasks[i] for i in group[0][1]}, allow_entry_points
        ): n
        for n, group in enumerate(groups)
    }
    by_shard: dict[tuple[int, int], list[dict[str, Any]]] = {}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for (seed, idx), records in zip(groups[refs[done[0]]], ray.get(done[0])):
            by_shard[seed, idx[0]] = records
        if verbose:
            print(
                f"  {name or agent}: {len(groups) - len(pending)}/{len(groups)} tasks done ({time.perf_counter() - t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    # The serial order: seed by seed, episodes in order.
    records = [
        r for seed, idx in sorted(shards, key=lambda sh: (seeds.index(sh[0]), sh[1][0])) for r in by_shard[seed, idx[0]]
    ]
    seconds = time.perf_counter() - t0
    config = {
        "env_id": env_id,
        "split": split,
        "episodes": len(tasks),
        "seeds": seeds,
        "env_kwargs": json.loads(json.dumps(env_kwargs, default=str)),
        "experts": experts,
        "n_resamples": int(n_resamples),
        "seed_stride": SEED_STRIDE,
    }
    steps = sum(r["steps"] for r in records)
    return EvalResult(
        agent=name or agent,
        config=config,
        records=records,
        summary=summarize(records, n_resamples),
        seconds=round(seconds, 3),
        extra={
            "env_steps": steps,
            "steps_per_s": round(steps / seconds, 1) if seconds > 0 else None,
            "ray": {"shards": len(shards), "tasks": len(groups), "cpus": workers, "address": address or "local"},
        },
    )
