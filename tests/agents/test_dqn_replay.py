"""The compact replay buffer: SB3's samples bit for bit, in a fraction of the memory."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.buffers import DictReplayBuffer

import poser_env  # noqa: F401
from poser_agents.dqn.replay import CompactDictReplayBuffer, replay_buffer_bytes


def _fill(buffers, n, seed=0):
    env = gym.make("ImagePoser-v0")
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        a = rng.choice(np.flatnonzero(obs["action_mask"]))
        nxt, r, term, trunc, info = env.step(a)
        for b in buffers:
            b.add(
                {k: v[None].copy() for k, v in obs.items()},
                {k: v[None].copy() for k, v in nxt.items()},
                np.array([a]),
                np.array([r]),
                np.array([term]),
                [dict(info, **{"TimeLimit.truncated": trunc})],
            )
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
    return env


@pytest.mark.parametrize("capacity,compact_at", [(500, None), (150, 40)])  # the second wraps around and compacts
def test_samples_equal_sb3_dict_buffer(capacity, compact_at):
    env = gym.make("ImagePoser-v0")
    plain = DictReplayBuffer(capacity, env.observation_space, env.action_space, device="cpu")
    compact = CompactDictReplayBuffer(capacity, env.observation_space, env.action_space, device="cpu")
    if compact_at:
        compact.compact_at = compact_at
    _fill([plain, compact], 300)
    assert compact.n_rows < 3 * 2 * 300
    for seed in range(3):
        np.random.seed(seed)
        a = plain.sample(32)
        np.random.seed(seed)
        b = compact.sample(32)
        for key in env.observation_space.spaces:
            assert np.array_equal(a.observations[key].numpy(), b.observations[key].numpy()), key
            assert np.array_equal(a.next_observations[key].numpy(), b.next_observations[key].numpy()), key
        for f in ("actions", "rewards", "dones"):
            assert np.array_equal(getattr(a, f).numpy(), getattr(b, f).numpy())


def test_memory_per_100k_is_a_fraction_of_sb3s():
    m = replay_buffer_bytes(gym.make("ImagePoser-v0"), capacity=100_000, fill=200)
    assert m["gib"] < 0.5 * m["sb3_dict_buffer_gib"]
    assert m["distinct_vectors"] > 0 and m["fixed_bytes"] > 0


def test_masked_dqn_uses_it_by_default():
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    agent = DQNAgent(gym.make("ImagePoser-v0"), DQNConfig(buffer_size=1000, learning_starts=10))
    agent.learn(30)
    assert isinstance(agent.model.replay_buffer, CompactDictReplayBuffer)
    assert agent.model.replay_buffer.pos == agent.num_timesteps >= 30
    assert agent.model.policy.optimizer.defaults["foreach"] is True
