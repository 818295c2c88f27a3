"""Benchmarks that print figures (never timed unit tests): ``poser bench env``."""

from __future__ import annotations

import time
from typing import Any, Sequence

import gymnasium as gym
import numpy as np


def bench_env(steps: int = 2000, encoders: Sequence[str] = ("hash", "minilm"), seed: int = 0, env_id: str = "ImagePoser-v0") -> dict[str, Any]:
    """Environment steps per second with random (mask-respecting) actions, per text encoder.

    Resets are included in the time (they are part of an agent's loop); the first reset, which
    loads the suites and the text model, is not.
    """
    import poser_env  # noqa: F401

    out: dict[str, Any] = {"steps": steps, "env": env_id}
    for name in encoders:
        env = gym.make(env_id, text_encoder=name)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        episodes = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            action = rng.choice(np.flatnonzero(obs["action_mask"]))
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                episodes += 1
                obs, _ = env.reset()
        dt = time.perf_counter() - t0
        out[f"steps_per_s_{name}"] = round(steps / dt, 1)
        out[f"episodes_{name}"] = episodes
        env.close()
    return out
