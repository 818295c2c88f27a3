"""``poser benchmark aggregate``: rliable's aggregates of complete runs, per level and algorithm.

Per level, each algorithm's complete runs give one normalised test score each (a matrix of
``runs x 1`` for rliable; "all levels" is ``runs x levels`` when an algorithm has the same
number of complete runs on every level). rliable computes the interquartile mean (IQM), median,
mean and optimality gap (to 1 = the oracle) with stratified bootstrap confidence intervals,
and the probability of improvement between every two algorithms of a level. With ``plots``,
it also draws performance profiles (final test scores) and sample-efficiency curves (IQM of
the val curve, each algorithm at the steps every run of it evaluated).

Partial runs (killed or still running) are never averaged: they are listed under ``partial``.
A complete run whose score is undefined (every task degenerate: oracle == random) is listed
under ``unscored``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from poser_agents.benchmark.algos import settings_of
from poser_agents.benchmark.schema import FINAL_SPLITS, RESULT_FILE, read_run
from poser_agents.common.figures import save_figure

AGGREGATES: tuple[str, ...] = ("iqm", "median", "mean", "optimality_gap")
#: The protocol fields that decide which tasks, reset seeds and cost weight a final score is
#: measured on: runs of one level that differ in one are not scored on the same footing.
SCORE_PROTOCOL: tuple[str, ...] = ("test_episodes", "eval_seeds", "text_encoder", "cost_weight")
SCORES: tuple[str, ...] = ("norm_accuracy", "norm_alignment", "norm_accuracy_cost_aware", "norm_alignment_cost_aware")
ALL_LEVELS = "all"


def collect(dirs: Sequence[str | Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``result.json`` under ``dirs``, validated (one bad file stops with its name and field).

    A file reached twice (a folder given twice, or inside another one given) is read once; two
    files of one run (level, algorithm, steps, seed: a copied run folder) are refused with both
    paths, since counting both would make one seed look like two."""
    runs: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()
    ident: dict[tuple[str, str, int, int], Path] = {}
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            what = "is a file, not a folder" if d.exists() else "does not exist"
            raise FileNotFoundError(f"{d} {what}: give folders written by `poser benchmark run --out`")
        found = sorted(p for p in d.rglob(RESULT_FILE) if p.relative_to(d).parts[0] != "references")
        if not found:
            raise ValueError(f"no {RESULT_FILE} under {d}: not a `poser benchmark run` output folder")
        for p in found:
            if p.resolve() in seen:
                continue
            seen.add(p.resolve())
            run = read_run(p)
            key = (run["env_id"], run["algo"], int(run["steps"]), int(run["seed"]))
            if key in ident:
                raise ValueError(
                    f"{ident[key]} and {p} are the same run ({run['env_id']}, {run['algo']}, {run['steps']} steps, "
                    f"seed {run['seed']}): counting both would count one seed twice; give the folders of one of them"
                )
            ident[key] = p
            runs.append((p, run))
    return runs


def entry_labels(runs: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int], str]:
    """The entry each run is aggregated under, by (level, algorithm, steps): the algorithm's
    name, or ``ALGO@STEPS`` when that algorithm has runs at several budgets on the level. A
    1M-step run must never be averaged with 100k-step ones, and comparing budgets is a
    question of its own (``P(ppo@1000000 > ppo@100000)``)."""
    budgets: dict[tuple[str, str], set[int]] = defaultdict(set)
    for run in runs:
        budgets[(run["env_id"], run["algo"])].add(int(run["steps"]))
    return {
        (env, algo, steps): algo if len(found) == 1 else f"{algo}@{steps}"
        for (env, algo), found in budgets.items()
        for steps in found
    }


def _aggregate_fn():
    from rliable import metrics

    return lambda x: np.array(
        [
            metrics.aggregate_iqm(x),
            metrics.aggregate_median(x),
            metrics.aggregate_mean(x),
            metrics.aggregate_optimality_gap(x),
        ]
    )


def _interval_estimates(score_dict: dict, func: Any, reps: int, seed: int) -> tuple[dict, dict]:
    """rliable's stratified bootstrap, seeded per entry (rliable hands arch a RandomState, which
    arch 7 flags with a FutureWarning that says nothing to our users: silenced here only).

    rliable draws every entry of one call from one RandomState in turn, so an entry's CI would
    depend on the entries before it: adding your algorithm to the published folders would move
    the published algorithms' CIs. Each entry (an algorithm, or a pair for the probability of
    improvement) is bootstrapped alone from ``seed``: its CI depends only on its own scores,
    ``reps`` and ``seed``."""
    import warnings

    from rliable import library

    points: dict = {}
    intervals: dict = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message="random_state is deprecated")
        for key, scores in score_dict.items():
            with _global_numpy_seeded(seed):
                p, i = library.get_interval_estimates(
                    {key: scores}, func, reps=reps, random_state=np.random.RandomState(seed)
                )
            points[key], intervals[key] = p[key], i[key]
    return points, intervals


