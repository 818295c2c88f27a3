"""Every named learner builds on a level and acts through the evaluation adapter (no training:
the end-to-end training runs are in test_benchmark_cli.py)."""

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_agents.benchmark.algos import ALGOS, Predictor, build_model, check_algo, episode_starts
from poser_agents.rollout import run_episode


@pytest.mark.parametrize("algo", ALGOS)
def test_each_algorithm_builds_and_plays_an_episode(algo):
    env = gym.make("ImagePoser-Hard-v0", split="val")
    model, kind = build_model(algo, env, seed=0, steps=1000)
    predictor = Predictor(model, kind)
    wrapped = episode_starts(gym.make("ImagePoser-Hard-v0", split="val"), predictor)
    summary = run_episode(wrapped, predictor, wrapped.unwrapped.tasks[0], seed=0)
    assert summary["steps"] >= 1
    if kind == "recurrent":
        assert predictor.state is not None  # the LSTM state was carried through the episode
        wrapped.reset(seed=1)
        assert predictor.state is None and predictor.start  # and reset with the next episode
    if kind == "offpolicy" and algo != "masked_dqn":
        assert model.replay_buffer.buffer_size == 1000


def test_recurrent_ppo_differs_from_ppo_only_in_the_lstm():
    env = gym.make("ImagePoser-v0")
    ppo, _ = build_model("ppo", env, seed=0, steps=1000)
    rppo, _ = build_model("recurrent_ppo", env, seed=0, steps=1000)
    for name in ("n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda", "ent_coef", "clip_range"):
        a, b = getattr(ppo, name), getattr(rppo, name)
        assert (a(1.0) if callable(a) else a) == (b(1.0) if callable(b) else b), name
    assert (rppo.n_steps, rppo.batch_size) == (2048, 64)


def test_entry_points_need_the_flag():
    with pytest.raises(ValueError, match="--allow-entry-points"):
        check_algo("tests.agents.benchmark.custom_algo:make_a2c")
    check_algo("tests.agents.benchmark.custom_algo:make_a2c", allow_entry_points=True)
    env = gym.make("ImagePoser-v0")
    with pytest.raises(ValueError, match="has no attribute"):
        build_model("tests.agents.benchmark.custom_algo:nothing", env, 0, 10, allow_entry_points=True)
    with pytest.raises(TypeError, match="no learn"):
        build_model("tests.agents.benchmark.test_algos:_not_a_model", env, 0, 10, allow_entry_points=True)


def _not_a_model(env, seed=0):
    return np.zeros(1)


@pytest.mark.parametrize(
    "factory, kind", [("make_recurrent_ppo", "recurrent"), ("make_maskable_ppo", "masked"), ("make_a2c", "custom")]
)
def test_a_users_contrib_model_is_evaluated_as_its_kind(factory, kind):
    """A user's RecurrentPPO carries its LSTM state through the episode (scored memoryless
    otherwise), a user's MaskablePPO is given the action mask."""
    env = gym.make("ImagePoser-Hard-v0", split="val")
    model, got = build_model(f"tests.agents.benchmark.custom_algo:{factory}", env, 0, 10, allow_entry_points=True)
    assert got == kind
    predictor = Predictor(model, got)
    wrapped = episode_starts(gym.make("ImagePoser-Hard-v0", split="val"), predictor)
    assert run_episode(wrapped, predictor, wrapped.unwrapped.tasks[0], seed=0)["steps"] >= 1
    if kind == "recurrent":
        assert predictor.state is not None


@pytest.mark.parametrize("factory", ["make_wrapped_recurrent_ppo", "make_wrapped_maskable_ppo"])
def test_a_users_wrapper_gets_sb3s_predict_arguments(factory):
    """A user's object holding a RecurrentPPO (or MaskablePPO), whose predict takes SB3's state
    and episode_start (action_masks): the state it returns is carried through the episode and
    reset at the next, the mask given; it was called memoryless and unmasked."""
    env = gym.make("ImagePoser-Hard-v0", split="val")
    model, kind = build_model(f"tests.agents.benchmark.custom_algo:{factory}", env, 0, 10, allow_entry_points=True)
    predictor = Predictor(model, kind)
    wrapped = episode_starts(gym.make("ImagePoser-Hard-v0", split="val"), predictor)
    for task in wrapped.unwrapped.tasks[:2]:
        assert run_episode(wrapped, predictor, task, seed=0)["steps"] >= 2
    states, starts, masks = zip(*model.calls)
    assert all(m is not None and m.dtype == bool for m in masks)
    if "recurrent" in factory:
        # A fresh state at each episode's first step, the LSTM's own after it.
        assert [bool(start[0]) for start in starts].count(True) == 2
        assert all((state is None) == bool(start[0]) for state, start in zip(states, starts))


def test_a_factory_returning_a_model_of_another_level_is_refused():
    env = gym.make("ImagePoser-Gen-v0", split="train")
    with pytest.raises(TypeError, match="returned a model of another env .*build it on the env the factory is given"):
        build_model("tests.agents.benchmark.custom_algo:make_on_another_level", env, 0, 10, allow_entry_points=True)


def test_learner_settings_are_what_the_model_is_built_with():
    """The settings a run records are the ones its model has (one source for both)."""
    from poser_agents.benchmark.algos import learner_settings

    env = gym.make("ImagePoser-Drift-v0")
    rppo, _ = build_model("recurrent_ppo", env, seed=3, steps=1000)
    settings = learner_settings("recurrent_ppo", 1000)
    assert settings["policy"] == "MultiInputLstmPolicy"
    assert rppo.policy.lstm_actor.hidden_size == settings["policy_kwargs"]["lstm_hidden_size"] == 64
    assert rppo.policy.shared_lstm and rppo.policy.lstm_critic is None
    dqn, _ = build_model("masked_dqn", env, seed=3, steps=500)
    recorded = learner_settings("masked_dqn", 500)
    assert recorded["buffer_size"] == 500 and "seed" not in recorded
    assert {k: v for k, v in dqn.config.to_dict().items() if k != "seed"} == recorded
    assert learner_settings("qrdqn", 10**7)["buffer_size"] == 100_000
    assert learner_settings("grpo", 1000) is None


@pytest.mark.parametrize("algo", ["ppo", "recurrent_ppo"])
def test_a_named_sb3_learner_trains_on_one_torch_thread(algo):
    """Its result depends on torch's thread count (docs/benchmark.md): a named learner fixes it
    at one, whatever OMP_NUM_THREADS or the machine's cores would give."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        env = gym.make("ImagePoser-Drift-v0")
        build_model(algo, env, seed=0, steps=64)
        assert torch.get_num_threads() == 1
        env.close()
    finally:
        torch.set_num_threads(before)
