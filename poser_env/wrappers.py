"""Wrappers: an episode recorder that saves a PNG strip of the steps, and wrapper plumbing.

For people who would rather look than read: one frame per step (the kept canvas), captioned
with the step, the expert, the command, the reward and the critic's feedback; the title holds
the prompt and the spans of it the extractor did not understand (no check speaks for them).

:func:`adopt_time_limit` makes the env truncate (and summarise) at the step where a
``TimeLimit`` wrapper around it would cut the episode short.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def save_strip(
    frames: Sequence[np.ndarray], captions: Sequence[str], path: str | Path, title: str = "", width: int = 34
) -> Path:
    """Lay ``frames`` side by side with wrapped ``captions`` under each, and a title on top."""
    if not frames:
        raise ValueError("no frames to save: run at least one reset() first")
    if len(frames) != len(captions):
        raise ValueError(f"{len(frames)} frames but {len(captions)} captions")
    font = ImageFont.load_default()
    h, w = frames[0].shape[:2]
    tile = max(w, 200)
    wrapped = [textwrap.wrap(c, width=width) or [""] for c in captions]
    cap_h = 12 * max(len(x) for x in wrapped) + 6
    title_lines = textwrap.wrap(title, width=max(40, tile * len(frames) // 7)) if title else []
    top = 12 * len(title_lines) + (6 if title_lines else 0)
    sheet = Image.new("RGB", (tile * len(frames), top + h + cap_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, line in enumerate(title_lines):
        draw.text((4, 3 + 12 * i), line, fill="black", font=font)
    for k, (frame, lines) in enumerate(zip(frames, wrapped)):
        x = k * tile + (tile - w) // 2
        sheet.paste(Image.fromarray(np.asarray(frame, dtype=np.uint8)), (x, top))
        for i, line in enumerate(lines):
            draw.text((k * tile + 4, top + h + 3 + 12 * i), line, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def adopt_time_limit(env: Any) -> int | None:
    """Find the tightest ``TimeLimit`` around the env (``gym.make(id, max_episode_steps=n)``
    adds one) and have the unwrapped ImagePoserEnv truncate at that step too, so the last
    ``info`` still carries ``"episode_summary"``. Returns the limit adopted (None if none).

    Accepts a gym env or an SB3 ``DummyVecEnv`` (each of its envs); other vector envs are left
    as they are (their episodes cut short by a wrapper lack the summary).
    """
    envs = getattr(env, "envs", None)
    if envs is not None and not isinstance(env, gym.Env):
        found = [adopt_time_limit(e) for e in envs]
        return min((n for n in found if n), default=None)
    limits, layer = [], env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, gym.wrappers.TimeLimit):
            limits.append(int(layer._max_episode_steps))
        layer = layer.env
    base = getattr(env, "unwrapped", None)
    if not limits or not hasattr(base, "wrapper_step_limit"):
        return None
    base.wrapper_step_limit = min(limits)
    return base.wrapper_step_limit


def final_summary(env: gym.Env, info: dict[str, Any]) -> dict[str, Any]:
    """The finished episode's summary: the last ``info``'s, or (when a wrapper ended the episode
    before the env did) ``env.unwrapped.episode_summary()``, marked ``"complete": False``."""
    if "episode_summary" in info:
        return info["episode_summary"]
    return env.unwrapped.episode_summary()


class EpisodeRecorder(gym.Wrapper):
    """Keeps the frames and captions of the current episode; ``save(path)`` writes the strip.

    With ``folder`` set, every finished episode is saved there as ``episode-<n>.png``.
    """

    def __init__(self, env: gym.Env, folder: str | Path | None = None):
        super().__init__(env)
        self.folder = Path(folder) if folder is not None else None
        self.frames: list[np.ndarray] = []
        self.captions: list[str] = []
        self.prompt = ""
        self.not_understood: list[str] = []
        self.episodes = 0

    def _frame(self) -> np.ndarray:
        return self.env.unwrapped._ep.canvas.image.copy()

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self.prompt = info.get("prompt", "")
        self.not_understood = list(info.get("not_understood", []))
        self.frames = [self._frame()]
        self.captions = [f"start; first command: {info.get('command')}"]
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        verdict = "passed" if info.get("command_passed") else (info.get("error") or info.get("feedback") or "failed")
        self.frames.append(self._frame())
        self.captions.append(f"step {info['step']}: {info['expert']} (r={reward:+.2f}) {verdict}")
        if (terminated or truncated) and self.folder is not None:
            summary = final_summary(self.env, info).get("evaluator", {})
            self.save(self.folder / f"episode-{self.episodes}.png", summary)
            self.episodes += 1
        return obs, reward, terminated, truncated, info

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        title = f"Prompt: {self.prompt}"
        if self.not_understood:  # no silent success: the strip says what no check speaks for
            title += "  |  NOT UNDERSTOOD (no check): " + "; ".join(f'"{s}"' for s in self.not_understood)
        if metrics and metrics.get("judged"):
            title += f"  |  evaluator alignment {metrics['alignment']:.2f}, accuracy {metrics['accuracy']:.0f}"
        return save_strip(self.frames, self.captions, path, title=title)
