"""The harder levels: ImagePoser-Hard-v0 (long tasks, 20 situational experts, a cost budget) and
ImagePoser-Drift-v0 (hidden per-episode expert degradation). check_env and the seeded-rollout
tests of every registered id are in tests/test_env.py."""

import gymnasium as gym
import numpy as np
import pytest

import poser_env
from poser_env.experts.synthetic import ShapeWorldExpert
from poser_env.types import Canvas
from poser_env.world.checks import checks_for
from poser_env.world.render import render
from poser_env.world.scene import Scene, SceneObject
from poser_env.world.suites import load_suite
from poser_env.world.suites.levels import HELDOUT_PAIRS, check_level_files, heldout_combinations


def test_levels_are_registered_with_plain_data():
    for level in ("ImagePoser-Hard-v0", "ImagePoser-Drift-v0"):
        assert level in poser_env.ENV_IDS
        assert all(isinstance(v, (str, int, float)) for v in poser_env.ENV_IDS[level].values())
    env = gym.make("ImagePoser-Hard-v0")
    assert len(env.unwrapped.expert_names) == 20 and "premium-i2i" in env.unwrapped.expert_names
    assert "budget" in env.observation_space.spaces
    assert "budget" not in gym.make("ImagePoser-v0").observation_space.spaces


def test_cost_budget_ends_the_episode():
    env = gym.make("ImagePoser-Hard-v0", split="val")
    premium = env.unwrapped.expert_names.index("premium-i2i")  # cost 7.5 against a budget of 30
    obs, _ = env.reset(seed=0, options={"task": load_suite("hard_editing", "val")[0]})
    budgets, done = [float(obs["budget"][0])], False
    while not done:
        obs, _, terminated, truncated, info = env.step(premium)
        budgets.append(float(obs["budget"][0]))
        done = terminated or truncated
    summary = info["episode_summary"]
    assert budgets[0] == 1.0 and budgets == sorted(budgets, reverse=True)
    if summary["budget_spent"]:
        assert summary["cost"] >= 30.0 and budgets[-1] == 0.0 and terminated
        with pytest.raises(RuntimeError, match="episode is over"):
            env.step(premium)
    else:  # every command passed before the budget ran out
        assert summary["commands_failed"] == 0


#: ImagePoser-Drift-v0's kwargs before it drifted by provider (docs/env.md, version history).
PER_EXPERT_DRIFT = {"drift_p": 0.3, "drift_fail": 1.0, "max_attempts": 3, "drift_modality": "t2i"}


def test_drift_is_hidden_seeded_and_silently_fails():
    env = gym.make("ImagePoser-v0", split="val", **PER_EXPERT_DRIFT)
    drawn = []
    for seed in range(6):
        env.reset(seed=seed)
        drawn.append(env.unwrapped._ep.degraded)
    env.reset(seed=3)
    assert env.unwrapped._ep.degraded == drawn[3] and len(set(drawn)) > 1 and len(drawn[0]) == 12
    # Every expert degraded, every degraded call failing: the canvas never changes.
    always = gym.make("ImagePoser-v0", split="val", drift_p=1.0, drift_fail=1.0)
    obs, _ = always.reset(seed=0)
    first = always.unwrapped.render_canvas()
    _, _, terminated, truncated, info = always.step(0)
    assert np.array_equal(first, always.unwrapped.render_canvas()) and not info["command_passed"]
    while not (terminated or truncated):
        _, _, terminated, truncated, info = always.step(0)
    assert len(info["episode_summary"]["degraded"]) == 12


def _styled_scene(style="watercolor"):
    return Scene(objects=(SceneObject("circle", "red", "large", 0.3, 0.5),), background="gray", style=style)


def test_situational_failures():
    rng = np.random.default_rng(0)
    styled = _styled_scene()
    canvas = Canvas(image=render(styled, 128), scene=styled)
    editor = ShapeWorldExpert("e", modality="i2i", cost=1.0, ops=["recolor"], p_fail_styled=1.0)
    assert (
        editor("make the red circle blue", canvas, rng).scene.objects == styled.objects
    )  # edit on a styled canvas lost
    plain = _styled_scene("plain")
    out = editor("make the red circle blue", Canvas(image=render(plain, 128), scene=plain), rng).scene
    assert out.objects[0].color == "blue"
    drawer = ShapeWorldExpert("d", modality="t2i", cost=1.0, ops=["draw"], relations=False, p_fail_small=1.0)
    assert drawer("a small red circle and a large blue square", None, rng).scene.objects[0].shape == "square"
    crowd = ShapeWorldExpert(
        "c", modality="t2i", cost=1.0, ops=["draw"], relations=False, p_fail_crowded=1.0, crowded_at=3
    )
    assert len(crowd("three red circles", None, rng).scene.objects) == 2


