"""Test alignment against images rendered in training, for both reward sources.

Images are the scarce resource once the experts are real models, so this measures what each
reward source buys per image (``python -m poser_agents.grpo.experiments images``):

- **ensemble**: the whole recipe (phase 1, the phase-1 samples logged for the reward models,
  the reward ensemble, GRPO against it) trained on nested subsets of one collected logged-data
  file: the first N images' worth of it, whole tasks at a time in one fixed random task order
  (the same for every size and seed, so a smaller subset is a prefix of a larger one). The
  phase-1 samples are scaled with the subset: ``policy_sample_tasks`` times the subset's train
  tasks over ``CollectConfig.train_tasks`` (with the whole default file that is 321, not the
  recipe's 300: the oracle's train tasks are picked over the whole split, so the file holds
  642 train tasks); they render images and are counted.
- **env**: phase 1 on a subset, then GRPO against the env, evaluated at checkpoints while its
  rendered-image count grows. The reward models are not fitted, so no phase-1 samples are
  rendered for them.

Images are counted as the pipeline counts them (:class:`~poser_agents.grpo.pipeline.Recipe`,
``images_rendered_training`` = collection, the oracle's search branches included, + phase 2):
each point's ``images`` is its subset's logged images + the phase-1 samples it executed + its
phase-2 images. Every point is evaluated with the protocol of ``experiments main``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from poser_agents.common.figures import save_figure
from poser_agents.grpo.context import PlanContext
from poser_agents.grpo.data import context_of
from poser_agents.grpo.pipeline import PipelineConfig, Recipe, pooled_ci

#: Fractions of the logged data's images the ensemble curve is measured at (1.0: the whole file).
FRACTIONS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
#: Fractions the env curves start from (phase 1 on that subset, then GRPO against the env).
ENV_STARTS = (1 / 32, 1.0)
#: Phase-2 steps after which an env run is evaluated (0: phase 1 before any env step).
ENV_CHECKPOINTS = (0, 2, 5, 10, 20, 35, 50)
#: Where phase 2 draws its prompts from (see :func:`run_images`).
GRPO_PROMPTS = ("all", "subset")
#: Test alignments whose first crossing is reported.
THRESHOLDS = (0.90, 0.93, 0.945)


def task_order(records: Sequence[dict[str, Any]], seed: int = 0) -> list[tuple[str, str]]:
    """Every ``(split, task_id)`` of the file in one random order (``seed``), train and val mixed
    so each prefix keeps about the file's share of val tasks and of oracle tasks."""
    keys = sorted({(r["split"], r["task_id"]) for r in records})
    return [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]


def nested_subset(
    records: Sequence[dict[str, Any]], order: Sequence[tuple[str, str]], max_images: float
) -> list[dict[str, Any]]:
    """All records of the longest prefix of ``order`` whose logged images are at most ``max_images``
    (whole tasks: a task's random, heuristic and oracle records stay together), in file order."""
    per_task: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["split"], r["task_id"])
        per_task[key] = per_task.get(key, 0) + r["images_rendered"]
    kept: set[tuple[str, str]] = set()
    total = 0
    for key in order:
        if total + per_task[key] > max_images:
            break
        kept.add(key)
        total += per_task[key]
    return [r for r in records if (r["split"], r["task_id"]) in kept]


