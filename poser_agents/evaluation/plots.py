"""The report's figures (matplotlib, Agg backend, PNG at 120 dpi).

- :func:`plot_category_accuracy`: per-category accuracy of every agent side by side, with
  95% bootstrap intervals as error bars.
- :func:`plot_expert_rewards`: mean critic reward per call of each expert (with intervals),
  and how often each agent called it.
- :func:`plot_training`: training loss (SB3's ``progress.csv``: ``train/loss`` against
  ``time/total_timesteps``) and episode return, evaluator alignment and cost (the DQN
  callback's ``episodes.csv``: ``timesteps``, ``reward`` or ``return``, ``alignment``,
  ``cost``) against timesteps, raw and smoothed with a rolling mean; greedy evaluations
  logged in ``progress.csv`` (``eval/alignment``, ``eval/cost``, ``eval/return``) are drawn
  as points on top. A missing file or column leaves its panel with a message and raises a
  ``UserWarning`` saying what was looked for; with nothing usable at all it raises
  ``FileNotFoundError``.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from poser_agents.common.checkpoint import atomic_write_bytes  # noqa: E402
from poser_agents.evaluation.summary import CATEGORY_ORDER  # noqa: E402

DPI = 120
STYLE = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.axisbelow": True,
}
PROGRESS_COLUMNS = ("time/total_timesteps", "train/loss")
EPISODE_COLUMNS = ("timesteps", "reward", "alignment", "cost", "steps")
#: Above this many points a series is drawn as its rolling mean and a +-1 std band, not raw.
RAW_POINTS = 300


def _save(fig: plt.Figure, path: str | Path) -> Path:
    """Save as PNG; a 256-colour palette (no dithering) makes the files 2-3x smaller, unchanged to the eye."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    buf.seek(0)
    from PIL import Image

    out = io.BytesIO()
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, format="PNG", optimize=True
        )
    return atomic_write_bytes(path, out.getvalue())  # a killed process never leaves half a PNG


def _err(ci: Mapping[str, Any] | None) -> tuple[float, float, float]:
    """Mean and the lower/upper error bar lengths (nan when empty)."""
    if not ci or not ci.get("n"):
        return math.nan, 0.0, 0.0
    m = ci["mean"]
    return m, max(m - ci["ci_low"], 0.0), max(ci["ci_high"] - m, 0.0)


def _summary(result: Any) -> dict[str, Any]:
    return result.summary if hasattr(result, "summary") else result["summary"]


