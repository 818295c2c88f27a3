"""The measurements of docs/grpo.md, written to ``docs/results/grpo/*.json``.

``python -m poser_agents.grpo.experiments main --seeds 0,1,2``: phase 1, GRPO-ensemble (with the
guidance sweep) and GRPO-env on the mixed suite, per seed, on one logged-data file (collected
once, seed 0); test alignment with cluster-bootstrap CIs over tasks and seeds, images,
diversity and novelty.
``... sft``: score-conditioned vs best-only phase 1 on the same data.
``... transfer``: trained on long-form, evaluated on editing (and the reverse), beside in-suite.
``... ablations``: GRPO-ensemble variants (pessimism, beta, loss_type, scale_rewards, clipping).
``... images``: test alignment against images rendered in training, ensemble vs env reward, on
nested subsets of the logged data (:mod:`.images_curve`; ``docs/results/grpo/images_curve.json``).
``... report``: the Markdown tables from those JSON files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from poser_agents.grpo.pipeline import PipelineConfig, Recipe, pooled_ci, quick_config, without_per_episode
from poser_agents.grpo.sft import SFTConfig

WS = (1.0, 1.5, 2.0, 3.0)


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    _log(f"wrote {path}")


def run_main(seeds: Sequence[int], out: Path, work: Path, episodes: int) -> dict[str, Any]:
    data = work / "data_mixed.jsonl"
    per_seed = []
    for seed in seeds:
        cfg = PipelineConfig(seed=seed, eval_episodes=episodes)
        r = Recipe(cfg, _log)
        records = r.data(data if data.exists() else None, work if not data.exists() else None)
        if not data.exists():
            (work / "data.jsonl").rename(data)
        ref = r.phase1(records)
        ens, cal, extra = r.reward_models(records, ref, out if seed == seeds[0] else None)
        row: dict[str, Any] = {
            "seed": seed,
            "images_collection_logged": sum(x["images_rendered"] for x in records),
            "images_collection_policy_samples": sum(x["images_rendered"] for x in extra),
            "reward_calibration": {k: v for k, v in cal.items() if k != "_arrays"},
        }
        row["phase1"] = r.evaluate(ref)
        pol_e, tr_e = r.phase2(ref, ens, "ensemble")
        row["grpo_ensemble"] = {str(w): r.evaluate(pol_e, ref, w) for w in WS}
        row["images_phase2_ensemble"] = tr_e.images_rendered
        row["history_ensemble"] = tr_e.history
        pol_v, tr_v = r.phase2(ref, None, "env")
        row["grpo_env"] = r.evaluate(pol_v, ref, 1.0)
        row["images_phase2_env"] = tr_v.images_rendered
        row["history_env"] = tr_v.history
        per_seed.append(row)
        _write(
            out / f"main_seed{seed}.json",
            {
                **row,
                "phase1": without_per_episode(row["phase1"]),
                "grpo_env": without_per_episode(row["grpo_env"]),
                "grpo_ensemble": {w: without_per_episode(v) for w, v in row["grpo_ensemble"].items()},
            },
        )
    s = "mixed"
    summary = {
        "seeds": list(seeds),
        "episodes": episodes,
        "data": str(data),
        "config": PipelineConfig().to_dict(),
        "reward_model_spearman": [p["reward_calibration"]["spearman_aggregate_evaluator"] for p in per_seed],
        "phase1": _agg([p["phase1"][s] for p in per_seed]),
        "grpo_ensemble": {str(w): _agg([p["grpo_ensemble"][str(w)][s] for p in per_seed]) for w in WS},
        "grpo_env": _agg([p["grpo_env"][s] for p in per_seed]),
        "images": {
            "collection_logged": per_seed[0]["images_collection_logged"],
            "collection_policy_samples": [p["images_collection_policy_samples"] for p in per_seed],
            "phase2_ensemble": [p["images_phase2_ensemble"] for p in per_seed],
            "phase2_env": [p["images_phase2_env"] for p in per_seed],
        },
    }
    _write(out / "main.json", summary)
    return summary


def _agg(evals: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "alignment": pooled_ci(evals),
        "accuracy_per_seed": [e["accuracy"] for e in evals],
        "images_eval_per_seed": [e["images_rendered"] for e in evals],
        "distinct_workflows": [e["distinct_workflows"] for e in evals],
        "novel_fraction": [e["novel_fraction"] for e in evals],
        "episodes": evals[0]["episodes"],
        "distinct_first_choices": [e.get("distinct_first_choices") for e in evals],
        "novel_first_choice_fraction": [e.get("novel_first_choice_fraction") for e in evals],
        "per_suite_note": "mixed test split: GenEval-like, long-form and editing tasks spread evenly",
    }


def run_sft(seed: int, out: Path, work: Path, episodes: int) -> dict[str, Any]:
    data = work / "data_mixed.jsonl"
    rows = {}
    for mode in ("score", "best"):
        cfg = PipelineConfig(seed=seed, eval_episodes=episodes, sft=SFTConfig(mode=mode, seed=seed))
        r = Recipe(cfg, _log)
        records = r.data(data, None)
        policy = r.phase1(records)
        ev = r.evaluate(policy)["mixed"]
        rows[mode] = {k: v for k, v in ev.items() if k not in ("per_episode_alignment", "task_ids")}
    _write(out / "sft_modes.json", {"seed": seed, "data": str(data), "modes": rows})
    return rows


def run_best_start(seeds: Sequence[int], out: Path, work: Path, episodes: int) -> dict[str, Any]:
    """GRPO-ensemble started from the best-only phase-1 policy instead of the score-conditioned
    one (the default), everything else as in ``main``: does the better start carry through?"""
    data = work / "data_mixed.jsonl"
    rows: dict[str, list[dict[str, Any]]] = {"phase1": [], "grpo_ensemble": []}
    images = []
    for seed in seeds:
        cfg = PipelineConfig(seed=seed, eval_episodes=episodes, sft=SFTConfig(mode="best", seed=seed))
        r = Recipe(cfg, _log)
        records = r.data(data if data.exists() else None, None if data.exists() else work)
        if not data.exists():
            (work / "data.jsonl").rename(data)
        ref = r.phase1(records)
        ens, _, _ = r.reward_models(records, ref, None)
        pol, tr = r.phase2(ref, ens, "ensemble")
        rows["phase1"].append(r.evaluate(ref)["mixed"])
        rows["grpo_ensemble"].append(r.evaluate(pol, ref, 1.0)["mixed"])
        images.append(tr.images_rendered)
    result = {
        "seeds": list(seeds),
        "episodes": episodes,
        "images_phase2": images,
        "rows": {k: pooled_ci(v) for k, v in rows.items()},
    }
    _write(out / "best_start.json", result)
    return result


def run_transfer(seed: int, out: Path, work: Path, episodes: int) -> dict[str, Any]:
    rows = {}
    for train_suite in ("longform", "editing"):
        cfg = PipelineConfig(suite=train_suite, eval_suites=("longform", "editing"), seed=seed, eval_episodes=episodes)
        cfg.collect = replace(cfg.collect, train_tasks=400, val_tasks=100, oracle_train_tasks=30, oracle_val_tasks=10)
        r = Recipe(cfg, _log)
        path = work / f"data_{train_suite}.jsonl"
        records = r.data(path if path.exists() else None, None if path.exists() else work)
        if not path.exists():
            (work / "data.jsonl").rename(path)
        ref = r.phase1(records)
        ens, cal, _ = r.reward_models(records, ref, None)
        pol, tr = r.phase2(ref, ens, "ensemble")
        rows[train_suite] = {
            "reward_model_spearman": cal["spearman_aggregate_evaluator"],
            "phase1": without_per_episode(r.evaluate(ref)),
            "grpo_ensemble": without_per_episode(r.evaluate(pol, ref, 1.0)),
            "images": dict(r.images),
            "images_phase2": tr.images_rendered,
        }
    _write(out / "transfer.json", {"seed": seed, "episodes": episodes, "rows": rows})
    return rows


ABLATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("defaults", {}),
    ("pessimism k=0", {"_k": 0.0}),
    ("pessimism k=2", {"_k": 2.0}),
    ("beta=0", {"beta": 0.0}),
    ("loss_type=dr_grpo", {"loss_type": "dr_grpo"}),
    ("loss_type=dapo", {"loss_type": "dapo"}),
    ("scale_rewards=batch", {"scale_rewards": "batch"}),
    ("scale_rewards=none", {"scale_rewards": "none"}),
    ("num_iterations=2, epsilon_high=0.28", {"num_iterations": 2, "epsilon_high": 0.28}),
)


def run_ablations(seed: int, out: Path, work: Path, episodes: int) -> dict[str, Any]:
    """GRPO-ensemble variants on one phase 1 and one ensemble: pessimism, KL, loss and scaling."""
    cfg = PipelineConfig(seed=seed, eval_episodes=episodes)
    r = Recipe(cfg, _log)
    records = r.data(work / "data_mixed.jsonl", None)
    ref = r.phase1(records)
    ens, _, _ = r.reward_models(records, ref, None)
    base = cfg.grpo
    rows = {}
    for name, change in ABLATIONS:
        change = dict(change)
        ens.config.pessimism = change.pop("_k", 1.0)
        r.config.grpo = replace(base, **change)
        pol, tr = r.phase2(ref, ens, "ensemble")
        ev = r.evaluate(pol, ref, 1.0)["mixed"]
        last = tr.history[-5:]
        rows[name] = {
            "alignment": ev["alignment"],
            "alignment_ci": ev["alignment_ci"],
            "accuracy": ev["accuracy"],
            "distinct_workflows": ev["distinct_workflows"],
            "novel_fraction": ev["novel_fraction"],
            "novel_first_choice_fraction": ev.get("novel_first_choice_fraction"),
            "train_reward_last5": _mean([h["reward_mean"] for h in last]),
            "kl_last5": _mean([h["kl"] for h in last]),
        }
    _write(out / "ablations.json", {"seed": seed, "episodes": episodes, "rows": rows})
    return rows


def run_images_curve(
    seeds: Sequence[int],
    out: Path,
    work: Path,
    episodes: int,
    fractions: Sequence[float],
    env_starts: Sequence[float],
    checkpoints: Sequence[int],
    quick: bool = False,
    grpo_prompts: str = "all",
    result_name: str | None = None,
) -> dict[str, Any]:
    """``images``: both curves on nested subsets of one logged-data file (``main``'s, collected
    once if missing; ``--quick``: a tiny file and run, for the test)."""
    from poser_agents.grpo.images_curve import run_images

    cfg = quick_config(eval_episodes=episodes) if quick else PipelineConfig(eval_episodes=episodes)
    data = work / ("data_quick.jsonl" if quick else "data_mixed.jsonl")
    r = Recipe(cfg, _log)
    records = r.data(data if data.exists() else None, None if data.exists() else work)
    if not data.exists():
        (work / "data.jsonl").rename(data)
    return run_images(
        cfg,
        records,
        seeds,
        fractions,
        env_starts,
        checkpoints,
        log=_log,
        save=lambda summary: _save_images(out / (result_name or IMAGES_FILES[grpo_prompts]), summary),
        grpo_prompts=grpo_prompts,
    )


def _save_images(path: Path, summary: dict[str, Any]) -> None:
    """The images curve's JSON and its figure (the same name, ``.png``)."""
    from poser_agents.grpo.images_curve import figure

    _write(path, summary)
    _log(f"wrote {figure(summary, path.with_suffix('.png'))}")


