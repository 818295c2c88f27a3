"""poser_agents.bench: the figures that explain the benchmark's ratios (not the speeds)."""

import numpy as np
import pytest

import poser_env  # noqa: F401  (registers the ids)
from poser_agents.bench import _env_sps, _vec_sps, lockstep_bound


def test_equal_calls_give_the_number_of_envs():
    assert lockstep_bound([0.001] * 50, num_envs=2) == pytest.approx(2.0)
    assert lockstep_bound([0.001] * 50, num_envs=4) == pytest.approx(4.0)


def test_lopsided_calls_match_the_closed_form():
    # 90 % cheap calls (1), 10 % costly ones (10): mean 1.9; the larger of two is costly with
    # probability 1 - 0.9^2 = 0.19, so E[max] = 0.19 * 10 + 0.81 * 1 = 2.71 and the bound 3.8 / 2.71.
    calls = [1.0] * 90 + [10.0] * 10
    assert lockstep_bound(calls, num_envs=2, seed=3, draws=200_000) == pytest.approx(3.8 / 2.71, rel=0.01)


def test_the_bound_is_seeded():
    calls = np.random.default_rng(0).exponential(size=500)
    assert lockstep_bound(calls, seed=1) == lockstep_bound(calls, seed=1)


@pytest.mark.parametrize("calls", [[], [0.0, 0.0]])
def test_no_timed_calls_is_an_error(calls):
    with pytest.raises(ValueError, match="took some time"):
        lockstep_bound(calls)


def test_env_rate_records_each_step_and_reset():
    calls: list[float] = []
    rates = _env_sps("ImagePoser-v0", 40, seed=0, call_seconds=calls)
    assert rates["cpu"] > 0
    assert len(calls) > 40  # 40 steps and the resets between episodes (4 to 16 steps each)
    assert all(c >= 0 for c in calls)


def test_the_vector_rate_counts_transitions_not_autoreset_calls():
    # 30 vector steps of 2 envs; episodes last 16 steps at most, so each env ends one and the
    # call after it resets the env (next-step autoreset) without a transition.
    out = _vec_sps("ImagePoser-v0", 60, seed=0, num_envs=2)
    assert out["counts"]["calls"] == 60
    assert out["counts"]["transitions"] <= 58
    assert out["wall"] > 0 and out["per_vector_step_ms"]["wall"] > 0