def plot_category_accuracy(results: Mapping[str, Any], path: str | Path, metric: str = "accuracy") -> Path:
    """Grouped bars: one group per task category (and "overall"), one bar per agent."""
    names = list(results)
    present = {c for r in results.values() for c in _summary(r)["per_category"]}
    cats = [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER)) + ["overall"]

    def count(c: str, key: str) -> int:
        tables = [
            _summary(r)["overall"] if c == "overall" else _summary(r)["per_category"].get(c, {})
            for r in results.values()
        ]
        return max((t.get(key, 0) for t in tables), default=0)

    def label(c: str) -> str:
        t, e = count(c, "tasks"), count(c, "episodes")
        return f"{c.replace('_', ' ')}\n{t} task{'s' * (t != 1)}" + (f"\n{e} episodes" if e != t else "")

    width = 0.8 / max(len(names), 1)
    x = np.arange(len(cats), dtype=float)
    x[-1] += 0.5  # set "overall" apart
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(7.5, 1.15 * len(cats) * max(1.0, len(names) / 3) + 1.5), 4.4))
        for k, name in enumerate(names):
            s = _summary(results[name])
            cis = [
                s["overall"].get(metric) if c == "overall" else s["per_category"].get(c, {}).get(metric) for c in cats
            ]
            vals = np.array([_err(ci) for ci in cis])
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar(
                pos,
                np.nan_to_num(vals[:, 0]),
                width,
                yerr=np.where(np.isnan(vals[:, :1]), np.nan, vals[:, 1:]).T,
                capsize=2.5,
                label=name,
                color=f"C{k}",
                error_kw={"elinewidth": 1, "ecolor": "0.25"},
            )
            for p, v in zip(pos, vals[:, 0]):  # a bar of height 0 is invisible: say so
                if v == 0:
                    ax.text(p, 0.01, "0", ha="center", va="bottom", fontsize=8, color=f"C{k}", fontweight="bold")
        ax.axvline(x[-1] - 0.75, color="0.6", lw=0.8, ls=":")
        ax.set_xticks(x, [label(c) for c in cats])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"{metric} (evaluator)")
        ax.set_xlabel("task category (distinct tasks and episodes per agent; CIs resample tasks)")
        ax.set_title(f"Per-category {metric}: mean and 95% bootstrap CI")
        ax.legend(title="agent", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _save(fig, path)


def plot_expert_rewards(results: Mapping[str, Any], path: str | Path, experts: Sequence[str] | None = None) -> Path:
    """Top: mean critic reward per call of each expert (95% CI). Bottom: calls per agent."""
    names = list(results)
    if experts is None:
        order: list[str] = []
        for r in results.values():
            cfg = r.config if hasattr(r, "config") else r.get("config", {})
            order += [e for e in cfg.get("experts", []) if e not in order]
        used = {e for r in results.values() for e in _summary(r)["experts"]}
        experts = [e for e in order if e in used] + sorted(used - set(order))
    experts = list(experts)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(experts), dtype=float)
    with plt.rc_context(STYLE):
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(max(7.0, 0.75 * len(experts) + 2), 6.2),
            sharex=True,
            gridspec_kw={"height_ratios": [3, 2], "hspace": 0.12},
        )
        for k, name in enumerate(names):
            stats = _summary(results[name])["experts"]
            vals = np.array([_err(stats.get(e, {}).get("mean_reward")) for e in experts])
            calls = np.array([stats.get(e, {}).get("calls", 0) for e in experts])
            pos = x - 0.4 + width * (k + 0.5)
            top.bar(
                pos,
                np.nan_to_num(vals[:, 0]),
                width,
                yerr=np.where(np.isnan(vals[:, :1]), np.nan, vals[:, 1:]).T,
                capsize=2,
                color=f"C{k}",
                label=name,
                error_kw={"elinewidth": 1, "ecolor": "0.25"},
            )
            bottom.bar(pos, calls, width, color=f"C{k}", label=name)
        top.axhline(0, color="0.3", lw=0.8)
        top.set_ylabel("mean reward per call")
        top.set_title("Critic reward per expert call (mean, 95% bootstrap CI) and number of calls")
        top.legend(title="agent", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        bottom.set_ylabel("calls")
        bottom.set_xticks(x, experts, rotation=35, ha="right")
        bottom.set_xlabel("expert")
        return _save(fig, path)


# ---------------------------------------------------------------------------------- training


def read_csv(path: str | Path) -> dict[str, np.ndarray]:
    """A CSV as ``{column: float array}``; empty or non-numeric cells are nan."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = list(rows[0].keys()) if rows else []
    if not rows:
        with open(path, newline="") as f:
            cols = next(csv.reader(f), [])

    def num(v: Any) -> float:
        try:
            return float(v)
        except (TypeError, ValueError):
            return math.nan

    return {c: np.array([num(r.get(c)) for r in rows], dtype=float) for c in cols if c is not None}


def rolling_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing rolling mean; the first ``window - 1`` points average what there is so far."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0 or window <= 1:
        return v.copy()
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _find(log_dir: Path, name: str) -> Path | None:
    if (log_dir / name).is_file():
        return log_dir / name
    found = sorted(log_dir.rglob(name), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _column(data: dict[str, np.ndarray], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in data), None)


def _series(data: dict[str, np.ndarray] | None, x: str, ys: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted (x, y) points of the first column of ``ys`` present, nan rows dropped; None if none."""
    if data is None or x not in data:
        return None
    y = _column(data, ys)
    if y is None:
        return None
    keep = ~(np.isnan(data[x]) | np.isnan(data[y]))
    if not keep.any():
        return None
    order = np.argsort(data[x][keep], kind="stable")
    return data[x][keep][order], data[y][keep][order]


#: Each panel: title, y label, and its sources (file, x column, y column aliases, label, kind):
#: "line" sources are drawn raw and smoothed, "markers" (periodic greedy evaluations) as points.
PANELS: tuple[tuple[str, str, tuple[tuple[str, str, tuple[str, ...], str, str], ...]], ...] = (
    ("Training loss", "loss", (("progress", "time/total_timesteps", ("train/loss",), "train/loss", "line"),)),
    (
        "Episode return (critic reward)",
        "return",
        (
            ("episodes", "timesteps", ("reward", "return"), "training episodes", "line"),
            ("progress", "time/total_timesteps", ("rollout/ep_rew_mean",), "rollout/ep_rew_mean", "markers"),
            ("progress", "time/total_timesteps", ("eval/return",), "greedy eval", "markers"),
        ),
    ),
    (
        "Evaluator alignment",
        "alignment",
        (
            ("episodes", "timesteps", ("alignment",), "training episodes", "line"),
            ("progress", "time/total_timesteps", ("eval/alignment",), "greedy eval", "markers"),
        ),
    ),
    (
        "Expert cost per episode",
        "cost",
        (
            ("episodes", "timesteps", ("cost",), "training episodes", "line"),
            ("progress", "time/total_timesteps", ("eval/cost",), "greedy eval", "markers"),
        ),
    ),
)


def plot_training(log_dir: str | Path, path: str | Path, window: int | None = None) -> Path:
    """Training curves of a run folder (searched recursively for the two CSV files)."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise FileNotFoundError(f"training log folder {log_dir} does not exist")
    notes: list[str] = []
    files = {"progress": _find(log_dir, "progress.csv"), "episodes": _find(log_dir, "episodes.csv")}
    data: dict[str, dict[str, np.ndarray] | None] = {}
    for key, f in files.items():
        cols = PROGRESS_COLUMNS if key == "progress" else EPISODE_COLUMNS
        if f is None:
            what = "SB3's CSV logger" if key == "progress" else "the DQN agent's episode callback"
            notes.append(f"no {key}.csv under {log_dir} (written by {what}; columns {', '.join(cols)})")
            data[key] = None
            continue
        data[key] = read_csv(f)
        wanted = [("reward", "return")] if key == "episodes" else []
        wanted += [(c,) for c in cols if c not in ("reward", "steps")]
        missing = [a[0] for a in wanted if _column(data[key], a) is None]
        if missing:
            notes.append(
                f"{f} has no column {', '.join(repr(m) for m in missing)} (columns: {', '.join(data[key]) or 'none'})"
            )
    panels = []
    for title, ylabel, sources in PANELS:
        got = [
            (label, kind, xy) for key, x, ys, label, kind in sources if (xy := _series(data[key], x, ys)) is not None
        ]
        if title.startswith("Episode return") and any(k == "line" for _, k, _ in got):
            got = [g for g in got if g[0] != "rollout/ep_rew_mean"]  # the same numbers, averaged by SB3
        panels.append((title, ylabel, got))
    if not any(got for *_, got in panels):
        raise FileNotFoundError(
            "nothing to plot in " + str(log_dir) + ": " + ("; ".join(notes) or "the CSV files have no rows")
        )
    for n in notes:
        warnings.warn(f"training plot: {n}", UserWarning, stacklevel=2)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
        for ax, (title, ylabel, got) in zip(axes.flat, panels):
            ax.set_title(title)
            ax.set_xlabel("timesteps")
            ax.set_ylabel(ylabel)
            if not got:
                ax.text(
                    0.5,
                    0.5,
                    "no data\n(see the warnings)",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="0.45",
                )
                continue
            for k, (label, kind, (xs, ys)) in enumerate(got):
                if kind == "markers":
                    ax.plot(xs, ys, "o-", color=f"C{k + 1}", ms=4, lw=1.2, label=label)
                    continue
                w = window or max(1, len(ys) // 20)
                smooth = rolling_mean(ys, w)
                if len(ys) <= RAW_POINTS:
                    ax.plot(xs, ys, color=f"C{k}", alpha=0.25, lw=0.8, label=f"{label} (raw)")
                else:  # thousands of raw points are a smear: show their spread as a band
                    spread = np.sqrt(np.maximum(rolling_mean(ys**2, w) - smooth**2, 0.0))
                    # The smoothed curves vary slowly: a few hundred points draw them as well.
                    i = np.unique(np.linspace(0, len(ys) - 1, RAW_POINTS).round().astype(int))
                    xs, smooth, spread = xs[i], smooth[i], spread[i]
                    ax.fill_between(
                        xs,
                        smooth - spread,
                        smooth + spread,
                        color=f"C{k}",
                        alpha=0.18,
                        lw=0,
                        label=f"{label} (rolling mean \u00b1 std)",
                    )
                ax.plot(xs, smooth, color=f"C{k}", lw=2, label=f"rolling mean of {w}")
                if ylabel == "loss" and np.all(ys > 0) and ys.max() / max(ys.min(), 1e-12) > 100:
                    ax.set_yscale("log")
            ax.legend(frameon=False, loc="best")
        fig.suptitle(f"Training curves: {log_dir.resolve().name}", fontsize=13)
        fig.tight_layout()
        return _save(fig, path)
