"""``ImagePoser-v0`` for RLlib (new API stack): the env, PPO with action masking, DQN.

RLlib's default RLModules take a flat ``Box`` observation; ImagePoser's is a ``Dict`` of flat
boxes plus ``action_mask``. :class:`RLlibObservation` turns it into what RLlib's own
action-masking module expects (``{"action_mask": Box, "observations": Box}``, the sub-boxes
concatenated in sorted key order) or, for DQN, into one flat ``Box``.

- PPO (:func:`ppo_config`) uses RLlib's ``ActionMaskingTorchRLModule`` (shipped with RLlib in
  ``ray.rllib.examples.rl_modules.classes``): masked actions get a logit of ``FLOAT_MIN``, so
  they are never sampled, in exploration and inference alike.
- DQN (:func:`dqn_config`) runs on the new API stack with RLlib's default Q-module, which has no
  action masking; it is offered only for envs whose every action is always allowed (the
  registered ids' defaults: no STOP, no DEFER) and refused otherwise.
- :class:`RLlibAgent` wraps a trained module in the project's ``predict(obs)`` protocol, so the
  evaluation harness and ``evaluate_policy`` run it like any other agent.

Needs ``ray[rllib]``, which pins gymnasium 1.2.2: install it in its own environment (``make
test`` builds ``.venv-rllib``; see docs/scaling.md). The env is registered with
``tune.register_env`` under :data:`ENV_NAME`, so env runners on any node build it from plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

#: The name :func:`register` gives the env in RLlib's registry.
ENV_NAME = "ImagePoser-RLlib"


class RLlibObservation(gym.ObservationWrapper):
    """ImagePoser's ``Dict`` observation as RLlib's modules want it (see the module docstring).

    ``masked=True``: ``{"action_mask": float32 Box[0, 1], "observations": float32 Box}``;
    ``masked=False``: the flat ``observations`` box alone (the mask bits stay among its features).
    """

    def __init__(self, env: gym.Env, masked: bool = True):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or "action_mask" not in space.spaces:
            raise ValueError(f"expected ImagePoser's Dict observation with an action_mask, got {space}")
        self.masked = masked
        self.keys = sorted(k for k in space.spaces if k != "action_mask" or not masked)
        boxes = [space[k] for k in self.keys]
        low = np.concatenate([np.asarray(_low(b), np.float32).ravel() for b in boxes])
        high = np.concatenate([np.asarray(_high(b), np.float32).ravel() for b in boxes])
        flat = gym.spaces.Box(low, high, dtype=np.float32)
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise TypeError(f"RLlib's action masking needs a Discrete action space, got {env.action_space}")
        n = int(env.action_space.n)
        self.observation_space = (
            gym.spaces.Dict({"action_mask": gym.spaces.Box(0.0, 1.0, (n,), np.float32), "observations": flat})
            if masked
            else flat
        )

    def observation(self, observation: Mapping[str, np.ndarray]) -> Any:
        flat = np.concatenate([np.asarray(observation[k], np.float32).ravel() for k in self.keys])
        if not self.masked:
            return flat
        return {"action_mask": np.asarray(observation["action_mask"], np.float32), "observations": flat}


def _low(space: gym.Space) -> np.ndarray:
    return space.low if isinstance(space, gym.spaces.Box) else np.zeros(space.shape or ())


def _high(space: gym.Space) -> np.ndarray:
    return space.high if isinstance(space, gym.spaces.Box) else np.ones(space.shape or ())


def make_env(config: Mapping[str, Any] | None = None) -> gym.Env:
    """RLlib's env creator. ``config``: ``env_id`` (default ``ImagePoser-v0``), ``masked``
    (default true) and any env kwarg (``split``, ``text_encoder``, ``enable_defer``, ...)."""
    import poser_env  # noqa: F401  (registers the ids in the env runner's process)

    kwargs = dict(config or {})
    env_id = kwargs.pop("env_id", "ImagePoser-v0")
    masked = bool(kwargs.pop("masked", True))
    return RLlibObservation(gym.make(env_id, **kwargs), masked=masked)


def register(name: str = ENV_NAME) -> str:
    """``tune.register_env(name, make_env)``; returns the name to put in a config."""
    from ray import tune

    tune.register_env(name, make_env)
    return name


def _every_action_always_allowed(env_config: Mapping[str, Any]) -> bool:
    return not (env_config.get("enable_defer") or env_config.get("enable_stop"))


def ppo_config(
    env_config: Mapping[str, Any] | None = None,
    num_env_runners: int = 2,
    seed: int = 0,
    hidden: tuple[int, ...] = (128, 128),
    train_batch_size: int = 1024,
    minibatch_size: int = 128,
    num_epochs: int = 4,
    lr: float = 3e-4,
) -> Any:
    """A PPOConfig on ImagePoser with the action-masking RLModule and ``num_env_runners`` env runners."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    env_config = {**dict(env_config or {}), "masked": True}
    return (
        PPOConfig()
        .environment(register(), env_config=env_config)
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=1, num_cpus_per_env_runner=1)
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=ActionMaskingTorchRLModule,
                model_config={"fcnet_hiddens": list(hidden), "head_fcnet_hiddens": []},
            )
        )
        .training(
            train_batch_size_per_learner=train_batch_size, minibatch_size=minibatch_size, num_epochs=num_epochs, lr=lr
        )
        .debugging(seed=seed)
    )


