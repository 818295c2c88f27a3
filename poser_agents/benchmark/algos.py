"""The learners ``poser benchmark run`` knows, built with their libraries' defaults.

Every algorithm is built as the library ships it (SB3 / sb3-contrib defaults, the project's
masked DQN with its ``DQNConfig`` defaults, the GRPO workflow policy with the recipe's defaults
within the env-step budget: :mod:`.grpo_learner`), on the Dict observation with a ``MultiInput``
policy (GRPO reads the env's episode context instead). One change for all: a replay buffer holds at most :data:`MAX_BUFFER` transitions (and no
more than the run's steps), since SB3's default of 1M Dict transitions would not fit in memory.
One change for one: ``recurrent_ppo`` takes PPO's rollout settings and one 64-unit LSTM shared by
actor and critic (:data:`SETTINGS`); each run records what its learner was built with
(:func:`learner_settings`).

A user's learner is a ``module:callable`` name, called as ``factory(env, seed=seed)`` and
returning an SB3-compatible model (``learn(total_timesteps, callback=...)`` calling an SB3
callback, ``predict(obs, state, episode_start, deterministic)``). Naming one imports and runs
code, so it needs the caller's explicit ``allow_entry_points=True`` (``--allow-entry-points``).
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_BUFFER = 100_000

#: name -> (module, class, policy, kind). kind: "offpolicy" (has a replay buffer), "onpolicy",
#: "masked" (MaskablePPO: predict takes action_masks), "recurrent" (predict carries LSTM state),
#: "workflow" (the GRPO workflow policy: bound to the env it acts in before each evaluation).
SB3_ALGOS: dict[str, tuple[str, str, str, str]] = {
    "dqn": ("stable_baselines3", "DQN", "MultiInputPolicy", "offpolicy"),
    "ppo": ("stable_baselines3", "PPO", "MultiInputPolicy", "onpolicy"),
    "a2c": ("stable_baselines3", "A2C", "MultiInputPolicy", "onpolicy"),
    "maskable_ppo": ("sb3_contrib", "MaskablePPO", "MultiInputPolicy", "masked"),
    "recurrent_ppo": ("sb3_contrib", "RecurrentPPO", "MultiInputLstmPolicy", "recurrent"),
    "qrdqn": ("sb3_contrib", "QRDQN", "MultiInputPolicy", "offpolicy"),
}
#: Settings that differ from the library's defaults. RecurrentPPO takes PPO's rollout length and
#: minibatch size (sb3-contrib ships ``n_steps=128, batch_size=128``; SB3's PPO ``2048, 64``), so
#: that ``recurrent_ppo`` and ``ppo`` differ only in the LSTM: the ablation ImagePoser-Drift-v0's
#: criterion asks for. With sb3-contrib's defaults on Drift the greedy policy had collapsed to one
#: action after 6,144 steps, and its val score stayed at the same 0.075 from 20k to 40k steps.
#: Its LSTM has 64 units (PPO's layers' width; sb3-contrib's default is 256), one shared by actor
#: and critic (the critic reads it without back-propagating into it): on Drift's val split the
#: same score at 100k steps as the 256-unit pair (0.525 against 0.50, seed 0) at 3.4 times less
#: CPU per run, which makes 1M-step recurrent runs affordable (docs/benchmark.md, "Drift:
#: RecurrentPPO against PPO").
SETTINGS: dict[str, dict[str, Any]] = {
    "recurrent_ppo": {
        "n_steps": 2048,
        "batch_size": 64,
        "policy_kwargs": {"lstm_hidden_size": 64, "shared_lstm": True, "enable_critic_lstm": False},
    }
}
#: Named learners built otherwise before runs recorded their ``settings``, with the date the
#: current settings came in: a ``result.json`` of one without ``settings`` was made by another
#: learner (``recurrent_ppo``: sb3-contrib's pair of 256-unit LSTMs, and before commit ee37444
#: of 2026-11-30 its 128-step rollouts), so ``benchmark run`` does not take it as this run, and ``aggregate`` does
#: not average it unflagged with runs of today's. A file of any other named learner without
#: ``settings`` was built as today's.
CHANGED_SETTINGS: dict[str, str] = {"recurrent_ppo": "2026-12-01"}
#: The project's own learners (``grpo``: kind "workflow", see :mod:`.grpo_learner`).
PROJECT_ALGOS: tuple[str, ...] = ("masked_dqn", "grpo")
ALGOS: tuple[str, ...] = tuple(SB3_ALGOS) + PROJECT_ALGOS


def check_algo(name: str, allow_entry_points: bool = False, resolve: bool = False) -> None:
    """Refuse an unknown algorithm, or an entry point without the caller's flag, with one line.

    ``resolve`` also imports an allowed entry point's module and looks its callable up, so that a
    typo in it is refused before any reference is measured or any folder is made."""
    if name in ALGOS:
        return
    if ":" in name:
        if not allow_entry_points:
            raise ValueError(
                f"--algo {name!r} names Python code to import and run; pass --allow-entry-points if you trust it"
            )
        if resolve:
            _load_entry_point(name)
        return
    raise ValueError(
        f"unknown algorithm {name!r}; allowed: {', '.join(ALGOS)}, or module:callable with --allow-entry-points"
    )


def _load_entry_point(name: str) -> Callable[..., Any]:
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise ValueError(f"--algo {name!r} must be module:callable")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"--algo {name!r}: cannot import {module!r} ({e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--algo {name!r}: {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"--algo {name!r}: {attr!r} is not callable")
    try:
        inspect.signature(obj).bind(None, seed=0)
    except TypeError as e:
        raise ValueError(f"--algo {name!r}: the factory is called as factory(env, seed=seed), and {e}") from None
    except ValueError:
        pass  # no signature to check (some builtins): the call itself will tell
    return obj


def learner_settings(name: str, steps: int) -> dict[str, Any] | None:
    """What a named learner is built with beyond its library's defaults (the training seed
    aside), as plain data: recorded in each run's ``result.json`` (``settings``) so that a run is
    read with the settings that made it. None for GRPO (its ``learner`` record) and a user's
    learner (its factory's own business)."""
    buffer = max(1, min(MAX_BUFFER, steps))
    if name in SB3_ALGOS:
        settings = {"policy": SB3_ALGOS[name][2], **copy.deepcopy(SETTINGS.get(name, {}))}
        if SB3_ALGOS[name][3] == "offpolicy":
            settings["buffer_size"] = buffer
        return settings
    if name == "masked_dqn":
        from poser_agents.dqn.agent import DQNConfig

        return {k: v for k, v in DQNConfig(buffer_size=buffer).to_dict().items() if k != "seed"}
    return None


def settings_of(run: dict[str, Any]) -> dict[str, Any] | str | None:
    """What the learner of ``run`` (a ``result.json``) was built with: its recorded ``settings``;
    for a file without them (written before 2026-12-01), today's for a learner whose settings
    never changed, else a string saying they are unknown (:data:`CHANGED_SETTINGS`)."""
    if "settings" in run:
        return run["settings"]  # type: ignore[no-any-return]
    algo = run["algo"]
    if algo in CHANGED_SETTINGS:
        return f"not recorded ({algo} was built otherwise before {CHANGED_SETTINGS[algo]})"
    return learner_settings(algo, int(run["steps"]))


def build_model(name: str, env: Any, seed: int, steps: int, allow_entry_points: bool = False) -> tuple[Any, str]:
    """The model for ``name`` on ``env`` and its kind (see :data:`SB3_ALGOS`), built with
    :func:`learner_settings`.

    A named SB3 / sb3-contrib learner sets torch to one intra-op thread (process-wide, as the
    masked DQN's ``DQNConfig.torch_threads`` and GRPO do): the result depends on the thread count
    (reductions summed in another order), so without it the same command gave another curve
    where ``OMP_NUM_THREADS`` or the core count differed (PPO on ``ImagePoser-Drift-v0``, seed 1,
    val after 20,480 steps: 0.375 normalised accuracy with one thread, 0.35 with torch's default
    of two on this machine). A user's learner (``module:callable``) keeps its own setting."""
    check_algo(name, allow_entry_points)
    if name in SB3_ALGOS:
        import torch

        torch.set_num_threads(1)
        module, cls, _, kind = SB3_ALGOS[name]
        algo = getattr(importlib.import_module(module), cls)
        kwargs: dict[str, Any] = {"seed": seed, "verbose": 0, "device": "cpu", **(learner_settings(name, steps) or {})}
        return algo(kwargs.pop("policy"), env, **kwargs), kind
    if name == "masked_dqn":
        from poser_agents.dqn.agent import DQNAgent, DQNConfig

        cfg = DQNConfig.from_dict({**(learner_settings(name, steps) or {}), "seed": seed})
        return DQNAgent(env, cfg), "offpolicy"
    if name == "grpo":
        from poser_agents.benchmark.grpo_learner import GRPOLearner

        return GRPOLearner(env, seed=seed), "workflow"
    model = _load_entry_point(name)(env, seed=seed)
    for method in ("learn", "predict"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"--algo {name!r} returned {type(model).__name__}, which has no {method}(); return an SB3-compatible model"
            )
    for space in ("observation_space", "action_space"):  # a model built on another env (or level)
        theirs, ours = getattr(model, space, None), getattr(env, space)
        if theirs is not None and theirs != ours:
            raise TypeError(
                f"--algo {name!r} returned a model of another env (its {space} is {theirs}, this level's {ours}); "
                "build it on the env the factory is given"
            )
    return model, entry_point_kind(model)


def entry_point_kind(model: Any) -> str:
    """How a user's model is evaluated: an sb3-contrib RecurrentPPO (or subclass) as "recurrent"
    (its LSTM state carried through each episode, as ``recurrent_ppo``'s), a MaskablePPO as
    "masked" (given the action mask), anything else as "custom" (``predict(obs,
    deterministic=True)``, plus SB3's ``state`` and ``episode_start`` where its ``predict`` takes
    them, and ``action_masks`` where it takes that: :class:`Predictor`). Without this a user's
    RecurrentPPO would be scored memoryless."""
    try:
        from sb3_contrib import MaskablePPO, RecurrentPPO
    except ImportError:  # sb3-contrib absent: the model cannot be one of its classes
        return "custom"
    if isinstance(model, RecurrentPPO):
        return "recurrent"
    if isinstance(model, MaskablePPO):
        return "masked"
    return "custom"


class Predictor:
    """Adapts a trained model to the evaluation harness, which calls ``predict(obs)`` alone.

    A recurrent policy gets its LSTM state carried within an episode and reset at each new
    episode (:meth:`new_episode`, called by :class:`EpisodeStarts` on ``reset``); MaskablePPO
    gets the observation's action mask. A "custom" model (a user's) is called as SB3's
    ``evaluate_policy`` calls one where its ``predict`` names ``state`` and ``episode_start`` (the
    state it returns carried within the episode), and gets the mask where it names
    ``action_masks``: a user's wrapper around a RecurrentPPO or MaskablePPO is then scored as the
    model it wraps, not memoryless or unmasked.
    """

    def __init__(self, model: Any, kind: str):
        self.model, self.kind = model, kind
        self.state: Any = None
        self.start = True
        takes: set[str] = set()
        if kind == "custom":
            try:
                takes = set(inspect.signature(model.predict).parameters)
            except (TypeError, ValueError):  # no signature to read: the documented call only
                pass
        self.stateful = {"state", "episode_start"} <= takes
        self.takes_masks = "action_masks" in takes

    def new_episode(self) -> None:
        self.state, self.start = None, True

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        if self.kind == "recurrent":
            action, self.state = self.model.predict(
                observation, state=self.state, episode_start=np.array([self.start]), deterministic=deterministic
            )
            self.start = False
            return action, None
        if self.kind == "masked":
            return self.model.predict(
                observation,
                deterministic=deterministic,
                action_masks=np.asarray(observation["action_mask"]).astype(bool),
            )
        if self.kind == "custom" and (self.stateful or self.takes_masks):
            kwargs: dict[str, Any] = {}
            if self.stateful:
                kwargs.update(state=self.state, episode_start=np.array([self.start]))
            if self.takes_masks:
                kwargs["action_masks"] = np.asarray(observation["action_mask"]).astype(bool)
            action, state = self.model.predict(observation, deterministic=deterministic, **kwargs)
            if self.stateful:
                self.state, self.start = state, False
            return action, None
        return self.model.predict(observation, deterministic=deterministic)


def episode_starts(env: Any, predictor: Predictor) -> Any:
    """``env`` wrapped so that each ``reset`` tells ``predictor`` a new episode starts. A
    "workflow" model (GRPO) is bound to ``env`` here: it plans from that env's episode context."""
    import gymnasium as gym

    if predictor.kind == "workflow":
        predictor.model.bind(env)

    class EpisodeStarts(gym.Wrapper):
        def reset(self, **kwargs: Any) -> Any:
            predictor.new_episode()
            return self.env.reset(**kwargs)

    return EpisodeStarts(env)
