"""Where an ImagePoser env step's CPU time goes: per-component process CPU time (docs/performance.md).

Each component's calls are timed with ``time.process_time`` around them (no profiler: cProfile
inflates Python-heavy code), over random allowed actions after a warm-up. Nested rows are part
of the row above them; detection and parse sit at the first level because the critic, the
extractor and the experts share them (a reading is computed where it is first needed, later
ones come from caches), so each is also part of the rows that call it. The wrappers cost about
a microsecond per call, so the shares are a little high for components called often; compare
shares of the same script across commits.

    python tools/profile_env.py                       # ImagePoser-v0, 3,000 steps after 300
    python tools/profile_env.py --env ImagePoser-Edit-v0 --steps 2000 --json

Run it with ``PYTHONPATH`` set to the checkout to measure (the env is imported from there).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

#: (label, depth, module, attribute path): the functions timed, looked up by the name their
#: callers use (a function imported by name into another module is patched there).
COMPONENTS: list[tuple[str, int, str, str]] = [
    ("step", 0, "poser_env.env", "ImagePoserEnv.step"),
    ("reset", 0, "poser_env.env", "ImagePoserEnv.reset"),
    ("critic (critique)", 1, "poser_env.env", "ImagePoserEnv._critique"),
    ("detection (critic and extraction)", 1, "poser_env.world.detect", "analyse"),
    ("experts", 1, "poser_env.env", "call_expert"),
    ("render", 2, "poser_env.world.render", "_render"),
    ("parse (experts and extraction)", 1, "poser_env.world.parse", "_read"),
    ("observation", 1, "poser_env.env", "ImagePoserEnv._observation"),
    ("extraction", 1, "poser_env.env", "ImagePoserEnv._extract"),
    ("info", 1, "poser_env.env", "ImagePoserEnv._info"),
    ("summary", 1, "poser_env.env", "ImagePoserEnv._summary"),
]


def _instrument(totals: dict[str, float], counts: dict[str, int]) -> list[tuple[Any, str, Any]]:
    """Wrap each component's function; returns (owner, name, original) to put back."""
    import importlib

    undo = []
    for label, _, module, path in COMPONENTS:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        fn = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)

        def timed(*args: Any, _fn: Callable[..., Any] = fn, _label: str = label, **kwargs: Any) -> Any:
            t = time.process_time()
            try:
                return _fn(*args, **kwargs)
            finally:
                totals[_label] += time.process_time() - t
                counts[_label] += 1

        undo.append((owner, name, fn))
        setattr(owner, name, timed)
    return undo


def profile(env_id: str, steps: int, warmup: int, seed: int) -> dict[str, Any]:
    """Per-component CPU seconds and shares over ``steps`` random steps after ``warmup``."""
    import gymnasium as gym
    import numpy as np

    import poser_env  # noqa: F401 - registers the ids

    totals = {c[0]: 0.0 for c in COMPONENTS}
    counts = {c[0]: 0 for c in COMPONENTS}
    undo = _instrument(totals, counts)
    try:
        env = gym.make(env_id)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)

        def run(n: int) -> None:
            nonlocal obs
            for _ in range(n):
                obs, _, terminated, truncated, _ = env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
                if terminated or truncated:
                    obs, _ = env.reset()

        run(warmup)
        for k in totals:
            totals[k], counts[k] = 0.0, 0
        t = time.process_time()
        run(steps)
        cpu = time.process_time() - t
        env.close()
    finally:
        for owner, name, fn in reversed(undo):
            setattr(owner, name, fn)
    return {
        "env": env_id,
        "steps": steps,
        "cpu_s": cpu,
        "steps_per_cpu_s": steps / cpu,
        "components": {
            label: {"cpu_s": totals[label], "share": totals[label] / cpu, "calls": counts[label], "depth": depth}
            for label, depth, _, _ in COMPONENTS
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="ImagePoser-v0")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    r = profile(a.env, a.steps, a.warmup, a.seed)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"{r['env']}: {r['steps_per_cpu_s']:.0f} steps per CPU-second ({r['steps']} steps, {r['cpu_s']:.2f} CPU-s)")
    for label, c in r["components"].items():
        name = "  " * c["depth"] + label
        per = 1e3 * c["cpu_s"] / max(1, c["calls"])
        print(f"{name:<36} {100 * c['share']:5.1f} %  {c['calls']:6d} calls  {per:6.3f} ms/call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
