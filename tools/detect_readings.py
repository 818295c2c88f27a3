"""The pixel detector's readings and speed against another checkout's (docs/performance.md).

Collects canvases that reach ``detect.analyse``: seeded random play of ``ImagePoser-v0``,
``-Edit-v0``, ``-Gen-v0``, ``-Hard-v0`` and a 64-px canvas, then world-check scenes of every
style (noise and speckles included) at 64, 128 and 256 px. Each reading is hashed (the
``DetectedScene`` and the per-object features that ``world_check.fit_prototypes`` reads);
``--against`` loads that checkout's ``poser_env/world/detect.py`` beside this one's, reports
whether every reading is identical, and times both on every canvas, image by image in
alternating order, in process CPU time (a loaded machine slows both alike).

    PYTHONPATH=$PWD python tools/detect_readings.py --against /path/to/older/checkout

Run it from the newer checkout: the older ``detect.py`` is loaded by path and imports the rest
of ``poser_env`` from this one (which must still provide what it imports).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import time
from types import ModuleType
from typing import Any

import numpy as np

#: (env id, options, random steps) played with seed 7; canvases are collected once each.
PLAY = [
    ("ImagePoser-v0", {}, 1500),
    ("ImagePoser-Edit-v0", {}, 600),
    ("ImagePoser-Gen-v0", {}, 600),
    ("ImagePoser-v0", {"canvas_size": 64}, 400),
    ("ImagePoser-Hard-v0", {}, 600),
]
#: (canvas, scenes per style) of world-check scenes, drawn with seed 11.
SCENES = [(128, 150), (64, 40), (256, 20)]


def collect() -> list[np.ndarray]:
    """The canvases, in a fixed order (the same on every checkout whose episodes agree)."""
    import gymnasium as gym

    import poser_env  # noqa: F401 - registers the ids
    import poser_env.world.detect as D
    from poser_env.world import vocab
    from poser_env.world.render import render
    from poser_env.world.world_check import _draw

    seen: dict[bytes, np.ndarray] = {}
    original = D.analyse

    def keep(img: np.ndarray, debug: bool = False) -> Any:
        seen.setdefault(img.tobytes() + str(img.shape).encode(), img.copy())
        return original(img, debug)

    D.analyse = keep  # type: ignore[assignment]
    try:
        for env_id, options, steps in PLAY:
            env = gym.make(env_id, **options)
            rng = np.random.default_rng(7)
            obs, _ = env.reset(seed=7)
            for _ in range(steps):
                obs, _, terminated, truncated, _ = env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
                if terminated or truncated:
                    obs, _ = env.reset()
            env.close()
    finally:
        D.analyse = original
    images = list(seen.values())
    rng = np.random.default_rng(11)
    for canvas, n in SCENES:
        for style in vocab.STYLES:
            for _ in range(n):
                images.append(render(_draw(rng, style)[1], canvas))
    return images


def reading_digest(module: ModuleType, img: np.ndarray) -> str:
    """sha256 of one reading: the scene's repr and each object's debug features."""
    scene, objs = module.analyse(img, debug=True)
    feats = [
        [o["k"], o["ci"], o["area"], repr(o["my"]), repr(o["mx"]), [repr(float(f)) for f in o["feat"]]]
        + [o.get("template"), o.get("shape"), [[s.start, s.stop] for s in o["sl"]]]
        for o in objs
    ]
    return hashlib.sha256((repr(scene) + json.dumps(feats)).encode()).hexdigest()


def compare(images: list[np.ndarray], against: str, passes: int) -> dict[str, Any]:
    """Readings identical? And CPU time per image of each detector, ``passes`` times."""
    import poser_env.world.detect as this

    spec = importlib.util.spec_from_file_location("detect_against", f"{against}/poser_env/world/detect.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no poser_env/world/detect.py under {against}")
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    differ = sum(reading_digest(this, img) != reading_digest(other, img) for img in images)
    clock = time.process_time_ns
    rows = []
    for p in range(passes):
        t_this = t_other = 0
        for i, img in enumerate(images):
            first, second = (this, other) if (i + p) % 2 else (other, this)
            a = clock()
            first.analyse(img)
            b = clock()
            second.analyse(img)
            c = clock()
            t_this += (b - a) if first is this else (c - b)
            t_other += (c - b) if first is this else (b - a)
        rows.append({"this_us": t_this / len(images) / 1e3, "against_us": t_other / len(images) / 1e3})
    ratios = sorted(r["this_us"] / r["against_us"] for r in rows)
    return {"images": len(images), "readings_differ": differ, "passes": rows, "median_ratio": ratios[len(ratios) // 2]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="root of the other checkout (its poser_env/world/detect.py)")
    ap.add_argument("--passes", type=int, default=5)
    a = ap.parse_args(argv)
    images = collect()
    r = compare(images, a.against, a.passes)
    print(json.dumps(r, indent=1))
    return 0 if r["readings_differ"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
