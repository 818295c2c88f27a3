"""From per-episode records to the numbers a report shows, each with its bootstrap interval.

A *record* is one episode (built by :func:`record_from_summary` from the env's
``episode_summary``): the task (id, category, suite), the seed, the evaluator's metrics, the
critic's score, cost, steps, return and a compact step log. :func:`summarize` turns a list of
them into the overall, per-seed, per-category, per-suite, per-check-category and per-expert
tables. Intervals are cluster-bootstrapped over tasks (see :mod:`.stats`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from poser_agents.evaluation.stats import DEFAULT_RESAMPLES, bootstrap_ci, macro_mean_ci
from poser_env.world.suites import CATEGORIES, SUITES

#: Per-episode metrics, in report order. Evaluator metrics (alignment, accuracy, fidelity,
#: critic_agreement, critic_gap) are None on an episode the evaluator could not judge.
METRICS: tuple[str, ...] = (
    "alignment",
    "accuracy",
    "fidelity",
    "cost",
    "steps",
    "return",
    "critic_agreement",
    "critic_score",
    "critic_gap",
)
#: The GenEval categories, whose macro mean of accuracy is GenEval's overall score.
GENEVAL_CATEGORIES: tuple[str, ...] = CATEGORIES["geneval"]
#: Every task category in a stable order (the suites' order, then their categories).
CATEGORY_ORDER: tuple[str, ...] = tuple(c for s in SUITES for c in CATEGORIES[s])


def record_from_summary(
    summary: dict[str, Any], seed: int, episode_seed: int, kinds: Sequence[str] | None = None
) -> dict[str, Any]:
    """One episode's record. ``kinds`` is the command kind each step acted on, when known."""
    ev = summary.get("evaluator", {})
    judged = bool(ev.get("judged"))
    alignment = float(ev["alignment"]) if judged else None
    log = summary.get("log", [])
    kinds = list(kinds) if kinds is not None else [""] * len(log)
    record = {
        "task_id": summary["task_id"],
        "category": summary.get("category", ""),
        "suite": summary.get("suite", ""),
        "seed": int(seed),
        "episode_seed": int(episode_seed),
        "judged": judged,
        "alignment": alignment,
        "accuracy": float(ev["accuracy"]) if judged else None,
        "fidelity": float(ev["fidelity"]) if judged else None,
        "critic_agreement": float(ev["critic_agreement"]) if judged and "critic_agreement" in ev else None,
        "critic_score": float(summary.get("critic_score", np.nan)),
        "not_understood": [str(x) for x in summary.get("not_understood", [])],
        "coverage": float(summary.get("coverage", 1.0)),
        "critic_gap": float(summary["critic_score"]) - alignment if judged and "critic_score" in summary else None,
        "cost": float(summary.get("cost", 0.0)),
        "steps": int(summary.get("steps", 0)),
        "return": float(summary.get("return", np.nan)),
        "n_commands": int(summary.get("n_commands", 0)),
        "commands_passed": int(summary.get("commands_passed", 0)),
        "commands_failed": int(summary.get("commands_failed", 0)),
        "n_checks": int(ev.get("n_checks", 0)) if judged else 0,
        "critic_checks": int(ev.get("critic_checks", 0)) if judged else 0,
        "check_categories": dict(ev.get("per_category", {})) if judged else {},
        "log": [
            {
                "expert": e.get("expert", ""),
                "kind": k,
                "reward": float(e.get("reward", 0.0)),
                "cost": float(e.get("cost", 0.0)),
                "passed": bool(e.get("command_passed", False)),
                # The call returned no image (it raised; a down provider on ImagePoser-Drift-v1):
                # the key only then, so records of steps without one are as before.
                **({"error": True} if e.get("error") else {}),
            }
            for e, k in zip(log, kinds)
        ],
    }
    if ev.get("same_as_critic"):
        # Judged by the critic's own model (a preset's allow_same_model): reports warn. Absent,
        # not False, otherwise, so synthetic-world records are unchanged.
        record["same_as_critic"] = True
        record["judge"] = str(ev.get("judge", ""))
    return record


def metric_table(
    records: Sequence[dict[str, Any]],
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: int = 0,
    metrics: Iterable[str] = METRICS,
) -> dict[str, Any]:
    """``{metric: {"mean", "ci_low", "ci_high", "n"}}`` plus ``episodes`` and ``tasks`` (distinct
    task ids: the number of independent units the cluster bootstrap resamples)."""
    groups = [r["task_id"] for r in records]
    out: dict[str, Any] = {m: bootstrap_ci([r[m] for r in records], groups, n_resamples, rng=rng) for m in metrics}
    out["episodes"] = len(records)
    out["tasks"] = len(set(groups))
    return out


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    keys = set(keys)
    return [k for k in order if k in keys] + sorted(keys - set(order))


