"""The workflow policy: a small autoregressive model over expert tokens.

A GRU decodes the workflow one expert token at a time (``n_commands * attempts`` tokens; the
special tokens are fixed by the grammar, see :mod:`.workflow_tokens`). Its initial state comes from the
prompt embedding and the requested score (ComfyGen-style score conditioning; 1.0 at
sampling); each step's input is the current command's features (text embedding, kind,
position), the retry slot and the previous token, so a choice can depend on the whole plan
so far (order matters: a restyle is best last).

:func:`guided_logits` is the guidance-style extrapolation ``l_ref + w * (l_pol - l_ref)``;
:func:`sample` draws workflows with it at a temperature, from a seeded ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from poser_agents.grpo.context import ContextBatch


@dataclass
class PolicyConfig:
    """Shape of :class:`WorkflowPolicy`."""

    hidden: int = 128
    """Width of the GRU state and of every embedding."""
    n_experts: int = 12
    """Expert tokens (the env's registry size)."""
    attempts: int = 3
    """Tokens per command (the env's ``max_attempts``)."""
    text_dim: int = 128
    """Prompt embedding size (the text encoder's ``dim``)."""
    command_dim: int = 139
    """Per-command feature size (text dim + kinds + position)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkflowPolicy(nn.Module):
    """``forward(batch, ids) -> logits (B, T, n_experts)`` with teacher forcing."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = config
        h = config.hidden
        self.ctx = nn.Sequential(nn.Linear(config.text_dim + 1, h), nn.Tanh())
        self.cmd = nn.Sequential(nn.Linear(config.command_dim, h), nn.ReLU(), nn.Linear(h, h))
        self.tok = nn.Embedding(config.n_experts + 1, h)  # last index: the start token
        self.slot = nn.Embedding(config.attempts, h)
        self.gru = nn.GRU(h, h, batch_first=True)
        self.head = nn.Linear(h, config.n_experts)

    def initial_state(self, batch: ContextBatch) -> torch.Tensor:
        return self.ctx(torch.cat([batch.prompt, batch.score[:, None]], dim=1))[None]

    def _input(self, cmd_feat: torch.Tensor, slot: int | torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        slot_t = slot if isinstance(slot, torch.Tensor) else torch.full_like(prev, slot)
        return cmd_feat + self.slot(slot_t) + self.tok(prev)

    def forward(self, batch: ContextBatch, ids: torch.Tensor) -> torch.Tensor:
        a = self.config.attempts
        b, t = ids.shape
        pos = torch.arange(t)
        cmd_feat = self.cmd(batch.commands)[:, pos // a]  # (B, T, h)
        prev = torch.cat([torch.full((b, 1), self.config.n_experts, dtype=torch.long), ids[:, :-1].clamp(min=0)], dim=1)
        x = cmd_feat + self.slot((pos % a)[None].expand(b, t)) + self.tok(prev)
        out, _ = self.gru(x, self.initial_state(batch))
        return self.head(out)

    def step(
        self, cmd_feat: torch.Tensor, slot: int, prev: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: logits ``(B, n_experts)`` and the new state."""
        out, h = self.gru(self._input(cmd_feat, slot, prev)[:, None], h)
        return self.head(out[:, 0]), h


def token_mask(batch: ContextBatch, length: int, attempts: int) -> torch.Tensor:
    """``(B, T)`` True where a token belongs to a workflow (``n_commands * attempts`` per row)."""
    return torch.arange(length)[None, :] < (batch.n_commands * attempts)[:, None]


def log_probs(policy: WorkflowPolicy, batch: ContextBatch, ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Per-token log-probabilities ``(B, T)`` of given expert ids at ``temperature`` (0 on padding)."""
    logits = policy(batch, ids) / temperature
    lp = torch.log_softmax(logits, dim=-1).gather(-1, ids.clamp(min=0)[..., None])[..., 0]
    return lp * token_mask(batch, ids.shape[1], policy.config.attempts)


def guided_logits(l_ref: torch.Tensor, l_pol: torch.Tensor, w: float) -> torch.Tensor:
    """Guidance-style extrapolation: ``l_ref + w * (l_pol - l_ref)`` (w=1: the policy; w=0: the reference)."""
    if w == 1.0:
        return l_pol
    if w == 0.0:
        return l_ref
    return l_ref + w * (l_pol - l_ref)


@torch.no_grad()
def sample(
    policy: WorkflowPolicy,
    batch: ContextBatch,
    generator: torch.Generator,
    temperature: float = 1.0,
    greedy: bool = False,
    reference: WorkflowPolicy | None = None,
    w: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one workflow per context: expert ids ``(B, T)`` (-1 on padding) and their per-token
    log-probabilities under the sampling distribution (guided logits at ``temperature``).

    With ``reference`` and ``w != 1`` the logits are :func:`guided_logits`; both models read the
    same sampled prefix.
    """
    if temperature <= 0 and not greedy:
        raise ValueError(f"temperature must be > 0 to sample, got {temperature}")
    a = policy.config.attempts
    b = batch.prompt.shape[0]
    length = int(batch.n_commands.max()) * a
    mask = token_mask(batch, length, a)
    models = [policy] + ([reference] if reference is not None and w != 1.0 else [])
    feats = [m.cmd(batch.commands) for m in models]
    states = [m.initial_state(batch) for m in models]
    prev = torch.full((b,), policy.config.n_experts, dtype=torch.long)
    ids = torch.full((b, length), -1, dtype=torch.long)
    lps = torch.zeros(b, length)
    for t in range(length):
        logits = []
        for k, m in enumerate(models):
            lg, states[k] = m.step(feats[k][:, t // a], t % a, prev, states[k])
            logits.append(lg)
        lg = guided_logits(logits[1], logits[0], w) if len(logits) == 2 else logits[0]
        logp = torch.log_softmax(lg / (temperature if temperature > 0 else 1.0), dim=-1)
        if greedy:
            choice = logp.argmax(-1)
        else:
            choice = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
        live = mask[:, t]
        ids[:, t] = torch.where(live, choice, torch.full_like(choice, -1))
        lps[:, t] = torch.where(live, logp.gather(-1, choice[:, None])[:, 0], torch.zeros(b))
        prev = torch.where(live, choice, prev)
    return ids, lps
