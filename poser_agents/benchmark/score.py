"""The benchmark's normalised score: per task, (agent - random) / (oracle - random).

As Atari normalises by human and random scores, ImagePoser normalises each task by the random
agent and the search oracle, both measured on *the same tasks and reset seeds* as the agent
(the evaluation harness plays episode ``i`` of seed ``s`` with ``reset(seed=s * 100000 + i)``
for every agent, so the three are matched episode by episode). 0 is random, 1 is the oracle;
a score may fall below 0 or rise above 1.

Steps: per task, the mean of the metric over the evaluation seeds, for the agent and for
both references; then the ratio per task; then the mean over tasks.

**A task where oracle == random** (within :data:`DEGENERATE_EPS`: both solve it, or neither
does) tells agents apart by nothing and would divide by zero. It is left out of the mean and
counted in ``n_degenerate``; its per-task entry is ``None``. If every task is degenerate the
score is ``None`` (never 0, which would read as "as bad as random").

**Cost** per episode is reported beside the score (the agent's mean cost, and the references').
The **cost-aware variant** applies the same normalisation to the utility
``u = metric - cost_weight * cost`` of each episode (``cost_weight`` defaults to
:data:`DEFAULT_COST_WEIGHT`, the env's own reward weight per cost unit): an agent as good as
the oracle at a tenth of its cost scores above 1, one that buys accuracy with expensive calls
scores lower than its plain score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: |oracle - random| at or below this counts as equal (the task is left out).
DEGENERATE_EPS = 1e-9
#: Default weight of one cost unit in the cost-aware variant (the env's ``cost_weight``).
DEFAULT_COST_WEIGHT = 0.01
#: Metrics the score is defined on.
SCORE_METRICS: tuple[str, ...] = ("accuracy", "alignment")


def normalise(agent: float, random: float, oracle: float, eps: float = DEGENERATE_EPS) -> float | None:
    """One task's normalised score, or None when ``oracle == random`` (within ``eps``)."""
    span = float(oracle) - float(random)
    if abs(span) <= eps:
        return None
    return (float(agent) - float(random)) / span


def _per_task(
    records: Iterable[Mapping[str, Any]], metric: str, cost_weight: float | None
) -> dict[str, dict[int, float]]:
    """``{task_id: {episode_seed: value}}``; ``cost_weight`` set gives the cost-aware utility."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in records:
        value = r.get(metric)
        if value is None:  # an episode the evaluator could not judge
            continue
        v = float(value)
        if cost_weight is not None:
            v -= cost_weight * float(r.get("cost", 0.0))
        out[str(r["task_id"])][int(r["episode_seed"])] = v
    return out


def normalised_score(
    agent: Sequence[Mapping[str, Any]],
    random: Sequence[Mapping[str, Any]],
    oracle: Sequence[Mapping[str, Any]],
    metric: str = "accuracy",
    cost_weight: float | None = None,
) -> dict[str, Any]:
    """The normalised score of ``agent``'s episode records against the two references.

    Records are the evaluation harness's (``task_id``, ``episode_seed``, the metric, ``cost``).
    Each reference must hold every (task, episode seed) the agent played, else ``ValueError``
    (a reference measured on other tasks or seeds would compare different luck).
    Returns ``{"score", "per_task", "n_tasks", "n_degenerate", "metric", "cost_weight"}``.
    """
    if metric not in SCORE_METRICS:
        raise ValueError(f"unknown score metric {metric!r}; allowed: {', '.join(SCORE_METRICS)}")
    a = _per_task(agent, metric, cost_weight)
    refs = {"random": _per_task(random, metric, cost_weight), "oracle": _per_task(oracle, metric, cost_weight)}
    per_task: dict[str, float | None] = {}
    for task, by_seed in sorted(a.items()):
        means = {}
        for name, ref in refs.items():
            missing = sorted(set(by_seed) - set(ref.get(task, {})))
            if missing:
                raise ValueError(
                    f"the {name} reference lacks task {task!r} at episode seed(s) {missing}: "
                    "measure the references on the same tasks and seeds as the agent"
                )
            means[name] = float(np.mean([ref[task][s] for s in by_seed]))
        per_task[task] = normalise(float(np.mean(list(by_seed.values()))), means["random"], means["oracle"])
    kept = [v for v in per_task.values() if v is not None]
    return {
        "metric": metric,
        "cost_weight": cost_weight,
        "score": float(np.mean(kept)) if kept else None,
        "per_task": per_task,
        "n_tasks": len(per_task),
        "n_degenerate": len(per_task) - len(kept),
    }


def mean_cost(records: Sequence[Mapping[str, Any]]) -> float:
    """Mean cost per episode (relative compute units)."""
    return float(np.mean([float(r.get("cost", 0.0)) for r in records])) if records else float("nan")


def score_card(
    agent: Sequence[Mapping[str, Any]],
    random: Sequence[Mapping[str, Any]],
    oracle: Sequence[Mapping[str, Any]],
    cost_weight: float = DEFAULT_COST_WEIGHT,
) -> dict[str, Any]:
    """Everything the benchmark reports for one evaluation: normalised accuracy and alignment,
    the cost-aware variant of both, the raw means, and the cost per episode of agent and references."""
    card: dict[str, Any] = {}
    for metric in SCORE_METRICS:
        plain = normalised_score(agent, random, oracle, metric)
        aware = normalised_score(agent, random, oracle, metric, cost_weight=cost_weight)
        card[f"norm_{metric}"] = plain["score"]
        card[f"norm_{metric}_cost_aware"] = aware["score"]
        card[f"n_degenerate_{metric}"] = plain["n_degenerate"]
        vals = [float(r[metric]) for r in agent if r.get(metric) is not None]
        card[metric] = float(np.mean(vals)) if vals else None
    card["n_tasks"] = len({r["task_id"] for r in agent})
    card["episodes"] = len(agent)
    card["cost"] = mean_cost(agent)
    card["cost_random"] = mean_cost(random)
    card["cost_oracle"] = mean_cost(oracle)
    card["cost_weight"] = cost_weight
    return card
