"""The episode recorder writes a PNG strip a person can look at."""

import gymnasium as gym
import pytest
from PIL import Image

import poser_env  # noqa: F401
from poser_env.wrappers import EpisodeRecorder, save_strip


def test_recorder_saves_one_frame_per_step(tmp_path):
    env = EpisodeRecorder(gym.make("ImagePoser-v0"), folder=tmp_path)
    obs, info = env.reset(seed=1)
    done, steps = False, 0
    while not done:
        obs, r, term, trunc, info = env.step(steps % env.action_space.n)
        steps += 1
        done = term or trunc
    png = tmp_path / "episode-0.png"
    img = Image.open(png)
    assert img.width == 200 * (steps + 1)
    assert len(env.frames) == steps + 1 and len(env.captions) == steps + 1


def test_save_strip_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        save_strip([], [], tmp_path / "x.png")