#: The images curve's result file per ``--grpo-prompts``.
IMAGES_FILES = {"all": "images_curve.json", "subset": "images_curve_subset_prompts.json"}


def _floats(text: str, name: str) -> list[float]:
    try:
        return [parse_fraction(x) for x in text.split(",") if x.strip()]
    except (ValueError, ZeroDivisionError):
        raise SystemExit(f"{name} must be comma-separated fractions such as 1/32,1/8,1; got {text!r}") from None


def parse_fraction(text: str) -> float:
    """``"1/32"`` or ``"0.25"`` as a float in (0, 1]."""
    num, _, den = text.strip().partition("/")
    value = float(num) / float(den) if den else float(num)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


def _ci(a: dict[str, Any]) -> str:
    return f"{a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"


def _fmt(xs: Sequence[float | None] | None, spec: str) -> str:
    vals = [x for x in (xs or []) if x is not None]
    return format(_mean(vals), spec) if vals else "-"


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def report(out: Path, work: Path) -> str:
    """The Markdown tables of docs/grpo.md, from the JSON files in ``out``."""
    lines = []
    m = json.loads((out / "main.json").read_text())
    im = m["images"]
    coll = im["collection_logged"] + _mean(im["collection_policy_samples"])
    lines += [
        f"Test split, mixed suite, {m['episodes']} tasks, seeds {m['seeds']} (mean, 95% cluster-bootstrap CI over tasks x seeds):",
        "",
        "| policy | test alignment | per seed | accuracy | images phase 2 | images training (collection + phase 2) | images eval | distinct workflows | novel | distinct first choices | novel first choices |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("phase 1", m["phase1"], 0)] + [
        (f"GRPO-ensemble, w={w}", m["grpo_ensemble"][w], _mean(im["phase2_ensemble"])) for w in m["grpo_ensemble"]
    ]
    rows.append(("GRPO-env, w=1.0", m["grpo_env"], _mean(im["phase2_env"])))
    for name, r, p2 in rows:
        lines.append(
            f"| {name} | {_ci(r['alignment'])} | {', '.join(f'{x:.3f}' for x in r['alignment']['per_seed'])} | {_mean(r['accuracy_per_seed']):.3f} "
            f"| {p2:,.0f} | {coll + p2:,.0f} | {_mean(r['images_eval_per_seed']):,.0f} | {_mean(r['distinct_workflows']):.0f} / {r['episodes']} "
            f"| {_mean(r['novel_fraction']):.2f} | {_fmt(r.get('distinct_first_choices'), '.0f')} | {_fmt(r.get('novel_first_choice_fraction'), '.2f')} |"
        )
    lines += [
        "",
        f"Reward-ensemble Spearman (aggregate vs evaluator, val): {', '.join(f'{x:.3f}' for x in m['reward_model_spearman'])}",
    ]
    if (out / "sft_modes.json").exists():
        s = json.loads((out / "sft_modes.json").read_text())
        lines += [
            "",
            "| phase 1 mode | test alignment [95% CI] | accuracy | distinct | novel | novel first choices |",
            "|---|---|---|---|---|---|",
        ]
        for mode, e in s["modes"].items():
            lines.append(
                f"| {mode} | {e['alignment']:.3f} [{e['alignment_ci'][0]:.3f}, {e['alignment_ci'][1]:.3f}] | {e['accuracy']:.3f} "
                f"| {e['distinct_workflows']} | {e['novel_fraction']:.2f} | {_fmt([e.get('novel_first_choice_fraction')], '.2f')} |"
            )
    if (out / "transfer.json").exists():
        t = json.loads((out / "transfer.json").read_text())
        lines += [
            "",
            "| trained on | policy | test longform | test editing | reward Spearman (val, own suite) |",
            "|---|---|---|---|---|",
        ]
        for suite, r in t["rows"].items():
            for pol in ("phase1", "grpo_ensemble"):
                cells = [
                    f"{r[pol][s]['alignment']:.3f} [{r[pol][s]['alignment_ci'][0]:.3f}, {r[pol][s]['alignment_ci'][1]:.3f}]"
                    for s in ("longform", "editing")
                ]
                lines.append(f"| {suite} | {pol} | {cells[0]} | {cells[1]} | {r['reward_model_spearman']:.3f} |")
    if (out / "ablations.json").exists():
        ab = json.loads((out / "ablations.json").read_text())
        lines += [
            "",
            "| GRPO-ensemble variant | test alignment [95% CI] | accuracy | ensemble reward (last 5 steps) | KL (last 5) | distinct | novel |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, e in ab["rows"].items():
            lines.append(
                f"| {name} | {e['alignment']:.3f} [{e['alignment_ci'][0]:.3f}, {e['alignment_ci'][1]:.3f}] | {e['accuracy']:.3f} "
                f"| {e['train_reward_last5']:.3f} | {e['kl_last5']:.3f} | {e['distinct_workflows']} | {e['novel_fraction']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m poser_agents.grpo.experiments", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["main", "sft", "best_start", "transfer", "ablations", "images", "report"])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--episodes", type=int, default=300, help="test tasks per evaluated suite")
    p.add_argument("--out", default="docs/results/grpo")
    p.add_argument("--work", default="runs/grpo_experiments", help="where logged-data files are kept and reused")
    p.add_argument("--fractions", default="1/32,1/16,1/8,1/4,1/2,1", help="images: logged-data fractions (ensemble)")
    p.add_argument(
        "--env-starts", default="1/32,1", help="images: logged-data fractions the env-reward runs start from"
    )
    p.add_argument("--env-checkpoints", default="0,2,5,10,20,35,50", help="images: phase-2 steps evaluated (env)")
    p.add_argument(
        "--grpo-prompts",
        choices=["all", "subset"],
        default="all",
        help="images: phase 2's prompts: every train prompt of the logged file (text, no image) or the subset's",
    )
    p.add_argument("--result", help="images: the result file's name under --out (default: by --grpo-prompts)")
    p.add_argument("--quick", action="store_true", help="images: a tiny logged-data file and run (a smoke test)")
    a = p.parse_args(argv)
    out, work = Path(a.out), Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.what == "main":
        run_main(seeds, out, work, a.episodes)
    elif a.what == "report":
        print(report(out, work))
    elif a.what == "images":
        if a.result is not None and (Path(a.result).name != a.result or not a.result.endswith(".json")):
            raise SystemExit(f"--result must be a file name ending in .json (written under --out), got {a.result!r}")
        try:
            checkpoints = [int(x) for x in a.env_checkpoints.split(",") if x.strip()]
        except ValueError:
            raise SystemExit(
                f"--env-checkpoints must be comma-separated step numbers; got {a.env_checkpoints!r}"
            ) from None
        result = run_images_curve(
            seeds,
            out,
            work,
            a.episodes,
            _floats(a.fractions, "--fractions"),
            _floats(a.env_starts, "--env-starts"),
            checkpoints,
            a.quick,
            a.grpo_prompts,
            a.result,
        )
        print(json.dumps({"thresholds": result["thresholds"], "smallest_leading": result["smallest_leading"]}))
    elif a.what == "ablations":
        run_ablations(seeds[0], out, work, a.episodes)
    elif a.what == "best_start":
        print(json.dumps(run_best_start(seeds, out, work, a.episodes)["rows"], default=str))
    elif a.what == "sft":
        run_sft(seeds[0], out, work, a.episodes)
    else:
        run_transfer(seeds[0], out, work, a.episodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
