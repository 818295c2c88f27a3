"""``DQNAgent``: the project's DQN agent (Image-POSER's policy), on :class:`MaskedDQN`.

>>> import gymnasium as gym, poser_env
>>> from poser_agents.dqn import DQNAgent, DQNConfig
>>> agent = DQNAgent(gym.make("ImagePoser-v0", split="train"), DQNConfig(log_dir="runs/dqn"))
>>> agent.learn(100_000, progress_bar=True)
>>> agent.save("runs/dqn/agent")                       # a folder: model.zip + agent.json
>>> agent = DQNAgent.load("runs/dqn/agent")            # rebuilds the env from agent.json
>>> action, _ = agent.predict(obs)                     # masked greedy action

A checkpoint is a folder with SB3's ``model.zip`` and ``agent.json`` (the config, a summary of
the observation and action spaces, the action names, the env id and kwargs, the library
versions, and the SHA-256 of ``model.zip``). :meth:`DQNAgent.load` refuses, with a message that
says what differs and what to do, a checkpoint made for another observation or action space
(another text encoder, another expert set), a corrupt or truncated file, or a missing one. It
never unpickles anything from the folder (:mod:`poser_agents.dqn.sb3_zip`; docs/security.md).

Logs (``DQNConfig.log_dir``), see ``docs/dqn.md`` for every column:

- ``progress.csv``: SB3's logger (``rollout/*``, ``train/loss``, ``train/q_mean``, ...), one
  row every ``log_interval`` episodes; also TensorBoard event files if ``tensorboard`` is
  installed, and the same table on stdout with ``verbose >= 1``.
- ``episodes.csv``: one row per training episode (return, evaluator alignment, cost, ...),
  written by :class:`~poser_agents.common.callbacks.EpisodeLogCallback`.
- ``eval.csv``: one row per evaluation, if
  :class:`~poser_agents.common.callbacks.RolloutEvalCallback` is used.

The config is :mod:`poser_agents.dqn.config`; the checkpoint schema, the env description and
the logging callbacks are shared with the GRPO agent in :mod:`poser_agents.common`.
"""

from __future__ import annotations

import dataclasses
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv

from poser_agents.common import callbacks as training_logs
from poser_agents.common.checkpoint import CheckpointError, read_metadata, verify_file, write_checkpoint
from poser_agents.common.env_description import compare_env, describe_env
from poser_agents.dqn.config import DQNConfig
from poser_agents.dqn.masked_dqn import MaskedDQN
from poser_agents.dqn.policies import PoserFeaturesExtractor
from poser_env.deprecation import ImagePoserDeprecationWarning

__all__ = ["DQNAgent", "DQNConfig", "CheckpointError"]

MODEL_FILE = "model.zip"
META_FILE = "agent.json"
FORMAT = "imageposer-dqn"
FORMAT_VERSION = 2
"""2: ``model.zip`` also holds the action names (``imageposer_actions.json``); version 1 is still read."""

