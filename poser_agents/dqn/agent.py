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
  written by :class:`EpisodeLogCallback`.
- ``eval.csv``: one row per evaluation, if :class:`RolloutEvalCallback` is used.
"""

from __future__ import annotations

import csv
import dataclasses
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import CSVOutputFormat, Logger, make_output_format
from stable_baselines3.common.vec_env import VecEnv

from poser_agents.checkpoint import CheckpointError, compare_env, describe_env, read_metadata, verify_file, write_checkpoint
from poser_agents.dqn.masked_dqn import MaskedDQN
from poser_agents.dqn.policies import PoserFeaturesExtractor

MODEL_FILE = "model.zip"
META_FILE = "agent.json"
FORMAT = "imageposer-dqn"
FORMAT_VERSION = 2
"""2: ``model.zip`` also holds the action names (``imageposer_actions.json``); version 1 is still read."""



@dataclass
class DQNConfig:
    """Settings of :class:`DQNAgent`. Defaults are tuned on ImagePoser-v0's val split (``docs/dqn.md``)."""

    learning_rate: float = 5e-4
    """Adam learning rate (constant)."""
    buffer_size: int = 100_000
    """Replay buffer capacity, in transitions."""
    learning_starts: int = 2_000
    """Transitions collected with uniformly random (allowed) actions before the first update."""
    batch_size: int = 64
    """Transitions per gradient step."""
    gamma: float = 0.95
    """Discount factor. Episodes are short (about 4 to 6 steps, 16 at most) and the reward is
    potential-based, so a discount a little below 1 loses nothing and steadies the targets."""
    tau: float = 1.0
    """Target-network update coefficient (1 = hard copy every ``target_update_interval`` steps)."""
    train_freq: int = 4
    """Env steps between two training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    target_update_interval: int = 1_000
    """Env steps between two target-network updates."""
    exploration_fraction: float = 0.3
    """Fraction of the ``learn`` call over which epsilon decays linearly from initial to final."""
    exploration_initial_eps: float = 1.0
    """Initial probability of a random (allowed) action."""
    exploration_final_eps: float = 0.02
    """Final probability of a random (allowed) action."""
    max_grad_norm: float = 10.0
    """Gradient-norm clipping."""
    double_q: bool = True
    """Double DQN target: the online network picks the next action (masked), the target network values it."""
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layers of the Q-network head, after the features extractor."""
    embed_dim: int = 64
    """Output size of the features extractor's encoder for each large key (text embeddings, image)."""
    include_mask: bool = False
    """Feed ``action_mask`` to the network as well (masking of the Q-values happens either way)."""
    seed: int | None = 0
    """Seed of SB3 (python, numpy, torch, and the env's first reset); None for no seeding."""
    device: str = "cpu"
    """Torch device: ``cpu``, ``cuda`` or ``auto``."""
    torch_threads: int | None = 1
    """``torch.set_num_threads`` applied by ``learn()`` (process-wide). The networks are tiny: one
    thread is fastest on CPU (measured 4x faster than two on a busy 2-core machine). None: leave it."""
    log_dir: str | None = None
    """Folder for ``progress.csv``, ``episodes.csv`` (and TensorBoard files if installed); None: no files."""
    log_interval: int = 50
    """Episodes between two rows of ``progress.csv`` (and two stdout tables)."""
    verbose: int = 0
    """0: quiet; 1: SB3's table on stdout every ``log_interval`` episodes."""
    tensorboard_log: str | None = None
    """TensorBoard root folder (SB3's ``tensorboard_log``): events in ``<it>/MaskedDQN_<n>``, with the
    project's metrics and episode strips (:mod:`poser_agents.tensorboard`); None: none there."""
    tensorboard_strip_every: int = 200
    """Training episodes between two greedy episode strips in TensorBoard (0: none)."""

    def __post_init__(self) -> None:
        positive = ("learning_rate", "buffer_size", "batch_size", "train_freq", "target_update_interval", "embed_dim", "log_interval")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"DQNConfig.{name} must be positive, got {v!r}")
        for name in ("learning_starts",):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"DQNConfig.{name} must be a non-negative int, got {getattr(self, name)!r}")
        if not (isinstance(self.gradient_steps, int) and (self.gradient_steps >= 1 or self.gradient_steps == -1)):
            raise ValueError(f"DQNConfig.gradient_steps must be >= 1 (or -1: as many as env steps), got {self.gradient_steps!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"DQNConfig.gamma must be in [0, 1], got {self.gamma!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"DQNConfig.tau must be in (0, 1], got {self.tau!r}")
        for name in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.net_arch or any(not isinstance(h, int) or h < 1 for h in self.net_arch):
            raise ValueError(f"DQNConfig.net_arch must be a non-empty list of positive ints, got {self.net_arch!r}")
        self.net_arch = list(self.net_arch)
        if isinstance(self.tensorboard_strip_every, bool) or not isinstance(self.tensorboard_strip_every, int) or self.tensorboard_strip_every < 0:
            raise ValueError(f"DQNConfig.tensorboard_strip_every must be a non-negative int (0: no strip), got {self.tensorboard_strip_every!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DQNConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DQNConfig field(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------
# The env as plain data: what a checkpoint records and checks


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
# Logging


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


class _ResumableCSVOutputFormat(CSVOutputFormat):
    """SB3's CSV writer, but a resumed run keeps the rows already in the file."""

    def __init__(self, filename: str):
        path = Path(filename)
        old = path.read_text() if path.exists() else ""
        super().__init__(filename)  # opens with "w+", truncating
        if old.strip():
            if not old.endswith("\n"):
                old += "\n"
            self.file.write(old)
            self.file.flush()
            self.keys = old.splitlines()[0].split(self.separator)


def make_logger(log_dir: str | Path | None, verbose: int = 0) -> Logger:
    """SB3 logger: ``progress.csv`` (+ TensorBoard if installed) in ``log_dir``; stdout if ``verbose``."""
    formats: list[Any] = []
    folder = None
    if log_dir is not None:
        folder = Path(log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        formats.append(_ResumableCSVOutputFormat(str(folder / "progress.csv")))
        if tensorboard_available():
            formats.append(make_output_format("tensorboard", str(folder)))
    if verbose >= 1:
        formats.append(make_output_format("stdout", str(folder or ".")))
    return Logger(folder=str(folder) if folder else None, output_formats=formats)


EPISODE_COLUMNS = [
    "episode", "timesteps", "reward", "steps", "alignment", "accuracy", "fidelity", "critic_score",
    "cost", "commands_passed", "commands_failed", "n_commands", "suite", "category", "task_id",
    "exploration_rate", "time_s",
]  # fmt: skip


class EpisodeLogCallback(BaseCallback):
    """Append one row per finished training episode to ``episodes.csv`` (columns: ``EPISODE_COLUMNS``).

    ``reward`` is the episode's total (undiscounted) reward, ``steps`` its length; the evaluator's
    metrics (``alignment``, ``accuracy``, ``fidelity``) come from
    ``info["episode_summary"]["evaluator"]`` and are empty when the task has no target.

    A ``TimeLimit`` around the env (``gym.make(id, max_episode_steps=n)``) is adopted by the
    env at training start (:func:`poser_env.wrappers.adopt_time_limit`), so its episodes are
    summarised too. An episode that another wrapper cut short has no summary: its row keeps
    ``reward``, ``steps`` and the schedule columns, leaves the metrics empty, and a warning
    (once) says why and to use the env's ``max_steps`` instead.
    """

    def __init__(self, path: str | Path, verbose: int = 0):
        super().__init__(verbose)
        self.path = Path(path)
        self._file = None
        self._writer: Any = None
        self._returns: np.ndarray | None = None
        self._t0 = 0.0
        self._episode = 0
        self._lengths: np.ndarray | None = None
        self._warned = False

    def _on_training_start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = open(self.path, "a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=EPISODE_COLUMNS)
        if new:
            self._writer.writeheader()
        self._returns = np.zeros(self.training_env.num_envs)
        self._lengths = np.zeros(self.training_env.num_envs, dtype=np.int64)
        from poser_env.wrappers import adopt_time_limit

        adopt_time_limit(self.training_env)
        self._t0 = time.perf_counter()
        # Go on from SB3's count, or from the log's last row if higher: a run stopped by its
        # callback logs the episode ending at that step, which SB3 counts only after the callback.
        self._episode = max(int(getattr(self.model, "_episode_num", 0)), 0 if new else _last_episode(self.path))

    def _on_step(self) -> bool:
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        self._returns += rewards
        self._lengths += 1
        for i, done in enumerate(self.locals["dones"]):
            if not done:
                continue
            info = self.locals["infos"][i]
            summary = info.get("episode_summary", {})
            if not summary and not self._warned:
                self._warned = True
                warnings.warn(
                    "an episode ended without info['episode_summary'] (a wrapper cut it short before the env ended it): "
                    f"its row in {self.path} has no evaluator metrics. Limit episodes with the env's max_steps= "
                    "(or gym.make's max_episode_steps=, which the env adopts) instead.", RuntimeWarning, stacklevel=2)
            metrics = summary.get("evaluator", {}) if summary else {}
            judged = bool(metrics.get("judged"))
            self._episode += 1
            self._writer.writerow(
                {
                    "episode": self._episode,
                    "timesteps": self.num_timesteps,
                    "reward": round(float(self._returns[i]), 6),
                    "steps": summary.get("steps", int(self._lengths[i])),
                    "alignment": round(float(metrics["alignment"]), 6) if judged else "",
                    "accuracy": round(float(metrics["accuracy"]), 6) if judged else "",
                    "fidelity": round(float(metrics["fidelity"]), 6) if judged and "fidelity" in metrics else "",
                    "critic_score": round(float(summary["critic_score"]), 6) if "critic_score" in summary else "",
                    "cost": summary.get("cost", ""),
                    "commands_passed": summary.get("commands_passed", ""),
                    "commands_failed": summary.get("commands_failed", ""),
                    "n_commands": summary.get("n_commands", ""),
                    "suite": summary.get("suite", ""),
                    "category": summary.get("category", ""),
                    "task_id": summary.get("task_id", ""),
                    "exploration_rate": round(float(getattr(self.model, "exploration_rate", float("nan"))), 6),
                    "time_s": round(time.perf_counter() - self._t0, 3),
                }
            )
            self._file.flush()  # a kill loses no finished episode's row
            self._returns[i] = 0.0
            self._lengths[i] = 0
        return True

    def _on_training_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _last_episode(path: Path) -> int:
    """The highest ``episode`` number in an existing ``episodes.csv`` (0 if none is readable)."""
    with open(path, newline="") as f:
        numbers = [int(r["episode"]) for r in csv.DictReader(f) if (r.get("episode") or "").isdigit()]
    return max(numbers, default=0)


EVAL_COLUMNS = ["timesteps", "alignment", "accuracy", "fidelity", "cost", "steps", "return", "episodes", "time_s"]


class RolloutEvalCallback(BaseCallback):
    """Every ``eval_freq`` env steps, run the greedy agent on fixed tasks of ``eval_env``.

    Uses :func:`poser_agents.rollout.run_episodes` (episode ``i``: task ``tasks[i]``, seed
    ``seed + i``), so numbers are comparable with the baselines'. Records ``eval/alignment``
    etc. in SB3's logger, appends a row to ``eval_path`` (``EVAL_COLUMNS``) if given, and keeps
    ``self.history`` (a list of dicts).
    """

    def __init__(self, eval_env: gym.Env, agent: "DQNAgent", n_tasks: int = 200, eval_freq: int = 10_000,
                 seed: int = 0, eval_path: str | Path | None = None, verbose: int = 0):
        super().__init__(verbose)
        from poser_agents.rollout import pick_tasks

        self.eval_env = eval_env
        self.agent = agent
        self.tasks = pick_tasks(eval_env, n_tasks)
        self.eval_freq = int(eval_freq)
        self.seed = seed
        self.eval_path = Path(eval_path) if eval_path else None
        self.history: list[dict[str, Any]] = []
        self._last = 0

    def evaluate(self) -> dict[str, Any]:
        from poser_agents.rollout import aggregate, run_episodes

        t0 = time.perf_counter()
        agg = aggregate(run_episodes(self.eval_env, self.agent, self.tasks, seed=self.seed))
        row = {k: agg.get(k, float("nan")) for k in EVAL_COLUMNS if k not in ("timesteps", "time_s")}
        row.update(timesteps=self.num_timesteps, time_s=round(time.perf_counter() - t0, 2))
        return row

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last < self.eval_freq:
            return True
        self._last = self.num_timesteps
        row = self.evaluate()
        self.history.append(row)
        for k in ("alignment", "accuracy", "cost", "steps", "return"):
            self.logger.record(f"eval/{k}", row[k])
        if self.eval_path is not None:
            new = not self.eval_path.exists() or self.eval_path.stat().st_size == 0
            self.eval_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.eval_path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=EVAL_COLUMNS)
                if new:
                    w.writeheader()
                w.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})
        if self.verbose:
            print(f"[eval] step {row['timesteps']}: alignment {row['alignment']:.3f} accuracy {row['accuracy']:.3f} "
                  f"cost {row['cost']:.2f} steps {row['steps']:.2f}", flush=True)
        return True


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

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False,
              reset_num_timesteps: bool | None = None) -> "DQNAgent":
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
            self._logger = make_logger(self.config.log_dir, self.config.verbose)
            if self.config.tensorboard_log is not None:
                from poser_agents.tensorboard import add_tensorboard_output

                self._tb_dir = add_tensorboard_output(self._logger, self.config.tensorboard_log, "MaskedDQN", new_run=reset_num_timesteps)
        self.model.set_logger(self._logger)
        callbacks: list[Any] = []
        if self.config.log_dir is not None:
            callbacks.append(EpisodeLogCallback(Path(self.config.log_dir) / "episodes.csv"))
        if self.config.tensorboard_log is not None:
            from poser_agents.tensorboard import PoserTensorBoardCallback

            callbacks.append(PoserTensorBoardCallback(self.config.tensorboard_strip_every, strip_dir=self._tb_dir / "strips"))
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
            raise ValueError(f"save() takes a folder, got {str(folder)!r}; it writes {MODEL_FILE} and {META_FILE} inside")
        from poser_agents.checkpoint import check_finite
        from poser_agents.dqn.sb3_zip import add_actions_entry

        check_finite(self.model.policy.state_dict(), "cannot save the DQN", "training diverged; nothing was saved (the previous checkpoint is kept)")
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
    def load(cls, path: str | Path, env: gym.Env | VecEnv | None = None, device: str | None = None,
             allow_entry_points: bool = False) -> "DQNAgent":
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
            raise CheckpointError(f"{model_path} has no action names ({'imageposer_actions.json'}), which a version-2 checkpoint records: "
                                  "the weights may come from another checkpoint; re-save it from the agent that made it")
        if zip_names is not None and meta.get("action_names") and zip_names != meta["action_names"]:
            raise CheckpointError(f"{model_path} was trained for the actions {zip_names[:4]}..., but {META_FILE} lists "
                                  f"{meta['action_names'][:4]}...: the weights come from another checkpoint (another expert "
                                  "registry or order); use the model.zip and agent.json saved together")
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
            raise CheckpointError(f"cannot read {model_path}: its weights do not fit the network that {META_FILE}'s config "
                                  f"builds ({first[:200]}); the files do not belong together") from None
        for key, value in saved["counters"].items():
            setattr(model, key, value)
        return agent