def test_situational_fields_off_draw_nothing():
    """Zero situational probabilities consume no random numbers: the default experts' episodes are unchanged."""
    plain = ShapeWorldExpert("a", modality="t2i", cost=1.0, p_miscount=0.3)
    zeros = ShapeWorldExpert(
        "b", modality="t2i", cost=1.0, p_miscount=0.3, p_fail_small=0.0, p_fail_crowded=0.0, p_fail_big_count=0.0
    )
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    a, b = (
        plain("four red circles and a small blue star", None, r1),
        zeros("four red circles and a small blue star", None, r2),
    )
    assert a.scene == b.scene and r1.bit_generator.state == r2.bit_generator.state


def test_level_suites_lengths_and_generalisation_split():
    longform = load_suite("hard_longform", "test")
    assert all(8 <= len(checks_for(t.target)) <= 15 for t in longform)
    editing = load_suite("hard_editing", "test")
    assert all(4 <= len(t.edits) <= 8 for t in editing)
    for suite in ("hard_longform", "hard_editing"):
        for split in ("train", "val", "test"):
            assert not any(heldout_combinations(t.target, t.source, t.edits) for t in load_suite(suite, split))
        assert all(heldout_combinations(t.target, t.source, t.edits) for t in load_suite(suite, "gen"))
    assert len(gym.make("ImagePoser-Hard-v0", split="gen").unwrapped.tasks) == 200
    assert len(HELDOUT_PAIRS) == 6


def test_level_suite_files_match_the_generator():
    assert check_level_files(pairs=[("hard_longform", "val"), ("hard_editing", "gen")]) is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "gen"}, "exists for suite hard"),
        ({"drift_p": 1.5}, "drift_p must be a probability"),
        ({"cost_budget": -1}, "cost_budget must be a positive"),
    ],
)
def test_level_options_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("ImagePoser-v0", **kwargs)


def test_drift_modality_limits_degradation_to_one_modality():
    """drift_modality="t2i": only text-to-image experts are degraded; the draws are the same as
    with "all" (one per expert), so the t2i draw is the "all" draw with the editors cleared."""
    every = gym.make("ImagePoser-v0", split="val", drift_p=0.5, drift_fail=1.0)
    t2i = gym.make("ImagePoser-v0", split="val", drift_p=0.5, drift_fail=1.0, drift_modality="t2i")
    modalities = every.unwrapped.registry.modalities
    seen_editor = False
    for seed in range(8):
        every.reset(seed=seed)
        t2i.reset(seed=seed)
        a, b = every.unwrapped._ep.degraded, t2i.unwrapped._ep.degraded
        seen_editor |= any(d and m == "i2i" for d, m in zip(a, modalities))
        assert b == tuple(d and m == "t2i" for d, m in zip(a, modalities))
    assert seen_editor  # the "all" draws did degrade editors, which "t2i" kept working
    with pytest.raises(ValueError, match="drift_modality must be one of all, t2i, i2i"):
        gym.make("ImagePoser-v0", drift_modality="video")


def _provider_env(**kwargs):
    return gym.make(
        "ImagePoser-v0", split="val", experts="synthetic_providers", drift_unit="provider", drift_fail=1.0, **kwargs
    )


def test_provider_drift_degrades_every_expert_of_one_provider_silently():
    env = _provider_env(drift_p=1.0)
    providers = env.unwrapped.providers
    down = set()
    for seed in range(8):
        env.reset(seed=seed)
        degraded = {p for p, d in zip(providers, env.unwrapped._ep.degraded) if d}
        assert len(degraded) == 1 and sum(env.unwrapped._ep.degraded) == 12  # one provider, all its experts
        down |= degraded
    assert down == {"north", "south"}  # drawn uniformly: both come up
    env.reset(seed=0)
    a = next(i for i, d in enumerate(env.unwrapped._ep.degraded) if d and env.unwrapped.registry.modalities[i] == "t2i")
    first = env.unwrapped.render_canvas()
    _, _, _, _, info = env.step(a)
    assert np.array_equal(first, env.unwrapped.render_canvas()) and not info["command_passed"]


def test_provider_drift_draws_nothing_when_off():
    """With drift_p=0 the env's generator is where it is without any drift option (digests hold)."""
    plain = gym.make("ImagePoser-v0", split="val", experts="synthetic_providers")
    off = _provider_env(drift_p=0.0)
    for env in (plain, off):
        env.reset(seed=5)
    assert off.unwrapped._ep.degraded == ()
    assert plain.unwrapped.np_random.bit_generator.state == off.unwrapped.np_random.bit_generator.state


def test_drift_unit_bad_input():
    with pytest.raises(ValueError, match="drift_unit must be one of expert, provider, got 'model'"):
        gym.make("ImagePoser-v0", drift_unit="model")
    with pytest.raises(
        ValueError, match='drift_unit="provider" needs experts that declare a provider.*synthetic_providers'
    ):
        gym.make("ImagePoser-v0", drift_unit="provider", drift_p=0.5)


