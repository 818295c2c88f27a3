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


PROMPT = (
    "Include two pink hexagons and a large brown heart to the right of a brown triangle. Create an image with "
    "a single large purple hexagon and exactly 2 big circles. I want a single white heart."
)


def _degraded_inpaint_episode(env, names):
    """A reset seed whose episode degrades inpaint-i2i and not its replica B (read from the env, for the test)."""
    ia, ib = names.index("inpaint-i2i"), names.index("inpaint-b-i2i")
    for seed in range(200):
        obs, info = env.reset(seed=seed, options={"prompt": PROMPT})
        degraded = env.unwrapped._ep.degraded
        if degraded[ia] and not degraded[ib]:
            return seed
    raise AssertionError("no seed degrades inpaint-i2i alone")


def _calls(env, agent, seed):
    obs, info = env.reset(seed=seed, options={"prompt": PROMPT})
    kinds = [c["kind"] for c in info["commands"]]
    calls, done = [], False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.predict(obs)[0])
        calls.append((info["expert"], info.get("acted_kind")))
        done = terminated or truncated
    return kinds, calls, info["episode_summary"]


def test_heuristic_memory_skips_an_expert_that_failed_silently_on_an_earlier_command():
    env = gym.make(
        "ImagePoser-v0", split="val", experts="synthetic_drift", drift_p=0.5, drift_fail=1.0, drift_modality="i2i"
    )
    names = env.unwrapped.expert_names
    seed = _degraded_inpaint_episode(env, names)
    memory = make_baseline("heuristic_memory", env)
    kinds, calls, summary = _calls(env, memory, seed)
    assert kinds.count("add") >= 2 and "inpaint-i2i" in summary["degraded"]
    adds = [e for e, k in calls if k == "add"]
    # The degraded specialist fails once, on the first add; every later call goes to its replica.
    assert adds[0] == "inpaint-i2i" and "inpaint-i2i" not in adds[1:] and adds[1] == "inpaint-b-i2i"
    assert "inpaint-i2i" in memory.suspects()
    # The memoryless heuristic starts every add command on the degraded specialist again.
    _, heur_calls, _ = _calls(env, make_baseline("heuristic", env), seed)
    assert [e for e, k in heur_calls if k == "add"].count("inpaint-i2i") >= 2
    # A new episode forgets what the last one showed.
    obs, _ = env.reset(seed=seed, options={"prompt": PROMPT})
    memory.predict(obs)
    assert memory.suspects() == []


def test_heuristic_memory_is_the_heuristic_when_nothing_fails_silently(env):
    """Without drift on the base registry, its choices on a fresh command are the heuristic's."""
    memory, heuristic = make_baseline("heuristic_memory", env), HeuristicAgent(env)
    obs, _ = env.reset(seed=0)
    assert memory.predict(obs)[0] == heuristic.predict(obs)[0]
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    assert memory.predict(batch, episode_start=np.array([True, True]))[0].shape == (2,)


def test_heuristic_memory_switches_provider_on_a_later_command_of_another_kind():
    """synthetic_providers with one provider down: one silent failure on the first command makes
    the provider suspect, so the later add goes to the other provider's inpainter at once."""
    env = gym.make(
        "ImagePoser-v0",
        split="val",
        experts="synthetic_providers",
        drift_unit="provider",
        drift_p=1.0,
        drift_fail=1.0,
    )
    providers = env.unwrapped.providers
    seed = next(
        s
        for s in range(50)
        if env.reset(seed=s, options={"prompt": PROMPT})
        and {p for p, d in zip(providers, env.unwrapped._ep.degraded) if d} == {"north"}
    )
    memory = make_baseline("heuristic_memory", env)
    kinds, calls, summary = _calls(env, memory, seed)
    assert kinds[0] == "generate" and "add" in kinds
    assert calls[0] == ("north-layout-t2i", "generate") and calls[1] == ("south-layout-t2i", "generate")
    adds = [e for e, k in calls if k == "add"]
    assert adds and all(e.startswith("south-") for e in adds)  # another kind: no north call wasted
    assert "north-inpaint-i2i" in memory.suspects()  # the whole provider, not only the expert that failed
    # The memoryless heuristic starts each add on the first provider again.
    _, heur_calls, _ = _calls(env, make_baseline("heuristic", env), seed)
    assert [e for e, k in heur_calls if k == "add"][0] == "north-inpaint-i2i"


def test_oracle_rollout_skips_what_the_episode_degrades_and_is_the_heuristic_otherwise(env):
    """The oracle's rollout reads the hidden draw (ground truth, as its search does); without
    drift it is the heuristic."""
    drift = gym.make(
        "ImagePoser-v0", split="val", experts="synthetic_providers", drift_unit="provider", drift_p=1.0, drift_fail=1.0
    )
    names, providers = drift.unwrapped.expert_names, drift.unwrapped.providers
    for seed in range(8):
        obs, _ = drift.reset(seed=seed, options={"prompt": PROMPT})
        down = {p for p, d in zip(providers, drift.unwrapped._ep.degraded) if d}
        choice = names[int(OracleAgent(drift).rollout.predict(obs)[0])]
        assert choice.endswith("layout-t2i") and choice.split("-")[0] not in down
        assert names[int(HeuristicAgent(drift).predict(obs)[0])] == "north-layout-t2i"
    obs, _ = env.reset(seed=0)
    assert OracleAgent(env).rollout.predict(obs)[0] == HeuristicAgent(env).predict(obs)[0]


def test_heuristic_memory_keeps_trusting_a_provider_that_passed_a_command():
    """A provider that passed a command is serving: its later silent failure is an ordinary miss."""
    env = gym.make("ImagePoser-v0", split="val", experts="synthetic_providers")
    obs, _ = env.reset(seed=0, options={"prompt": PROMPT})

    def at(step: float, left: float, image: np.ndarray) -> dict:
        return {**obs, "progress": np.array([step, 0, 0, left, 0], np.float32), "image": image}

    other = obs["image"] + 1
    for proven in (True, False):
        memory = make_baseline("heuristic_memory", env)
        assert env.unwrapped.expert_names[int(memory.predict(at(0.1, 0.5, obs["image"]))[0])] == "north-layout-t2i"
        if proven:  # the call passed the command (one command fewer left), then a call changed nothing
            memory.predict(at(0.2, 0.25, other))
            memory.predict(at(0.3, 0.25, other))
            assert memory.suspects() == []
        else:  # the first call changed nothing: the provider is suspect
            memory.predict(at(0.2, 0.5, obs["image"]))
            assert "north-inpaint-i2i" in memory.suspects()
