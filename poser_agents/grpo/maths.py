"""GRPO's maths, with TRL's names and semantics (``trl.GRPOTrainer``), as pure functions.

- :func:`group_advantages`: ``A = (r - mean_group(r)) / (std + 1e-4)``, where ``std`` is the
  group's (``scale_rewards="group"``), the whole batch's (``"batch"``), or 1 (``"none"``, as
  Dr. GRPO recommends). Standard deviations are unbiased (``torch.std``), as in TRL.
- :func:`k3_kl`: the per-token estimator ``exp(ref - logp) - (ref - logp) - 1`` of
  KL(pi || pi_ref) (Schulman's k3), non-negative, zero where the two agree.
- :func:`per_token_loss`: ``-min(ratio * A, clip(ratio, 1 - epsilon, 1 + epsilon_high) * A)
  + beta * k3``, with ``ratio = exp(logp - old_logp)``.
- :func:`aggregate`: ``grpo`` (mean over each sequence's tokens, then over sequences),
  ``dr_grpo`` (sum over all tokens / (sequences * max_completion_length)), ``dapo`` (sum over
  all tokens / number of tokens in the batch).
"""

from __future__ import annotations

import torch

SCALE_REWARDS = ("group", "batch", "none")
LOSS_TYPES = ("grpo", "dr_grpo", "dapo")
STD_EPS = 1e-4


def group_advantages(rewards: torch.Tensor, scale_rewards: str = "group") -> torch.Tensor:
    """``rewards`` (n_groups, group_size) -> advantages of the same shape."""
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards must be one of {SCALE_REWARDS}, got {scale_rewards!r}")
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (n_groups, group_size >= 2), got shape {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale_rewards == "group":
        return centred / (rewards.std(dim=1, keepdim=True) + STD_EPS)
    if scale_rewards == "batch":
        return centred / (rewards.std() + STD_EPS)
    return centred


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || pi_ref) from log-probabilities of the sampled tokens."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def per_token_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped surrogate (+ beta * k3) per token ``(B, T)``; also whether each token was clipped.

    ``advantages`` is per sequence ``(B,)`` and broadcast over its tokens.
    """
    hi = epsilon if epsilon_high is None else epsilon_high
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - epsilon, 1.0 + hi) * adv
    loss = -torch.min(unclipped, clipped)
    if beta != 0.0:
        if ref_logp is None:
            raise ValueError("beta != 0 needs the reference's log-probabilities (ref_logp)")
        loss = loss + beta * k3_kl(logp, ref_logp)
    was_clipped = clipped < unclipped  # the min took the clipped term
    return loss, was_clipped


def aggregate(
    loss: torch.Tensor, mask: torch.Tensor, loss_type: str = "grpo", max_completion_length: int | None = None
) -> torch.Tensor:
    """Reduce a per-token loss ``(B, T)`` with its token ``mask`` to a scalar, per ``loss_type``."""
    m = mask.to(loss.dtype)
    if loss_type == "grpo":
        return ((loss * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "dr_grpo":
        length = loss.shape[1] if max_completion_length is None else max_completion_length
        return (loss * m).sum() / (loss.shape[0] * length)
    if loss_type == "dapo":
        return (loss * m).sum() / m.sum().clamp(min=1.0)
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
