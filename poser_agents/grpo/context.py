"""What a workflow is conditioned on: the prompt and its extracted commands, as tensors.

A :class:`PlanContext` is plain data (the prompt, each command's text and kind), read from
the env's ``info`` at reset or from :meth:`ImagePoserEnv.episode_context`. The
:class:`ContextFeaturizer` embeds it with the env's own text encoder (``hash`` by default), so
the policy and the reward models see exactly the text features the DQN sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from poser_env.encoders.text import make_text_encoder
from poser_env.types import COMMAND_KINDS

#: Per command: text embedding, one-hot kind, relative position, is-last flag.
N_POSITION = 2


@dataclass(frozen=True)
class PlanContext:
    """A prompt and its commands ``((text, kind), ...)``: everything a plan may depend on."""

    prompt: str
    commands: tuple[tuple[str, str], ...]
    task_id: str = ""

    def __post_init__(self) -> None:
        if not self.commands:
            raise ValueError(f"a plan context needs at least one command (prompt {self.prompt[:60]!r} has none)")
        for _, kind in self.commands:
            if kind not in COMMAND_KINDS:
                raise ValueError(f"unknown command kind {kind!r}; allowed: {', '.join(COMMAND_KINDS)}")

    @property
    def n_commands(self) -> int:
        return len(self.commands)

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> PlanContext:
        """From reset's ``info`` or ``env.unwrapped.episode_context()``."""
        return cls(
            prompt=str(info["prompt"]),
            commands=tuple((str(c["text"]), str(c["kind"])) for c in info["commands"]),
            task_id=str(info.get("task_id", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "prompt": self.prompt, "commands": [list(c) for c in self.commands]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanContext:
        return cls(
            prompt=str(d["prompt"]),
            commands=tuple((str(t), str(k)) for t, k in d["commands"]),
            task_id=str(d.get("task_id", "")),
        )


@dataclass
class ContextBatch:
    """Padded tensors for ``B`` contexts with at most ``N`` commands."""

    prompt: torch.Tensor  # (B, text_dim)
    commands: torch.Tensor  # (B, N, command_dim)
    n_commands: torch.Tensor  # (B,) long
    score: torch.Tensor  # (B,) the score the policy is asked for (1.0 unless score-conditioned training)

    @property
    def command_mask(self) -> torch.Tensor:
        n = self.commands.shape[1]
        return torch.arange(n)[None, :] < self.n_commands[:, None]

    def repeat(self, g: int) -> ContextBatch:
        """Each context ``g`` times in a row (a GRPO group)."""
        return ContextBatch(
            self.prompt.repeat_interleave(g, 0),
            self.commands.repeat_interleave(g, 0),
            self.n_commands.repeat_interleave(g, 0),
            self.score.repeat_interleave(g, 0),
        )


class ContextFeaturizer:
    """Embeds contexts with a text encoder; features are cached per context."""

    def __init__(self, text_encoder: str = "hash"):
        self.text_encoder = text_encoder
        self.encoder = make_text_encoder(text_encoder)
        self.text_dim = int(self.encoder.dim)
        self.command_dim = self.text_dim + len(COMMAND_KINDS) + N_POSITION
        self._cache: dict[PlanContext, tuple[np.ndarray, np.ndarray]] = {}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.text_encoder,
            "encoder": str(getattr(self.encoder, "name", self.text_encoder)),
            "dim": self.text_dim,
        }

    def features(self, ctx: PlanContext) -> tuple[np.ndarray, np.ndarray]:
        if ctx not in self._cache:
            emb = self.encoder.encode([ctx.prompt, *[t for t, _ in ctx.commands]])
            n = ctx.n_commands
            cmd = np.zeros((n, self.command_dim), np.float32)
            cmd[:, : self.text_dim] = emb[1:]
            for i, (_, kind) in enumerate(ctx.commands):
                cmd[i, self.text_dim + COMMAND_KINDS.index(kind)] = 1.0
                cmd[i, -2] = i / max(n - 1, 1)
                cmd[i, -1] = float(i == n - 1)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[ctx] = (emb[0].astype(np.float32), cmd)
        return self._cache[ctx]

    def batch(self, contexts: Sequence[PlanContext], scores: Sequence[float] | None = None) -> ContextBatch:
        if not contexts:
            raise ValueError("an empty batch of contexts")
        feats = [self.features(c) for c in contexts]
        n_max = max(f[1].shape[0] for f in feats)
        cmds = np.zeros((len(feats), n_max, self.command_dim), np.float32)
        for i, (_, c) in enumerate(feats):
            cmds[i, : len(c)] = c
        score = np.ones(len(feats), np.float32) if scores is None else np.asarray(scores, np.float32)
        return ContextBatch(
            prompt=torch.from_numpy(np.stack([f[0] for f in feats])),
            commands=torch.from_numpy(cmds),
            n_commands=torch.tensor([c.n_commands for c in contexts], dtype=torch.long),
            score=torch.from_numpy(score),
        )
