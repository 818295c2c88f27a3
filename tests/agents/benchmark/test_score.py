"""The normalised score on hand-computed cases."""

import math

import pytest

from poser_agents.benchmark.score import normalise, normalised_score, score_card


def rec(task, seed, acc, align=None, cost=0.0):
    return {
        "task_id": task,
        "episode_seed": seed,
        "accuracy": acc,
        "alignment": align if align is not None else acc,
        "cost": cost,
    }


def test_normalise_hand_values():
    assert normalise(0.5, 0.0, 1.0) == 0.5
    assert normalise(0.2, 0.2, 0.8) == 0.0
    assert normalise(0.8, 0.2, 0.8) == 1.0
    assert math.isclose(normalise(0.1, 0.2, 0.6), -0.25)
    assert math.isclose(normalise(0.9, 0.2, 0.6), 1.75)
    assert normalise(0.7, 0.4, 0.4) is None  # oracle == random: no information


def test_per_task_then_mean_and_degenerate_tasks_left_out():
    # task a: agent mean over seeds 0.5, random 0, oracle 1 -> 0.5
    # task b: agent 1, random 0.5, oracle 1 -> 1.0
    # task c: random == oracle == 1 -> left out (None), not counted as 0
    agent = [rec("a", 0, 1.0), rec("a", 1, 0.0), rec("b", 0, 1.0), rec("c", 0, 0.0)]
    random = [rec("a", 0, 0.0), rec("a", 1, 0.0), rec("b", 0, 0.5), rec("c", 0, 1.0)]
    oracle = [rec("a", 0, 1.0), rec("a", 1, 1.0), rec("b", 0, 1.0), rec("c", 0, 1.0)]
    out = normalised_score(agent, random, oracle, "accuracy")
    assert out["per_task"] == {"a": 0.5, "b": 1.0, "c": None}
    assert out["score"] == pytest.approx(0.75)
    assert (out["n_tasks"], out["n_degenerate"]) == (3, 1)


def test_all_degenerate_gives_none():
    agent, ref = [rec("a", 0, 1.0)], [rec("a", 0, 0.0)]
    assert normalised_score(agent, ref, ref)["score"] is None


def test_cost_aware_variant_hand_value():
    # utility u = acc - 0.1 * cost: agent 1 - 0.1 = 0.9, random 0 - 0.1*1 = -0.1, oracle 1 - 0.1*5 = 0.5
    # (0.9 - (-0.1)) / (0.5 - (-0.1)) = 1 / 0.6
    agent, random, oracle = [rec("a", 0, 1.0, cost=1.0)], [rec("a", 0, 0.0, cost=1.0)], [rec("a", 0, 1.0, cost=5.0)]
    out = normalised_score(agent, random, oracle, "accuracy", cost_weight=0.1)
    assert out["score"] == pytest.approx(1 / 0.6)
    card = score_card(agent, random, oracle, cost_weight=0.1)
    assert card["norm_accuracy"] == pytest.approx(1.0) and card["norm_accuracy_cost_aware"] == pytest.approx(1 / 0.6)
    assert (card["cost"], card["cost_random"], card["cost_oracle"]) == (1.0, 1.0, 5.0)


def test_alignment_and_unjudged_episodes():
    agent = [
        rec("a", 0, 0.0, align=0.75),
        {"task_id": "b", "episode_seed": 0, "accuracy": None, "alignment": None, "cost": 1.0},
    ]
    random, oracle = [rec("a", 0, 0.0, align=0.5)], [rec("a", 0, 1.0, align=1.0)]
    out = normalised_score(agent, random, oracle, "alignment")
    assert out["per_task"] == {"a": 0.5} and out["score"] == 0.5


def test_reference_on_other_seeds_is_refused():
    with pytest.raises(ValueError, match="random reference lacks task 'a' at episode seed"):
        normalised_score([rec("a", 1, 1.0)], [rec("a", 0, 0.0)], [rec("a", 1, 1.0)])
    with pytest.raises(ValueError, match="unknown score metric"):
        normalised_score([], [], [], "fidelity")
