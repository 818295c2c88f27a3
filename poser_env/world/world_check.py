"""The world check: how often the pixel critic agrees with the ground-truth evaluator.

The synthetic critic answers checks on ``detect(render(scene))``; the evaluator answers the
same checks on ``scene``. Everything the agent learns from the critic is only as good as that
agreement, so it is measured, per style, on scenes drawn like the long-form suite
(``sample_longform_target`` + ``realize``: 2 to 8 objects, 8 in half the scenes, 70% small,
relations held firmly, random backgrounds), noise on 40% and speckles on 40% of them, and
checks of both the true target and a perturbed one, so misses and false alarms both count.
``poser world check`` prints :func:`format_report` of :func:`world_check`.

:func:`fit_prototypes` re-measures the detector's per-style shape prototypes (the table in
``detect.py``); run it after changing how the renderer draws.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from poser_env.types import Check
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target, answer, checks_for, relation_check
from poser_env.world.detect import PROTOTYPES, analyse, colour_table, detect
from poser_env.world.layout import LayoutError
from poser_env.world.render import render
from poser_env.world.sampling import perturb_target, realize, sample_longform_target
from poser_env.world.scene import DEFAULT_CANVAS, Scene, check_canvas

#: Share of scenes given pixel noise, and its range (std as a fraction of 255). The lower end
#: stays above the detector's floor (about half a grey level), below which noise is invisible.
P_NOISE, NOISE_RANGE = 0.4, (0.01, 0.08)
#: Share of scenes given speckles, and their number.
P_SPECKLES, SPECKLE_RANGE = 0.4, (1, 12)
#: Share of targets that also ask for a clean image (the one check that reads artefacts).
P_CLEAN_CHECK = 0.5


def _draw(rng: np.random.Generator, style: str) -> tuple[Target, Scene]:
    """A long-form target forced to ``style`` and a scene realising it, with artefacts."""
    for _ in range(50):
        target = sample_longform_target(rng)
        try:
            scene = realize(target, rng)
            break
        except LayoutError:
            continue
    else:  # pragma: no cover - the sampler realises nearly every target
        raise LayoutError("no realisable long-form target in 50 attempts")
    target = replace(target, style=style if target.style else None, clean=bool(rng.random() < P_CLEAN_CHECK))
    noise = float(rng.uniform(*NOISE_RANGE)) if rng.random() < P_NOISE else 0.0
    speckles = int(rng.integers(SPECKLE_RANGE[0], SPECKLE_RANGE[1] + 1)) if rng.random() < P_SPECKLES else 0
    scene = scene.replace(style=style, noise=noise, speckles=speckles, artifact_seed=int(rng.integers(2**31 - 1)))
    return target, scene


def _free_relations(scene: Scene, rng: np.random.Generator, k: int = 2) -> list[Check]:
    """Relation checks between random pairs of uniquely described objects, not laid out to
    hold firmly: how the critic fares on marginal layouts (reported apart)."""
    names = Counter((o.shape, o.color) for o in scene.objects)
    unique = [o for o in scene.objects if names[(o.shape, o.color)] == 1]
    out = []
    for _ in range(k if len(unique) >= 2 else 0):
        i, j = rng.choice(len(unique), size=2, replace=False)
        a, b = unique[int(i)], unique[int(j)]
        rel = str(vocab.RELATIONS[int(rng.integers(len(vocab.RELATIONS)))])
        out.append(relation_check(Relation(ObjectGroup(a.shape, a.color), rel, ObjectGroup(b.shape, b.color))))
    return out


def world_check(scenes_per_style: int = 500, seed: int = 0, canvas: int = DEFAULT_CANVAS) -> dict[str, Any]:
    """Critic/evaluator agreement per style and category, and critiques per second.

    A critique is render + detect + answering the scene's checks (one process, timed with
    ``time.perf_counter``); drawing targets and scenes, and the detector's one-off lookup
    tables, are not timed (``render_detect_per_s`` leaves out the answering too). Returns a dict with
    ``agreement`` (style -> fraction), ``critiques_per_s``, ``canvas`` and extras:
    ``by_category`` (style -> category -> fraction), ``confusion`` (style -> counts of
    agreements and of misses / false alarms, the critic saying no / yes against the truth),
    ``free_relation_agreement`` (style -> fraction on non-firm relations, not in
    ``agreement``), ``checks`` and ``scenes`` (counts), and a few ``disagreements``.
    ``confusion[style]["true"]`` counts the checks that hold on the ground truth.
    """
    check_canvas(canvas)
    if isinstance(scenes_per_style, bool) or not isinstance(scenes_per_style, int) or scenes_per_style < 1:
        raise ValueError(f"scenes_per_style must be a positive int, got {scenes_per_style!r}")
    rng = np.random.default_rng(seed)
    agreement: dict[str, float] = {}
    by_category: dict[str, dict[str, float]] = {}
    confusion: dict[str, dict[str, int]] = {}
    free: dict[str, float] = {}
    n_checks: dict[str, int] = {}
    disagreements: list[dict[str, Any]] = []
    elapsed, pixels_time, critiques = 0.0, 0.0, 0
    for bg in range(len(vocab.BACKGROUNDS)):
        colour_table(bg)  # one-off per process (~50 ms each): not part of a critique
    for style in vocab.STYLES:
        cat_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        conf = Counter(agree=0, miss=0, false_alarm=0, true=0)
        free_hits = [0, 0]
        for _ in range(scenes_per_style):
            target, scene = _draw(rng, style)
            checks = list({c.key: c for c in checks_for(target) + checks_for(perturb_target(target, rng))}.values())
            extra = _free_relations(scene, rng)
            truth = [answer(c, scene) for c in checks + extra]
            t0 = time.perf_counter()
            seen = detect(render(scene, canvas))
            t1 = time.perf_counter()
            said = [answer(c, seen) for c in checks + extra]
            elapsed += time.perf_counter() - t0
            pixels_time += t1 - t0
            critiques += 1
            for c, t, s in zip(checks, truth, said):
                cat_hits[c.category][0] += t == s
                cat_hits[c.category][1] += 1
                conf["agree" if t == s else ("miss" if t else "false_alarm")] += 1
                conf["true"] += t
                if t != s and len(disagreements) < 20:
                    disagreements.append(
                        {"style": style, "question": c.question, "truth": t, "critic": s, "scene": scene.to_dict()}
                    )
            for t, s in zip(truth[len(checks) :], said[len(checks) :]):
                free_hits[0] += t == s
                free_hits[1] += 1
        total = sum(v[1] for v in cat_hits.values())
        agreement[style] = sum(v[0] for v in cat_hits.values()) / max(total, 1)
        by_category[style] = {k: v[0] / v[1] for k, v in sorted(cat_hits.items())}
        confusion[style] = dict(conf)
        free[style] = free_hits[0] / max(free_hits[1], 1)
        n_checks[style] = total
    return {
        "agreement": agreement,
        "critiques_per_s": critiques / elapsed if elapsed > 0 else float("inf"),
        "render_detect_per_s": critiques / pixels_time if pixels_time > 0 else float("inf"),
        "canvas": canvas,
        "seed": seed,
        "scenes": {s: scenes_per_style for s in vocab.STYLES},
        "checks": n_checks,
        "by_category": by_category,
        "confusion": confusion,
        "free_relation_agreement": free,
        "disagreements": disagreements,
    }


def format_report(result: dict[str, Any]) -> str:
    """A readable table of :func:`world_check`'s result."""
    styles = list(result["agreement"])
    cats = sorted({c for s in styles for c in result["by_category"][s]})
    lines = [
        f"World check: canvas {result['canvas']} px, {result['critiques_per_s']:.0f} critiques/s "
        f"(render + detect + answer; {result['render_detect_per_s']:.0f}/s render + detect), one process",
        "",
        f"{'style':<11} {'scenes':>6} {'checks':>7} {'true':>5} {'agree':>7} {'miss':>5} {'f.a.':>5} {'free rel':>8}",
    ]
    for s in styles:
        c, n = result["confusion"][s], result["checks"][s]
        lines.append(
            f"{s:<11} {result['scenes'][s]:>6} {n:>7} {c['true'] / max(n, 1):>5.0%} {result['agreement'][s]:>7.4f} "
            f"{c['miss']:>5} {c['false_alarm']:>5} {result['free_relation_agreement'][s]:>8.4f}"
        )
    lines += ["", "agreement by category:", f"{'category':<11} " + " ".join(f"{s:>10}" for s in styles)]
    for cat in cats:
        cells = [result["by_category"][s].get(cat) for s in styles]
        lines.append(f"{cat:<11} " + " ".join(f"{v:>10.4f}" if v is not None else f"{'-':>10}" for v in cells))
    lines += [
        "",
        "true: share of checks that hold on the ground truth (the others come from perturbed targets).",
        "miss: the critic said no where the truth is yes; f.a. (false alarm): the reverse.",
        "free rel: relations between random object pairs, not laid out to hold firmly (not in agree).",
    ]
    return "\n".join(lines)


