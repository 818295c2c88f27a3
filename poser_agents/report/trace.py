"""Episode traces: what the HTML report's viewer shows, step by step.

An :class:`EpisodeTracer` rides along an evaluation (``evaluate(..., trace=True)``) and keeps,
per episode, the prompt, the extractor's commands and whatever it reported as *not understood*
(``info["not_understood"]`` or the summary's, when the env provides it: nothing is invented
when it does not), and per step the expert, its cost, the reward, the command acted on, the
critic's verdict on every check with its confidence, the reflection, and a thumbnail of the
canvas the env kept. At the end: the evaluator's judgement on each of the task's checks.

Thumbnails are the canvas at its own size up to :data:`THUMB_SIDE` pixels (larger canvases
are scaled down), laid side by side in one image per episode (start, then one frame per step)
and stored as a data URI: PNG (flat synthetic shapes: about 1.3 KB for a six-frame episode), or
JPEG when the PNG is photograph-sized (real models) and the JPEG is smaller.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from poser_agents.common.checkpoint import atomic_write_text

#: Largest thumbnail side in pixels (the synthetic canvas is 128: kept as drawn).
THUMB_SIDE = 128
#: What an episode's image must be: a base64 PNG or JPEG data URI (a file is input from strangers).
IMAGE_URI = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/]+={0,2}")
#: Format of a trace file (one JSON object per line, one line per episode).
TRACE_FORMAT = "imageposer-trace/1"


def _thumb(image: np.ndarray) -> Image.Image:
    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if max(im.size) > THUMB_SIDE:
        im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return im


def encode_strip(frames: Iterable[np.ndarray]) -> tuple[str, int]:
    """Frames side by side as a data URI (PNG, or JPEG when smaller), and the frame width."""
    thumbs = [_thumb(f) for f in frames]
    w, h = max(t.size[0] for t in thumbs), max(t.size[1] for t in thumbs)
    sheet = Image.new("RGB", (w * len(thumbs), h), "white")
    for k, t in enumerate(thumbs):
        sheet.paste(t, (k * w, 0))
    png = io.BytesIO()
    sheet.save(png, "PNG", optimize=True)
    data, mime = png, "image/png"
    if png.tell() > 0.25 * sheet.width * sheet.height:  # photograph-like (flat shapes: ~0.02 byte/pixel)
        jpeg = io.BytesIO()
        sheet.save(jpeg, "JPEG", quality=80)
        if jpeg.tell() < png.tell():
            data, mime = jpeg, "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(data.getvalue()).decode("ascii"), w


def _not_understood(*sources: Mapping[str, Any]) -> Any:
    """The first ``not_understood`` (and ``coverage``) the env reported, as it reported them."""
    for s in sources:
        if s.get("not_understood"):
            out = {"spans": s["not_understood"]}
            if "coverage" in s:
                out["coverage"] = s["coverage"]
            return out
    return None


class EpisodeTracer:
    """Collects one agent's episode traces during an evaluation (see the module docstring)."""

    def __init__(self) -> None:
        self.episodes: list[dict[str, Any]] = []
        self._frames: list[np.ndarray] = []
        self._ep: dict[str, Any] | None = None
        self._questions: dict[str, int] = {}

    @staticmethod
    def _canvas(env: Any) -> np.ndarray:
        base = env.unwrapped
        return base.render_canvas() if hasattr(base, "render_canvas") else np.asarray(env.render())

    def _verdict(self, verdict: Mapping[str, Any]) -> dict[str, Any]:
        """Per check of the episode: 1/0 passed, confidence; the check list grows as needed."""
        assert self._ep is not None
        passed, conf = {}, {}
        for r in verdict.get("results", []):
            key = r["question"]
            if key not in self._questions:
                self._questions[key] = len(self._ep["checks"])
                self._ep["checks"].append([r["question"], r.get("category", "")])
            i = self._questions[key]
            passed[i], conf[i] = int(bool(r["passed"])), round(float(r.get("confidence", 1.0)), 2)
        idx = sorted(passed)
        out = {"i": idx, "p": "".join(str(passed[i]) for i in idx)}
        if any(conf[i] != 1.0 for i in idx):  # the synthetic critic is always sure: keep files small
            out["c"] = [conf[i] for i in idx]
        return out | {
            "score": round(float(verdict.get("score", float(np.mean(list(passed.values()))) if passed else 1.0)), 4)
        }

    def start(self, env: Any, info: Mapping[str, Any], task: Any, seed: int, episode_seed: int) -> None:
        self._frames, self._questions = [self._canvas(env)], {}
        self._ep = {
            "task_id": str(info.get("task_id", getattr(task, "id", ""))),
            "category": str(getattr(task, "task_category", "")),
            "suite": str(getattr(task, "suite", "")),
            "seed": int(seed),
            "episode_seed": int(episode_seed),
            "prompt": str(info.get("prompt", "")),
            "commands": [{"text": c["text"], "kind": c["kind"]} for c in info.get("commands", [])],
            "checks": [],
            "steps": [],
        }
        nu = _not_understood(info)
        if nu is not None:
            self._ep["not_understood"] = nu
        self._ep["start"] = {
            "verdict": self._verdict(info.get("verdict", {})),
            "reflection": str(info.get("feedback", "")),
        }

    def step(self, env: Any, reward: float, info: Mapping[str, Any]) -> None:
        assert self._ep is not None, "call start() first"
        self._frames.append(self._canvas(env))
        step = {
            "expert": str(info.get("expert", "")),
            "cost": float(info.get("cost", 0.0)),
            "reward": round(float(reward), 4),
            "command": str(info.get("acted_on", "")),
            "kind": str(info.get("acted_kind", "")),
            "passed": bool(info.get("command_passed", False)),
            "verdict": self._verdict(info.get("verdict", {})),
            "reflection": str(info.get("feedback", "")),
        }
        for key in ("error", "invalid_action"):
            if info.get(key):
                step[key] = info[key] if key == "error" else True
        self._ep["steps"].append(step)

    def end(self, summary: Mapping[str, Any], task: Any) -> dict[str, Any]:
        """Close the episode with the evaluator's judgement; returns the trace."""
        ep, self._ep = self._ep, None
        assert ep is not None, "call start() first"
        ev = dict(summary.get("evaluator", {}))
        judgement: dict[str, Any] = {
            k: ev[k] for k in ("judged", "reason", "alignment", "accuracy", "fidelity", "critic_agreement") if k in ev
        }
        passed = ev.get("passed")
        checks = list(getattr(task, "checks", []) or [])
        if passed is not None and len(checks) == len(passed):
            judgement["checks"] = [[c.question, c.category, int(bool(p))] for c, p in zip(checks, passed)]
        if ev.get("same_as_critic"):
            judgement["same_as_critic"] = True
        ep["evaluator"] = judgement
        ep["critic_score"] = float(summary.get("critic_score", 0.0))
        ep["cost"], ep["return"] = float(summary.get("cost", 0.0)), float(summary.get("return", 0.0))
        nu = _not_understood(summary)
        if nu is not None and "not_understood" not in ep:
            ep["not_understood"] = nu
        ep["image"], ep["frame_width"] = encode_strip(self._frames)
        self._frames = []
        self.episodes.append(ep)
        return ep