@contextmanager
def _global_numpy_seeded(seed: int) -> Iterator[None]:
    """numpy's global generator seeded with ``seed`` for the block and put back after. Part of
    rliable's bootstrap draws from it (measured: the probability of improvement's CI moved with
    ``np.random.seed``; the performance profiles take no generator at all), so the same files and
    seed give the same figures and plots whatever ran before in the process."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _estimates(score_dict: dict[str, np.ndarray], reps: int, seed: int) -> dict[str, dict[str, Any]]:
    points, intervals = _interval_estimates(score_dict, _aggregate_fn(), reps, seed)
    out = {}
    for algo, scores in score_dict.items():
        entry: dict[str, Any] = {"n_runs": int(scores.shape[0])}
        for k, name in enumerate(AGGREGATES):
            entry[name] = float(points[algo][k])
            entry[f"{name}_ci"] = [float(intervals[algo][0][k]), float(intervals[algo][1][k])]
        out[algo] = entry
    return out


def _budget_order(name: str) -> tuple[str, int]:
    """Sort key: the algorithm's name, then its budget (``ALGO@STEPS``) from longest to shortest."""
    algo, _, steps = name.partition("@")
    return algo, -int(steps) if steps.isdigit() else 0


def _improvement(score_dict: dict[str, np.ndarray], reps: int, seed: int) -> list[dict[str, Any]]:
    from rliable import metrics

    # Pairs in name order, and one algorithm's budgets longest first, so that a budget
    # comparison reads P(ppo@1000000 > ppo@100000): does training longer help.
    order = sorted(score_dict, key=_budget_order)
    pairs = {f"{a},{b}": (score_dict[a], score_dict[b]) for a, b in combinations(order, 2)}
    if not pairs:
        return []
    points, intervals = _interval_estimates(
        pairs, lambda x, y: np.array([metrics.probability_of_improvement(x, y)]), reps, seed
    )
    return [
        {
            "x": k.split(",")[0],
            "y": k.split(",")[1],
            "p_x_better": float(points[k][0]),
            "ci": [float(intervals[k][0][0]), float(intervals[k][1][0])],
        }
        for k in pairs
    ]


