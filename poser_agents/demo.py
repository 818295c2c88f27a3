"""The main job (``poser demo``): run the synthetic world end to end and write a report.

What it runs grows with the project. Today: the world check (pixel critic against ground
truth, per style, and its speed), a gallery of long-form scenes with the critic's verdicts,
the calibration of every baseline on test tasks, and PNG strips of a few episodes. Everything
lands in ``--out`` (default ``runs/demo``): ``report.md``, ``world_check.json``,
``calibration.json``, ``gallery.png`` and ``episodes/*.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from poser_env.world import vocab
from poser_env.world.checks import checks_for, score
from poser_env.world.detect import detect
from poser_env.world.render import render
from poser_env.world.sampling import sample_longform


def _gallery(path: Path, seed: int, per_style: int = 3, canvas: int = 128) -> list[str]:
    """A grid of scenes (one row per style) captioned with the critic's score; returns lines."""
    rng = np.random.default_rng(seed)
    cap = 14
    sheet = Image.new("RGB", (per_style * canvas, len(vocab.STYLES) * (canvas + cap)), "white")
    draw = ImageDraw.Draw(sheet)
    lines = []
    for row, style in enumerate(vocab.STYLES):
        for col in range(per_style):
            target, scene = sample_longform(rng)
            scene = scene.replace(style=style)
            target = replace(target, style=style)
            image = render(scene, canvas)
            checks = checks_for(target)
            critic, c_score = score(checks, detect(image))
            truth, t_score = score(checks, scene)
            x, y = col * canvas, row * (canvas + cap)
            sheet.paste(Image.fromarray(image), (x, y + cap))
            draw.text((x + 2, y + 1), f"{style}: critic {c_score:.2f} truth {t_score:.2f}", fill="black")
            if col == 0:
                lines.append(f"- **{style}**: " + "; ".join(
                    f"{c.question} critic={'yes' if a else 'no'} truth={'yes' if b else 'no'}"
                    for c, a, b in zip(checks, critic, truth)
                ))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return lines


def _strips(out: Path, episodes: int, seed: int) -> list[str]:
    """Record a few test episodes with the heuristic and the oracle as PNG strips."""
    import gymnasium as gym

    from poser_agents.baselines import make_baseline
    from poser_agents.rollout import pick_tasks
    from poser_env.wrappers import EpisodeRecorder

    lines = []
    env = EpisodeRecorder(gym.make("ImagePoser-v0", split="test"))
    # The richest tasks make the most telling strips: long-form and editing first.
    pool = pick_tasks(env, 60)
    chosen = [t for suite in ("longform", "editing", "geneval") for t in pool if t.suite == suite][:: 20][:episodes]
    for i, task in enumerate(chosen):
        for name in ("heuristic", "oracle"):
            agent = make_baseline(name, env, seed=seed)
            obs, info = env.reset(seed=seed + i, options={"task": task})
            done = False
            while not done:
                action, _ = agent.predict(obs)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            metrics = info["episode_summary"]["evaluator"]
            path = env.save(out / "episodes" / f"{task.id}-{name}.png", metrics)
            lines.append(f"- `{path.relative_to(out)}`: {name} on {task.id} ({task.category}), alignment {metrics['alignment']:.2f}, cost {info['episode_summary']['cost']:.1f}")
    return lines


def run_demo(out: Path, quick: bool = False, seed: int = 0) -> int:
    from poser_agents.calibrate import calibrate, format_table
    from poser_env.world.agreement import format_report, world_check

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scenes = 40 if quick else 500
    print(f"[1/4] world check: {scenes} scenes per style ...", flush=True)
    result = world_check(scenes_per_style=scenes, seed=seed)
    (out / "world_check.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    table = format_report(result)
    print(table)
    print("[2/4] gallery of long-form scenes with the critic's verdicts ...", flush=True)
    lines = _gallery(out / "gallery.png", seed)
    episodes = 12 if quick else 60
    print(f"[3/4] calibration: every baseline on {episodes} test tasks of ImagePoser-v0 ...", flush=True)
    calib = calibrate(split="test", episodes=episodes, seed=seed)
    (out / "calibration.json").write_text(json.dumps(calib, indent=2, sort_keys=True) + "\n")
    calib_table = format_table(calib)
    print(calib_table)
    print("[4/4] episode strips (heuristic and oracle on the same test tasks) ...", flush=True)
    strips = _strips(out, 1 if quick else 3, seed)
    report = [
        "# ImagePoser demo report",
        "",
        "## The pixel critic against the ground truth (`poser world check`)",
        "",
        "```",
        table,
        "```",
        "",
        f"## The testbed's scale: baselines on {episodes} test tasks (`poser calibrate`)",
        "",
        "Alignment and accuracy are judged by the ground-truth evaluator, not by the critic.",
        "",
        calib_table,
        "",
        "## Episodes, step by step",
        "",
        *strips,
        "",
        "## Gallery",
        "",
        "![gallery](gallery.png)",
        "",
        "First scene of each row, check by check:",
        "",
        *lines,
        "",
        f"Finished in {time.perf_counter() - t0:.1f} s.",
    ]
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"\nReport: {out / 'report.md'}\nEpisode strips: {out / 'episodes'}\nGallery: {out / 'gallery.png'}")
    return 0
