"""tools/vector_lockstep.py: the lockstep bound and its control (docs/performance.md, seventh round)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "vector_lockstep.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_reports_the_bound_the_vector_env_and_the_control() -> None:
    r = _run("--steps", "100", "--repeats", "1", "--sweep", "0.1,0.2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["env"] == "ImagePoser-v0" and out["steps"] == 100 and len(out["repeats"]) == 1
    run = out["repeats"][0]
    calls = run["one_env_call_cpu_ms"]
    assert calls["calls"] > 100 and 0 < calls["median"] <= calls["p90"] <= calls["p99"]
    assert 0 < run["lockstep_bound"]["2"] <= 2 and 0 < run["lockstep_bound"]["4"] <= 4
    assert all(v > 0 for v in run["wall_sps"].values())
    assert [row["cpu_ms_per_step"] for row in out["control_sweep"]] == [0.1, 0.2]
    assert all(row["async2/one"] > 0 for row in out["control_sweep"])
    assert run["sb3_subproc2/one"] > 0
    steps = run["env_step_cpu_ms"]
    assert steps["in_process"] > 0 and len(steps["in_async2_workers"]) == 2
    assert steps["processes"]["alone"] > 0 and len(steps["processes"]["two_at_once"]) == 2
    assert run["async2/one"] > 0 and run["async2_without_info/one"] > 0 and run["control_async2/one"] > 0


def test_the_control_burns_the_cpu_time_it_is_given() -> None:
    spec = importlib.util.spec_from_file_location("vector_lockstep", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    env = module.BurnCPU(gym.make("CartPole-v1"), ms=5.0)
    env.reset(seed=0)
    t = time.process_time()
    for _ in range(10):
        env.step(0)
        env.reset()
    assert time.process_time() - t >= 0.05


def test_bad_arguments_are_one_line() -> None:
    for args in (["--steps", "5"], ["--repeats", "0"], ["--sweep", "abc"], ["--sweep", "-1"], ["--env", "Nope-v0"]):
        r = _run(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "error:" in r.stderr, (args, r.stderr[-300:])
    r = _run("--env", "CartPole-v1")
    assert r.returncode == 2 and "no action_mask" in r.stderr
