"""Phase 1: teach the policy the workflow vocabulary by supervised training on logged workflows.

Two ways to use the logged scores (``SFTConfig.mode``; docs/grpo.md compares them):

- ``score``: ComfyGen's way: every logged workflow is a target, and the policy is told the
  score it got (an input to its initial state); at sampling it is asked for score 1.0.
- ``best``: only each task's best-scoring workflows (ties kept) are targets, with no score
  input (the input is always 1.0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import context_of, label_of
from poser_agents.grpo.policy import PolicyConfig, WorkflowPolicy, log_probs, token_mask
from poser_agents.grpo.workflow_tokens import Workflow, WorkflowVocab

SFT_MODES = ("score", "best")
LABELS = ("critic", "evaluator")


@dataclass
class SFTConfig:
    """Phase-1 supervised training."""

    mode: str = "score"
    """``score`` (condition on the logged score, ask for 1.0) or ``best`` (train on each task's best only)."""
    label: str = "critic"
    """Score used: ``critic`` (the env's own reward signal, default) or ``evaluator`` (ground truth)."""
    epochs: int = 15
    """Passes over the targets."""
    batch_size: int = 128
    """Workflows per gradient step."""
    learning_rate: float = 2e-3
    """Adam's step size."""
    hidden: int = 128
    """Policy width (``PolicyConfig.hidden``)."""
    seed: int = 0
    """Seeds the initial weights and the shuffling."""

    def __post_init__(self) -> None:
        if self.mode not in SFT_MODES:
            raise ValueError(f"SFT mode must be one of {SFT_MODES}, got {self.mode!r}")
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.hidden < 1:
            raise ValueError("epochs, batch_size and hidden must be positive")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ids_tensor(vocab: WorkflowVocab, workflows: Sequence[Workflow], n_max: int) -> torch.Tensor:
    """Expert ids ``(B, n_max * attempts)``, -1 on padding."""
    out = torch.full((len(workflows), n_max * vocab.attempts), -1, dtype=torch.long)
    for i, wf in enumerate(workflows):
        ids = vocab.expert_ids(wf)
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def encode(
    featurizer: ContextFeaturizer,
    vocab: WorkflowVocab,
    contexts: Sequence[PlanContext],
    workflows: Sequence[Workflow],
    scores: Sequence[float] | None = None,
):
    batch = featurizer.batch(contexts, scores)
    return batch, ids_tensor(vocab, workflows, int(batch.n_commands.max()))


def new_policy(featurizer: ContextFeaturizer, vocab: WorkflowVocab, hidden: int, seed: int) -> WorkflowPolicy:
    torch.manual_seed(seed)
    return WorkflowPolicy(
        PolicyConfig(
            hidden=hidden,
            n_experts=vocab.n_experts,
            attempts=vocab.attempts,
            text_dim=featurizer.text_dim,
            command_dim=featurizer.command_dim,
        )
    )


def sft_targets(records: Sequence[dict[str, Any]], config: SFTConfig) -> list[tuple[PlanContext, Workflow, float]]:
    """(context, workflow, score input) triples of the train-split records, per ``config.mode``."""
    train = [r for r in records if r["split"] == "train"]
    if not train:
        raise ValueError("no train-split records to learn from")
    if config.mode == "score":
        return [(context_of(r), Workflow.from_key(r["workflow"]), label_of(r, config.label)) for r in train]
    best: dict[str, float] = {}
    for r in train:
        best[r["task_id"]] = max(best.get(r["task_id"], -1.0), label_of(r, config.label))
    return [
        (context_of(r), Workflow.from_key(r["workflow"]), 1.0)
        for r in train
        if label_of(r, config.label) >= best[r["task_id"]] - 1e-9
    ]


def train_sft(
    records: Sequence[dict[str, Any]],
    featurizer: ContextFeaturizer,
    vocab: WorkflowVocab,
    config: SFTConfig,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> WorkflowPolicy:
    """Maximum likelihood of the targets' expert tokens; returns the phase-1 policy."""
    targets = sft_targets(records, config)
    policy = new_policy(featurizer, vocab, config.hidden, config.seed)
    opt = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        order = rng.permutation(len(targets))
        total, n = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            chunk = [targets[i] for i in order[start : start + config.batch_size]]
            batch, ids = encode(
                featurizer, vocab, [c for c, _, _ in chunk], [w for _, w, _ in chunk], [s for _, _, s in chunk]
            )
            lp = log_probs(policy, batch, ids)
            mask = token_mask(batch, ids.shape[1], vocab.attempts)
            loss = -(lp.sum() / mask.sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(chunk)
            n += len(chunk)
        if log:
            log({"phase": "sft", "epoch": epoch + 1, "nll": total / n, "targets": len(targets)})
    policy.eval()
    return policy
