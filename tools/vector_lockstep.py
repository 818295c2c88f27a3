"""What limits an async vector env of ImagePoser: the lockstep against the step times' spread.

A lockstep vector env (Gymnasium's ``AsyncVectorEnv``, SB3's ``SubprocVecEnv``) returns when
its slowest worker is done, so with ``n`` envs a vector step costs at least the largest of ``n``
env calls, not their mean: ``n * mean / E[max of n]`` bounds its speed-up over one env even
with free inter-process communication. ImagePoser's calls are lopsided (most reuse cached
canvases, one in three renders and reads a new one, a reset extracts a new prompt), so that
bound is far below ``n``. This script measures it and checks it with a control
(docs/performance.md, seventh round):

1. ``one_env_call_cpu_ms``: one env in this process, random allowed actions, each call's
   process CPU time (a step; a reset counted as its own call, as the vector env's next-step
   autoreset makes it). From them ``lockstep_bound[n]`` (``poser_agents.bench.lockstep_bound``):
   ``n * mean / E[max of n]``, exact for independent draws from those calls.
2. ``async2/one``: ``gym.make_vec(ENV, num_envs=2, vectorization_mode="async")`` against that
   one env, steps per wall second, measured as ``poser bench`` measures them: transitions only,
   not the calls that autoreset an env (with where a vector step's time goes:
   ``async2_per_vector_step_ms``).
3. ``async2_without_info/one``: the same vector env with every info emptied in the workers
   (``DropInfo``): what the info costs, pickled in the workers and merged into arrays in the
   main process.
4. ``sb3_subproc2/one``: stable-baselines3's ``SubprocVecEnv`` of 2 workers (lockstep, infos
   returned as a list of dicts, not merged into arrays) against the same one env.
5. ``control_async2/one``: the same against ``CartPole-v1`` made to burn, at every step,
   ImagePoser's mean CPU per transition (``control_ms_per_step``: step 1's calls over its
   steps, resets included): the same mean cost with no spread and a tiny observation and info.
   It burns CPU *time*, so it cannot suffer the slowdown ImagePoser's own steps suffer inside
   workers. Where the control scales and ImagePoser does not, the spread and ImagePoser's own
   per-step overheads are what limit it, not the machine or the pipes.

6. ``env_step_cpu_ms``: the CPU inside ``env.step`` itself, in this process and in each worker
   of the async vector env (the same calls, timed where they run), and in one process stepping
   its own env alone and two such processes at once (no vector env): how much of a worker's
   extra cost the two cores sharing their caches explain.

Each repeat first plays ``WARM_UP`` untimed steps in this process, whose caches the workers
inherit when they fork.

    PYTHONPATH=$PWD python tools/vector_lockstep.py                 # ImagePoser-v0, 2 repeats
    PYTHONPATH=$PWD python tools/vector_lockstep.py --env ImagePoser-Edit-v0 --steps 2000 --json
    PYTHONPATH=$PWD python tools/vector_lockstep.py --sweep 0.25,0.5,1,2,4   # and the control alone at those costs

Process CPU time for step 1 (a single-threaded loop's own cost), wall time for 2 to 5 (the
work of a vector env is in its worker processes). Run it on a quiet machine: other jobs take
cores from the workers and the ratios mean little.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from poser_agents.bench import _env_sps, _vec_sps, lockstep_bound

WARM_UP = 300
"""Untimed random steps in this process before each repeat (the workers fork warm from it)."""


class BurnCPU(gym.Wrapper):
    """Spends ``ms`` milliseconds of process CPU time after each step (the control's cost)."""

    def __init__(self, env: gym.Env, ms: float):
        super().__init__(env)
        self.ms = ms

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        end = time.process_time() + self.ms / 1000.0
        while time.process_time() < end:
            pass
        return out


class DropInfo(gym.Wrapper):
    """Returns an empty info (what a vector env would cost with a light one)."""

    def step(self, action: Any) -> Any:
        return (*self.env.step(action)[:4], {})

    def reset(self, **kwargs: Any) -> Any:
        return self.env.reset(**kwargs)[0], {}


def _actions(rng: np.random.Generator, obs: Any, n_actions: int, num_envs: int) -> np.ndarray:
    """Random actions, among the allowed ones where the observation has an action mask."""
    if isinstance(obs, dict) and "action_mask" in obs:
        return np.array([rng.choice(np.flatnonzero(m)) for m in np.reshape(obs["action_mask"], (num_envs, -1))])
    return rng.integers(n_actions, size=num_envs)


def wall_rate(env_id: str, steps: int, seed: int, num_envs: int = 0, wrappers: Sequence[Any] = ()) -> float:
    """Env steps per wall second with random (allowed) actions: one env here (``num_envs=0``)
    or an async vector env of ``num_envs``, each env wrapped in ``wrappers``."""
    rng = np.random.default_rng(seed)
    if num_envs == 0:
        env: Any = gym.make(env_id)
        for wrap in wrappers:
            env = wrap(env)
        obs, _ = env.reset(seed=seed)
        t = time.perf_counter()
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(_actions(rng, obs, env.action_space.n, 1)[0])
            if terminated or truncated:
                obs, _ = env.reset()
        rate = steps / (time.perf_counter() - t)
        env.close()
        return rate
    envs: Any = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="async", wrappers=list(wrappers))
    n_actions = envs.single_action_space.n
    obs, _ = envs.reset(seed=seed)
    obs, _, terminated, truncated, _ = envs.step(_actions(rng, obs, n_actions, num_envs))  # the workers are warm
    n, transitions = max(1, steps // num_envs), 0
    t = time.perf_counter()
    for _ in range(n):
        resetting = terminated | truncated  # next-step autoreset: not a transition (as poser bench counts)
        obs, _, terminated, truncated, _ = envs.step(_actions(rng, obs, n_actions, num_envs))
        transitions += num_envs - int(np.count_nonzero(resetting))
    rate = transitions / (time.perf_counter() - t)
    envs.close()
    return rate


class StepClock(gym.Wrapper):
    """Sums the process CPU time spent inside ``env.step``; on ``close`` writes the sum and the
    count to ``folder/<pid>.json`` (a vector env's workers close their envs on its close)."""

    def __init__(self, env: gym.Env, folder: str):
        super().__init__(env)
        self.folder, self.seconds, self.steps = folder, 0.0, 0

    def step(self, action: Any) -> Any:
        t = time.process_time()
        out = self.env.step(action)
        self.seconds += time.process_time() - t
        self.steps += 1
        return out

    def close(self) -> None:
        with open(os.path.join(self.folder, f"{os.getpid()}.json"), "w", encoding="utf-8") as f:
            json.dump({"seconds": self.seconds, "steps": self.steps}, f)
        super().close()


def step_cpu_ms(env_id: str, steps: int, seed: int, num_envs: int = 0) -> list[float]:
    """Mean process CPU ms inside ``env.step``: of one env here (``num_envs=0``) or of each
    worker of an async vector env (the same code, timed where it runs)."""
    with tempfile.TemporaryDirectory() as folder:
        wall_rate(env_id, steps, seed, num_envs, wrappers=[functools.partial(StepClock, folder=folder)])
        sums = [json.loads(Path(folder, name).read_text()) for name in sorted(os.listdir(folder))]
    # the vector env also builds one env here to read its spaces: it never steps
    return [round(1000 * d["seconds"] / d["steps"], 3) for d in sums if d["steps"]]


def _alone(env_id: str, steps: int, seed: int, out: Any) -> None:
    out.put(step_cpu_ms(env_id, steps, seed)[0])


def two_processes_ms(env_id: str, steps: int, seed: int) -> dict[str, Any]:
    """Mean CPU ms inside ``env.step`` of one process stepping its own env alone, then of two
    such processes at once (no vector env): what the two cores cost each other."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    alone = ctx.Process(target=_alone, args=(env_id, steps, seed, queue))
    alone.start()
    first = queue.get()
    alone.join()
    pair = [ctx.Process(target=_alone, args=(env_id, steps, seed + 1 + i, queue)) for i in range(2)]
    for proc in pair:
        proc.start()
    both = sorted(queue.get() for _ in pair)
    for proc in pair:
        proc.join()
    return {"alone": first, "two_at_once": both}


def sb3_subproc_rate(env_id: str, steps: int, seed: int, num_envs: int = 2) -> float:
    """Env steps per wall second of stable-baselines3's ``SubprocVecEnv`` (lockstep too, but its
    infos come back as a list of dicts, not merged into arrays), random allowed actions. SB3
    resets an env inside the step that ends its episode, so every call is a transition."""
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # fork, as Gymnasium's async vector env on Linux (SB3 would pick forkserver: fresh workers)
    envs = SubprocVecEnv([functools.partial(gym.make, env_id) for _ in range(num_envs)], start_method="fork")
    envs.seed(seed)
    rng = np.random.default_rng(seed)
    obs = envs.reset()
    obs, *_ = envs.step(_actions(rng, obs, 0, num_envs))  # the workers are warm
    n = max(1, steps // num_envs)
    t = time.perf_counter()
    for _ in range(n):
        obs, *_ = envs.step(_actions(rng, obs, 0, num_envs))
    rate = n * num_envs / (time.perf_counter() - t)
    envs.close()
    return rate


def measure(env_id: str, steps: int, seed: int) -> dict[str, Any]:
    """One repeat of the measurements (module doc)."""
    _env_sps(env_id, WARM_UP, seed + 7)  # untimed: this process's caches warm, as the workers' will be
    calls: list[float] = []
    one = _env_sps(env_id, steps, seed, call_seconds=calls)
    vec = _vec_sps(env_id, steps, seed + 1, 2)
    ms = 1000.0 * np.array(calls)
    mean_ms = float(ms.mean())
    burn = functools.partial(BurnCPU, ms=float(ms.sum()) / steps)  # per transition, resets included
    c_one = wall_rate("CartPole-v1", steps, seed + 2, wrappers=[burn])
    c_vec = wall_rate("CartPole-v1", steps, seed + 3, num_envs=2, wrappers=[burn])
    light = wall_rate(env_id, steps, seed + 4, num_envs=2, wrappers=[DropInfo])
    sb3 = sb3_subproc_rate(env_id, steps, seed + 5)
    step_ms = {
        "in_process": step_cpu_ms(env_id, steps, seed + 6)[0],
        "in_async2_workers": step_cpu_ms(env_id, steps, seed + 6, num_envs=2),
        "processes": two_processes_ms(env_id, steps, seed + 8),
    }
    return {
        "one_env_call_cpu_ms": {
            "calls": int(ms.size),
            "mean": round(mean_ms, 3),
            "median": round(float(np.median(ms)), 3),
            "p90": round(float(np.percentile(ms, 90)), 3),
            "p99": round(float(np.percentile(ms, 99)), 3),
            "cv": round(float(ms.std() / ms.mean()), 2),
        },
        "lockstep_bound": {str(n): round(lockstep_bound(calls, n), 3) for n in (2, 4)},
        "control_ms_per_step": round(float(ms.sum()) / steps, 3),
        "async2/one": round(vec["wall"] / one["wall"], 3),
        "async2_without_info/one": round(light / one["wall"], 3),
        "sb3_subproc2/one": round(sb3 / one["wall"], 3),
        "control_async2/one": round(c_vec / c_one, 3),
        "async2_per_vector_step_ms": vec["per_vector_step_ms"],
        "env_step_cpu_ms": step_ms,
        "wall_sps": {
            "one": round(one["wall"], 1),
            "async2": round(vec["wall"], 1),
            "async2_without_info": round(light, 1),
            "sb3_subproc2": round(sb3, 1),
            "control_one": round(c_one, 1),
            "control_async2": round(c_vec, 1),
        },
    }


def _at_least(low: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--env", default="ImagePoser-v0", help="a registered id whose observation has an action_mask")
    p.add_argument("--steps", type=_at_least(100), default=3000, help="env steps per measurement (default 3000)")
    p.add_argument("--repeats", type=_at_least(1), default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sweep",
        default="",
        help="comma-separated CPU ms per step: the control alone at each cost (how a constant-cost env scales)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    try:
        costs = [float(x) for x in args.sweep.split(",")] if args.sweep else []
    except ValueError:
        p.error(f"--sweep takes comma-separated milliseconds, got {args.sweep!r}")
    if any(not (0 < c <= 1000) for c in costs):
        p.error(f"--sweep costs must lie in (0, 1000] ms, got {args.sweep!r}")
    warnings.filterwarnings("ignore", module="gymnasium")
    import poser_env  # noqa: F401  (registers the ids)

    try:
        space = gym.make(args.env).observation_space
    except gym.error.Error as e:
        p.error(f"--env {args.env}: {e}")
    if not (isinstance(space, gym.spaces.Dict) and "action_mask" in space.spaces):
        p.error(f"--env {args.env}: its observation has no action_mask (random allowed actions need one)")

    with open("/proc/loadavg", encoding="ascii") as f:
        load = f.read().split()[:3]
    runs = [measure(args.env, args.steps, args.seed + 10 * r) for r in range(args.repeats)]
    out: dict[str, Any] = {"env": args.env, "steps": args.steps, "seed": args.seed, "load_average_start": load}
    out["repeats"] = runs
    if args.sweep:
        out["control_sweep"] = sweep = []
        for rep in range(args.repeats):
            for ms in costs:
                burn = functools.partial(BurnCPU, ms=ms)
                seed = args.seed + 100 + 10 * rep
                one = wall_rate("CartPole-v1", args.steps, seed, wrappers=[burn])
                two = wall_rate("CartPole-v1", args.steps, seed + 1, num_envs=2, wrappers=[burn])
                sweep.append({"repeat": rep, "cpu_ms_per_step": ms, "async2/one": round(two / one, 3)})
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{args.env}, {args.steps} steps per measurement, load average at start {' '.join(load)}")
    print(
        "repeat  call ms mean / median / p90 / p99  cv  | lockstep bound n=2, 4 | async2/one | without info | SB3 | control"
    )
    for i, r in enumerate(runs):
        c, b = r["one_env_call_cpu_ms"], r["lockstep_bound"]
        print(
            f"{i:6d}  {c['mean']:.3f} / {c['median']:.3f} / {c['p90']:.3f} / {c['p99']:.3f}  {c['cv']:.2f} |"
            f" {b['2']:.3f}, {b['4']:.3f} | {r['async2/one']:.3f} | {r['async2_without_info/one']:.3f}"
            f" | {r['sb3_subproc2/one']:.3f}"
            f" | {r['control_async2/one']:.3f}"
        )
    for row in out.get("control_sweep", []):
        print(
            f"control at {row['cpu_ms_per_step']} ms per step, repeat {row['repeat']}: async2/one {row['async2/one']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