def dqn_config(
    env_config: Mapping[str, Any] | None = None,
    num_env_runners: int = 2,
    seed: int = 0,
    hidden: tuple[int, ...] = (128, 128),
    learning_starts: int = 500,
    lr: float = 5e-4,
    steps_per_iteration: int = 1000,
) -> Any:
    """A DQNConfig on ImagePoser (new API stack, RLlib's default Q-module, no masking: refused
    for envs with actions that can be masked, STOP or DEFER)."""
    from ray.rllib.algorithms.dqn import DQNConfig

    env_config = {**dict(env_config or {}), "masked": False}
    if not _every_action_always_allowed(env_config):
        raise ValueError(
            "RLlib's DQN module has no action masking and this env masks actions (enable_defer/enable_stop): "
            "use ppo_config (masked PPO), or the project's masked DQN (poser train dqn)"
        )
    return (
        DQNConfig()
        .environment(register(), env_config=env_config)
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=1, num_cpus_per_env_runner=1)
        .rl_module(model_config={"fcnet_hiddens": list(hidden)})
        .training(
            lr=lr,
            num_steps_sampled_before_learning_starts=learning_starts,
            replay_buffer_config={"type": "PrioritizedEpisodeReplayBuffer", "capacity": 50_000},
        )
        .reporting(min_sample_timesteps_per_iteration=steps_per_iteration)
        .debugging(seed=seed)
    )


class RLlibAgent:
    """A trained RLlib module behind the project's agent protocol (``predict(obs)``), acting greedily.

    ``module``: ``algo.get_module()``; ``env``: the ImagePoser env it acts in (its observation
    space gives the wrapper's layout); ``masked`` as in :class:`RLlibObservation`."""

    def __init__(self, module: Any, env: gym.Env, masked: bool = True, name: str = "rllib"):
        self.module, self.name, self.masked = module, name, masked
        self._wrap = RLlibObservation(env, masked=masked)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        import torch
        from ray.rllib.core.columns import Columns

        single = np.asarray(observation["action_mask"]).ndim == 1
        obs = {k: np.atleast_2d(v) for k, v in observation.items()}
        rows = [self._wrap.observation({k: v[i] for k, v in obs.items()}) for i in range(len(obs["action_mask"]))]
        if self.masked:
            batch = {k: torch.as_tensor(np.stack([r[k] for r in rows])) for k in ("action_mask", "observations")}
        else:
            batch = torch.as_tensor(np.stack(rows))
        with torch.no_grad():
            out = self.module.forward_inference({Columns.OBS: batch})
        scores = out[Columns.ACTION_DIST_INPUTS] if Columns.ACTION_DIST_INPUTS in out else out["q_values"]
        scores = scores.numpy().copy()
        scores[np.asarray(obs["action_mask"]) == 0] = -np.inf  # the env's mask, whatever the module
        actions = scores.argmax(axis=-1)
        return (actions[0] if single else actions), state