def per_key(
    records: Sequence[dict[str, Any]], key: str, n_resamples: int = DEFAULT_RESAMPLES, rng: int = 0
) -> dict[str, Any]:
    """The metric table of each value of ``key`` (``category`` or ``suite``)."""
    order = CATEGORY_ORDER if key == "category" else SUITES
    return {
        v: metric_table([r for r in records if r[key] == v], n_resamples, rng)
        for v in _ordered((r[key] for r in records), order)
    }


def per_check_category(
    records: Sequence[dict[str, Any]], n_resamples: int = DEFAULT_RESAMPLES, rng: int = 0
) -> dict[str, Any]:
    """The evaluator's pass fraction per *check* category (object, count, color, position...)."""
    cats = sorted({c for r in records for c in r["check_categories"]})
    out = {}
    for c in cats:
        rows = [r for r in records if c in r["check_categories"]]
        out[c] = bootstrap_ci(
            [r["check_categories"][c] for r in rows], [r["task_id"] for r in rows], n_resamples, rng=rng
        )
    return out


def per_seed(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Plain means of every metric for each seed (keys are the seeds as strings, for JSON)."""
    out = {}
    for seed in sorted({r["seed"] for r in records}):
        rows = [r for r in records if r["seed"] == seed]
        means = {}
        for m in METRICS:
            vals = [r[m] for r in rows if r[m] is not None and not np.isnan(r[m])]
            means[m] = float(np.mean(vals)) if vals else None
        means["episodes"] = len(rows)
        out[str(seed)] = means
    return out


def expert_stats(
    records: Sequence[dict[str, Any]], n_resamples: int = DEFAULT_RESAMPLES, rng: int = 0
) -> dict[str, Any]:
    """Per expert, from the step logs: calls, share of calls, mean reward per call (with its
    interval), command pass rate, cost spent, and the same counts per command kind acted on."""
    calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    for r in records:
        for step in r["log"]:
            if step["expert"]:
                calls[step["expert"]].append((r["task_id"], step["kind"], step))
    total = sum(len(v) for v in calls.values())
    out = {}
    for name in sorted(calls, key=lambda n: -len(calls[n])):
        rows = calls[name]
        reward = bootstrap_ci([s["reward"] for _, _, s in rows], [t for t, _, _ in rows], n_resamples, rng=rng)
        by_kind = {}
        for kind in sorted({k for _, k, _ in rows if k}):
            sub = [s for _, k, s in rows if k == kind]
            by_kind[kind] = {
                "calls": len(sub),
                "pass_rate": float(np.mean([s["passed"] for s in sub])),
                "mean_reward": float(np.mean([s["reward"] for s in sub])),
            }
        out[name] = {
            "calls": len(rows),
            "share": len(rows) / total if total else 0.0,
            "mean_reward": reward,
            "pass_rate": float(np.mean([s["passed"] for _, _, s in rows])),
            "cost": float(sum(s["cost"] for _, _, s in rows)),
            "by_kind": by_kind,
        }
    return out


def summarize(records: Sequence[dict[str, Any]], n_resamples: int = DEFAULT_RESAMPLES, rng: int = 0) -> dict[str, Any]:
    """Every table of a report for one agent."""
    geneval = {c: [r for r in records if r["category"] == c] for c in GENEVAL_CATEGORIES}
    geneval = {c: v for c, v in geneval.items() if v}
    geneval_score = (
        macro_mean_ci(
            {c: [r["accuracy"] for r in v] for c, v in geneval.items()},
            n_resamples,
            rng=rng,
            groups_by_category={c: [r["task_id"] for r in v] for c, v in geneval.items()},
        )
        if geneval
        else None
    )
    out = {
        "overall": metric_table(records, n_resamples, rng),
        "geneval_score": geneval_score,
        "per_seed": per_seed(records),
        "per_category": per_key(records, "category", n_resamples, rng),
        "per_suite": per_key(records, "suite", n_resamples, rng),
        "per_check_category": per_check_category(records, n_resamples, rng),
        "experts": expert_stats(records, n_resamples, rng),
        "unjudged": sum(not r["judged"] for r in records),
    }
    self_judged = sum(bool(r.get("same_as_critic")) for r in records)
    if self_judged:  # only then: synthetic summaries keep their keys
        out["same_as_critic"] = self_judged
    return out
