"""tools/profile_env.py: per-component CPU time of random env steps (docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_times_every_component_and_counts_their_calls() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "profile_env.py"), "--steps", "60", "--warmup", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["env"] == "ImagePoser-v0" and out["steps"] == 60 and out["steps_per_cpu_s"] > 0
    c = out["components"]
    # Every step calls an expert and the critic and builds an observation and an info.
    assert c["step"]["calls"] == c["experts"]["calls"] == 60
    assert (
        c["critic (critique)"]["calls"] == c["observation"]["calls"] == c["info"]["calls"] == 60 + c["reset"]["calls"]
    )
    assert c["extraction"]["calls"] == c["reset"]["calls"]
    # Nested components cost no more than what contains them; all of it within the run.
    detection = c["detection (critic and extraction)"]["cpu_s"]
    assert detection <= c["critic (critique)"]["cpu_s"] + c["extraction"]["cpu_s"] + 1e-3
    assert c["render"]["cpu_s"] <= c["experts"]["cpu_s"] + 1e-3
    assert c["step"]["cpu_s"] + c["reset"]["cpu_s"] <= out["cpu_s"] + 1e-3


def test_puts_the_timed_functions_back() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import profile_env
    finally:
        sys.path.remove(str(ROOT / "tools"))
    from poser_env.env import ImagePoserEnv
    from poser_env.world import detect, parse

    before = (ImagePoserEnv.step, detect.analyse, parse._read)
    profile_env.profile("ImagePoser-v0", steps=5, warmup=0, seed=0)
    assert (ImagePoserEnv.step, detect.analyse, parse._read) == before
    assert parse._read.cache_info() is not None  # still the lru_cache the parser clears
