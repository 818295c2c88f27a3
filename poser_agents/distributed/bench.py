"""Speed-up of ``poser eval --ray`` over the serial harness, measured in one process.

    python -m poser_agents.distributed.bench --agent heuristic --episodes 100 --seeds 0,1,2,3 --num-cpus 2

Runs the serial evaluation, then the same one twice on a new local Ray instance (first on cold
workers, which import the project and build the env; then on the same, warm workers, as in a
long-lived cluster), checks that the records are identical, and prints the times, the ratios
and the machine's load average before and after (on a shared machine the ratio means little
without it). Ray's start-up is timed apart: it is paid once per process, not per evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="heuristic")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seeds", default="0,1,2,3")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance (its workers)")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]

    from poser_agents.distributed.evaluation import evaluate_on_ray
    from poser_agents.distributed.runtime import init_ray
    from poser_agents.evaluation import evaluate

    load = {"before": os.getloadavg()}
    t = time.perf_counter()
    serial = evaluate(args.agent, "ImagePoser-v0", episodes=args.episodes, seeds=seeds)
    t_serial = time.perf_counter() - t
    t = time.perf_counter()
    init_ray(num_cpus=args.num_cpus)
    t_start = time.perf_counter() - t
    t = time.perf_counter()
    cold = evaluate_on_ray(args.agent, "ImagePoser-v0", episodes=args.episodes, seeds=seeds)
    t_cold = time.perf_counter() - t
    # Again on the same, now warm workers (modules imported, env built): a long-lived cluster's case.
    t = time.perf_counter()
    sharded = evaluate_on_ray(args.agent, "ImagePoser-v0", episodes=args.episodes, seeds=seeds)
    t_ray = time.perf_counter() - t
    load["after"] = os.getloadavg()
    out = {
        "agent": args.agent, "episodes": len(serial.records), "cpus": args.num_cpus, "shards": sharded.extra["ray"]["shards"],
        "serial_s": round(t_serial, 2), "ray_cold_s": round(t_cold, 2), "ray_warm_s": round(t_ray, 2),
        "ray_start_s": round(t_start, 2), "speedup_cold": round(t_serial / t_cold, 2), "speedup_warm": round(t_serial / t_ray, 2),
        "identical": all(r.records == serial.records and r.summary == serial.summary for r in (cold, sharded)),
        "loadavg_before": [round(x, 2) for x in load["before"]], "loadavg_after": [round(x, 2) for x in load["after"]],
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
