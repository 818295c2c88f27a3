"""Speed-up of ``poser eval --ray`` over the serial harness, measured in one process.

    python -m poser_agents.distributed.bench --agent heuristic --episodes 150 --seeds 0,1,2,3 --num-cpus 2

Prints one JSON line: the serial time, the Ray times and their ratios, whether the records are
identical, and the machine's load average at start and end (on a shared machine a ratio means
little without it). What each figure holds:

- ``serial_s``: :func:`poser_agents.evaluation.evaluate` in this process, after importing the
  project and building the env once (so the serial run, like warm workers, starts with its
  modules imported and the env's caches empty).
- ``ray_cold_s``: the same evaluation on a new local Ray instance right after it started: the
  workers' own start, imports and env builds are inside it (``poser eval --ray`` once).
- ``ray_warm_s``: on a second new instance, after every worker imported the project and built
  the env (:func:`~poser_agents.distributed.evaluation.warm_up`, no episode played, so its caches
  are empty as the serial run's were): a long-lived cluster's case.
- ``ray_start_s`` and ``warm_up_s``: Ray's start and the warm-up, paid once per process or
  cluster, timed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from typing import Any


def _warm_workers(ray: Any, workers: int) -> int:
    """Run :func:`warm_up` on every worker (tasks at once, one per CPU, until each worker has one)."""
    from poser_agents.distributed.evaluation import warm_up

    task = ray.remote(num_cpus=1)(warm_up)
    pids: set[int] = set()
    for _ in range(5):
        pids |= set(ray.get([task.remote() for _ in range(workers)]))
        if len(pids) >= workers:
            break
    return len(pids)


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--agent", default="heuristic")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seeds", default="0,1,2,3")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance (its workers)")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]

    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.distributed.evaluation import evaluate_on_ray
    from poser_agents.distributed.runtime import init_ray
    from poser_agents.evaluation import evaluate
    from poser_agents.rollout import pick_tasks

    load_before = os.getloadavg()
    pick_tasks(gym.make("ImagePoser-v0", split="test"), args.episodes)  # the driver warm: modules, env, suite
    t = time.perf_counter()
    serial = evaluate(args.agent, "ImagePoser-v0", episodes=args.episodes, seeds=seeds)
    t_serial = time.perf_counter() - t

    def on_new_instance(warm: bool) -> tuple[Any, dict[str, float]]:
        times = {}
        t = time.perf_counter()
        ray = init_ray(num_cpus=args.num_cpus)
        times["start"] = time.perf_counter() - t
        if warm:
            t = time.perf_counter()
            times["warmed"] = _warm_workers(ray, args.num_cpus)
            times["warm_up"] = time.perf_counter() - t
        t = time.perf_counter()
        result = evaluate_on_ray(args.agent, "ImagePoser-v0", episodes=args.episodes, seeds=seeds)
        times["run"] = time.perf_counter() - t
        ray.shutdown()
        return result, times

    cold, t_cold = on_new_instance(warm=False)
    warm, t_warm = on_new_instance(warm=True)
    load_after = os.getloadavg()
    out = {
        "agent": args.agent,
        "episodes": len(serial.records),
        "cpus": args.num_cpus,
        "shards": warm.extra["ray"]["shards"],
        "tasks": warm.extra["ray"]["tasks"],
        "serial_s": round(t_serial, 2),
        "ray_cold_s": round(t_cold["run"], 2),
        "ray_warm_s": round(t_warm["run"], 2),
        "speedup_cold": round(t_serial / t_cold["run"], 2),
        "speedup_warm": round(t_serial / t_warm["run"], 2),
        "ray_start_s": round(t_cold["start"], 2),
        "warm_up_s": round(t_warm["warm_up"], 2),
        "workers_warmed": int(t_warm["warmed"]),
        "identical": all(r.records == serial.records and r.summary == serial.summary for r in (cold, warm)),
        "loadavg_start": [round(x, 2) for x in load_before],
        "loadavg_end": [round(x, 2) for x in load_after],
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
