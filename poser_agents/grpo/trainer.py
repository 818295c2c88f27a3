"""Phase 2: GRPO on workflows, with TRL's names and semantics (see :mod:`.maths`).

Each step draws ``prompts_per_step`` train contexts, samples ``num_generations`` workflows
for each from the current policy at ``temperature``, scores them (reward source ``ensemble``:
the pessimistic reward-model aggregate, which renders no image; ``env``: each workflow is
executed on its task and its final critic score is the reward), turns the scores into group
advantages and takes ``num_iterations`` optimiser steps on the clipped surrogate plus
``beta`` times the k3 KL to the frozen phase-1 reference.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from poser_agents.grpo.config import GRPOConfig
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import count_images, execute, label_of
from poser_agents.grpo.maths import aggregate, group_advantages, k3_kl, per_token_loss
from poser_agents.grpo.policy import WorkflowPolicy, log_probs, sample, token_mask
from poser_agents.grpo.reward import RewardEnsemble
from poser_agents.grpo.workflow_tokens import WorkflowVocab
from poser_env.config import HELD_OUT_SPLITS


class GRPOTrainer:
    """Optimises a copy of the phase-1 policy; the phase-1 policy stays frozen as the reference."""

    def __init__(
        self,
        reference: WorkflowPolicy,
        featurizer: ContextFeaturizer,
        vocab: WorkflowVocab,
        config: GRPOConfig,
        contexts: Sequence[PlanContext],
        ensemble: RewardEnsemble | None = None,
        env: gym.Env | None = None,
        tasks: dict[str, Any] | None = None,
        label: str = "critic",
    ):
        if not contexts:
            raise ValueError("GRPO needs at least one training prompt")
        if config.reward == "ensemble" and ensemble is None:
            raise ValueError("reward='ensemble' needs a trained RewardEnsemble")
        if config.reward == "env":
            if env is None or tasks is None:
                raise ValueError("reward='env' needs the training env and its tasks by id")
            if env.unwrapped.config.split in HELD_OUT_SPLITS:
                raise ValueError(
                    f"GRPO must never train on the {env.unwrapped.config.split} split (held out for evaluation); "
                    "build the env with split='train'"
                )
        self.reference = reference.eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.policy = copy.deepcopy(reference).train()
        for p in self.policy.parameters():
            p.requires_grad_(True)
        self.featurizer, self.vocab, self.config = featurizer, vocab, config
        self.contexts, self.ensemble, self.env, self.tasks, self.label = list(contexts), ensemble, env, tasks, label
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate)
        self.images_rendered = 0
        self.history: list[dict[str, Any]] = []

    def rewards(self, contexts: Sequence[PlanContext], batch, ids: torch.Tensor) -> torch.Tensor:
        if self.config.reward == "ensemble":
            return self.ensemble.score(batch, ids)
        out = []
        names = self.env.unwrapped.expert_names
        for ctx, row in zip(contexts, ids):
            wf = self.vocab.from_expert_ids([int(i) for i in row if i >= 0], ctx.n_commands)
            summary = execute(self.env, self.tasks[ctx.task_id], int(self.rng.integers(2**31)), wf)
            self.images_rendered += count_images(summary, names)
            out.append(
                label_of(
                    {
                        "critic_score": summary["critic_score"],
                        "evaluator_alignment": summary["evaluator"].get("alignment", 0.0),
                    },
                    self.label,
                )
            )
        return torch.tensor(out, dtype=torch.float32)

    def train_step(self, step: int) -> dict[str, Any]:
        cfg = self.config
        g = cfg.num_generations
        chosen = [
            self.contexts[i]
            for i in self.rng.choice(
                len(self.contexts), size=cfg.prompts_per_step, replace=len(self.contexts) < cfg.prompts_per_step
            )
        ]
        grouped = [c for c in chosen for _ in range(g)]
        batch = self.featurizer.batch(grouped)
        self.policy.eval()
        ids, _ = sample(self.policy, batch, self.generator, temperature=cfg.temperature)
        rewards = self.rewards(grouped, batch, ids)
        adv = group_advantages(rewards.view(-1, g), cfg.scale_rewards).reshape(-1)
        mask = token_mask(batch, ids.shape[1], self.vocab.attempts)
        with torch.no_grad():
            old = log_probs(self.policy, batch, ids, cfg.temperature)
            ref = log_probs(self.reference, batch, ids, cfg.temperature) if cfg.beta != 0 else None
        self.policy.train()
        for _ in range(cfg.num_iterations):
            lp = log_probs(self.policy, batch, ids, cfg.temperature)
            loss_tok, clipped = per_token_loss(lp, old, adv, ref, cfg.beta, cfg.epsilon, cfg.epsilon_high)
            loss = aggregate(loss_tok, mask, cfg.loss_type, cfg.max_completion_length)
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
            self.opt.step()
        m = mask.float()
        row = {
            "step": step,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
            "loss": float(loss.detach()),
            "kl": float((k3_kl(lp.detach(), ref) * m).sum() / m.sum()) if ref is not None else 0.0,
            "clip_fraction": float((clipped.float() * m).sum() / m.sum()),
            "images_rendered": self.images_rendered,
        }
        self.history.append(row)
        return row

    def train(
        self,
        log: Callable[[dict[str, Any]], None] | None = None,
        max_images: int | None = None,
        start_step: int = 1,
        after_step: Callable[[int], bool] | None = None,
    ) -> WorkflowPolicy:
        """Run steps ``start_step`` to ``max_steps`` (or stop once ``max_images`` are rendered);
        returns the policy. ``after_step(step)`` runs after each step (checkpoints); False stops.
        ``start_step > 1`` goes on from a state restored by :mod:`.resume`."""
        for step in range(start_step, self.config.max_steps + 1):
            row = self.train_step(step)
            if log and (step % 10 == 0 or step == 1 or step == self.config.max_steps):
                log({"phase": "grpo", **row})
            if after_step is not None and not after_step(step):
                break
            if max_images is not None and self.images_rendered >= max_images:
                break
        self.policy.eval()
        return self.policy
