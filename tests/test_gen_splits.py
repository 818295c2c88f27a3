"""The generalisation splits declared per suite mix (poser_env.config.GEN_SPLIT_SOURCES):
``hard`` has ``gen`` and ``gen_forms``, ``mixed`` (ImagePoser-v0, -Drift-v0) ``gen_forms`` only,
drawn from the v1 forms suites' test tasks; a mix without a split refuses it in one error
that names the mix's splits and the mixes that have it."""

from __future__ import annotations

import gymnasium as gym
import pytest

import poser_env  # noqa: F401  (registers the ids)
from poser_env.config import EnvConfig, mix_splits, split_sources
from poser_env.world import language as L
from poser_env.world import suites as S

FORMS_TEST = [t for s in ("forms", "forms_editing") for t in S.load_suite(s, "test")]


@pytest.mark.parametrize("env_id", ["ImagePoser-v0", "ImagePoser-Drift-v0"])
def test_mixed_levels_draw_gen_forms_from_the_forms_suites_test_tasks(env_id):
    env = gym.make(env_id, split="gen_forms")
    tasks = env.unwrapped.tasks
    assert [t.id for t in tasks] == [t.id for t in FORMS_TEST] and len(tasks) == 600
    assert [t.prompt for t in tasks] == [t.prompt for t in FORMS_TEST]
    _, info = env.reset(seed=0)
    assert info["task_id"] in {t.id for t in FORMS_TEST}
    env.close()


def test_gen_forms_shares_no_prompt_with_the_mix_and_holds_no_v0_category():
    ours = [
        t for s in ("geneval", "longform", "editing") for sp in ("train", "val", "test") for t in S.load_suite(s, sp)
    ]
    assert not {L.normalise(t.prompt) for t in FORMS_TEST} & {L.normalise(t.prompt) for t in ours}
    assert not {t.task_category for t in FORMS_TEST} & {t.task_category for t in ours}


def test_splits_are_declared_per_mix():
    assert mix_splits("hard") == ("train", "val", "test", "gen", "gen_forms")
    assert mix_splits("mixed") == ("train", "val", "test", "gen_forms")
    assert mix_splits("generation") == ("train", "val", "test")
    assert split_sources("mixed", "val") == (("geneval", "val"), ("longform", "val"), ("editing", "val"))
    assert split_sources("hard", "gen") == (("hard_longform", "gen"), ("hard_editing", "gen"))


@pytest.mark.parametrize(
    "suite, split, message",
    [
        (
            "mixed",
            "gen",
            "unknown split 'gen' for suite 'mixed'; allowed: train, val, test, gen_forms (gen exists for suite hard)",
        ),
        (
            "generation",
            "gen_forms",
            "unknown split 'gen_forms' for suite 'generation'; allowed: train, val, test (gen_forms exists for suite hard, mixed)",
        ),
        ("mixed_v1", "bogus", "unknown split 'bogus' for suite 'mixed_v1'; allowed: train, val, test"),
    ],
)
def test_a_split_the_mix_lacks_is_one_clear_error(suite, split, message):
    with pytest.raises(ValueError) as err:
        EnvConfig(suite=suite, split=split)
    assert str(err.value) == message
    with pytest.raises(ValueError, match="allowed: train, val, test"):
        split_sources(suite, split)
