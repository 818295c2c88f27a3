"""RLlib (new API stack) on ImagePoser-v0: PPO with action masking and DQN, two env runners.

``ray[rllib]`` pins gymnasium 1.2.2, so these run in their own environment (``make test``
builds ``.venv-rllib``); in the main environment they are skipped with that reason.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401

pytest.importorskip(
    "ray.rllib",
    reason="ray[rllib] is not installed here (it pins gymnasium 1.2.2: make test runs these in .venv-rllib)",
)

from poser_agents.distributed.rllib import RLlibObservation, dqn_config  # noqa: E402

pytestmark = pytest.mark.ray


def test_observation_layout_for_rllib():
    env = gym.make("ImagePoser-v0", enable_defer=True)
    wrapped = RLlibObservation(env, masked=True)
    obs, _ = wrapped.reset(seed=0)
    assert wrapped.observation_space.contains(obs)
    raw, _ = env.reset(seed=0)
    assert np.array_equal(obs["action_mask"], raw["action_mask"].astype(np.float32))
    flat = RLlibObservation(env, masked=False)
    assert flat.observation_space.shape[0] == obs["observations"].shape[0] + env.action_space.n
    with pytest.raises(ValueError, match="no action masking"):
        dqn_config({"enable_defer": True})


def test_ppo_example_masks_actions_with_two_env_runners(ray_local, tmp_path):
    import torch
    from ray.rllib.core.columns import Columns

    from examples.train_rllib import main

    summary = main(
        [
            "--algo",
            "ppo",
            "--iterations",
            "1",
            "--batch",
            "128",
            "--defer",
            "--eval-episodes",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert summary["env_runners"] == 2
    assert summary["curve"][0]["env_steps"] >= 128 and summary["curve"][0]["episodes"] > 0
    assert 0 <= summary["val"]["rllib-ppo"]["alignment"] <= 1
    assert json.loads((tmp_path / "results.json").read_text())["algo"] == "ppo"
    # The module itself masks: with DEFER not allowed, its logit is RLlib's FLOAT_MIN.
    from ray.rllib.core.rl_module.rl_module import RLModule

    module = RLModule.from_checkpoint(f"{summary['checkpoint']}/learner_group/learner/rl_module/default_policy")
    env = RLlibObservation(gym.make("ImagePoser-v0", enable_defer=True), masked=True)
    obs, _ = env.reset(seed=0)
    obs["action_mask"][:] = 1.0
    obs["action_mask"][-1] = 0.0
    batch = {Columns.OBS: {k: torch.as_tensor(v)[None] for k, v in obs.items()}}
    logits = module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS][0]
    assert logits[-1] < -1e30 and torch.isfinite(logits[:-1]).all()


def test_dqn_trains_with_two_env_runners(ray_local):
    algo = dqn_config({"split": "train"}, num_env_runners=2, learning_starts=64, steps_per_iteration=128).build_algo()
    try:
        runners = algo.train()["env_runners"]
        assert algo.env_runner_group.num_healthy_remote_workers() == 2
        assert runners["num_env_steps_sampled_lifetime"] >= 128
    finally:
        algo.stop()
