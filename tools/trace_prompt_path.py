"""Count the project files one prompt's path touches: ``env.reset(seed=0)`` and one ``env.step``.

The restructuring (issue 11) aims to make that path shorter, and docs/architecture.md quotes the
figure; this script is how it is measured. Python's profiler hook (``sys.setprofile``) sees every
Python function call, module bodies included: a module first imported during ``reset`` counts (the
first ``reset`` loads the suite files), and the files where only a module body ran are listed
apart. A file counts when code in it runs. Only files of the project (``poser_env/``, ``poser_agents/``) are counted.

    python tools/trace_prompt_path.py                    # ImagePoser-v0, seed 0, first allowed action
    python tools/trace_prompt_path.py --env ImagePoser-Edit-v0 --json

The env is built before tracing (``gym.make``, whose imports are not part of a prompt's path); the
action is the first one the mask allows, so the figure does not depend on a policy. Two figures:
the first episode of a fresh env (its reset loads the suite files) and a later one (the same seed
again, caches warm): the path every episode but the first takes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("poser_env", "poser_agents")


def traced_files(fn: Callable[[], Any], root: Path = ROOT) -> tuple[Any, list[str], list[str]]:
    """Run ``fn``; return its result, the project files (relative paths, sorted) whose code ran, and
    those of them where only the module body ran (imported during ``fn``, no function called)."""
    prefixes = tuple(str(root / p) + "/" for p in PACKAGES)
    called: set[str] = set()
    imported: set[str] = set()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(prefixes):
                (imported if frame.f_code.co_name == "<module>" else called).add(name)

    sys.setprofile(hook)
    try:
        result = fn()
    finally:
        sys.setprofile(None)

    def rel(files: set[str]) -> list[str]:
        return sorted(str(Path(f).relative_to(root)) for f in files)

    return result, rel(called | imported), rel(imported - called)


def _episode(env: Any, seed: int) -> dict[str, Any]:
    import numpy as np

    (_, info), reset_files, reset_imports = traced_files(lambda: env.reset(seed=seed))
    action = int(np.flatnonzero(info["action_mask"])[0])
    _, step_files, step_imports = traced_files(lambda: env.step(action))
    both = sorted(set(reset_files) | set(step_files))
    return {
        "seed": seed,
        "action": action,
        "files": len(both),
        "reset_files": len(reset_files),
        "step_files": len(step_files),
        "reset": reset_files,
        "step": step_files,
        "reset_and_step": both,
        "only_imported": sorted(set(reset_imports) | set(step_imports)),
    }


def measure(env_id: str = "ImagePoser-v0", seed: int = 0) -> dict[str, Any]:
    """The files touched by ``reset(seed=seed)`` and one ``step``: on a fresh env (``first``, where the
    first reset loads the suite files and imports what that needs) and on a later episode
    (``later``: the same seed again after the first episode, caches warm)."""
    sys.path.insert(0, str(ROOT))
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)

    env = gym.make(env_id)
    try:
        first = _episode(env, seed)
        later = _episode(env, seed)
    finally:
        env.close()
    return {"env_id": env_id, "first": first, "later": later}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--env", default="ImagePoser-v0", help="registered env id (default: ImagePoser-v0)")
    ap.add_argument("--seed", type=int, default=0, help="reset seed (default: 0)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    r = measure(args.env, args.seed)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    for phase, title in (("first", "first episode of a fresh env"), ("later", "a later episode")):
        e = r[phase]
        print(
            f"{r['env_id']}, {title}: reset(seed={e['seed']}) and step({e['action']}) ran code in {e['files']} project "
            f"files ({e['reset_files']} in reset, {e['step_files']} in step; {len(e['only_imported'])} only imported)"
        )
        for f in e["reset_and_step"]:
            where = "+".join(p for p in ("reset", "step") if f in e[p])
            print(f"  {f}  [{where}{', only imported' if f in e['only_imported'] else ''}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
