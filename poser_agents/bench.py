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


class _Timed:
    """A component whose model calls are timed (``__call__``, ``critique``, ``extract``, ``evaluate``)."""

    def __init__(self, inner: Any, clock: dict[str, float]):
        self._inner, self._clock = inner, clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _timed(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self._clock["model"] += time.perf_counter() - t0

    def __call__(self, *args, **kwargs):
        return self._timed(self._inner, *args, **kwargs)

    def critique(self, *args, **kwargs):
        return self._timed(self._inner.critique, *args, **kwargs)

    def extract(self, *args, **kwargs):
        return self._timed(self._inner.extract, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        return self._timed(self._inner.evaluate, *args, **kwargs)


def bench_preset_env(preset: str, steps: int = 50, seed: int = 0, allow_entry_points: bool = False,
                     trust_remote_code: bool = False) -> dict[str, Any]:
    """The env's own time per step on a real-model preset: everything but the model calls.

    Every expert call, critique, extraction and evaluation is timed and subtracted, so what
    remains is the env's bookkeeping, observation encoding and validation. Actions are random
    (mask-respecting); the first reset (model loading) is not counted.
    """
    import poser_env  # noqa: F401
    from poser_env.backends.preset import make_env
    from poser_env.registry import ExpertRegistry

    env = make_env(preset, allow_entry_points=allow_entry_points, trust_remote_code=trust_remote_code)
    clock = {"model": 0.0}
    env.registry = ExpertRegistry([_Timed(e, clock) for e in env.registry])
    env.critic, env.extractor, env.evaluator = (_Timed(c, clock) for c in (env.critic, env.extractor, env.evaluator))
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))  # warm-up: loads the models
    obs, _ = env.reset(seed=seed + 1)
    step_total = step_model = reset_total = reset_model = 0.0
    resets = errors = 0
    for _ in range(steps):
        action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        clock["model"] = 0.0
        t0 = time.perf_counter()
        obs, _, terminated, truncated, info = env.step(action)
        step_total += time.perf_counter() - t0
        step_model += clock["model"]
        errors += "error" in info
        if terminated or truncated:
            clock["model"] = 0.0
            t0 = time.perf_counter()
            obs, _ = env.reset()
            reset_total += time.perf_counter() - t0
            reset_model += clock["model"]
            resets += 1
    env.close()
    return {
        "preset": str(preset),
        "steps": steps,
        "resets": resets,
        "errors": errors,
        "env_ms_per_step": round(1000 * (step_total - step_model) / steps, 3),
        "model_ms_per_step": round(1000 * step_model / steps, 3),
        "total_ms_per_step": round(1000 * step_total / steps, 3),
        "env_ms_per_reset": round(1000 * (reset_total - reset_model) / resets, 3) if resets else None,
    }
