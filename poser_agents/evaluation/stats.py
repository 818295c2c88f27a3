"""Bootstrap confidence intervals, and the paired comparison of two agents.

Everything here is plain numpy on per-episode values, so it is tested on synthetic data with
known answers (``tests/agents/test_evaluation.py``).

- :func:`bootstrap_ci`: the mean and its percentile-bootstrap interval. With ``groups`` (the
  task id of each episode) it is a *cluster* bootstrap: whole tasks are resampled, with all
  their episodes (one per seed), because two seeds of the same task are not independent. With
  one episode per task it is the ordinary bootstrap over episodes.
- :func:`paired_difference`: the mean of ``a - b`` over episodes both agents ran (same task,
  same reset seed), with its bootstrap interval, win/loss/tie counts and a verdict that says
  "a > b" only when the whole interval is above zero.
- :func:`macro_mean_ci`: the unweighted mean of per-category means (GenEval's overall score)
  with a bootstrap stratified by category.

A summary is a dict ``{"mean", "ci_low", "ci_high", "n"}``; with ``n == 0`` all three numbers
are ``nan`` and with ``n == 1`` (or a constant sample) the interval is the mean itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


def _rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)


def _clean(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Float array of the values that are not None / nan, and the mask of those kept."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    keep = ~np.isnan(arr)
    return arr[keep], keep


def _check(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _summary(mean: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"mean": float(mean), "ci_low": float(low), "ci_high": float(high), "n": int(n)}


def _percentiles(boot: np.ndarray, mean: float, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    # Rounding can put a constant sample's bounds a hair off its mean: clip to keep low <= mean <= high.
    return float(min(low, mean)), float(max(high, mean))


def bootstrap_ci(
    values: Sequence[Any],
    groups: Sequence[Any] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    rng: int | np.random.Generator | None = 0,
) -> dict[str, Any]:
    """Mean of ``values`` (None and nan dropped) with its percentile-bootstrap interval.

    ``groups`` (same length as ``values``) makes it a cluster bootstrap: groups are drawn with
    replacement and the statistic is the pooled mean of their values. ``rng`` is a seed or a
    ``numpy.random.Generator``; the same seed gives the same interval.
    """
    _check(n_resamples, confidence)
    arr, _ = _clean(values)
    n = len(arr)
    if n == 0:
        return _summary(math.nan, math.nan, math.nan, 0)
    mean = float(arr.mean())
    if n == 1 or np.all(arr == arr[0]):
        return _summary(mean, mean, mean, n)
    gen = _rng(rng)
    sums, counts = _clusters(values, groups)
    g = len(sums)
    if g == 1:  # one task: nothing to resample between tasks
        return _summary(mean, mean, mean, n)
    idx = gen.integers(0, g, size=(int(n_resamples), g))
    boot = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = _percentiles(boot, mean, confidence)
    return _summary(mean, low, high, n)


def paired_difference(
    a: Sequence[Any],
    b: Sequence[Any],
    groups: Sequence[Any] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    rng: int | np.random.Generator | None = 0,
    names: tuple[str, str] = ("a", "b"),
) -> dict[str, Any]:
    """``mean(a - b)`` over the pairs where both values exist, with its bootstrap interval.

    ``a[i]`` and ``b[i]`` must be the same episode (task and reset seed) run by two agents, so
    that the task's difficulty and the experts' luck cancel out. Returns the summary of
    :func:`bootstrap_ci` plus ``wins`` (a > b), ``losses``, ``ties`` and ``verdict``: ``"a > b"``
    when the interval is above zero, ``"a < b"`` when below, else ``"no significant difference"``.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples must have the same length, got {len(a)} and {len(b)}")
    both = _clean(a)[1] & _clean(b)[1]
    av = np.array([np.nan if v is None else float(v) for v in a])[both]
    bv = np.array([np.nan if v is None else float(v) for v in b])[both]
    diff = av - bv
    g = None if groups is None else [x for x, k in zip(groups, both) if k]
    out = bootstrap_ci(diff, groups=g, n_resamples=n_resamples, confidence=confidence, rng=rng)
    eps = 1e-12
    out["wins"] = int(np.sum(diff > eps))
    out["losses"] = int(np.sum(diff < -eps))
    out["ties"] = int(len(diff) - out["wins"] - out["losses"])
    na, nb = names
    if out["n"] == 0:
        out["verdict"] = "no paired episodes"
    elif out["ci_low"] > 0:
        out["verdict"] = f"{na} > {nb}"
    elif out["ci_high"] < 0:
        out["verdict"] = f"{na} < {nb}"
    else:
        out["verdict"] = "no significant difference"
    return out


def _clusters(values: Sequence[Any], groups: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts of the clean values (each value its own cluster without groups)."""
    arr, keep = _clean(values)
    if groups is None:
        return arr, np.ones(len(arr))
    if len(groups) != len(values):
        raise ValueError(f"groups has {len(groups)} entries for {len(values)} values")
    labels = np.asarray([str(g) for g, k in zip(groups, keep) if k], dtype=object)
    if len(labels) == 0:
        return np.zeros(0), np.zeros(0)
    _, inverse = np.unique(labels.astype(str), return_inverse=True)
    return np.bincount(inverse, weights=arr), np.bincount(inverse).astype(float)


def macro_mean_ci(
    values_by_category: Mapping[str, Sequence[Any]],
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    rng: int | np.random.Generator | None = 0,
    groups_by_category: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Unweighted mean of the per-category means, bootstrapped within each category.

    GenEval's overall score is this macro mean of its six per-category accuracies. With
    ``groups_by_category`` (task ids) whole tasks are resampled within each category, as in
    :func:`bootstrap_ci`. ``n`` is the total number of values; empty categories are left out.
    """
    _check(n_resamples, confidence)
    groups_by_category = groups_by_category or {}
    cats = [_clusters(v, groups_by_category.get(c)) for c, v in values_by_category.items()]
    cats = [(s, k) for s, k in cats if k.sum() > 0]
    n = int(sum(k.sum() for _, k in cats))
    if not cats:
        return _summary(math.nan, math.nan, math.nan, 0)
    mean = float(np.mean([s.sum() / k.sum() for s, k in cats]))
    gen = _rng(rng)
    boot = np.zeros(int(n_resamples))
    for sums, counts in cats:
        idx = gen.integers(0, len(sums), size=(int(n_resamples), len(sums)))
        boot += sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    boot /= len(cats)
    if np.allclose(boot, mean):
        return _summary(mean, mean, mean, n)
    low, high = _percentiles(boot, mean, confidence)
    return _summary(mean, low, high, n)


def format_ci(s: Mapping[str, Any] | None, digits: int = 3, ci_digits: int | None = None) -> str:
    """``"0.812 [0.79, 0.83]"`` (bounds with one digit fewer); ``"-"`` for a missing or empty summary."""
    if not s or s.get("n", 0) == 0 or s.get("mean") is None or math.isnan(s["mean"]):
        return "-"
    cd = max(digits - 1, 0) if ci_digits is None else ci_digits
    return f"{s['mean']:.{digits}f} [{s['ci_low']:.{cd}f}, {s['ci_high']:.{cd}f}]"