#: ImagePoser-Drift-v1's options beside drift by provider (docs/env.md, "ImagePoser-Drift-v1").
VISIBLE = {"drift_visible": True, "observe_step_count": False, "step_slack": 2}


def test_visible_drift_shows_the_error_once_and_the_step_count_not_at_all():
    env = _provider_env(drift_p=1.0, **VISIBLE)
    assert env.observation_space["error"] == gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    obs, _ = env.reset(seed=0, options={"prompt": "Draw two red circles. Then add a blue square on the left."})
    base = env.unwrapped
    down = next(p for p, d in zip(base.providers, base._ep.degraded) if d)
    up = "south" if down == "north" else "north"
    bad, good = (base.expert_names.index(f"{p}-frontier-t2i") for p in (down, up))
    assert obs["error"][0] == 0.0
    obs, _, _, _, info = env.step(bad)
    assert obs["error"][0] == 1.0 and f"{down} is down" in info["error"] and not info["command_passed"]
    assert obs["tried"][bad] == 1.0  # the error and the expert tried say which provider
    obs, _, terminated, truncated, info = env.step(good)
    assert obs["error"][0] == 0.0 and "error" not in info  # shown once, then gone
    while not (terminated or truncated):
        assert obs["progress"][0] == 0.0  # no step count to read wasted calls off
        obs, _, terminated, truncated, info = env.step(good)
    assert info["episode_summary"]["steps"] <= len(base._ep.commands) + 2
    # The key is about the last step only: a DEFER after an error reads 0.
    defer = _provider_env(drift_p=1.0, enable_defer=True, **VISIBLE)
    defer.reset(seed=0, options={"prompt": "Draw two red circles. Then add a blue square on the left."})
    assert defer.step(bad)[0]["error"][0] == 1.0
    assert defer.step(defer.unwrapped.action_names.index("DEFER"))[0]["error"][0] == 0.0


def test_step_slack_ends_each_task_at_its_deadline_as_a_terminal_state():
    """The deadline (commands + slack) is part of the task: terminated, not truncated, so that a
    learner's return shows what running out of steps costs; the commands left count as failed."""
    env = gym.make("ImagePoser-v0", split="val", step_slack=1)
    failing = env.unwrapped.expert_names.index("remove-i2i")  # on a generation task every call fails
    deadlines = 0
    for seed in range(4):
        env.reset(seed=seed)
        n = len(env.unwrapped._ep.commands)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, info = env.step(failing)
            steps, done = steps + 1, terminated or truncated
        summary = info["episode_summary"]
        assert steps <= n + 1 and summary["steps"] == steps and not truncated
        if info.get("deadline_reached"):
            deadlines += 1
            assert terminated and steps == n + 1 and summary["commands_failed"] >= 1
            with pytest.raises(RuntimeError, match="episode is over"):
                env.step(failing)
    assert deadlines >= 2
    assert gym.make("ImagePoser-v0").unwrapped.step_limit == 16  # the truncation limit: max_steps alone
    tight = gym.make("ImagePoser-v0", split="val", step_slack=5, max_steps=2)  # max_steps comes first: truncated
    tight.reset(seed=0, options={"prompt": "Draw a red circle. Then add a blue square. Then make it green."})
    tight.step(failing)
    _, _, terminated, truncated, info = tight.step(failing)
    assert truncated and not terminated and "deadline_reached" not in info


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"step_slack": -1}, "step_slack must be None or an int from 0 to 1000, got -1"),
        ({"step_slack": 1.5}, "step_slack must be None or an int"),
        ({"drift_visible": "yes"}, "drift_visible must be True or False"),
        ({"observe_step_count": 0}, "observe_step_count must be True or False"),
    ],
)
def test_visible_drift_options_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("ImagePoser-v0", **kwargs)


def test_drift_v1_is_drift_v0_with_visible_errors_on_the_hard_suite():
    v0, v1 = poser_env.ENV_IDS["ImagePoser-Drift-v0"], poser_env.ENV_IDS["ImagePoser-Drift-v1"]
    assert {k: v for k, v in v1.items() if k not in v0} == {
        "max_steps": 32,
        "drift_visible": True,
        "observe_step_count": False,
        "step_slack": 5,
    }
    assert {k for k in v0 if v0[k] != v1[k]} == {"suite"} and v1["suite"] == "hard" and v1["max_steps"] == 32
    env = gym.make("ImagePoser-Drift-v1", split="gen")  # the hard suite's generalisation splits
    assert "error" in env.observation_space.spaces and "budget" not in env.observation_space.spaces
    assert len(env.unwrapped.tasks) == 200
