"""Memory soak: step ImagePoser-v0 for a long time and check that the process's memory stays flat.

``python -m poser_agents.soak --steps 100000`` steps the env with random actions (mostly allowed
ones, some refused by the mask, so the invalid-action path runs too), resets at every episode end
with a new seed and also mid-episode every ``--reset-every`` steps, then (``--dqn-steps``) trains a
small masked DQN in the same process. The resident set size (RSS) is sampled every
``--sample-every`` steps; the figures printed are RSS at the start, after the warm-up (the first
10 % of the env steps: suites, text model and caches fill up), at the end, and the least-squares
slope of RSS over the last 90 % in MB per 100k steps. A leak of even a few bytes per step shows
as a steady slope; allocator noise does not.

A benchmark that prints figures, not a test (``docs/security.md``, "Reliability figures").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np


def rss_mb() -> float:
    """Resident set size of this process in MB (psutil if installed, else ``/proc/self/statm``)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return float(psutil.Process().memory_info().rss) / 1e6


def _slope_per_100k(samples: list[tuple[int, float]]) -> float:
    steps = np.array([s for s, _ in samples], dtype=float)
    mb = np.array([m for _, m in samples], dtype=float)
    if len(samples) < 2 or np.ptp(steps) == 0:
        return 0.0
    return float(np.polyfit(steps, mb, 1)[0] * 100_000)


def soak(
    steps: int = 100_000,
    sample_every: int = 1_000,
    reset_every: int = 997,
    invalid_fraction: float = 0.05,
    dqn_steps: int = 0,
    seed: int = 0,
    env_id: str = "ImagePoser-v0",
) -> dict[str, Any]:
    """Run the soak; returns the figures (RSS in MB) and the samples ``[(step, rss_mb), ...]``."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the envs)

    rng = np.random.default_rng(seed)
    start = rss_mb()
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    episodes = forced_resets = invalid = 0
    t0 = time.perf_counter()
    for t in range(1, steps + 1):
        mask = obs["action_mask"]
        if rng.random() < invalid_fraction and not mask.all():
            action, invalid = int(rng.choice(np.flatnonzero(~mask.astype(bool)))), invalid + 1
        else:
            action = int(rng.choice(np.flatnonzero(mask)))
        obs, reward, terminated, truncated, _ = env.step(action)
        if not math.isfinite(float(reward)):
            raise RuntimeError(f"step {t}: non-finite reward {reward!r}")
        if terminated or truncated:
            episodes += 1
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
        elif t % reset_every == 0:
            forced_resets += 1
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
        if t % sample_every == 0:
            samples.append((t, rss_mb()))
    env_seconds = time.perf_counter() - t0
    env.close()
    warm = next(m for s, m in samples if s >= steps // 10)
    tail = [(s, m) for s, m in samples if s >= steps // 10]
    out: dict[str, Any] = {
        "env": env_id,
        "steps": steps,
        "episodes": episodes,
        "forced_resets": forced_resets,
        "invalid_actions": invalid,
        "env_steps_per_s": round(steps / env_seconds, 1),
        "rss_start_mb": round(start, 1),
        "rss_after_warmup_mb": round(warm, 1),
        "rss_env_end_mb": round(samples[-1][1], 1),
        "rss_growth_last_90pct_mb": round(samples[-1][1] - warm, 1),
        "rss_slope_last_90pct_mb_per_100k_steps": round(_slope_per_100k(tail), 2),
    }
    if dqn_steps:
        from poser_agents.dqn.agent import DQNAgent, DQNConfig

        before = rss_mb()
        agent = DQNAgent(
            gym.make(env_id),
            DQNConfig(buffer_size=min(dqn_steps, 100_000), learning_starts=min(500, dqn_steps), seed=seed),
        )
        agent.learn(dqn_steps)
        out.update(dqn_steps=dqn_steps, rss_before_dqn_mb=round(before, 1), rss_after_dqn_mb=round(rss_mb(), 1))
    out["rss_end_mb"] = round(rss_mb(), 1)
    out["samples"] = samples
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m poser_agents.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100_000, help="env steps with random actions (default 100,000)")
    p.add_argument("--sample-every", type=int, default=1_000, help="env steps between two RSS samples")
    p.add_argument("--reset-every", type=int, default=997, help="also reset mid-episode every N steps")
    p.add_argument("--dqn-steps", type=int, default=0, help="then train a masked DQN for N steps in the same process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the figures and samples as JSON")
    args = p.parse_args(argv)
    for name in ("steps", "sample_every", "reset_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.dqn_steps < 0:
        p.error("--dqn-steps must be 0 or more")
    out = soak(args.steps, args.sample_every, args.reset_every, dqn_steps=args.dqn_steps, seed=args.seed)
    if args.json:
        json.dump(out, sys.stdout)
        print()
    else:
        for k, v in out.items():
            if k != "samples":
                print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