def aggregate(
    dirs: Sequence[str | Path],
    score: str = "norm_accuracy",
    reps: int = 2000,
    seed: int = 0,
    plots: str | Path | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """The aggregate object printed by ``--json`` (see docs/benchmark.md, "Aggregate").
    ``split="gen"`` or ``"gen_forms"`` aggregates a generalisation split's scores (levels that
    have one; a run without that key is listed as unscored)."""
    if split not in FINAL_SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(FINAL_SPLITS)}")
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; allowed: {', '.join(SCORES)}")
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 10:
        raise ValueError(f"reps must be an int >= 10, got {reps!r}")
    runs = collect(dirs)
    labels = entry_labels(run for _, run in runs)
    label = lambda run: labels[(run["env_id"], run["algo"], int(run["steps"]))]  # noqa: E731
    partial, unscored = [], []
    protocols: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    learners: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    final: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    curves: dict[str, dict[str, list[dict[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for path, run in runs:
        ident = {"path": str(path.parent), "env_id": run["env_id"], "algo": run["algo"], "seed": run["seed"]}
        if run["status"] != "complete":
            partial.append(ident | {"steps_done": run["steps_done"], "steps": run["steps"]})
            continue
        if run.get(split) is None:
            unscored.append(ident | {"entry": label(run), "reason": f"no {split} evaluation in this run"})
            continue
        value = run[split].get(score)
        if value is None:
            unscored.append(ident | {"entry": label(run), "reason": f"every {split} task has oracle == random"})
            continue
        final[run["env_id"]][label(run)].append(float(value))
        setting = {k: run["protocol"].get(k) for k in SCORE_PROTOCOL}
        protocols[run["env_id"]][json.dumps(setting, sort_keys=True)][label(run)] += 1
        learners[run["env_id"]][label(run)][json.dumps(settings_of(run), sort_keys=True)].append(run["seed"])
        curves[run["env_id"]][label(run)].append(
            {p["step"]: p[score] for p in run["curve"] if p.get(score) is not None}
        )
    levels: dict[str, dict[str, Any]] = {}
    improvement: dict[str, list[dict[str, Any]]] = {}
    for level in sorted(final):
        score_dict = {algo: np.asarray(v, dtype=float).reshape(-1, 1) for algo, v in sorted(final[level].items())}
        levels[level] = _estimates(score_dict, reps, seed)
        improvement[level] = _improvement(score_dict, reps, seed)
    if len(final) > 1:
        algos = set.intersection(*(set(v) for v in final.values()))
        counts = {a: {len(final[lv][a]) for lv in final} for a in algos}
        matched = {
            a: np.column_stack([final[lv][a] for lv in sorted(final)]) for a in sorted(algos) if len(counts[a]) == 1
        }
        if matched:
            levels[ALL_LEVELS] = _estimates(matched, reps, seed)
    result = {
        "score": score,
        "split": split,
        "reps": reps,
        "levels": levels,
        "probability_of_improvement": improvement,
        "partial": partial,
        "unscored": unscored,
        # Levels whose scored runs were measured on different tasks or settings (a newcomer's
        # --test-episodes 200 beside runs published with 100): averaged and compared all the
        # same, so said here, per setting with the runs under it.
        "protocol_mismatch": {
            level: [{"protocol": json.loads(k), "runs": dict(sorted(v.items()))} for k, v in sorted(groups.items())]
            for level, groups in sorted(protocols.items())
            if len(groups) > 1
        },
        # Runs of one entry whose learners were built otherwise (a recurrent_ppo run of the
        # 256-unit LSTMs beside one of today's): averaged all the same, so said here.
        "settings_mismatch": {
            level: {
                entry: [{"settings": json.loads(k), "seeds": sorted(v)} for k, v in sorted(groups.items())]
                for entry, groups in sorted(entries.items())
                if len(groups) > 1
            }
            for level, entries in sorted(learners.items())
            if any(len(g) > 1 for g in entries.values())
        },
        "runs": len(runs),
    }
    if plots is not None:
        result["plots"] = _plots(Path(plots), final, curves, score, reps, seed)
    return result


def curve_estimates(
    curves: dict[str, list[dict[int, float]]], reps: int, seed: int
) -> dict[str, tuple[list[int], np.ndarray, np.ndarray]]:
    """Per algorithm of one level: the steps every run of it evaluated at, the IQM of the val
    score there and its stratified bootstrap CI (``2 x steps``). Algorithms keep their own steps:
    runs with another ``--eval-every`` or budget are drawn where they were measured."""
    from rliable import metrics

    out = {}
    for algo, runs in sorted(curves.items()):
        common = sorted(set.intersection(*(set(r) for r in runs))) if runs else []
        if not common:
            continue
        arr = np.array([[[r[s] for s in common]] for r in runs], dtype=float)  # runs x 1 x steps
        p, i = _interval_estimates(
            {algo: arr},
            lambda x: np.array([metrics.aggregate_iqm(x[..., t]) for t in range(x.shape[-1])]),
            reps,
            seed,
        )
        out[algo] = (common, p[algo], i[algo])
    return out


def performance_profiles(
    score_dict: dict[str, np.ndarray], taus: np.ndarray, reps: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's performance profiles (fraction of runs scoring above each ``tau``) with their
    bootstrap CIs, seeded: ``score_dict`` maps an algorithm to its (runs x 1) scores."""
    from rliable import library

    with _global_numpy_seeded(seed):
        return library.create_performance_profile(score_dict, taus, reps=reps)


def _plots(folder: Path, final: dict, curves: dict, score: str, reps: int, seed: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for level in sorted(final):
        score_dict = {a: np.asarray(v, dtype=float).reshape(-1, 1) for a, v in sorted(final[level].items())}
        hi = max(1.0, max(float(s.max()) for s in score_dict.values()))
        taus = np.linspace(min(0.0, min(float(s.min()) for s in score_dict.values())), hi, 41)
        profiles, cis = performance_profiles(score_dict, taus, reps, seed)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        plot_utils.plot_performance_profiles(
            profiles,
            taus,
            performance_profile_cis=cis,
            ax=ax,
            xlabel=f"{score} (tau)",
            ylabel="fraction of runs with score > tau",
        )
        ax.set_title(f"{level}: performance profile")
        ax.legend(fontsize="small")
        path = folder / f"{level}-profile.png"
        save_figure(fig, path, dpi=110, bbox_inches="tight")
        written.append(str(path))
        # Sample efficiency: each algorithm at the steps every run of it evaluated at.
        drawn = curve_estimates(curves[level], reps, seed)
        if drawn:
            fig, ax = plt.subplots(figsize=(7, 4.5))
            colors = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(drawn)}
            # One call per algorithm: rliable draws the algorithms of one call on one x array, and
            # the steps they share can be step 0 alone (a newcomer's short run beside 100k-step ones).
            for algo, (steps, point, interval) in drawn.items():
                plot_utils.plot_sample_efficiency_curve(
                    np.array(steps),
                    {algo: point},
                    {algo: interval},
                    algorithms=[algo],
                    colors=colors,
                    xlabel="env steps",
                    ylabel=f"IQM of val {score}",
                    ax=ax,
                    labelsize="large",
                    ticklabelsize="large",
                )
            ax.set_title(f"{level}: sample efficiency (val)")
            ax.legend(fontsize="small")
            path = folder / f"{level}-curve.png"
            save_figure(fig, path, dpi=110, bbox_inches="tight")
            written.append(str(path))
    return written


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"score: {result['score']} on {result['split']} (rliable, {result['reps']} bootstrap reps, 95% CIs)",
        "",
        "| level | algorithm | runs | IQM [95% CI] | median | mean | optimality gap |",
        "|---|---|---|---|---|---|---|",
    ]
    for level, algos in result["levels"].items():
        for algo, e in algos.items():
            lines.append(
                f"| {level} | {algo} | {e['n_runs']} | {e['iqm']:.3f} [{e['iqm_ci'][0]:.3f}, {e['iqm_ci'][1]:.3f}] | "
                f"{e['median']:.3f} | {e['mean']:.3f} | {e['optimality_gap']:.3f} |"
            )
    for level, pairs in result["probability_of_improvement"].items():
        for p in pairs:
            lines.append(
                f"{level}: P({p['x']} > {p['y']}) = {p['p_x_better']:.3f} [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]"
            )
    for level, groups in result.get("protocol_mismatch", {}).items():
        lines.append(mismatch_line(level, groups))
    for level, entries in result.get("settings_mismatch", {}).items():
        lines.extend(settings_line(level, entry, groups) for entry, groups in entries.items())
    for p in result["partial"]:
        lines.append(
            f"PARTIAL (not averaged): {p['env_id']} {p['algo']} seed {p['seed']} stopped at {p['steps_done']} of {p['steps']} steps ({p['path']})"
        )
    # Runs without an evaluation on this split (every run of a level with no gen split, under
    # --split gen): one line per level, not one per run; other reasons stay one line per run.
    missing = f"no {result['split']} evaluation in this run"
    by_level: dict[str, list[str]] = defaultdict(list)
    for p in result["unscored"]:
        if p["reason"] == missing:
            by_level[p["env_id"]].append(f"{p['entry']} seed {p['seed']}")
        else:
            lines.append(f"UNSCORED (not averaged): {p['env_id']} {p['entry']} seed {p['seed']}: {p['reason']}")
    for level, which in by_level.items():
        n = f"{len(which)} runs" if len(which) > 1 else "1 run"
        lines.append(f"UNSCORED (not averaged): {level}: no {result['split']} evaluation in {n} ({', '.join(which)})")
    return "\n".join(lines)


def mismatch_line(level: str, groups: list[dict[str, Any]]) -> str:
    """One line for a level whose runs were scored under different protocol settings."""
    parts = []
    for g in groups:
        setting = ", ".join(f"{k}={v}" for k, v in g["protocol"].items())
        runs = ", ".join(f"{a} x{n}" for a, n in g["runs"].items())
        parts.append(f"[{setting}: {runs}]")
    return (
        f"WARNING {level}: runs scored under different protocol settings, on different tasks or seeds, so their "
        f"scores are not comparable: {' '.join(parts)}; rerun with the same --test-episodes, --eval-seeds and "
        "--text-encoder (the published runs' are in docs/benchmark.md)"
    )


def settings_line(level: str, entry: str, groups: list[dict[str, Any]]) -> str:
    """One line for an entry whose runs' learners were built with different settings: per
    group, the settings that differ between the groups that record them (all of them where one
    group alone does), or the note of a group that does not."""
    dicts = [g["settings"] for g in groups if isinstance(g["settings"], dict)]
    keys = {k for d in dicts for k in d if len(dicts) == 1 or len({json.dumps(e.get(k)) for e in dicts}) > 1}
    parts = []
    for g in groups:
        st = g["settings"]
        shown = ", ".join(f"{k}={st.get(k)!r}" for k in sorted(keys)) if isinstance(st, dict) else str(st)
        parts.append(f"[{shown or '{}'}: seeds {', '.join(map(str, g['seeds']))}]")
    return (
        f"WARNING {level} {entry}: runs whose learners were built with different settings are averaged "
        f"together: {' '.join(parts)}; aggregate them from separate folders, or rerun the odd ones with this code"
    )
