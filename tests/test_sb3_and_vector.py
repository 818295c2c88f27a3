"""The env serves other libraries unchanged: vector envs, SB3's PPO and DQN."""

import gymnasium as gym
import numpy as np

import poser_env  # noqa: F401


def test_async_vector_env_runs():
    envs = gym.make_vec("ImagePoser-v0", num_envs=2, vectorization_mode="async")
    try:
        obs, info = envs.reset(seed=0)
        assert obs["instruction"].shape[0] == 2
        ends = 0
        for _ in range(40):  # long enough to cross episode ends (autoreset, None-free infos)
            obs, r, term, trunc, info = envs.step(envs.action_space.sample())
            ends += int((term | trunc).sum())
        assert r.shape == (2,) and ends > 0
    finally:
        envs.close(terminate=True)  # never hang the suite on a pending call


def test_sb3_ppo_and_dqn_run_unchanged():
    from stable_baselines3 import DQN, PPO

    env = gym.make("ImagePoser-v0")
    PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu").learn(192)
    dqn = DQN("MultiInputPolicy", env, learning_starts=50, buffer_size=1000, train_freq=4, seed=0, device="cpu")
    dqn.learn(200)
    obs, _ = env.reset(seed=0)
    action, _ = dqn.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))


def test_maskable_ppo_reads_action_masks():
    from sb3_contrib import MaskablePPO

    env = gym.make("ImagePoser-v0", enable_defer=True)
    MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu").learn(64)
    assert np.asarray(env.unwrapped.action_masks()).dtype == bool
