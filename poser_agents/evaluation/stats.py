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
from typing import Any, Mapping, Sequence

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
    arr, keep = _clean(values)
    n = len(arr)
    if n == 0:
        return _summary(math.nan, math.nan, math.nan, 0)
    mean = float(arr.mean())
    if n == 1 or np.all(arr == arr[0]):
        return _summary(mean, mean, mean, n)
    gen = _rng(rng)
    if groups is None:
        idx = gen.integers(0, n, size=(int(n_resamples), n))
        boot = arr[idx].mean(axis=1)
    else:
        if len(groups) != len(values):
            raise ValueError(f"groups has {len(groups)} entries for {len(values)} values")
        labels = np.asarray([g for g, k in zip(groups, keep) if k], dtype=object)
        _, inverse = np.unique(labels.astype(str), return_inverse=True)
        sums = np.bincount(inverse, weights=arr)
        counts = np.bincount(inverse).astype(float)
        g = len(sums)
        if g == 1:
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


def macro_mean_ci(
    values_by_category: Mapping[str, Sequence[Any]],
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    rng: int | np.random.Generator | None = 0,
) -> dict[str, Any]:
    """Unweighted mean of the per-category means, bootstrapped within each category.

    GenEval's overall score is this macro mean of its six per-category accuracies. ``n`` is the
    total number of values; empty categories are left out.
    """
    _check(n_resamples, confidence)
    cats = [c for c in (_clean(v)[0] for v in values_by_category.values()) if len(c)]
    n = int(sum(len(c) for c in cats))
    if not cats:
        return _summary(math.nan, math.nan, math.nan, 0)
    mean = float(np.mean([c.mean() for c in cats]))
    gen = _rng(rng)
    boot = np.zeros(int(n_resamples))
    for c in cats:
        boot += c[gen.integers(0, len(c), size=(int(n_resamples), len(c)))].mean(axis=1)
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
