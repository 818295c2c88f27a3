"""``poser benchmark run --algo grpo`` end to end at a tiny budget: the env-step budget spent
exactly, the curve, the result schema, aggregate beside an SB3 learner, a kill, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poser_agents.benchmark.schema import read_run
from poser_agents.cli import main

LEVEL = "ImagePoser-v0"
TINY = ["--env", LEVEL, "--eval-every", "200", "--val-episodes", "3", "--test-episodes", "3"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-grpo")
    assert main(["benchmark", "run", "--algo", "grpo", "--steps", "600", "--out", str(out), *TINY]) == 0
    assert main(["benchmark", "run", "--algo", "a2c", "--steps", "600", "--out", str(out), *TINY]) == 0
    return out


def test_grpo_run_spends_the_budget_and_writes_the_schema(runs):
    folder = runs / LEVEL / "grpo" / "seed0"
    result = read_run(folder / "result.json")  # validated: schema poser-benchmark-run v1
    assert (result["status"], result["algo"], result["steps"], result["steps_done"]) == ("complete", "grpo", 600, 600)
    assert [p["step"] for p in result["curve"]] == [0, 200, 400, 600]
    # 540 env steps of logged data (90%), then phase-1 samples; phase 2 renders nothing; the env's
    # own count of expert calls (the oracle's search branches included) is the budget's.
    acct = result["learner"]
    assert acct["env_steps_logged_data"] == 540 and acct["env_steps_policy_samples"] == 60
    assert acct["env_steps_phase2"] == 0 and acct["grpo_steps"] == 50 and acct["env_expert_calls"] == 600
    assert 0 < acct["env_steps_oracle"] < 540 and acct["logged_records"] >= 12
    # Steps 0, 200 and 400 fall in the data collection: the same (initial) policy is held and
    # evaluated greedily on the same tasks and seeds, so the cards agree; 600 is the GRPO policy.
    cards = [{k: v for k, v in p.items() if k != "step"} for p in result["curve"]]
    assert cards[0] == cards[1] == cards[2]
    assert result["test"]["episodes"] == 3 and result["test"]["cost"] > 0
    rows = (folder / "curve.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [0, 200, 400, 600]


def test_aggregate_reads_grpo_like_any_algorithm(runs, tmp_path, capsys):
    capsys.readouterr()
    plots = tmp_path / "plots"
    assert main(["benchmark", "aggregate", str(runs), "--json", "--reps", "100", "--plots", str(plots)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    level = out["levels"][LEVEL]
    assert level["grpo"]["n_runs"] == 1 and level["a2c"]["n_runs"] == 1
    assert len(out["probability_of_improvement"][LEVEL]) == 1  # grpo against a2c
    assert out["partial"] == [] and (plots / f"{LEVEL}-curve.png").is_file()


def test_killed_grpo_run_stays_partial(tmp_path, capsys):
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    cmd = [sys.executable, "-m", "poser_agents.cli", "benchmark", "run", "--algo", "grpo", "--steps", "5000"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), *TINY], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    path = out / LEVEL / "grpo" / "seed0" / "result.json"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if path.is_file() and len(read_run(path)["curve"]) >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run wrote no second curve point in 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = read_run(path)
    assert killed["status"] == "partial" and killed["test"] is None and killed["steps_done"] < 5000
    assert main(["benchmark", "aggregate", str(out), "--json", "--reps", "100"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p["algo"] for p in result["partial"]] == ["grpo"] and result["levels"] == {}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "ImagePoser-Diffusers-v0", "--steps", "1000"], "cannot run on ImagePoser-Diffusers-v0"),
        (["--env", LEVEL, "--steps", "10"], "--steps 10 is too small for --algo grpo on ImagePoser-v0"),
    ],
)
def test_grpo_bad_input_one_line(tmp_path, capsys, argv, message):
    assert main(["benchmark", "run", "--algo", "grpo", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(tmp_path.iterdir()) == []  # refused before any folder was made


@pytest.mark.parametrize("split", ["test", "gen", "gen_forms"])
def test_grpo_never_trains_on_a_held_out_split(split):
    import gymnasium as gym

    from poser_agents.benchmark.grpo_learner import GRPOLearner

    with pytest.raises(ValueError, match=f"never train on the {split} split"):
        GRPOLearner(gym.make("ImagePoser-Hard-v0", split=split))