#: Names that lived here before the shared floor (``poser_agents.common``); importing them from
#: this module still works for one release, with a DeprecationWarning naming the new home.
_MOVED = {
    "EpisodeLogCallback": "poser_agents.common.callbacks",
    "RolloutEvalCallback": "poser_agents.common.callbacks",
    "make_logger": "poser_agents.common.callbacks",
    "tensorboard_available": "poser_agents.common.callbacks",
    "EPISODE_COLUMNS": "poser_agents.common.callbacks",
    "EVAL_COLUMNS": "poser_agents.common.callbacks",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(
            f"poser_agents.dqn.agent.{name} moved to {_MOVED[name]}.{name}; the old name goes in the next release",
            ImagePoserDeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _versions() -> dict[str, str]:
    import stable_baselines3
    import torch

    import poser_agents
    import poser_env

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gym.__version__,
        "poser_env": poser_env.__version__,
        "poser_agents": poser_agents.__version__,
    }


# ----------------------------------------------------------------------------------------
# The agent


class DQNAgent:
    """DQN with action masking on ImagePoser, behind the project's agent protocol.

    :param env: a Gymnasium env (``gym.make("ImagePoser-v0", ...)``), an SB3 ``VecEnv`` of
        them, or a registered env id (made with its default kwargs).
    :param config: :class:`DQNConfig` (defaults if None).
    """

    name = "dqn"

    def __init__(self, env: gym.Env | VecEnv | str, config: DQNConfig | None = None, _model: MaskedDQN | None = None):
        if isinstance(env, str):
            import poser_env  # noqa: F401  (registers the ids)

            env = gym.make(env)
        self.config = config if config is not None else DQNConfig()
        self.env = env
        self.env_info = describe_env(env) if env is not None else None
        self._logger: Logger | None = None
        self._tb_dir: Path | None = None
        if _model is not None:
            self.model = _model
            return
        c = self.config
        self.model = MaskedDQN(
            "MultiInputPolicy",
            env,
            learning_rate=c.learning_rate,
            buffer_size=c.buffer_size,
            learning_starts=c.learning_starts,
            batch_size=c.batch_size,
            tau=c.tau,
            gamma=c.gamma,
            train_freq=c.train_freq,
            gradient_steps=c.gradient_steps,
            target_update_interval=c.target_update_interval,
            exploration_fraction=c.exploration_fraction,
            exploration_initial_eps=c.exploration_initial_eps,
            exploration_final_eps=c.exploration_final_eps,
            max_grad_norm=c.max_grad_norm,
            double_q=c.double_q,
            policy_kwargs=self.policy_kwargs(c),
            verbose=0,
            seed=c.seed,
            device=c.device,
        )

    @staticmethod
    def policy_kwargs(config: DQNConfig) -> dict[str, Any]:
        return {
            "net_arch": list(config.net_arch),
            "features_extractor_class": PoserFeaturesExtractor,
            "features_extractor_kwargs": {"embed_dim": config.embed_dim, "include_mask": config.include_mask},
        }

    # -- protocol -------------------------------------------------------------------------

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        """Masked greedy action (``deterministic=True``), or masked epsilon-greedy with the current epsilon."""
        return self.model.predict(observation, state, episode_start, deterministic)

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        progress_bar: bool = False,
        reset_num_timesteps: bool | None = None,
    ) -> DQNAgent:
        """Train for ``total_timesteps`` more env steps.

        ``reset_num_timesteps`` defaults to True for a fresh agent and False for one that has
        already trained or was loaded (resume: step counter, exploration schedule and logs go on).
        """
        if self.model.get_env() is None:
            raise RuntimeError("this agent has no env to learn in: DQNAgent.load(path, env=...) with a training env")
        if reset_num_timesteps is None:
            reset_num_timesteps = self.model.num_timesteps == 0
        if self.config.torch_threads is not None:
            import torch

            torch.set_num_threads(self.config.torch_threads)
        if self._logger is None:
            self._logger = training_logs.make_logger(self.config.log_dir, self.config.verbose)
            if self.config.tensorboard_log is not None:
                from poser_agents.common.tensorboard import add_tensorboard_output

                self._tb_dir = add_tensorboard_output(
                    self._logger, self.config.tensorboard_log, "MaskedDQN", new_run=reset_num_timesteps
                )
        self.model.set_logger(self._logger)
        callbacks: list[Any] = []
        if self.config.log_dir is not None:
            callbacks.append(training_logs.EpisodeLogCallback(Path(self.config.log_dir) / "episodes.csv"))
        if self.config.tensorboard_log is not None:
            from poser_agents.common.tensorboard import PoserTensorBoardCallback

            callbacks.append(
                PoserTensorBoardCallback(self.config.tensorboard_strip_every, strip_dir=self._tb_dir / "strips")
            )
        if callback is not None:
            callbacks.extend(callback if isinstance(callback, list) else [callback])
        self.model.learn(
            total_timesteps=total_timesteps,
            callback=CallbackList(callbacks) if callbacks else None,
            log_interval=self.config.log_interval,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
        return self

    def close_logs(self) -> None:
        """Close the training log files (``progress.csv``, TensorBoard events) once training is done.

        SB3 keeps its logger's files open for the model's lifetime; a finished run closes them
        here, so no open file outlives the run. A later :meth:`learn` reopens them and appends
        (the CSV keeps its rows)."""
        if self._logger is not None:
            self._logger.close()
            self._logger = None

    # -- checkpoints ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint folder ``path`` (``model.zip`` + ``agent.json``); returns it.

        Atomic: files go to temporary names in the folder and are renamed, ``agent.json`` last,
        so a kill during a save leaves the previous checkpoint loadable. ``model.zip`` also
        records the action names, so weights moved into another folder are still checked.
        The replay buffer is not saved (it is large).
        """
        folder = Path(path)
        if folder.suffix == ".zip":
            raise ValueError(
                f"save() takes a folder, got {str(folder)!r}; it writes {MODEL_FILE} and {META_FILE} inside"
            )
        from poser_agents.common.checkpoint import check_finite
        from poser_agents.dqn.sb3_zip import add_actions_entry

        check_finite(
            self.model.policy.state_dict(),
            "cannot save the DQN",
            "training diverged; nothing was saved (the previous checkpoint is kept)",
        )
        env_info = self.env_info if self.env_info is not None else describe_env(self.model.get_env())
        names = list((env_info or {}).get("action_names") or [])

        def write_zip(tmp: Path) -> None:
            self.model.save(tmp)
            add_actions_entry(tmp, names)

        def make_meta(digests: dict[str, str]) -> dict[str, Any]:
            return {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "agent": self.name,
                "algorithm": "MaskedDQN",
                "config": self.config.to_dict(),
                **(env_info or {}),
                "num_timesteps": int(self.model.num_timesteps),
                "model_file": MODEL_FILE,
                "model_sha256": digests[MODEL_FILE],
                "versions": _versions(),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }

        return write_checkpoint(folder, {MODEL_FILE: write_zip}, make_meta)

    @staticmethod
    def read_metadata(path: str | Path, allow_entry_points: bool = False) -> dict[str, Any]:
        """The checkpoint's ``agent.json`` (``path``: the folder, or its ``model.zip``), validated.

        Every field is checked (one :class:`CheckpointError` naming it); env settings that name
        code are refused unless ``allow_entry_points`` (docs/security.md)."""
        return read_metadata(path, FORMAT, allow_entry_points=allow_entry_points)

    @staticmethod
    def make_env(path: str | Path, allow_entry_points: bool = False, **overrides: Any) -> gym.Env:
        """Rebuild the checkpoint's env from ``agent.json`` (e.g. ``split="val"`` as an override)."""
        meta = DQNAgent.read_metadata(path, allow_entry_points=allow_entry_points)
        kwargs = meta.get("env_kwargs")
        if kwargs is None or not meta.get("env_rebuildable", True):
            raise CheckpointError(
                f"the env of checkpoint {meta['_folder']!r} cannot be rebuilt from {META_FILE} (its kwargs are not plain data): "
                "pass env= to DQNAgent.load"
            )
        kwargs = {**kwargs, **overrides}
        from poser_env import REAL_ENV_ID

        if meta.get("env_id") == REAL_ENV_ID and allow_entry_points:  # the caller's flag reaches the preset
            kwargs.setdefault("allow_entry_points", True)
        if meta.get("env_id"):
            import poser_env  # noqa: F401  (registers the ids)

            return gym.make(meta["env_id"], **kwargs)
        from poser_env.registry import load_entry_point
        from poser_env.trust import DEFAULT_ENV_ENTRY_POINT

        return load_entry_point(meta.get("env_entry_point", DEFAULT_ENV_ENTRY_POINT))(**kwargs)

    @classmethod
    def load(
        cls,
        path: str | Path,
        env: gym.Env | VecEnv | None = None,
        device: str | None = None,
        allow_entry_points: bool = False,
    ) -> DQNAgent:
        """Load a checkpoint folder; ``env`` None rebuilds the env recorded in ``agent.json``.

        Nothing in the folder is unpickled or imported: the model is rebuilt from the config and
        the env's spaces, the weights are read as tensors (:mod:`poser_agents.dqn.sb3_zip`).
        Raises :class:`CheckpointError` (a ``ValueError``) for a missing, corrupt, truncated or
        unsafe checkpoint, or one made for another observation or action space.
        """
        from poser_agents.dqn.sb3_zip import read_model_zip

        meta = cls.read_metadata(path, allow_entry_points=allow_entry_points)
        folder = Path(meta["_folder"])
        where = f"checkpoint {str(folder)!r}"
        model_path = verify_file(meta, "model_file", "model_sha256")
        try:
            config = DQNConfig.from_dict(meta["config"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{where} has an invalid config: {e}") from None
        if device:
            config = dataclasses.replace(config, device=device)
        saved = read_model_zip(model_path)
        zip_names = saved["action_names"]
        if meta["format_version"] >= 2 and zip_names is None:
            raise CheckpointError(
                f"{model_path} has no action names ({'imageposer_actions.json'}), which a version-2 checkpoint records: "
                "the weights may come from another checkpoint; re-save it from the agent that made it"
            )
        if zip_names is not None and meta.get("action_names") and zip_names != meta["action_names"]:
            raise CheckpointError(
                f"{model_path} was trained for the actions {zip_names[:4]}..., but {META_FILE} lists "
                f"{meta['action_names'][:4]}...: the weights come from another checkpoint (another expert "
                "registry or order); use the model.zip and agent.json saved together"
            )
        if env is None:
            env = cls.make_env(folder, allow_entry_points=allow_entry_points)
        current = describe_env(env)
        compare_env(meta if zip_names is None else {**meta, "action_names": zip_names}, current, where)
        agent = cls(env, config)
        model = agent.model
        try:
            model.policy.load_state_dict(saved["policy"])
            if saved["optimizer"] is not None:
                model.policy.optimizer.load_state_dict(saved["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"cannot read {model_path}: its weights do not fit the network that {META_FILE}'s config "
                f"builds ({first[:200]}); the files do not belong together"
            ) from None
        for key, value in saved["counters"].items():
            setattr(model, key, value)
        return agent
