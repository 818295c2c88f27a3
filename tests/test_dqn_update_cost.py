"""tools/dqn_update_cost.py: the masked DQN's own cost against SB3's on CartPole (docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_times_both_learners_and_derives_the_ceiling() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "dqn_update_cost.py"), "--updates", "5", "--repeats", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["repeats"][0]
    for k in ("sb3_cartpole", "masked_dqn"):
        assert run["update_ms"][k] > 0 and run["predict_ms"][k] > 0
        expected = run["predict_ms"][k] + run["update_ms"][k] / run["train_freq"]
        assert abs(run["agent_ms_per_step"][k] - expected) < 0.002
    # The same head on a 4-number observation against ImagePoser's per-key encoders.
    assert run["features"] == {"sb3_cartpole": 4, "masked_dqn": run["features"]["masked_dqn"]}
    assert run["q_net_parameters"]["masked_dqn"] > run["q_net_parameters"]["sb3_cartpole"]
    ratio = run["agent_ms_per_step"]["sb3_cartpole"] / run["agent_ms_per_step"]["masked_dqn"]
    assert abs(run["agent_only_ceiling"] - ratio) < 0.01
