"""Training logs shared by the agents: SB3's logger, one row per episode, periodic evaluation.

- :func:`make_logger`: SB3's ``Logger`` writing ``progress.csv`` (kept across a resume),
  TensorBoard event files if ``tensorboard`` is installed, and stdout with ``verbose >= 1``.
- :class:`EpisodeLogCallback`: ``episodes.csv``, one row per finished training episode with the
  evaluator's metrics from ``info["episode_summary"]``.
- :class:`RolloutEvalCallback`: every ``eval_freq`` steps, the greedy agent on fixed tasks
  (``eval.csv``), through :func:`poser_agents.rollout.run_episodes`.

They work with any SB3 model on ImagePoser, not only :class:`~poser_agents.dqn.DQNAgent`. The
TensorBoard callback (metrics and episode strips) is :mod:`poser_agents.common.tensorboard`.
Every column: ``docs/dqn.md``.
"""

from __future__ import annotations

import csv
import time
import warnings
from pathlib import Path
from typing import IO, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import CSVOutputFormat, Logger, make_output_format


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
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._returns = np.zeros(0)  # sized at training start (one slot per env)
        self._t0 = 0.0
        self._episode = 0
        self._lengths = np.zeros(0, dtype=np.int64)
        self._warned = False

    def _on_training_start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = file = open(self.path, "a", newline="")
        self._writer = csv.DictWriter(file, fieldnames=EPISODE_COLUMNS)
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
                    "(or gym.make's max_episode_steps=, which the env adopts) instead.",
                    RuntimeWarning,
                    stacklevel=2,
                )
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
            if self._file is not None:
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

    def __init__(
        self,
        eval_env: gym.Env,
        agent: Any,
        n_tasks: int = 200,
        eval_freq: int = 10_000,
        seed: int = 0,
        eval_path: str | Path | None = None,
        verbose: int = 0,
    ):
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
            print(
                f"[eval] step {row['timesteps']}: alignment {row['alignment']:.3f} accuracy {row['accuracy']:.3f} "
                f"cost {row['cost']:.2f} steps {row['steps']:.2f}",
                flush=True,
            )
        return True
