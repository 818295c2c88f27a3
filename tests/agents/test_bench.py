"""poser_agents.bench: the figures that explain the benchmark's ratios (not the speeds)."""

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401  (registers the ids)
from poser_agents import bench
from poser_agents.bench import _env_sps, _vec_sps, lockstep_bound


def test_equal_calls_give_the_number_of_envs():
    assert lockstep_bound([0.001] * 50, num_envs=2) == pytest.approx(2.0)
    assert lockstep_bound([0.001] * 50, num_envs=4) == pytest.approx(4.0)
    assert lockstep_bound([0.003, 0.001], num_envs=1) == pytest.approx(1.0)


def test_lopsided_calls_match_the_closed_form():
    # 90 % cheap calls (1), 10 % costly ones (10): mean 1.9; the larger of two is costly with
    # probability 1 - 0.9^2 = 0.19, so E[max] = 0.19 * 10 + 0.81 * 1 = 2.71 and the bound 3.8 / 2.71.
    calls = [1.0] * 90 + [10.0] * 10
    assert lockstep_bound(calls, num_envs=2) == pytest.approx(3.8 / 2.71)
    # the order of the calls does not matter
    assert lockstep_bound(calls[::-1], num_envs=2) == pytest.approx(3.8 / 2.71)


def test_a_rare_outlier_weighs_its_probability():
    # One call of 1e5 among 9,999 of 1: it is the larger of two with probability 1 - (0.9999)^2.
    p = 1 - 0.9999**2
    expected = 2 * (9_999 + 1e5) / 10_000 / (p * 1e5 + (1 - p) * 1)
    assert lockstep_bound([1.0] * 9_999 + [1e5]) == pytest.approx(expected)
    assert lockstep_bound([1.0] * 9_999 + [1e5]) < 1.05


def test_it_agrees_with_drawing_pairs():
    calls = np.random.default_rng(0).exponential(size=400)
    pairs = np.random.default_rng(1).choice(calls, size=(400_000, 2))
    assert lockstep_bound(calls) == pytest.approx(2 * calls.mean() / pairs.max(1).mean(), rel=0.01)


@pytest.mark.parametrize(
    "calls, num_envs", [([], 2), ([0.0, 0.0], 2), ([1.0, -1.0, 2.0], 2), ([1.0, float("nan")], 2), ([1.0], 0)]
)
def test_bad_input_is_an_error(calls, num_envs):
    with pytest.raises(ValueError, match="lockstep_bound needs"):
        lockstep_bound(calls, num_envs)


def test_env_rate_records_each_step_and_reset():
    calls: list[float] = []
    rates = _env_sps("ImagePoser-v0", 40, seed=0, call_seconds=calls)
    assert rates["cpu"] > 0
    assert len(calls) > 40  # 40 steps and the resets between episodes (4 to 16 steps each)
    assert all(c >= 0 for c in calls)


class _CountCalls(gym.Wrapper):
    """Appends ``s`` (a step) or ``r`` (a reset) to a file per worker process."""

    folder: Path

    def step(self, action):
        with open(self.folder / str(os.getpid()), "a") as f:
            f.write("s")
        return self.env.step(action)

    def reset(self, **kwargs):
        with open(self.folder / str(os.getpid()), "a") as f:
            f.write("r")
        return self.env.reset(**kwargs)


@pytest.mark.parametrize("steps, seed", [(60, 0), (62, 3), (40, 5)])  # episodes ending at either end too
def test_the_vector_rate_counts_transitions_not_autoreset_calls(tmp_path, monkeypatch, steps, seed):
    # Each worker's own log of its calls is the ground truth: a next-step autoreset is a reset
    # call, not a step, and the vector env's count must match the steps after the warm-up.
    _CountCalls.folder = tmp_path
    make_vec = gym.make_vec
    monkeypatch.setattr(bench.gym, "make_vec", lambda *a, **k: make_vec(*a, wrappers=[_CountCalls], **k))
    out = _vec_sps("ImagePoser-v0", steps, seed=seed, num_envs=2)
    logs = [p.read_text() for p in tmp_path.iterdir()]
    assert len(logs) == 2 and all(log.startswith("rs") for log in logs)  # the reset, then the warm-up step
    timed = [log[2:] for log in logs]
    assert out["counts"] == {"calls": steps, "transitions": sum(t.count("s") for t in timed)}
    assert all(len(t) == steps // 2 for t in timed) and any("r" in t for t in timed)
