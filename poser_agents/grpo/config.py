"""``GRPOConfig``: the settings of phase 2 (GRPO on workflows), one documented field each.

In its own module as TRL keeps ``trl.GRPOConfig`` apart from ``GRPOTrainer``: the fields carry
TRL's names and meanings (``num_generations``, ``beta``, ``epsilon``, ``scale_rewards``,
``loss_type``...), and a config is built and checked without importing the trainer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from poser_agents.grpo.maths import LOSS_TYPES, SCALE_REWARDS

REWARD_SOURCES = ("ensemble", "env")


@dataclass
class GRPOConfig:
    """Phase-2 GRPO; field names and meanings follow ``trl.GRPOConfig``."""

    reward: str = "ensemble"
    """Reward source: ``ensemble`` (reward models, no image rendered) or ``env`` (execute every sample)."""
    num_generations: int = 8
    """Group size G: workflows sampled per prompt (>= 2: advantages are relative to the group)."""
    prompts_per_step: int = 16
    """Prompts per step; a step scores ``prompts_per_step * num_generations`` workflows."""
    max_steps: int = 50
    """Generation steps (each followed by ``num_iterations`` optimiser steps)."""
    learning_rate: float = 1e-3
    """Adam's step size."""
    beta: float = 0.04
    """Weight of the k3 KL to the phase-1 reference (0 disables it and its forward pass)."""
    epsilon: float = 0.2
    """Lower clipping bound: the ratio is clipped at ``1 - epsilon``."""
    epsilon_high: float | None = None
    """Upper clipping bound ``1 + epsilon_high`` (None: ``epsilon``; DAPO's clip-higher uses 0.28)."""
    num_iterations: int = 1
    """Optimiser steps per generated batch (TRL's mu); the ratio is 1 on the first."""
    scale_rewards: str = "group"
    """Advantage scaling: ``group`` std, ``batch`` std, or ``none`` (Dr. GRPO)."""
    loss_type: str = "grpo"
    """Loss aggregation: ``grpo`` (per-sequence mean), ``dr_grpo`` (sum / (B * max_completion_length)), ``dapo`` (per-token mean)."""
    max_completion_length: int | None = None
    """Dr. GRPO's constant; None: the batch's padded length (longest workflow of the step)."""
    temperature: float = 1.0
    """Sampling temperature (> 0); log-probabilities are computed at the same temperature."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    seed: int = 0
    """Seeds prompt choice, sampling and env reset seeds."""

    def __post_init__(self) -> None:
        if self.reward not in REWARD_SOURCES:
            raise ValueError(f"reward must be one of {REWARD_SOURCES}, got {self.reward!r}")
        if (
            isinstance(self.num_generations, bool)
            or not isinstance(self.num_generations, int)
            or self.num_generations < 2
        ):
            raise ValueError(
                f"num_generations must be an int >= 2, got {self.num_generations!r}: GRPO's advantage is a reward "
                "minus its group's mean, so a group of 1 always has advantage 0 and learns nothing"
            )
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(
                f"temperature must be > 0, got {self.temperature!r} (softmax(logits / T) is undefined or inverted otherwise)"
            )
        for name in ("prompts_per_step", "max_steps", "num_iterations"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0 (the KL penalty's weight), got {self.beta}")
        if not 0 <= self.epsilon < 1 or (self.epsilon_high is not None and self.epsilon_high < 0):
            raise ValueError(
                f"epsilon must be in [0, 1) and epsilon_high >= 0, got {self.epsilon}, {self.epsilon_high}"
            )
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards must be one of {SCALE_REWARDS}, got {self.scale_rewards!r}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        if self.max_completion_length is not None and self.max_completion_length < 1:
            raise ValueError("max_completion_length must be positive or None")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
