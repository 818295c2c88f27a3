"""tools/drift_memory.py: repeated provider errors on ImagePoser-Drift-v1, and the memory-wiped
ablation of a recurrent policy."""

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_agents.benchmark.algos import Predictor, build_model
from poser_agents.evaluation.harness import evaluate
from tools.drift_memory import error_counts, main, memory_wiped


def _records(agent: str, episodes: int = 8):
    env = gym.make("ImagePoser-Drift-v1", split="val")
    return evaluate(agent, env, episodes=episodes, seeds=[0], n_resamples=1).records


def test_the_memory_baseline_never_repeats_an_error_and_the_memoryless_heuristic_does():
    memory, plain = error_counts(_records("heuristic_memory")), error_counts(_records("heuristic"))
    # Every episode has a provider down: each policy meets at least one error in some episode.
    assert memory["errors"] > 0 and plain["errors"] > memory["errors"]
    assert memory["repeated_shown"] == memory["repeated_unseen"] == memory["with_unseen"] == 0.0
    assert memory["errors"] <= 1.0
    # The memoryless heuristic goes back to the down provider on later commands, once the error is gone.
    assert plain["repeated_unseen"] > 0.5 and plain["with_unseen"] > 0


def test_error_counts_reads_the_step_log_and_refuses_nothing_to_count():
    # Episode 1: the first error; one after a clean step (memory's); one right after it (shown).
    records = [{"log": [{"error": True}, {}, {"error": True}, {"error": True}]}, {"log": [{}]}]
    assert error_counts(records) == {"errors": 1.5, "repeated_shown": 0.5, "repeated_unseen": 0.5, "with_unseen": 0.5}
    with pytest.raises(ValueError, match="no episode records"):
        error_counts([])


def test_memory_wiped_acts_as_the_policy_from_a_fresh_state_at_every_step():
    env = gym.make("ImagePoser-Drift-v1", split="val")
    model, kind = build_model("recurrent_ppo", env, seed=0, steps=2048)
    intact, wiped = Predictor(model, kind), memory_wiped(model, kind)
    obs, _ = env.reset(seed=3)
    for _ in range(4):
        fresh = Predictor(model, kind)  # a new episode's state, every step
        expected = fresh.predict(obs)[0]
        assert np.array_equal(wiped.predict(obs)[0], expected)
        intact.predict(obs)
        obs, _, terminated, truncated, _ = env.step(int(expected))
        if terminated or truncated:
            break
    assert intact.state is not None and not intact.start  # the intact policy carries its state on


def test_the_tool_refuses_levels_without_visible_errors_and_measures_baselines_alone(tmp_path, capsys):
    with pytest.raises(SystemExit, match="drift_visible is off"):
        main(["--env", "ImagePoser-Drift-v0", "--episodes", "2"])
    with pytest.raises(SystemExit):  # nothing to measure: argparse's usage error
        main([])
    with pytest.raises(SystemExit, match="no result.json below"):
        main([str(tmp_path)])
    with pytest.raises(SystemExit):  # argparse names the splits allowed
        main(["--env", "ImagePoser-Drift-v1", "--split", "nonsense"])
    bad = tmp_path / "out" / "ImagePoser-Drift-v1" / "ppo" / "seed0"
    bad.mkdir(parents=True)
    (bad / "result.json").write_text("[1, 2]")  # not a run's result: skipped, named, no traceback
    with pytest.raises(SystemExit, match="no run below the folders given has a checkpoint that loads"):
        main([str(tmp_path / "out")])
    assert "skipped" in capsys.readouterr().err
    assert main(["--env", "ImagePoser-Drift-v1", "--episodes", "2", "--baselines", "heuristic_memory", "--json"]) == 0
    printed = capsys.readouterr().out
    assert "| heuristic_memory | " in printed and '"repeated_unseen": 0.0' in printed
