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


def bench_preset_env(preset: str, steps: int = 50, seed: int = 0, allow_entry_points: bool = False) -> dict[str, Any]:
    """The env's own time per step on a real-model preset: everything but the model calls.

    Every expert call, critique, extraction and evaluation is timed and subtracted, so what
    remains is the env's bookkeeping, observation encoding and validation. Actions are random
    (mask-respecting); the first reset (model loading) is not counted.
    """
    import poser_env  # noqa: F401
    from poser_env.backends.preset import make_env
    from poser_env.registry import ExpertRegistry

    env = make_env(preset, allow_entry_points=allow_entry_points)
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


# ----------------------------------------------------------------------------------------
# poser bench: throughput ratios measured in one process (issue 13)


def _env_sps(env_id: str, steps: int, seed: int, **kwargs: Any) -> float:
    """Env steps/s with random allowed actions, resets included; the first reset (suite and
    model loading) is not timed."""
    env = gym.make(env_id, **kwargs)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
        if terminated or truncated:
            obs, _ = env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def _vec_sps(env_id: str, steps: int, seed: int, num_envs: int) -> float:
    """Env steps/s (summed over workers) of Gymnasium's async vector env, random allowed actions."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="async")
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    envs.step(np.array([rng.choice(np.flatnonzero(m)) for m in obs["action_mask"]]))  # workers warm
    n = max(1, steps // num_envs)
    t0 = time.perf_counter()
    for _ in range(n):
        obs, *_ = envs.step(np.array([rng.choice(np.flatnonzero(m)) for m in obs["action_mask"]]))
    dt = time.perf_counter() - t0
    envs.close()
    return n * num_envs / dt


def _sb3_cartpole_sps(steps: int, learning_starts: int, seed: int) -> float:
    """SB3's DQN training on CartPole-v1 with the masked DQN's network and settings."""
    from stable_baselines3 import DQN

    from poser_agents.dqn.agent import DQNConfig

    c = DQNConfig()
    model = DQN(
        "MlpPolicy", gym.make("CartPole-v1"), learning_rate=c.learning_rate, buffer_size=c.buffer_size,
        learning_starts=learning_starts, batch_size=c.batch_size, gamma=c.gamma, train_freq=c.train_freq,
        gradient_steps=c.gradient_steps, target_update_interval=c.target_update_interval,
        policy_kwargs={"net_arch": list(c.net_arch)}, seed=seed, device="cpu",
    )  # fmt: skip
    t0 = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - t0)


def _poser_dqn_sps(env_id: str, steps: int, learning_starts: int, seed: int) -> float:
    """The project's masked DQN (DQNConfig defaults) training on ``env_id``."""
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    agent = DQNAgent(gym.make(env_id), DQNConfig(learning_starts=learning_starts, seed=seed, torch_threads=None))
    t0 = time.perf_counter()
    agent.learn(steps)
    return steps / (time.perf_counter() - t0)


def replay_memory_per_100k(text_encoder: str, transitions: int = 2000, seed: int = 0) -> dict[str, float]:
    """Bytes of the masked DQN's replay buffer per 100k transitions with ``text_encoder``.

    The buffer (the class the DQN uses, with its default settings) is allocated for 100k
    transitions and filled with ``transitions`` real ones (random allowed actions); growing
    parts (a de-duplicated embedding table) are extrapolated linearly from there, which
    overstates them (distinct texts recur ever more often).
    """
    from poser_agents.dqn.replay import replay_buffer_bytes

    env = gym.make("ImagePoser-v0", text_encoder=text_encoder)
    return replay_buffer_bytes(env, capacity=100_000, fill=transitions, seed=seed)


def bench_throughput(quick: bool = False, repeats: int = 1, seed: int = 0, minilm: bool = True) -> dict[str, Any]:
    """Every figure of ``poser bench``, measured in this one process, and their ratios.

    Per repeat: SB3's DQN on CartPole-v1 (same net, ``train_freq`` and batch as
    :class:`~poser_agents.dqn.agent.DQNConfig`), env steps/s of the three synthetic ids (hash
    encoder, random allowed actions), the masked DQN on ImagePoser-v0, an async vector env of
    2 workers against one env, and MiniLM's env steps/s. Ratios are taken within a repeat
    (the machine's load changes between repeats); the summary is their median.
    ``quick`` runs tiny budgets to check the plumbing only: its speeds mean nothing.
    """
    import poser_env  # noqa: F401

    steps = 200 if quick else 4000
    dqn_steps, starts = (300, 100) if quick else (6000, 1000)
    ids = ("ImagePoser-v0", "ImagePoser-Gen-v0", "ImagePoser-Edit-v0")
    runs: list[dict[str, Any]] = []
    for r in range(repeats):
        s = seed + r
        f: dict[str, Any] = {"sb3_dqn_cartpole_sps": _sb3_cartpole_sps(dqn_steps, starts, s)}
        for env_id in ids:
            f[f"env_sps[{env_id}]"] = _env_sps(env_id, steps, s)
        f["poser_dqn_sps"] = _poser_dqn_sps("ImagePoser-v0", dqn_steps, starts, s)
        f["vec1_sps"] = _env_sps("ImagePoser-v0", steps, s)
        f["async2_sps"] = _vec_sps("ImagePoser-v0", steps, s, 2)
        if minilm:
            try:
                f["env_sps_minilm"] = _env_sps("ImagePoser-v0", steps // 4 if not quick else 50, s, text_encoder="minilm")
            except Exception as e:  # noqa: BLE001 - MiniLM is optional (the text extra)
                f["env_sps_minilm"] = None
                f["minilm_error"] = f"{type(e).__name__}: {e}"
        base = f["sb3_dqn_cartpole_sps"]
        f["ratios"] = {
            **{f"env/sb3_cartpole[{i}]": f[f"env_sps[{i}]"] / base for i in ids},
            "poser_dqn/sb3_cartpole": f["poser_dqn_sps"] / base,
            "async2/one_env": f["async2_sps"] / f["vec1_sps"],
        }
        if f.get("env_sps_minilm"):
            f["ratios"]["minilm/hash"] = f["env_sps_minilm"] / f["env_sps[ImagePoser-v0]"]
        runs.append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in f.items()})
        runs[-1]["ratios"] = {k: round(v, 3) for k, v in f["ratios"].items()}
    memory = {}
    for enc in ("hash", "minilm") if minilm else ("hash",):
        try:
            memory[enc] = replay_memory_per_100k(enc, transitions=300 if quick else 2000, seed=seed)
        except Exception as e:  # noqa: BLE001
            memory[enc] = {"error": f"{type(e).__name__}: {e}"}
    keys = runs[0]["ratios"].keys()
    summary = {k: round(float(np.median([run["ratios"][k] for run in runs if k in run["ratios"]])), 3) for k in keys}
    return {
        "quick": quick,
        "repeats": repeats,
        "steps": {"env": steps, "dqn": dqn_steps, "dqn_learning_starts": starts},
        "cpu_count": __import__("os").cpu_count(),
        "runs": runs,
        "ratios_median": summary,
        "replay_gib_per_100k": {k: v.get("gib") if isinstance(v, dict) else None for k, v in memory.items()},
        "replay_memory": memory,
    }
