"""The final evaluation of ``poser benchmark run`` covers test and each generalisation split
the level's suite mix has (ImagePoser-Drift-v0 and -v0: gen_forms; Hard: gen and gen_forms;
the other levels: test only), and GRPO refuses every held-out split."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import poser_env  # noqa: F401  (registers the ids)
from poser_agents.benchmark.run import final_splits
from poser_agents.cli import main

DRIFT = "ImagePoser-Drift-v0"


@pytest.mark.parametrize(
    "env_id, splits",
    [
        (DRIFT, ("test", "gen_forms")),
        ("ImagePoser-v0", ("test", "gen_forms")),
        ("ImagePoser-Hard-v0", ("test", "gen", "gen_forms")),
        ("ImagePoser-Gen-v0", ("test",)),
        ("ImagePoser-v1", ("test",)),
    ],
)
def test_final_splits_follow_the_mix(env_id, splits):
    env = gym.make(env_id)
    assert final_splits(env) == splits
    env.close()


def test_a_drift_run_ends_with_a_gen_forms_card(tmp_path):
    tiny = ["--steps", "8", "--eval-every", "8", "--val-episodes", "1", "--test-episodes", "1"]
    assert main(["benchmark", "run", "--algo", "a2c", "--env", DRIFT, "--out", str(tmp_path), *tiny]) == 0
    result = json.loads((tmp_path / DRIFT / "a2c" / "seed0" / "result.json").read_text())
    assert result["gen_forms"]["n_tasks"] == 1 and result["test"]["n_tasks"] == 1 and "gen" not in result
    refs = sorted(p.name.split("-")[0] for p in (tmp_path / "references" / DRIFT).iterdir())
    assert refs == ["gen_forms", "test", "val"]


def test_grpo_never_trains_on_drift_gen_forms():
    from poser_agents.benchmark.grpo_learner import GRPOLearner

    with pytest.raises(ValueError, match="never train on the gen_forms split"):
        GRPOLearner(gym.make(DRIFT, split="gen_forms"))
