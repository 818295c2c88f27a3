"""EnvConfig: every field checked at construction (through gym.make), and experts as names."""

import math

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_env.config import EnvConfig
from poser_env.registry import RegistryError


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cost_weight": float("nan")}, "cost_weight"),
        ({"cost_weight": 1e308}, "cost_weight"),
        ({"cost_weight": True}, "cost_weight"),
        ({"cost_weight": "0.1"}, "cost_weight"),
        ({"step_penalty": float("inf")}, "step_penalty"),
        ({"step_penalty": -0.1}, "step_penalty"),
        ({"invalid_action_penalty": float("nan")}, "invalid_action_penalty"),
        ({"keep_best": "no"}, "keep_best"),
        ({"enable_stop": 1}, "enable_stop"),
        ({"enable_defer": None}, "enable_defer"),
        ({"max_steps": 2.0}, "max_steps"),
        ({"max_steps": True}, "max_steps"),
        ({"max_steps": 10**9}, "max_steps"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"canvas_size": 100.0}, "canvas"),
        ({"suite": ["mixed"]}, "suite"),
        ({"split": None}, "split"),
        ({"text_encoder": 3}, "text_encoder"),
        ({"experts": None}, "experts"),
        ({"experts": 3}, "experts"),
        ({"experts": []}, "experts"),
        ({"experts": ["sketchy-t2i", {"name": "x", "entry_point": "a:b"}]}, "experts"),
    ],
)
def test_bad_values_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field if field != "canvas" else "canvas size"):
        gym.make("ImagePoser-v0", **kwargs)
    with pytest.raises(ValueError):
        EnvConfig(**kwargs)


def test_the_experts_message_says_what_is_accepted():
    with pytest.raises(ValueError) as e:
        gym.make("ImagePoser-v0", experts=None)
    for accepted in ("preset name", "list of expert names", "registry specs"):
        assert accepted in str(e.value)


def test_values_in_range_are_kept_and_numpy_scalars_become_plain():
    cfg = EnvConfig(cost_weight=np.float32(0.5), max_steps=np.int64(8), keep_best=np.bool_(False), step_penalty=0)
    assert (cfg.cost_weight, cfg.max_steps, cfg.keep_best, cfg.step_penalty) == (0.5, 8, False, 0.0)
    assert type(cfg.max_steps) is int and type(cfg.keep_best) is bool
    env = gym.make("ImagePoser-v0", cost_weight=100, step_penalty=100, max_steps=1000)
    env.reset(seed=0)
    _, r, *_ = env.step(0)
    assert math.isfinite(r)


def test_a_list_of_names_selects_a_subset_of_the_default_registry_in_order():
    env = gym.make("ImagePoser-v0", experts=["recolor-i2i", "sketchy-t2i"])
    assert env.unwrapped.action_names == ["recolor-i2i", "sketchy-t2i"]
    assert env.action_space.n == 2
    obs, _ = env.reset(seed=0)
    assert obs["action_mask"].shape == (2,)
    _, _, _, _, info = env.step(1)
    assert info["expert"] == "sketchy-t2i"
    env.spec.to_json()  # names are plain data: the spec still serialises


def test_unknown_and_repeated_names_are_refused_by_name():
    with pytest.raises(RegistryError, match=r"unknown expert name\(s\) \['nope'\].*sketchy-t2i, layout-t2i"):
        gym.make("ImagePoser-v0", experts=["sketchy-t2i", "nope"])
    with pytest.raises(RegistryError, match="repeated"):
        gym.make("ImagePoser-v0", experts=["sketchy-t2i", "sketchy-t2i"])


def test_cli_refuses_a_checkpoint_env_with_bad_values(tmp_path, capsys):
    """``poser eval --agent DIR`` builds the env from agent.json: a bad value there is one line, exit 2."""
    import json

    from poser_agents.cli import main
    from poser_agents.dqn import DQNAgent, DQNConfig

    agent = DQNAgent(
        gym.make("ImagePoser-v0", split="train"),
        DQNConfig(learning_starts=10, buffer_size=100, net_arch=[16], embed_dim=8),
    )
    folder = agent.save(tmp_path / "agent")
    original = json.loads((folder / "agent.json").read_text())
    for key, value, field in (
        ("cost_weight", 1e308, "cost_weight"),
        ("experts", ["sketchy-t2i", "nope"], "nope"),
        ("experts", None, "experts must be"),
        ("keep_best", "no", "keep_best"),
    ):
        meta = json.loads(json.dumps(original))
        meta["env_kwargs"][key] = value
        (folder / "agent.json").write_text(json.dumps(meta))
        assert main(["eval", "--agent", str(folder), "--episodes", "1", "--seeds", "0"]) == 2
        err = capsys.readouterr().err
        assert field in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_canvas_is_the_deprecated_name_of_canvas_size(tmp_path):
    with pytest.warns(DeprecationWarning, match="canvas= is deprecated, use canvas_size="):
        old = gym.make("ImagePoser-v0", canvas=64, split="val")
    new = gym.make("ImagePoser-v0", canvas_size=64, split="val")
    assert old.unwrapped.config == new.unwrapped.config and "canvas" not in new.unwrapped.config.to_dict()
    a, _ = old.reset(seed=3)
    b, _ = new.reset(seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a) and old.unwrapped.render_canvas().shape == (64, 64, 3)
    with pytest.warns(DeprecationWarning, match="EnvConfig.canvas is deprecated"):
        assert new.unwrapped.config.canvas == 64
    with pytest.raises(TypeError, match="same setting; pass canvas_size= only"):
        gym.make("ImagePoser-v0", canvas=64, canvas_size=64)
    with pytest.raises(TypeError, match="same setting"):
        EnvConfig(canvas=64, canvas_size=96)


def test_a_preset_may_still_say_canvas(tmp_path):
    from pathlib import Path

    from poser_env.presets import load_real_preset

    real12 = Path(poser_env.__file__).parent / "data" / "presets" / "real12.toml"
    assert load_real_preset(real12).env_kwargs["canvas_size"] == 512
    old = tmp_path / "old.toml"
    old.write_text(real12.read_text(encoding="utf-8").replace("canvas_size = 512", "canvas = 512"), encoding="utf-8")
    assert load_real_preset(old).env_kwargs["canvas"] == 512  # passed on to EnvConfig, which warns


def test_renamed_options_warn_visibly_under_python_default_filters():
    """Python hides DeprecationWarning outside __main__; ours (raised deep inside gym.make) are
    shown because ``import poser_env`` adds a filter for ImagePoserDeprecationWarning."""
    import subprocess
    import sys

    code = "import gymnasium as gym, poser_env; gym.make('ImagePoser-v0', canvas=64)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ImagePoserDeprecationWarning: ImagePoser option canvas= is deprecated, use canvas_size=" in r.stderr
