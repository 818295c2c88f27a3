"""Turn the episode's state into a ``gymnasium.spaces.Dict`` of flat float32 vectors.

SB3's ``MultiInputPolicy`` accepts a Dict of flat ``Box`` entries (not text, not nested
Dicts), so every piece of state is a vector with finite bounds:

=============  ===========================================================================
key            content
=============  ===========================================================================
instruction    embedding of the current command's text
remaining      mean embedding of the commands still queued after it (zeros if none)
prompt         embedding of the whole prompt
image          compact features of the current canvas (``encoders/image.py``)
verdict        last verdict per check category: pass fraction, and whether present (2 x 9)
command        one-hot kind of the current command (9), and the fraction of its checks the
               critic passes on the current canvas
progress       step / max_steps, command index / commands, attempts / max_attempts,
               commands left / commands, commands failed / commands
tried          experts already tried on the current command (one per action)
action_mask    1 for each allowed action (``MultiBinary``)
=============  ===========================================================================

Every call returns fresh arrays (Gymnasium's checker rejects observations sharing a buffer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from poser_env.encoders.image import ImageFeatures
from poser_env.memo import LRU, pixel_key
from poser_env.types import CHECK_CATEGORIES, COMMAND_KINDS, Verdict

N_PROGRESS = 5


@dataclass
class ObservationInput:
    """Everything the encoder needs, gathered by the env at each step."""

    prompt: str
    instruction: str
    remaining: Sequence[str]
    image: np.ndarray
    verdict: Verdict | None
    command_kind: str | None
    command_pass: float
    step: int
    max_steps: int
    command_index: int
    n_commands: int
    attempts: int
    max_attempts: int
    n_failed: int
    tried: np.ndarray
    action_mask: np.ndarray


class ObservationEncoder:
    """Builds the observation space and fills it. ``text_encoder`` has ``dim`` and ``encode``."""

    def __init__(self, text_encoder, n_actions: int):
        self.text = text_encoder
        self.image_features = ImageFeatures()
        self.n_actions = int(n_actions)
        # The text part changes only when the queue does: (instruction, prompt, remaining)
        # -> its three vectors, read-only (copied into each observation).
        self._texts: LRU[tuple[np.ndarray, np.ndarray, np.ndarray]] = LRU(1024)
        # Canvases recur (failed edits, blank starts): image features by pixel digest.
        self._images: LRU[np.ndarray] = LRU(1024)
        # The last verdict encoded and its vector (the kept canvas's verdict, unchanged by most steps).
        self._last_verdict: tuple[Verdict | None, np.ndarray] | None = None
        d = int(text_encoder.dim)
        self.space = spaces.Dict(
            {
                "instruction": spaces.Box(-1.0, 1.0, (d,), np.float32),
                "remaining": spaces.Box(-1.0, 1.0, (d,), np.float32),
                "prompt": spaces.Box(-1.0, 1.0, (d,), np.float32),
                "image": spaces.Box(
                    self.image_features.space_low,
                    self.image_features.space_high,
                    (self.image_features.dim,),
                    np.float32,
                ),
                "verdict": spaces.Box(0.0, 1.0, (2 * len(CHECK_CATEGORIES),), np.float32),
                "command": spaces.Box(0.0, 1.0, (len(COMMAND_KINDS) + 1,), np.float32),
                "progress": spaces.Box(0.0, 1.0, (N_PROGRESS,), np.float32),
                "tried": spaces.Box(0.0, 1.0, (self.n_actions,), np.float32),
                "action_mask": spaces.MultiBinary(self.n_actions),
            }
        )

    def _text_part(self, s: ObservationInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (s.instruction, s.prompt, tuple(s.remaining))
        hit = self._texts.get(key)
        if hit is None:
            emb = self.text.encode([s.instruction, s.prompt, *s.remaining])
            remaining = emb[2:].mean(axis=0) if len(s.remaining) else np.zeros(self.text.dim, np.float32)
            hit = tuple(np.clip(v, -1, 1).astype(np.float32) for v in (emb[0], remaining, emb[1]))
            for v in hit:
                v.setflags(write=False)
            self._texts.put(key, hit)
        return hit

    def _image_part(self, image: np.ndarray) -> np.ndarray:
        key = pixel_key(image)
        hit = self._images.get(key) if key is not None else None
        if hit is None:
            hit = self.image_features.encode(image)
            if key is not None:
                hit.setflags(write=False)
                self._images.put(key, hit)
        return hit

    def encode(self, s: ObservationInput) -> dict[str, np.ndarray]:
        instruction, remaining, prompt = self._text_part(s)
        last = self._last_verdict
        if last is not None and last[0] is s.verdict:  # verdicts are frozen; most steps keep it
            verdict = last[1].copy()
        else:
            verdict = np.zeros(2 * len(CHECK_CATEGORIES), np.float32)
            if s.verdict is not None:
                for cat, frac in s.verdict.by_category().items():
                    k = CHECK_CATEGORIES.index(cat)
                    verdict[k] = frac
                    verdict[len(CHECK_CATEGORIES) + k] = 1.0
            self._last_verdict = (s.verdict, verdict.copy())
        command = np.zeros(len(COMMAND_KINDS) + 1, np.float32)
        if s.command_kind is not None:
            command[COMMAND_KINDS.index(s.command_kind)] = 1.0
        command[-1] = s.command_pass
        n = max(s.n_commands, 1)
        progress = np.array(
            [
                s.step / s.max_steps,
                min(s.command_index, n) / n,
                s.attempts / s.max_attempts,
                max(s.n_commands - s.command_index, 0) / n,
                s.n_failed / n,
            ],
            np.float32,
        )
        return {
            "instruction": instruction.copy(),
            "remaining": remaining.copy(),
            "prompt": prompt.copy(),
            "image": self._image_part(s.image).copy(),
            "verdict": verdict,
            "command": command,
            "progress": np.clip(progress, 0, 1),
            "tried": s.tried.astype(np.float32).copy(),
            "action_mask": s.action_mask.astype(np.int8).copy(),
        }