def _counts(subset: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {
        "logged_images": sum(r["images_rendered"] for r in subset),
        "logged_records": len(subset),
        "train_tasks": len({r["task_id"] for r in subset if r["split"] == "train"}),
        "val_tasks": len({r["task_id"] for r in subset if r["split"] == "val"}),
    }


def _check(subset: Sequence[dict[str, Any]], fraction: float) -> None:
    c = _counts(subset)
    if c["train_tasks"] < 2 or c["val_tasks"] < 1:
        raise ValueError(
            f"the {fraction:g} subset holds {c['train_tasks']} train and {c['val_tasks']} val tasks; the recipe needs "
            "at least 2 train tasks and 1 val task: use larger fractions or a larger logged-data file"
        )


def ensemble_point(
    config: PipelineConfig,
    records: list[dict[str, Any]],
    fraction: float,
    log: Callable[[str], None],
    prompts: Sequence[PlanContext] | None = None,
) -> dict[str, Any]:
    """The recipe with the ensemble reward on ``records`` (one subset): its evaluation and images.
    ``prompts``: phase 2's prompts (None: the subset's train tasks)."""
    _check(records, fraction)
    counts = _counts(records)
    cfg = replace(
        config,
        policy_sample_tasks=max(
            3, round(config.policy_sample_tasks * counts["train_tasks"] / config.collect.train_tasks)
        ),
    )
    r = Recipe(cfg, log)
    r.use_records(records)
    if prompts is not None:
        r.contexts = list(prompts)
    ref = r.phase1(records)
    ens, cal, extra = r.reward_models(records, ref, None)
    policy, trainer = r.phase2(ref, ens, "ensemble")
    ev = r.evaluate(policy, ref, 1.0)[cfg.suite]
    samples = sum(x["images_rendered"] for x in extra)
    return {
        "fraction": fraction,
        **counts,
        "policy_sample_images": samples,
        "phase2_images": trainer.images_rendered,
        "images": counts["logged_images"] + samples + trainer.images_rendered,
        "reward_model_spearman": cal["spearman_aggregate_evaluator"],
        "eval": ev,
    }


def env_curve(
    config: PipelineConfig,
    records: list[dict[str, Any]],
    fraction: float,
    checkpoints: Sequence[int],
    log: Callable[[str], None],
    prompts: Sequence[PlanContext] | None = None,
) -> list[dict[str, Any]]:
    """Phase 1 on ``records``, then GRPO against the env for ``max(checkpoints)`` steps, evaluated
    after each checkpoint step (0: phase 1); one point per checkpoint. ``prompts``: as
    :func:`ensemble_point`'s."""
    _check(records, fraction)
    counts = _counts(records)
    cfg = replace(config, grpo=replace(config.grpo, max_steps=max(max(checkpoints), 1)))
    r = Recipe(cfg, log)
    r.use_records(records)
    if prompts is not None:
        r.contexts = list(prompts)
    ref = r.phase1(records)
    points: list[dict[str, Any]] = []

    def point(step: int, policy: Any, phase2_images: int) -> None:
        ev = r.evaluate(policy, ref if step else None, 1.0)[cfg.suite]
        points.append(
            {
                "fraction": fraction,
                **counts,
                "step": step,
                "phase2_images": phase2_images,
                "images": counts["logged_images"] + phase2_images,
                "eval": ev,
            }
        )
        log(
            f"  env curve from {fraction:g}: step {step}, {points[-1]['images']} images, alignment {ev['alignment']:.3f}"
        )

    def after_step(step: int, trainer: Any) -> None:
        if step in checkpoints:
            point(step, trainer.policy, trainer.images_rendered)

    if 0 in checkpoints:
        point(0, ref, 0)
    r.phase2(ref, None, "env", after_step=after_step)
    return points


def run_images(
    config: PipelineConfig,
    records: list[dict[str, Any]],
    seeds: Sequence[int],
    fractions: Sequence[float] = FRACTIONS,
    env_starts: Sequence[float] = ENV_STARTS,
    checkpoints: Sequence[int] = ENV_CHECKPOINTS,
    log: Callable[[str], None] = print,
    save: Callable[[dict[str, Any]], None] | None = None,
    grpo_prompts: str = "all",
) -> dict[str, Any]:
    """Both curves for every seed on nested subsets of ``records``; ``save`` gets the summary after
    each seed (so a stopped run keeps the seeds it finished). ``grpo_prompts``: ``all`` (phase 2
    draws from every train prompt of the file: a prompt is text, it renders no image) or ``subset``
    (only the subset's train tasks, as ``poser train grpo`` on that subset would)."""
    if grpo_prompts not in GRPO_PROMPTS:
        raise ValueError(f"grpo_prompts must be one of {GRPO_PROMPTS}, got {grpo_prompts!r}")
    prompts = (
        list({r["task_id"]: context_of(r) for r in records if r["split"] == "train"}.values())
        if grpo_prompts == "all"
        else None
    )
    order = task_order(records)
    total = sum(r["images_rendered"] for r in records)
    subsets = {f: nested_subset(records, order, f * total) for f in sorted({*fractions, *env_starts})}
    runs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for seed in seeds:
        cfg = replace(config, seed=seed, sft=replace(config.sft, seed=seed))
        run: dict[str, Any] = {"seed": seed, "ensemble": [], "env": {}}
        for f in fractions:
            log(f"seed {seed}: ensemble on {f:g} of the logged data")
            run["ensemble"].append(ensemble_point(cfg, subsets[f], f, log, prompts))
        for f in env_starts:
            log(f"seed {seed}: env reward from {f:g} of the logged data")
            run["env"][f"{f:g}"] = env_curve(cfg, subsets[f], f, checkpoints, log, prompts)
        runs.append(run)
        summary = {**summarize(runs, total, len(records), config), "grpo_prompts": grpo_prompts}
        if save is not None:
            save(summary)
    return summary


def _pool(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seeds' evaluations of one point pooled (cluster bootstrap over tasks) and their mean images."""
    first = points[0]
    keep = ("fraction", "step", "logged_images", "logged_records", "train_tasks", "val_tasks")
    return {
        **{k: first[k] for k in keep if k in first},
        "images": float(np.mean([p["images"] for p in points])),
        "images_per_seed": [p["images"] for p in points],
        "phase2_images": [p["phase2_images"] for p in points],
        "policy_sample_images": [p.get("policy_sample_images", 0) for p in points],
        "alignment": pooled_ci([p["eval"] for p in points]),
        "accuracy": float(np.mean([p["eval"]["accuracy"] for p in points])),
        "reward_model_spearman": [p["reward_model_spearman"] for p in points if "reward_model_spearman" in p],
    }


def first_crossing(curve: Sequence[dict[str, Any]], threshold: float) -> float | None:
    """Images of the first point (fewest images) whose mean alignment is at least ``threshold``."""
    for p in sorted(curve, key=lambda p: p["images"]):
        if p["alignment"]["mean"] >= threshold:
            return float(p["images"])
    return None


def summarize(
    runs: Sequence[dict[str, Any]], total_images: int, total_records: int, config: PipelineConfig
) -> dict[str, Any]:
    """Pooled curves, threshold crossings and where the ensemble leads env reward at equal images."""
    n_points = len(runs[0]["ensemble"])
    ensemble = [_pool([run["ensemble"][i] for run in runs]) for i in range(n_points)]
    env = {
        start: [_pool([run["env"][start][i] for run in runs]) for i in range(len(pts))]
        for start, pts in runs[0]["env"].items()
    }
    all_env = [p for pts in env.values() for p in pts]
    comparison = []
    for p in ensemble:
        rivals = [q for q in all_env if q["images"] <= p["images"]]
        best = max(rivals, key=lambda q: q["alignment"]["mean"]) if rivals else None
        comparison.append(
            {
                "fraction": p["fraction"],
                "ensemble_images": p["images"],
                "ensemble_alignment": p["alignment"]["mean"],
                "env_best_alignment": best["alignment"]["mean"] if best else None,
                "env_best_images": best["images"] if best else None,
                "env_best_start": best["fraction"] if best else None,
                "leads": None if best is None else p["alignment"]["mean"] > best["alignment"]["mean"],
                "intervals_apart": None if best is None else p["alignment"]["ci_low"] > best["alignment"]["ci_high"],
            }
        )
    smallest = None
    for c in sorted(comparison, key=lambda c: -c["fraction"]):
        if not c["leads"]:
            break
        smallest = c
    return {
        "seeds": [run["seed"] for run in runs],
        "episodes": config.eval_episodes,
        "logged_images_total": total_images,
        "logged_records_total": total_records,
        "config": config.to_dict(),
        "ensemble": ensemble,
        "env": env,
        "thresholds": {
            f"{t:g}": {
                "ensemble": first_crossing(ensemble, t),
                **{f"env from {start}": first_crossing(pts, t) for start, pts in env.items()},
            }
            for t in THRESHOLDS
        },
        "comparison": comparison,
        "smallest_leading": smallest,
    }


def _part(fraction: float | str) -> str:
    """A logged-data fraction as people write it: ``1/32``, ``1/4``, ``all``."""
    f = Fraction(float(fraction)).limit_denominator(1024)
    return "all" if f == 1 else str(f)


def _ci(a: dict[str, Any]) -> str:
    return f"{a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"


def _curve(name: str) -> str:
    return f"env from {_part(name[9:])}" if name.startswith("env from ") else name


def _images(x: float | None) -> str:
    return "not reached" if x is None else f"{x:,.0f}"


def format_tables(result: dict[str, Any], crossings: bool = True) -> str:
    """The Markdown tables of docs/performance.md's images curve, from ``images_curve.json``;
    ``crossings=False`` leaves out the bars' table (for a grid that only adds points to another)."""
    seeds = ", ".join(str(s) for s in result["seeds"])
    lines = [
        f"Ensemble reward: the recipe on the first part of the logged data ({result['logged_images_total']:,} "
        f"images, {result['logged_records_total']:,} records in all); seeds {seeds}, {result['episodes']} test tasks:",
        "",
        "| logged fraction | train / val tasks | logged images | + phase-1 samples | images in training | test alignment [95% CI] | per seed | reward Spearman (val) |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for p in result["ensemble"]:
        lines.append(
            f"| {_part(p['fraction'])} | {p['train_tasks']} / {p['val_tasks']} | {p['logged_images']:,} "
            f"| {np.mean(p['policy_sample_images']):,.0f} | {p['images']:,.0f} | {_ci(p['alignment'])} "
            f"| {', '.join(f'{x:.3f}' for x in p['alignment']['per_seed'])} "
            f"| {', '.join(f'{x:.2f}' for x in p['reward_model_spearman'])} |"
        )
    if result["env"]:
        lines += _env_tables(result)
    else:
        lines += ["", "(No env-reward runs: `--env-starts` was empty.)"]
    curves = list(next(iter(result["thresholds"].values()))) if crossings else []
    lines += (
        []
        if not crossings
        else [
            "",
            "Images in training at the first measured point whose mean test alignment reaches the bar:",
            "",
            "| bar | " + " | ".join(_curve(c) for c in curves) + " |",
            "|---|" + "---:|" * len(curves),
        ]
    )
    for bar, row in result["thresholds"].items() if crossings else ():
        lines.append(f"| {float(bar):.3f} | " + " | ".join(_images(row[c]) for c in curves) + " |")
    if result["env"]:
        lines += _comparison_table(result)
    return "\n".join(lines) + "\n"


def _env_tables(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Env reward: phase 1 on the first part of the logged data, then GRPO against the env, evaluated at steps:",
        "",
        "| starts from | phase-2 step | logged images | + phase-2 images | images in training | test alignment [95% CI] | per seed |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for start, pts in result["env"].items():
        for p in pts:
            lines.append(
                f"| {_part(start)} | {p['step']} | {p['logged_images']:,} | {np.mean(p['phase2_images']):,.0f} "
                f"| {p['images']:,.0f} | {_ci(p['alignment'])} | {', '.join(f'{x:.3f}' for x in p['alignment']['per_seed'])} |"
            )
    return lines


def _comparison_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Ensemble against the best env-reward point that used at most as many images:",
        "",
        "| logged fraction | ensemble: images, alignment | best env point: starts from, images, alignment | ensemble leads | intervals apart |",
        "|---|---|---|---|---|",
    ]
    yes = {True: "yes", False: "no", None: "-"}
    for c in result["comparison"]:
        env = (
            "no env point with so few images"
            if c["env_best_images"] is None
            else f"{_part(c['env_best_start'])}, {c['env_best_images']:,.0f}, {c['env_best_alignment']:.3f}"
        )
        lines.append(
            f"| {_part(c['fraction'])} | {c['ensemble_images']:,.0f}, {c['ensemble_alignment']:.3f} | {env} "
            f"| {yes[c['leads']]} | {yes[c['intervals_apart']]} |"
        )
    return lines


def figure(result: dict[str, Any], path: str | Path) -> Path:
    """Test alignment against images in training: the ensemble curve and one env curve per start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    curves = {"ensemble reward (logged subsets)": result["ensemble"]}
    curves |= {f"env reward from {_part(start)} of the logged data": pts for start, pts in result["env"].items()}
    for label, pts in curves.items():
        x = [p["images"] for p in pts]
        y = [p["alignment"]["mean"] for p in pts]
        lo = [p["alignment"]["ci_low"] for p in pts]
        hi = [p["alignment"]["ci_high"] for p in pts]
        ax.plot(x, y, marker="o", label=label)
        ax.fill_between(x, lo, hi, alpha=0.15)
    for bar in THRESHOLDS:
        ax.axhline(bar, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("images rendered in training (logged data + phase-1 samples + phase 2)")
    ax.set_ylabel("test alignment (sampled workflows)")
    ax.set_title(f"GRPO: test alignment against training images (seeds {', '.join(map(str, result['seeds']))})")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