def fit_prototypes(scenes_per_style: int = 300, seed: int = 7, canvas: int = DEFAULT_CANVAS) -> dict[str, np.ndarray]:
    """Re-measure ``detect.PROTOTYPES``: per style and shape, the mean and spread of the
    detector's shape features and the centroid offset, on detections matched to the truth."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for style in vocab.STYLES:
        rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        for _ in range(scenes_per_style):
            _, scene = _draw(rng, style)
            seen, objs = analyse(render(scene, canvas), debug=True)
            for o in scene.objects:
                dist = [abs(d.x - o.x) + abs(d.y - o.y) for d in seen.objects]
                if not dist or min(dist) > 0.03:
                    continue
                d = int(np.argmin(dist))
                half = max(o.half_extent) * canvas
                rows[o.shape].append(tuple(objs[d]["feat"]) + ((objs[d]["my"] - o.y * canvas) / half,))
        table = []
        for i, shape in enumerate(vocab.SHAPES):
            if len(rows[shape]) < 2:  # too few to measure: keep the stored row
                table.append(PROTOTYPES[style][i])
                continue
            a = np.array(rows[shape])
            sd = np.maximum(a[:, :3].std(0), [0.03, 0.02, 0.012])
            table.append(np.concatenate([a[:, :3].mean(0), sd, a[:, 3:].mean(0)]).round(3))
        out[style] = np.array(table)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m poser_env.world.world_check [--scenes N] [--seed S] [--canvas C] [--json]``."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m poser_env.world.world_check", description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=500, help="scenes per style (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--canvas", type=int, default=DEFAULT_CANVAS)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    result = world_check(args.scenes, args.seed, args.canvas)
    print(json.dumps(result, indent=1) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
