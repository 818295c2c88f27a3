"""ImagePoserEnv: the Gymnasium contract on every registered id, determinism, and bad input."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import poser_env
from poser_env.env import ImagePoserEnv
from poser_env.types import Canvas
from poser_env.world.scene import Scene, SceneObject
from poser_env.world.suites import load_suite

IDS = list(poser_env.ENV_IDS)


def rollout(env, seed, policy_seed=0, max_steps=200):
    """Obs, rewards and plain-data infos of one episode with seeded random valid actions."""
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed)
    trace = [(obs, None, info)]
    for _ in range(max_steps):
        a = rng.choice(np.flatnonzero(obs["action_mask"]))
        obs, r, term, trunc, info = env.step(a)
        trace.append((obs, r, info))
        if term or trunc:
            break
    return trace


def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_checker_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_checker_passes(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check

    sb3_check(gym.make(env_id).unwrapped, warn=True)


def test_namespaced_id_and_serialisable_spec():
    env = gym.make("poser_env:ImagePoser-v0")
    assert env.spec.id == "ImagePoser-v0"
    env.spec.to_json()  # kwargs are plain data


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_episode(env_id):
    a = rollout(gym.make(env_id), seed=123)
    b = rollout(gym.make(env_id), seed=123)
    assert same(a, b)
    c = rollout(gym.make(env_id), seed=124)
    assert not same(a, c)


def test_reset_with_seed_then_without_is_reproducible():
    env1, env2 = gym.make("ImagePoser-v0"), gym.make("ImagePoser-v0")
    env1.reset(seed=5)
    env2.reset(seed=5)
    assert same(rollout_noseed(env1), rollout_noseed(env2))


def rollout_noseed(env):
    obs, info = env.reset()
    out = [info["prompt"]]
    for a in range(6):
        obs, r, term, trunc, info = env.step(a)
        out.append((r, info["verdict"]))
        if term or trunc:
            break
    return out


def test_observations_are_fresh_arrays():
    env = gym.make("ImagePoser-v0")
    o1, _ = env.reset(seed=0)
    o2, *_ = env.step(0)
    for k in o1:
        assert not np.shares_memory(o1[k], o2[k]), k


def test_episode_summary_and_info_keys():
    env = gym.make("ImagePoser-v0")
    trace = rollout(env, seed=3)
    info = trace[-1][2]
    for key in ("prompt", "commands", "command_index", "verdict", "expert", "cost", "action_mask", "feedback"):
        assert key in info
    summary = info["episode_summary"]
    assert summary["evaluator"]["judged"]
    assert 0 <= summary["evaluator"]["alignment"] <= 1
    assert summary["steps"] == len(trace) - 1


def test_potential_based_return_telescopes():
    """Sum of rewards = final critic score - initial score - costs - step penalties."""
    env = gym.make("ImagePoser-v0", cost_weight=0.01, step_penalty=0.02)
    trace = rollout(env, seed=11)
    first_score = trace[0][2]["verdict"]["score"]
    last = trace[-1][2]
    ret = sum(r for _, r, _ in trace[1:])
    spent = sum(0.01 * step[2]["cost"] + 0.02 for step in trace[1:])
    assert ret == pytest.approx(last["episode_summary"]["critic_score"] - first_score - spent, abs=1e-4)


def test_render_returns_the_canvas():
    env = gym.make("ImagePoser-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8


def test_custom_prompt_and_editing_source():
    env = gym.make("ImagePoser-v0")
    obs, info = env.reset(seed=0, options={"prompt": "two red circles and a blue square on a mint background"})
    assert info["task_id"] == "custom" and len(info["commands"]) >= 2
    source = Scene((SceneObject("star", "yellow", "large", 0.3, 0.3),))
    obs, info = env.reset(seed=0, options={"prompt": "Remove the yellow star.", "source": source})
    assert [c["kind"] for c in info["commands"]] == ["remove"]


@pytest.mark.parametrize("prompt", ["", "   ", None, 42])
def test_empty_prompt_is_a_clear_error(prompt):
    env = gym.make("ImagePoser-v0")
    with pytest.raises(ValueError, match="non-empty string"):
        env.reset(options={"prompt": prompt})


def test_source_image_of_wrong_size_or_mode():
    env = gym.make("ImagePoser-v0")
    with pytest.raises(ValueError, match="64x64 image; the env's canvas is 128x128"):
        env.reset(options={"prompt": "Add a red circle.", "source": np.zeros((64, 64, 3), np.uint8)})
    with pytest.raises(ValueError, match="shape"):
        env.reset(options={"prompt": "Add a red circle.", "source": np.zeros((128, 128), np.uint8)})
    with pytest.raises(ValueError, match="NaN"):
        env.reset(options={"prompt": "Add a red circle.", "source": np.full((128, 128, 3), np.nan)})
    from PIL import Image

    obs, info = env.reset(options={"prompt": "Add a red circle.", "source": Image.new("RGBA", (128, 128))})
    assert info["commands"]


def test_unknown_options_and_kwargs():
    with pytest.raises(TypeError, match="unknown ImagePoser option"):
        gym.make("ImagePoser-v0", max_step=3)
    env = gym.make("ImagePoser-v0")
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"promt": "x"})
    with pytest.raises(ValueError, match="no task 'nope'"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(ValueError, match="unknown suite"):
        gym.make("ImagePoser-v0", suite="everything")


def test_unknown_expert_name_is_a_clear_error():
    from poser_env.registry import RegistryError

    env = gym.make("ImagePoser-v0")
    with pytest.raises(RegistryError, match="unknown expert 'dalle'; registered: sketchy-t2i"):
        env.unwrapped.registry.index("dalle")
    with pytest.raises(RegistryError, match="built-in presets"):
        gym.make("ImagePoser-v0", experts="no-such-preset")


@pytest.mark.parametrize("action", [12, -1, 1.5, "a", [0, 1]])
def test_out_of_range_action_raises(action):
    env = gym.make("ImagePoser-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_masked_defer_is_a_penalised_noop_and_stop_ends():
    env = gym.make("ImagePoser-v0", enable_stop=True, enable_defer=True)
    names = env.unwrapped.action_names
    assert names[-2:] == ["STOP", "DEFER"]
    obs, info = env.reset(seed=0, options={"prompt": "Draw a red circle. Use a mint background."})
    defer = names.index("DEFER")
    obs, r, term, trunc, info = env.step(defer)
    assert info["command"] == "Use a mint background."  # the circle went to the end of the queue
    obs, r, term, trunc, info = env.step(names.index("background-i2i"))
    assert info["command"] == "Draw a red circle."
    # A command may be deferred once: now DEFER is masked (and it is the last command anyway).
    assert obs["action_mask"][defer] == 0
    obs, r, term, trunc, info = env.step(defer)
    assert info["invalid_action"] and r < -0.1
    obs, r, term, trunc, info = env.step(names.index("STOP"))
    assert term and info["episode_summary"]["commands_failed"] >= 1


class Raising:
    name, modality, cost = "raising", "t2i", 1.0

    def __call__(self, instruction, canvas, rng, reflection=""):
        raise RuntimeError("CUDA out of memory (simulated)")


class Broken:
    name, modality, cost = "broken", "i2i", 1.0

    def __init__(self, what):
        self.what = what

    def __call__(self, instruction, canvas, rng, reflection=""):
        if self.what == "nan":
            return Canvas(image=np.full((128, 128, 3), np.nan))
        if self.what == "size":
            return Canvas(image=np.zeros((32, 32, 3), np.uint8))
        if self.what == "mode":
            return Canvas(image=np.zeros((128, 128), np.uint8))
        return "not a canvas"


@pytest.mark.parametrize("expert", [Raising(), Broken("nan"), Broken("size"), Broken("mode"), Broken("type")])
def test_faulty_expert_gives_failed_step_with_error(expert):
    from poser_env.experts.synthetic import ShapeWorldExpert

    env = ImagePoserEnv(experts=[ShapeWorldExpert("ok", modality="t2i", cost=1.0), expert])
    env.reset(seed=0, options={"prompt": "A red circle."})
    obs, r, term, trunc, info = env.step(1)
    assert "error" in info and info["command_passed"] is False
    assert not term
    obs, r, term, trunc, info = env.step(0)  # the episode goes on
    assert "error" not in info


# ------------------------------------------------------------------------------------------
# Refusals at reset: options, source, prompt length


def test_reset_refuses_options_and_sources_of_the_wrong_type():
    env = gym.make("ImagePoser-v0", disable_env_checker=True)
    with pytest.raises(TypeError, match=r"options=.*takes a dict such as \{'prompt'"):
        env.reset(options="prompt")
    with pytest.raises(TypeError, match=r"options\['source'\] must be a Scene, a 128x128x3 uint8 array or a PIL image"):
        env.reset(options={"prompt": "a red circle", "source": "str"})
    obs, info = env.reset(seed=0, options={"prompt": "a red circle"})  # nothing left behind
    assert info["task_id"] == "custom"


def test_prompt_length_is_capped_in_reset_and_in_the_extractor():
    from poser_env.extractors.base import MAX_PROMPT_CHARS
    from poser_env.extractors.grammar import GrammarExtractor

    long = ("a red circle left of a blue square, " * 400)[:MAX_PROMPT_CHARS] + "x"
    env = gym.make("ImagePoser-v0", disable_env_checker=True)
    with pytest.raises(
        ValueError, match=f"{MAX_PROMPT_CHARS + 1:,} characters long; the limit is {MAX_PROMPT_CHARS:,}"
    ):
        env.reset(options={"prompt": long})
    with pytest.raises(ValueError, match="the limit is"):
        GrammarExtractor().extract(long)
    from poser_env.types import Task

    with pytest.raises(ValueError, match="the limit is"):
        env.reset(options={"task": Task(id="t", prompt=long)})
    _, info = env.reset(seed=0, options={"prompt": long[1:]})  # at the limit: read
    assert info["commands"]


def test_cli_generate_refuses_a_too_long_prompt_in_one_line(tmp_path, capsys):
    from poser_agents.cli import main

    assert main(["generate", "a red circle. " * 1000, "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "the limit is 12,000" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g").exists()


def test_refused_first_reset_and_the_passive_checker():
    """Documented in docs/env.md: Gymnasium's checker breaks the first step after a refused first
    reset; disable_env_checker=True (or a fresh env) avoids it."""
    bad = {"prompt": "x" * 20_000}
    env = gym.make("ImagePoser-v0")
    with pytest.raises(ValueError):
        env.reset(options=bad)
    env.reset(seed=0)
    if tuple(int(x) for x in gym.__version__.split(".")[:2]) >= (1, 4):
        with pytest.raises(TypeError):  # Gymnasium's own error, not ours: if this starts passing, update the docs
            env.step(0)
    else:  # the checker of Gymnasium 1.2 (RLlib's pin, tested in .venv-rllib) does not trip over it
        env.step(0)
    env = gym.make("ImagePoser-v0", disable_env_checker=True)
    with pytest.raises(ValueError):
        env.reset(options=bad)
    env.reset(seed=0)
    env.step(0)


# ------------------------------------------------------------------------------------------
# Episodes cut short by a wrapper, and the card's info keys


def test_max_episode_steps_of_gym_make_still_gives_a_summary():
    from poser_env.wrappers import adopt_time_limit

    env = gym.make("ImagePoser-Gen-v0", max_episode_steps=2)
    assert adopt_time_limit(env) == 2 and env.unwrapped.step_limit == 2
    env.reset(seed=0)
    _, _, term, trunc, info = env.step(0)
    assert not (term or trunc) and "episode_summary" not in info
    _, _, term, trunc, info = env.step(0)
    assert trunc and info["episode_summary"]["steps"] == 2 and info["episode_summary"]["complete"] is True
    assert env.unwrapped.episode_summary() == info["episode_summary"]


def test_episode_summary_of_an_episode_a_wrapper_ended():
    env = gym.make("ImagePoser-Gen-v0", max_episode_steps=2)  # not adopted: the wrapper ends it
    env.reset(seed=0)
    env.step(0)
    _, _, term, trunc, info = env.step(0)
    assert trunc and "episode_summary" not in info
    summary = env.unwrapped.episode_summary()
    assert summary["complete"] is False and summary["steps"] == 2
    assert (
        summary["evaluator"]["judged"]
        and summary["commands_passed"] + summary["commands_failed"] == summary["n_commands"]
    )
    with pytest.raises(RuntimeError, match="reset"):
        ImagePoserEnv().episode_summary()


def _card_info_keys() -> set[str]:
    import re

    doc = ImagePoserEnv.__doc__
    section = doc[doc.index("## Info") :]
    section = section[: section.index("##", 3)]
    return set(re.findall(r"``(\w+)``", section))


def _docs_info_keys() -> set[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "env.md").read_text()
    table = text[text.index("## `info` keys") :]
    table = table[: table.index("\n## ")]
    return {k for row in table.splitlines() if row.startswith("| `") for k in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_card_and_docs_list_exactly_the_info_keys_of_real_episodes():
    from poser_env.experts.synthetic import ShapeWorldExpert

    seen: set[str] = set()
    for env_id in IDS:
        for seed in range(3):
            for _, _, info in rollout(gym.make(env_id), seed=seed, policy_seed=seed):
                seen |= set(info)
    env = gym.make("ImagePoser-v0", enable_stop=True, enable_defer=True)
    env.reset(seed=0, options={"prompt": "Draw a red circle."})
    seen |= set(env.step(env.unwrapped.action_names.index("DEFER"))[4])  # masked: invalid_action
    seen |= set(env.step(env.unwrapped.action_names.index("STOP"))[4])
    hard = gym.make("ImagePoser-Hard-v0", split="val", max_steps=32)  # premium-i2i: 4 calls spend the budget
    long_task = next(t for t in load_suite("hard_editing", "val") if len(t.edits) > 4)  # the budget ends it
    hard.reset(seed=0, options={"task": long_task})
    premium = hard.unwrapped.expert_names.index("premium-i2i")
    seen |= set(next(i for i in (hard.step(premium)[4] for _ in range(4)) if i.get("budget_spent")))
    faulty = ImagePoserEnv(experts=[ShapeWorldExpert("ok", modality="t2i", cost=1.0), Raising()])
    faulty.reset(seed=0, options={"prompt": "A red circle."})
    seen |= set(faulty.step(1)[4])  # error
    assert "episode" not in seen and "episode_summary" in seen
    assert _card_info_keys() == seen
    assert _docs_info_keys() == seen


def test_the_card_and_docs_list_exactly_the_observation_keys_of_real_episodes():
    import re
    from pathlib import Path

    doc = ImagePoserEnv.__doc__
    section = doc[doc.index("## Observation space") :]
    section = section[: section.index("##", 3)]
    card = set(re.findall(r"``(\w+)``", section)) - {
        "Dict",
        "Box",
        "cost_budget",
        "drift_visible",
        "observe_step_count",
    }
    text = (Path(__file__).parents[1] / "docs" / "env.md").read_text()
    table = text[text.index("## Observation") :]
    table = table[: table.index("\n## ")]
    docs = {re.findall(r"`(\w+)`", row)[0] for row in table.splitlines() if row.startswith("| `")}
    seen: set[str] = set()
    for env_id in IDS:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=0)
        assert set(obs) == set(env.step(0)[0]) == set(env.observation_space.spaces)
        assert ("budget" in obs) == (env.unwrapped.config.cost_budget is not None), env_id
        assert ("error" in obs) == env.unwrapped.config.drift_visible, env_id
        seen |= set(obs)
    assert card == docs == seen


def test_info_and_summary_report_what_was_not_understood():
    import gymnasium as gym

    import poser_env  # noqa: F401

    env = gym.make("ImagePoser-v0")
    _, info = env.reset(seed=0, options={"prompt": "A red star beside a wooden bench."})
    assert info["not_understood"] == ["beside a wooden bench"] and 0.0 < info["coverage"] < 1.0
    assert info["commands"][0]["not_understood"] == ["beside a wooden bench"]
    done = False
    while not done:
        _, _, term, trunc, info = env.step(env.unwrapped.action_names.index("counter-t2i"))
        done = term or trunc
        assert info["not_understood"] == ["beside a wooden bench"]
    summary = info["episode_summary"]
    assert summary["not_understood"] == ["beside a wooden bench"] and summary["coverage"] == info["coverage"]
    _, info = env.reset(seed=0, options={"prompt": "A red star left of a blue circle."})
    assert info["not_understood"] == [] and info["coverage"] == 1.0


def test_reset_seed_is_checked_by_the_env():
    """Gymnasium's own seed check raises gymnasium.error.Error (not a ValueError) and refuses numpy ints."""
    env = gym.make("ImagePoser-v0", split="val")
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
            env.reset(seed=bad)
    a, _ = env.reset(seed=np.int64(3))
    b, _ = env.reset(seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_v1_draws_v0s_tasks_and_the_forms_suites_and_v0_is_unchanged():
    # v1 is a new version because its task distribution changed; v0's ids keep their suites.
    v0 = gym.make("ImagePoser-v0", split="val").unwrapped.tasks
    v1 = gym.make("ImagePoser-v1", split="val").unwrapped.tasks
    assert {t.suite for t in v0} == {"geneval", "longform", "editing"}
    assert {t.suite for t in v1} == {"geneval", "longform", "editing", "forms", "forms_editing"}
    assert [t.id for t in v1 if t.suite not in ("forms", "forms_editing")] == [t.id for t in v0]
    assert {t.suite for t in gym.make("ImagePoser-Gen-v1").unwrapped.tasks} == {"geneval", "longform", "forms"}
    assert {t.suite for t in gym.make("ImagePoser-Edit-v1").unwrapped.tasks} == {"editing", "forms_editing"}
    assert {t.suite for t in gym.make("ImagePoser-Edit-v0").unwrapped.tasks} == {"editing"}
