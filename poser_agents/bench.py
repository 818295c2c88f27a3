"""Benchmarks that print figures (never timed unit tests): ``poser bench env``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np


def bench_env(
    steps: int = 2000, encoders: Sequence[str] = ("hash", "minilm"), seed: int = 0, env_id: str = "ImagePoser-v0"
) -> dict[str, Any]:
    """Environment steps per second with random (mask-respecting) actions, per text encoder.

    Resets are included in the time (they are part of an agent's loop); the first reset, which
    loads the suites and the text model (and, with a model encoder, precomputes the split's
    embeddings: ``EnvConfig.precompute_text``, its cost under ``precompute_<encoder>``), is not.
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
        report = env.unwrapped.text_precompute  # type: ignore[attr-defined]
        if report is not None:
            out[f"precompute_{name}"] = report.to_dict()
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

    def __call__(self, instruction, canvas, rng, reflection=""):
        from poser_env.experts.base import call_expert

        return self._timed(call_expert, self._inner, instruction, canvas, rng, reflection)

    def critique(self, *args, **kwargs):
        return self._timed(self._inner.critique, *args, **kwargs)

    def extract(self, *args, **kwargs):
        return self._timed(self._inner.extract, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        return self._timed(self._inner.evaluate, *args, **kwargs)


def bench_preset_env(
    preset: str, steps: int = 50, seed: int = 0, allow_entry_points: bool = False, trust_remote_code: bool = False
) -> dict[str, Any]:
    """The env's own time per step on a real-model preset: everything but the model calls.

    Every expert call, critique, extraction and evaluation is timed and subtracted, so what
    remains is the env's bookkeeping, observation encoding and validation. Actions are random
    (mask-respecting); the first reset (model loading) is not counted.
    """
    import poser_env  # noqa: F401
    from poser_env.presets import make_env

    clock = {"model": 0.0}
    env = make_env(
        preset,
        allow_entry_points=allow_entry_points,
        trust_remote_code=trust_remote_code,
        instrument=lambda role, component: _Timed(component, clock),
    )
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


class _Clock:
    """Wall and process CPU seconds of a block. On a shared machine CPU seconds of a
    single-threaded loop measure the work itself; wall seconds include other jobs' turns."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rates(self, n: int) -> dict[str, float]:
        return {"cpu": n / max(self.cpu, 1e-9), "wall": n / max(self.wall, 1e-9)}


def _env_sps(
    env_id: str,
    steps: int,
    seed: int,
    *,
    fresh_text_cache: bool = False,
    call_seconds: list[float] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Env steps/s with random allowed actions, resets included; the first reset (suite and
    model loading, and the split's text precompute where on) is not timed. ``fresh_text_cache``
    empties the process's shared text cache first (the encoder's, every string of it). With a
    precompute, its report is under ``"precompute"``. ``call_seconds``, where given, receives
    each call's process CPU seconds, a step or a reset each (for :func:`lockstep_bound`)."""
    env = gym.make(env_id, **kwargs)
    base: Any = env.unwrapped
    if fresh_text_cache:
        base.encoder.text.clear()
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    record = call_seconds.append if call_seconds is not None else None
    with _Clock() as clock:
        for _ in range(steps):
            action = rng.choice(np.flatnonzero(obs["action_mask"]))
            t = time.process_time() if record else 0.0
            obs, _, terminated, truncated, _ = env.step(action)
            if record:
                record(time.process_time() - t)
            if terminated or truncated:
                t = time.process_time() if record else 0.0
                obs, _ = env.reset()
                if record:
                    record(time.process_time() - t)
    out: dict[str, Any] = dict(clock.rates(steps))
    if base.text_precompute is not None:
        out["precompute"] = base.text_precompute.to_dict()
    env.close()
    return out


def minilm_cold_warm(steps: int, seed: int) -> dict[str, Any]:
    """MiniLM env steps/s on ImagePoser-v0, cold and warm, paired in this process, and the
    hash env warm over the same steps.

    Cold: ``precompute_text=False``, each new task's strings embedded at its reset (as before
    the precompute existed). Warm: ``precompute_text=True``, the train split's commands
    extracted and texts embedded in batches at the first reset (not timed; its cost is
    ``precompute``). ``hash_warm``: the hash encoder with the same precompute, so that
    ``warm / hash_warm`` is what MiniLM still costs once both are precomputed (the precompute
    also fills the env's extraction cache, which speeds either encoder). Each run starts from
    an emptied text cache and runs the same seed, so all three play the same episodes.
    """
    runs = {
        label: _env_sps("ImagePoser-v0", steps, seed, fresh_text_cache=True, text_encoder=enc, precompute_text=pre)
        for label, enc, pre in (("cold", "minilm", False), ("warm", "minilm", True), ("hash_warm", "hash", True))
    }
    precompute = runs["warm"].pop("precompute")
    runs["hash_warm"].pop("precompute")
    return {**runs, "precompute": precompute}


def _median_cpu(data: Any, key: str, source: str) -> float:
    try:
        vals = [float(r[key]["cpu"]) for r in data["runs"] if r.get(key)]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{source}: not a `poser bench --json` result ({type(e).__name__}: {e})") from None
    if not vals or not all(np.isfinite(vals)) or min(vals) <= 0:
        raise ValueError(f"{source}: no usable {key!r} figures (was it run with --no-minilm?)")
    return float(np.median(vals))


def before_minilm_figures(before: Any, source: str = "before") -> dict[str, Any]:
    """The MiniLM and hash env rates (medians of CPU steps/s) of a previous ``poser bench
    --json`` result; ``ValueError`` naming ``source`` if it holds none."""
    return {
        "source": source,
        "minilm": _median_cpu(before, "env_minilm_sps", source),
        "hash": _median_cpu(before, "env[ImagePoser-v0]_sps", source),
    }


def compare_minilm_with_before(result: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Today's warm MiniLM env against a previous run's MiniLM figure (:func:`before_minilm_figures`,
    measured without a precompute): as a rate, and normalised by each run's own hash env
    (runs on a shared machine differ in speed, so the normalised ratio is the fairer one)."""
    warm = _median_cpu(result, "env_minilm_warm_sps", "this run")
    hash_now = _median_cpu(result, "env[ImagePoser-v0]_sps", "this run")
    return {
        "source": before["source"],
        "before_minilm_sps": round(before["minilm"], 1),
        "before_minilm/hash": round(before["minilm"] / before["hash"], 3),
        "warm_minilm_sps": round(warm, 1),
        "warm_minilm/hash": round(warm / hash_now, 3),
        "warm/before": round(warm / before["minilm"], 2),
        "warm/before_hash_normalised": round((warm / hash_now) / (before["minilm"] / before["hash"]), 2),
    }


def lockstep_bound(call_seconds: Sequence[float], num_envs: int = 2) -> float:
    """The most a lockstep vector env of ``num_envs`` envs can gain over one env whose calls
    (steps, and resets as their own calls, as next-step autoreset makes them) cost
    ``call_seconds``, with inter-process communication free: ``num_envs * mean / E[max]``.

    A lockstep vector env (Gymnasium's ``AsyncVectorEnv``, SB3's ``SubprocVecEnv``) returns when
    its slowest worker is done, so each vector step costs the largest of ``num_envs`` calls.
    ``E[max]`` is exact for independent draws from the calls: over the sorted calls ``t_(i)``,
    ``sum_i t_(i) * ((i / m)^n - ((i - 1) / m)^n)``. Equal calls give ``num_envs``; lopsided
    ones (ImagePoser's: most reuse cached canvases, some render and read a new one) much less.
    Resets count as calls on both sides (one env pays them too), so their share cancels.
    ``ValueError`` on ``num_envs < 1``, no calls, negative or non-finite times, or no time."""
    if num_envs < 1:
        raise ValueError(f"lockstep_bound needs num_envs >= 1, got {num_envs}")
    t = np.sort(np.asarray(call_seconds, dtype=np.float64).ravel())
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or t.sum() <= 0:
        raise ValueError("lockstep_bound needs finite, non-negative call times that took some time")
    share = np.arange(t.size + 1, dtype=np.float64) / t.size
    p_max = share[1:] ** num_envs - share[:-1] ** num_envs  # P(the largest of n draws is t_(i))
    return float(num_envs * t.mean() / (p_max @ t))


def _process_cpu_seconds(pids: Sequence[int]) -> list[float] | None:
    """User plus system CPU seconds of each process, read from ``/proc`` (Linux, 10 ms ticks);
    None where ``/proc`` is not there."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        seconds = []
        for pid in pids:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
            seconds.append((int(fields[11]) + int(fields[12])) / tick)  # utime, stime: fields 14 and 15
        return seconds
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _vec_sps(env_id: str, steps: int, seed: int, num_envs: int) -> dict[str, Any]:
    """Env steps/s (summed over workers) of Gymnasium's async vector env, random allowed
    actions. Only the wall rate means anything (the work is in the worker processes).

    Only transitions count: with Gymnasium's next-step autoreset, the call after an episode's
    end resets that env and ignores its action, so it is not counted as a step (one env here
    counts its resets as none either). Counting those calls too inflated the rate by about 1.17
    x on ImagePoser-v0, whose episodes are short (before issue 13's seventh round).

    ``counts``: the env calls and the transitions among them. ``per_vector_step_ms`` says where
    a vector step's time goes: ``wall``; the main process's
    CPU (``main_cpu``: choosing the actions here, sending them, receiving and merging the
    results); each worker's CPU (``worker_cpu``: its env step, the shared-memory write, pickling
    the info; None without ``/proc``). The workers run in parallel with each other but not with
    the main process (the vector env steps in lockstep), so ``wall`` is at least the slowest
    worker plus the main process, plus the hand-over between them."""
    envs: Any = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="async")
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    obs, _, terminated, truncated, _ = envs.step(
        np.array([rng.choice(np.flatnonzero(m)) for m in obs["action_mask"]])
    )  # the workers are warm
    pids = [p.pid for p in getattr(envs, "processes", [])]
    n = max(1, steps // num_envs)
    transitions = 0
    workers_before = _process_cpu_seconds(pids)
    with _Clock() as clock:
        for _ in range(n):
            resetting = terminated | truncated  # these envs reset in this call (next-step autoreset)
            obs, _, terminated, truncated, _ = envs.step(
                np.array([rng.choice(np.flatnonzero(m)) for m in obs["action_mask"]])
            )
            transitions += num_envs - int(np.count_nonzero(resetting))
    workers_after = _process_cpu_seconds(pids)
    envs.close()
    worker_cpu = (
        [round(1000 * (b - a) / n, 3) for a, b in zip(workers_before, workers_after)]
        if workers_before is not None and workers_after is not None and pids
        else None
    )
    return {
        **clock.rates(transitions),
        "counts": {"calls": n * num_envs, "transitions": transitions},
        "per_vector_step_ms": {
            "wall": round(1000 * clock.wall / n, 3),
            "main_cpu": round(1000 * clock.cpu / n, 3),
            "worker_cpu": worker_cpu,
        },
    }


def _sb3_cartpole_sps(steps: int, learning_starts: int, seed: int) -> dict[str, float]:
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
    with _Clock() as clock:
        model.learn(steps)
    return clock.rates(steps)


def _poser_dqn_sps(env_id: str, steps: int, learning_starts: int, seed: int) -> dict[str, float]:
    """The project's masked DQN (DQNConfig defaults) training on ``env_id``."""
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    agent = DQNAgent(gym.make(env_id), DQNConfig(learning_starts=learning_starts, seed=seed))
    with _Clock() as clock:
        agent.learn(steps)
    return clock.rates(steps)


def replay_memory_per_100k(text_encoder: str, transitions: int = 2000, seed: int = 0) -> dict[str, float]:
    """Bytes of the masked DQN's replay buffer per 100k transitions with ``text_encoder``
    (and of SB3's ``DictReplayBuffer``): see :func:`poser_agents.dqn.replay.replay_buffer_bytes`."""
    from poser_agents.dqn.replay import replay_buffer_bytes

    env = gym.make("ImagePoser-v0", text_encoder=text_encoder)
    return replay_buffer_bytes(env, capacity=100_000, fill=transitions, seed=seed)


IDS = ("ImagePoser-v0", "ImagePoser-Gen-v0", "ImagePoser-Edit-v0")


def bench_throughput(quick: bool = False, repeats: int = 1, seed: int = 0, minilm: bool = True) -> dict[str, Any]:
    """Every figure of ``poser bench``, measured in this one process, and their ratios.

    Per repeat: SB3's DQN on CartPole-v1 (same net, ``train_freq``, batch and schedule as
    :class:`~poser_agents.dqn.agent.DQNConfig`), env steps/s of the three synthetic ids (hash
    encoder, random allowed actions), the masked DQN on ImagePoser-v0, MiniLM's env steps/s
    cold and warm (:func:`minilm_cold_warm`, with the precompute's cost per repeat under
    ``minilm_precompute``), and an async vector env of 2 workers against one env, with
    ``async2_lockstep_bound`` (:func:`lockstep_bound` of that one env's calls: the most 2
    lockstep workers could gain over it). torch runs on one thread. Ratios
    use process CPU seconds (what each loop costs, robust to other jobs on a shared machine),
    except the vector env's, which is wall time by nature (``ratios_wall`` has all the
    wall-time ratios). The summary is the median over repeats. ``quick`` runs tiny budgets
    to check the plumbing only: its speeds mean nothing.
    """
    import torch

    import poser_env  # noqa: F401

    torch.set_num_threads(1)
    steps = 200 if quick else 4000
    dqn_steps, starts = (300, 100) if quick else (6000, 1000)
    runs: list[dict[str, Any]] = []
    for r in range(repeats):
        s = seed + r
        f: dict[str, Any] = {"sb3_dqn_cartpole": _sb3_cartpole_sps(dqn_steps, starts, s)}
        for env_id in IDS:
            f[f"env[{env_id}]"] = _env_sps(env_id, steps, s)
        f["poser_dqn"] = _poser_dqn_sps("ImagePoser-v0", dqn_steps, starts, s)
        calls: list[float] = []
        f["one_env"] = _env_sps("ImagePoser-v0", steps, s, call_seconds=calls)
        vec = _vec_sps("ImagePoser-v0", steps, s, 2)
        async2_breakdown, async2_counts = vec.pop("per_vector_step_ms"), vec.pop("counts")
        f["async2"] = vec
        error = None
        if minilm:
            try:
                mw = minilm_cold_warm(steps // 4 if not quick else 50, s)
                f["env_minilm"], f["env_minilm_warm"], f["env_hash_warm"] = mw["cold"], mw["warm"], mw["hash_warm"]
                precompute = mw["precompute"]
            except Exception as e:  # noqa: BLE001 - MiniLM is optional (the text extra)
                f["env_minilm"], error = None, f"{type(e).__name__}: {e}"
        ratios: dict[str, float] = {}
        wall: dict[str, float] = {}
        for clock, out in (("cpu", ratios), ("wall", wall)):
            base = f["sb3_dqn_cartpole"][clock]
            for i in IDS:
                out[f"env/sb3_cartpole[{i}]"] = f[f"env[{i}]"][clock] / base
            out["poser_dqn/sb3_cartpole"] = f["poser_dqn"][clock] / base
            if f.get("env_minilm"):
                out["minilm/hash"] = f["env_minilm"][clock] / f["env[ImagePoser-v0]"][clock]
                out["minilm_warm/hash"] = f["env_minilm_warm"][clock] / f["env[ImagePoser-v0]"][clock]
                out["minilm_warm/minilm_cold"] = f["env_minilm_warm"][clock] / f["env_minilm"][clock]
                out["minilm_warm/hash_warm"] = f["env_minilm_warm"][clock] / f["env_hash_warm"][clock]
        ratios["async2/one_env"] = wall["async2/one_env"] = f["async2"]["wall"] / f["one_env"]["wall"]
        run: dict[str, Any] = {f"{k}_sps": {c: round(v, 1) for c, v in d.items()} for k, d in f.items() if d}
        run["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
        run["ratios_wall"] = {k: round(v, 3) for k, v in wall.items()}
        run["async2_per_vector_step_ms"] = async2_breakdown
        run["async2_counts"] = async2_counts
        run["async2_lockstep_bound"] = round(lockstep_bound(calls, 2), 3)
        if error:
            run["minilm_error"] = error
        elif minilm:
            run["minilm_precompute"] = precompute
        runs.append(run)
    memory: dict[str, Any] = {}
    for enc in ("hash", "minilm") if minilm else ("hash",):
        try:
            memory[enc] = replay_memory_per_100k(enc, transitions=300 if quick else 2000, seed=seed)
        except Exception as e:  # noqa: BLE001
            memory[enc] = {"error": f"{type(e).__name__}: {e}"}
    keys = runs[0]["ratios"].keys()
    return {
        "quick": quick,
        "repeats": repeats,
        "steps": {"env": steps, "dqn": dqn_steps, "dqn_learning_starts": starts},
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "runs": runs,
        "ratios_median": {
            k: round(float(np.median([run["ratios"][k] for run in runs if k in run["ratios"]])), 3) for k in keys
        },
        "replay_gib_per_100k": {k: v.get("gib") for k, v in memory.items()},
        "replay_memory": memory,
    }
