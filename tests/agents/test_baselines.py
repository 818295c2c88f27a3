"""Baselines: protocol, masks, the heuristic's reading of the observation, the oracle's bound."""

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_agents.baselines import HeuristicAgent, OracleAgent, RandomAgent, SingleExpertAgent, make_baseline
from poser_agents.rollout import aggregate, pick_tasks, run_episodes


@pytest.fixture(scope="module")
def env():
    return gym.make("ImagePoser-v0", split="val", enable_defer=True)


def test_random_respects_the_mask_single_and_batched(env):
    obs, _ = env.reset(seed=0)
    agent = RandomAgent(seed=0)
    mask = obs["action_mask"].copy()
    mask[:] = 0
    mask[3] = 1
    for _ in range(20):
        a, _ = agent.predict({**obs, "action_mask": mask})
        assert a == 3
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    a, _ = agent.predict(batch)
    assert a.shape == (2,)


def test_single_expert_and_unknown_name(env):
    obs, _ = env.reset(seed=0)
    agent = SingleExpertAgent(env, "counter-t2i")
    assert agent.predict(obs)[0] == env.unwrapped.expert_names.index("counter-t2i")
    with pytest.raises(ValueError, match="unknown expert 'nope'; available"):
        SingleExpertAgent(env, "nope")
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("smart", env)


def test_heuristic_picks_the_specialist_then_moves_on(env):
    names = env.unwrapped.expert_names
    obs, info = env.reset(seed=0, options={"prompt": "Use a lavender background."})
    agent = HeuristicAgent(env, preferences={"background": ["background-i2i", "layout-t2i"]})
    a, _ = agent.predict(obs)
    assert names[a] == "background-i2i"
    tried = obs["tried"].copy()
    tried[a] = 1
    a2, _ = agent.predict({**obs, "tried": tried})
    assert names[a2] == "layout-t2i"


def test_oracle_is_at_least_its_rollout_policy_on_each_episode(env):
    tasks = pick_tasks(env, 6)
    heur = run_episodes(env, HeuristicAgent(env), tasks, seed=0)
    orac = run_episodes(env, OracleAgent(env), tasks, seed=0)
    for h, o in zip(heur, orac):
        assert o["evaluator"]["alignment"] >= h["evaluator"]["alignment"] - 1e-9
    agg = aggregate(orac)
    assert set(agg) >= {"alignment", "accuracy", "cost", "steps", "per_suite"}


def test_sb3_evaluate_policy_accepts_a_baseline(env):
    from stable_baselines3.common.evaluation import evaluate_policy

    mean, std = evaluate_policy(HeuristicAgent(env), env, n_eval_episodes=2)
    assert np.isfinite(mean)
