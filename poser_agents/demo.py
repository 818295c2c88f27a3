"""The main job (``poser demo``): run the synthetic world end to end and write a report.

What it runs grows with the project. Today: the world check (pixel critic against ground
truth, per style, and its speed) and a gallery of long-form scenes with the critic's verdicts.
Everything lands in ``--out`` (default ``runs/demo``): ``report.md``, ``world_check.json`` and
``gallery.png``.
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


def run_demo(out: Path, quick: bool = False, seed: int = 0) -> int:
    from poser_env.world.agreement import format_report, world_check

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scenes = 40 if quick else 500
    print(f"[1/2] world check: {scenes} scenes per style ...", flush=True)
    result = world_check(scenes_per_style=scenes, seed=seed)
    (out / "world_check.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    table = format_report(result)
    print(table)
    print("[2/2] gallery of long-form scenes with the critic's verdicts ...", flush=True)
    lines = _gallery(out / "gallery.png", seed)
    report = [
        "# ImagePoser demo report",
        "",
        "## The pixel critic against the ground truth (`poser world check`)",
        "",
        "```",
        table,
        "```",
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
    print(f"\nReport: {out / 'report.md'}\nGallery: {out / 'gallery.png'}\nJSON: {out / 'world_check.json'}")
    return 0
