"""Reward-model ensemble: predicts a (prompt, workflow) score with no image.

Each member encodes every command (its features and the one-hot experts of its retry list),
pools them (mean and max) with the prompt embedding and regresses the logged score. Members
differ by seed and by a bootstrap resample of the records. The aggregate is pessimistic,
``mean - pessimism * std`` over members: where the members disagree (a workflow unlike the
logged ones), the reward is lowered, which is what stops GRPO from exploiting one model's
mistakes (reward hacking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poser_agents.common.figures import save_figure
from poser_agents.grpo.context import ContextBatch, ContextFeaturizer
from poser_agents.grpo.data import context_of, label_of
from poser_agents.grpo.sft import LABELS, ids_tensor
from poser_agents.grpo.workflow_tokens import Workflow, WorkflowVocab


@dataclass
class RewardConfig:
    """The reward-model ensemble."""

    n_members: int = 5
    """Ensemble size K (>= 1; the std needs K >= 2 to mean anything)."""
    pessimism: float = 1.0
    """k in the aggregate ``mean - k * std`` (0: the plain mean)."""
    label: str = "critic"
    """Score regressed: ``critic`` (the env's signal) or ``evaluator`` (ground truth)."""
    hidden: int = 128
    """Width of each member."""
    epochs: int = 25
    """Passes over each member's bootstrap sample."""
    batch_size: int = 256
    """Records per gradient step."""
    learning_rate: float = 2e-3
    """Adam's step size."""
    bootstrap: bool = True
    """Train each member on a bootstrap resample (with replacement) of the train records."""
    seed: int = 0
    """Member ``i`` uses ``seed + i``."""

    def __post_init__(self) -> None:
        if isinstance(self.n_members, bool) or not isinstance(self.n_members, int) or self.n_members < 1:
            raise ValueError(
                f"n_members must be an int >= 1 (an ensemble of {self.n_members!r} reward models predicts nothing); use 5"
            )
        if self.pessimism < 0:
            raise ValueError(f"pessimism must be >= 0 (it subtracts k * std), got {self.pessimism}")
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.hidden < 1 or not self.learning_rate > 0:
            raise ValueError("epochs, batch_size, hidden and learning_rate must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RewardModel(nn.Module):
    def __init__(self, text_dim: int, command_dim: int, n_experts: int, attempts: int, hidden: int):
        super().__init__()
        self.n_experts, self.attempts = n_experts, attempts
        self.cmd = nn.Sequential(
            nn.Linear(command_dim + n_experts * attempts, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.out = nn.Sequential(nn.Linear(2 * hidden + text_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, batch: ContextBatch, ids: torch.Tensor) -> torch.Tensor:
        b, n = batch.commands.shape[:2]
        onehot = torch.zeros(b, n * self.attempts, self.n_experts)
        onehot.scatter_(-1, ids.clamp(min=0)[..., None], 1.0)
        onehot = onehot * (ids >= 0)[..., None]
        x = torch.cat([batch.commands, onehot.view(b, n, -1)], dim=-1)
        h = self.cmd(x)
        m = batch.command_mask[..., None].to(h.dtype)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        mx = (h + (m - 1.0) * 1e4).max(1).values
        return torch.sigmoid(self.out(torch.cat([mean, mx, batch.prompt], dim=-1))[:, 0])


class RewardEnsemble:
    """K reward models; :meth:`score` is the pessimistic aggregate. Renders nothing."""

    def __init__(self, featurizer: ContextFeaturizer, vocab: WorkflowVocab, config: RewardConfig):
        self.featurizer, self.vocab, self.config = featurizer, vocab, config
        self.members = []
        for i in range(config.n_members):
            torch.manual_seed(config.seed + i)
            self.members.append(
                RewardModel(featurizer.text_dim, featurizer.command_dim, vocab.n_experts, vocab.attempts, config.hidden)
            )

    @torch.no_grad()
    def predict(self, batch: ContextBatch, ids: torch.Tensor) -> torch.Tensor:
        """Member predictions ``(K, B)``."""
        return torch.stack([m(batch, ids) for m in self.members])

    @torch.no_grad()
    def score(self, batch: ContextBatch, ids: torch.Tensor) -> torch.Tensor:
        """``mean - pessimism * std`` over members, ``(B,)``."""
        p = self.predict(batch, ids)
        std = p.std(0, unbiased=False) if len(self.members) > 1 else torch.zeros(p.shape[1])
        return p.mean(0) - self.config.pessimism * std

    def _tensors(self, records: Sequence[dict[str, Any]]) -> tuple[ContextBatch, torch.Tensor, torch.Tensor]:
        batch = self.featurizer.batch([context_of(r) for r in records])
        ids = ids_tensor(self.vocab, [Workflow.from_key(r["workflow"]) for r in records], int(batch.n_commands.max()))
        y = torch.tensor([label_of(r, self.config.label) for r in records], dtype=torch.float32)
        return batch, ids, y

    def fit(
        self, records: Sequence[dict[str, Any]], log: Callable[[dict[str, Any]], None] | None = None
    ) -> RewardEnsemble:
        train = [r for r in records if r["split"] == "train"]
        if not train:
            raise ValueError("no train-split records to fit the reward models on")
        cfg = self.config
        for i, member in enumerate(self.members):
            rng = np.random.default_rng(cfg.seed + i)
            idx = rng.integers(len(train), size=len(train)) if cfg.bootstrap else np.arange(len(train))
            sample = [train[j] for j in idx]
            opt = torch.optim.Adam(member.parameters(), lr=cfg.learning_rate)
            for epoch in range(cfg.epochs):
                order = rng.permutation(len(sample))
                total = 0.0
                for start in range(0, len(order), cfg.batch_size):
                    batch, ids, y = self._tensors([sample[j] for j in order[start : start + cfg.batch_size]])
                    loss = ((member(batch, ids) - y) ** 2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(y)
            member.eval()
            if log:
                log({"phase": "reward_model", "member": i, "mse": total / len(sample)})
        return self

    def predict_records(
        self, records: Sequence[dict[str, Any]], chunk: int = 1024
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, std and aggregate per record."""
        means, stds, aggs = [], [], []
        for s in range(0, len(records), chunk):
            batch, ids, _ = self._tensors(records[s : s + chunk])
            p = self.predict(batch, ids)
            std = p.std(0, unbiased=False) if len(self.members) > 1 else torch.zeros(p.shape[1])
            means.append(p.mean(0).numpy())
            stds.append(std.numpy())
            aggs.append((p.mean(0) - self.config.pessimism * std).numpy())
        return np.concatenate(means), np.concatenate(stds), np.concatenate(aggs)

    def state_dict(self) -> dict[str, Any]:
        return {f"member{i}.{k}": v for i, m in enumerate(self.members) for k, v in m.state_dict().items()}


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as ``scipy.stats.rankdata``)."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / counts)[inv]


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (Pearson on tie-averaged ranks); nan if either is constant."""
    ra, rb = rankdata(np.asarray(a)), rankdata(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def calibration(ensemble: RewardEnsemble, records: Sequence[dict[str, Any]], bins: int = 10) -> dict[str, Any]:
    """On held-out (val) records: Spearman of the aggregate and of the mean against the evaluator
    and the critic, per source, and a reliability table (predicted mean vs observed, by decile)."""
    val = [r for r in records if r["split"] == "val"]
    if len(val) < 3:
        raise ValueError("calibration needs at least 3 val-split records")
    mean, std, agg = ensemble.predict_records(val)
    ev = np.array([r["evaluator_alignment"] for r in val])
    cr = np.array([r["critic_score"] for r in val])
    edges = np.quantile(mean, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, bins - 1)
    table = [
        {
            "bin": int(b),
            "n": int((which == b).sum()),
            "predicted": float(mean[which == b].mean()),
            "observed_evaluator": float(ev[which == b].mean()),
            "observed_critic": float(cr[which == b].mean()),
            "mean_std": float(std[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    sources = sorted({r["source"] for r in val})
    return {
        "n_val_records": len(val),
        "n_val_tasks": len({r["task_id"] for r in val}),
        "spearman_aggregate_evaluator": spearman(agg, ev),
        "spearman_mean_evaluator": spearman(mean, ev),
        "spearman_aggregate_critic": spearman(agg, cr),
        "mae_mean_label": float(np.abs(mean - (cr if ensemble.config.label == "critic" else ev)).mean()),
        "per_source_spearman_evaluator": {
            s: spearman(agg[[r["source"] == s for r in val]], ev[[r["source"] == s for r in val]]) for s in sources
        },
        "reliability": table,
        "_arrays": {"mean": mean.tolist(), "std": std.tolist(), "aggregate": agg.tolist(), "evaluator": ev.tolist()},
    }


def calibration_figure(cal: dict[str, Any], path: str | Path) -> Path:
    """Scatter of aggregate vs evaluator score, and the reliability curve, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = cal["_arrays"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].scatter(arr["aggregate"], arr["evaluator"], s=4, alpha=0.4)
    axes[0].set_xlabel("ensemble aggregate (mean - k std)")
    axes[0].set_ylabel("evaluator alignment")
    axes[0].set_title(f"val: Spearman {cal['spearman_aggregate_evaluator']:.3f}")
    rel = cal["reliability"]
    axes[1].plot([r["predicted"] for r in rel], [r["observed_evaluator"] for r in rel], "o-", label="evaluator")
    axes[1].plot([r["predicted"] for r in rel], [r["observed_critic"] for r in rel], "s-", label="critic")
    axes[1].plot([0, 1], [0, 1], "k:", lw=1)
    axes[1].set_xlabel("predicted (ensemble mean, decile)")
    axes[1].set_ylabel("observed mean")
    axes[1].legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)
