"""TensorBoard for ImagePoser runs: the project's own metrics and episode strips.

SB3 already logs its own numbers (``rollout/ep_rew_mean``, ``train/loss``...) when a model has
``tensorboard_log``. :class:`PoserTensorBoardCallback` adds what this project is judged on,
through the same SB3 logger (so it lands in the same event files, and in ``progress.csv``):

- ``poser/alignment``, ``poser/accuracy``, ``poser/fidelity``: the **evaluator**'s judgement of
  each finished training episode (the ground truth in the synthetic world, never the critic),
  averaged over the episodes since the last dump; ``poser/critic_agreement``: how often the
  critic (the reward's judge) agreed with it; ``poser/cost`` and ``poser/steps``;
- ``poser/accuracy_by_category/<category>``: the same accuracy per task category;
- ``poser/episode_strip``: every ``strip_every`` training episodes, one greedy episode of the
  current policy on a fixed task and seed (so successive strips show the policy changing),
  drawn as a strip of the canvas after each step with the expert, reward and verdict; the PNG
  is also kept in ``<log folder>/strips/``.

Used by :class:`poser_agents.dqn.DQNAgent` (``DQNConfig.tensorboard_log``) and by any SB3 model::

    model = PPO("MultiInputPolicy", env, tensorboard_log="runs/tb")
    model.learn(100_000, callback=PoserTensorBoardCallback(strip_every=200))

Then ``tensorboard --logdir runs/tb``. See docs/tensorboard.md.
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image as PILImage
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image, Logger, make_output_format
from stable_baselines3.common.utils import get_latest_run_id

#: Outputs that cannot show an image, or would be flooded by per-category columns.
NOT_IMAGES = ("stdout", "log", "json", "csv")


def add_tensorboard_output(logger: Logger, tensorboard_log: str | Path, name: str, new_run: bool = True) -> Path:
    """Add a TensorBoard writer to ``logger`` in ``tensorboard_log/<name>_<n>``, SB3's layout.

    ``n`` is one more than the latest run of that name (``new_run``), or the latest (a resumed
    run goes on in its folder, as SB3 does with ``reset_num_timesteps=False``).
    """
    root = Path(tensorboard_log)
    latest = get_latest_run_id(str(root), name)
    folder = root / f"{name}_{latest + 1 if new_run or latest == 0 else latest}"
    folder.mkdir(parents=True, exist_ok=True)
    logger.output_formats.append(make_output_format("tensorboard", str(folder)))
    return folder


class PoserTensorBoardCallback(BaseCallback):
    """Log the evaluator's metrics per training episode and a greedy episode strip every ``strip_every`` episodes.

    :param strip_every: training episodes between two strips (0: no strip).
    :param strip_env: env for the strips; default: a fresh ``gym.make`` of the training env's spec.
    :param strip_seed: reset seed of the strips' episode (the same task every time).
    :param strip_dir: folder of the strips' PNGs; default ``<logger folder>/strips``.
    """

    def __init__(
        self,
        strip_every: int = 200,
        strip_env: gym.Env | None = None,
        strip_seed: int = 0,
        strip_dir: str | Path | None = None,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        if not isinstance(strip_every, int) or strip_every < 0:
            raise ValueError(f"strip_every must be a non-negative int (0: no strip), got {strip_every!r}")
        self.strip_every = strip_every
        self.strip_env = strip_env
        self.strip_seed = int(strip_seed)
        self.strip_dir = Path(strip_dir) if strip_dir is not None else None
        self.episodes = 0
        self.strips: list[Path] = []
        self._own_env = False

    def _on_training_start(self) -> None:
        if self.strip_every and self.strip_env is None:
            spec = self.training_env.get_attr("spec", [0])[0]
            if spec is None:
                raise ValueError("the training env has no spec to rebuild for the strips: pass strip_env=")
            # The env itself, without the training wrappers (SB3's Monitor cannot be rebuilt from a spec).
            self.strip_env, self._own_env = gym.make(dataclasses.replace(spec, additional_wrappers=())), True

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            summary = info.get("episode_summary") if done else None
            if not summary:
                continue
            self.episodes += 1
            self.logger.record_mean("poser/cost", float(summary.get("cost", 0.0)))
            self.logger.record_mean("poser/steps", float(summary.get("steps", 0)))
            ev = summary.get("evaluator", {})
            if ev.get("judged"):
                for key in ("alignment", "accuracy", "fidelity", "critic_agreement"):
                    if key in ev:
                        self.logger.record_mean(f"poser/{key}", float(ev[key]))
                if summary.get("category"):
                    self.logger.record_mean(
                        f"poser/accuracy_by_category/{summary['category']}",
                        float(ev["accuracy"]),
                        exclude=("stdout", "log"),
                    )
            if self.strip_every and self.episodes % self.strip_every == 0:
                self.log_strip()
        return True

    def _on_training_end(self) -> None:
        self.logger.dump(self.num_timesteps)  # the last episodes and strip, whatever the dump interval
        if self._own_env and self.strip_env is not None:
            self.strip_env.close()
            self.strip_env, self._own_env = None, False

    def log_strip(self) -> Path:
        """Play one greedy episode on the strip env; record its strip; return the PNG's path."""
        from poser_env.wrappers import save_strip

        env = self.strip_env
        assert env is not None, "log_strip() runs during training"
        canvas_env: Any = env.unwrapped  # an ImagePoserEnv (render_canvas)
        masked = "action_masks" in inspect.signature(self.model.predict).parameters  # MaskablePPO
        obs, info = env.reset(seed=self.strip_seed)
        frames, captions = [canvas_env.render_canvas()], [f"start: {info.get('command', '')}"]
        done = False
        while not done:
            kwargs = {"action_masks": obs["action_mask"].astype(bool)} if masked else {}
            action, _ = self.model.predict(obs, deterministic=True, **kwargs)
            obs, reward, terminated, truncated, info = env.step(int(np.asarray(action).reshape(())))
            done = terminated or truncated
            verdict = (
                "passed" if info.get("command_passed") else (info.get("error") or info.get("feedback") or "failed")
            )
            frames.append(canvas_env.render_canvas())
            captions.append(f"step {info['step']}: {info['expert']} (r={reward:+.2f}) {verdict}")
        ev = info["episode_summary"]["evaluator"]
        title = f"{self.num_timesteps} steps, greedy: {info['prompt']}"
        if ev.get("judged"):
            title += f" | evaluator alignment {ev['alignment']:.2f}, accuracy {ev['accuracy']:.0f}"
        folder = self.strip_dir or Path(self.logger.get_dir() or tempfile.mkdtemp(prefix="poser-strips-")) / "strips"
        path = save_strip(frames, captions, folder / f"step-{self.num_timesteps:09d}.png", title=title)
        self.logger.record(
            "poser/episode_strip", Image(np.asarray(PILImage.open(path).convert("RGB")), "HWC"), exclude=NOT_IMAGES
        )
        self.strips.append(path)
        return path
