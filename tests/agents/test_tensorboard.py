"""TensorBoard: the masked DQN and SB3's PPO write the project's metrics and episode strips, read back from the event files."""

from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install -e .[tensorboard])")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import poser_env  # noqa: F401,E402
from poser_agents.common.tensorboard import PoserTensorBoardCallback  # noqa: E402
from poser_agents.dqn import DQNAgent, DQNConfig  # noqa: E402


def _read(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def test_masked_dqn_tensorboard_log(tmp_path):
    env = gym.make("ImagePoser-v0", split="train")
    config = DQNConfig(
        learning_starts=100, log_interval=10, tensorboard_log=str(tmp_path / "tb"), tensorboard_strip_every=15
    )
    DQNAgent(env, config).learn(300)
    runs = sorted((tmp_path / "tb").iterdir())
    assert [r.name for r in runs] == ["MaskedDQN_1"]
    events = _read(runs[0])
    scalars = set(events.Tags()["scalars"])
    assert {"poser/alignment", "poser/accuracy", "poser/cost", "poser/critic_agreement", "train/loss"} <= scalars
    assert any(t.startswith("poser/accuracy_by_category/") for t in scalars)
    assert all(0.0 <= e.value <= 1.0 for e in events.Scalars("poser/alignment"))
    strips = events.Images("poser/episode_strip")
    assert len(strips) >= 2 and strips[0].width > strips[0].height > 100
    assert len(list((runs[0] / "strips").glob("step-*.png"))) >= 2
    with pytest.raises(ValueError, match="tensorboard_strip_every"):
        DQNConfig(tensorboard_strip_every=-1)


def test_ppo_with_the_callback(tmp_path):
    from stable_baselines3 import PPO

    env = gym.make("ImagePoser-v0", split="train")
    model = PPO(
        "MultiInputPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        tensorboard_log=str(tmp_path / "tb"),
        seed=0,
        device="cpu",
    )
    callback = PoserTensorBoardCallback(strip_every=10)
    model.learn(192, callback=callback)
    events = _read(tmp_path / "tb" / "PPO_1")
    assert {"poser/alignment", "poser/accuracy", "poser/cost", "rollout/ep_rew_mean"} <= set(events.Tags()["scalars"])
    assert len(events.Images("poser/episode_strip")) >= 1 and callback.episodes >= 10
