"""tools/dqn_ceiling.py: the masked DQN's rate with ImagePoser replaced by a free replay (docs/performance.md)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "dqn_ceiling.py"


def _module():
    spec = importlib.util.spec_from_file_location("dqn_ceiling", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replay_plays_the_recorded_episodes_back_whatever_the_action() -> None:
    import gymnasium as gym

    import poser_env  # noqa: F401

    m = _module()
    episodes = m.record("ImagePoser-v0", 40, seed=3)
    assert episodes and all(out[2] or out[3] for _, outs in episodes for out in outs[-1:])
    env = m.Replay(gym.make("ImagePoser-v0"), episodes)
    for start, outs in episodes + episodes[:1]:  # in turn, then around again
        obs, _ = env.reset()
        assert obs is start[0]
        for out in outs:
            assert env.step(0)[0] is out[0]
    assert np.array_equal(obs["action_mask"], episodes[0][0][0]["action_mask"])


def test_reports_the_three_ratios() -> None:
    args = ["--repeats", "1", "--steps", "400", "--starts", "100", "--json"]
    r = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["repeats"][0]
    assert all(v > 0 for v in run["cpu_sps"].values())
    ratio = run["cpu_sps"]["free_env"] / run["cpu_sps"]["sb3_cartpole"]
    assert abs(run["free_env/sb3_cartpole"] - ratio) < 0.002  # rates rounded to 0.1 step/s
    parts = run["parts"]
    assert parts["features"]["sb3_cartpole"] == 4
    assert parts["q_net_parameters"]["masked_dqn"] > parts["q_net_parameters"]["sb3_cartpole"]


def test_bad_arguments_are_one_line() -> None:
    for args in (["--steps", "0"], ["--repeats", "-1"], ["--starts", "500", "--steps", "400"]):
        r = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "error:" in r.stderr, args