def write_traces(path: str | Path, agent: str, episodes: Iterable[Mapping[str, Any]]) -> Path:
    """One agent's traces as JSON lines (a header line, then one episode per line), atomically."""
    lines = [json.dumps({"format": TRACE_FORMAT, "agent": agent}, allow_nan=False)]
    lines += [json.dumps(e, allow_nan=False, separators=(",", ":")) for e in episodes]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_traces(path: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """``(agent, episodes)`` back from :func:`write_traces`' file; refuses another format."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        try:
            header = json.loads(f.readline())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not a trace file (first line: {e}); rerun the evaluation with --out") from None
        if not isinstance(header, dict) or header.get("format") != TRACE_FORMAT:
            raise ValueError(f"{path} is not a trace file of format {TRACE_FORMAT}; rerun the evaluation with --out")
        episodes = []
        for n, line in enumerate(f, start=2):
            if line.strip():
                try:
                    ep = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(
                        f"{path} line {n} is not JSON ({e}); the file is damaged: rerun the evaluation"
                    ) from None
                if not isinstance(ep, dict) or not IMAGE_URI.fullmatch(str(ep.get("image", ""))):
                    raise ValueError(
                        f"{path} line {n} is not an episode trace (its image is not a base64 PNG or JPEG "
                        "data URI); rerun the evaluation"
                    )
                episodes.append(ep)
    return str(header.get("agent", path.stem)), episodes
