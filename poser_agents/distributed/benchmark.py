"""``poser benchmark run --ray``: the seeds of a benchmark run as Ray tasks, with the serial results.

A seed's run (:func:`poser_agents.benchmark.run.run_one`: training, val curve, final test) depends
only on its algorithm, level, budget, seed and protocol, never on the other seeds, so each seed
is one Ray task (1 CPU; a worker's torch uses one thread, as Ray sets ``OMP_NUM_THREADS``) that
writes its own folder exactly as the serial command does. The random and oracle references are
measured once, in the driver, before the tasks start, so no two tasks measure them twice.

On a cluster, ``--out`` must be a folder every node writes to at the same path (a shared file
system): each task writes its seed's results where the serial run would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poser_agents.distributed.runtime import init_ray

if TYPE_CHECKING:
    from poser_agents.benchmark.run import Protocol


def run_seed(
    algo: str, env_id: str, steps: int, seed: int, out: str, proto: Protocol, allow_entry_points: bool = False
) -> dict[str, Any]:
    """One seed's run with its log lines on stderr (the function a Ray task runs)."""
    from poser_agents.benchmark.run import run_one

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return run_one(algo, env_id, steps, seed, out, proto, allow_entry_points=allow_entry_points, log=log)


def run_on_ray(
    algo: str,
    env_id: str,
    steps: int,
    seeds: Sequence[int],
    out: str | Path,
    proto: Protocol | None = None,
    allow_entry_points: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """:func:`~poser_agents.benchmark.run.run_one` for every seed, as Ray tasks; results in seed order.

    ``address`` joins a running cluster (None starts a local instance with ``num_cpus``). A
    failing seed raises its own error once every other seed has finished (their results are
    written)."""
    from poser_agents.benchmark.run import Protocol, all_references, check_run, make_folder, results_folder

    proto = proto or Protocol()
    # Refused here, before Ray starts; the entry point is imported by the tasks, not the driver
    # (on a cluster its package may be installed on the workers only).
    check_run(algo, env_id, steps, allow_entry_points, resolve=False)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    out = str(make_folder(results_folder(out).resolve()))
    all_references(out, env_id, proto, log)
    ray = init_ray(address=address, num_cpus=num_cpus)
    task = ray.remote(num_cpus=1, max_retries=0)(run_seed)
    refs = [task.remote(algo, env_id, steps, seed, out, proto, allow_entry_points) for seed in seeds]
    results: list[Any] = []
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayTaskError as e:
            results.append(e.as_instanceof_cause())
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results
