"""Faults of real models become failed steps or fallbacks with a clear log line, never crashes."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from poser_env.backends.pool import ModelPool
from poser_env.env import ImagePoserEnv
from poser_env.experts.diffusion import DiffusersExpert
from poser_env.presets import make_env
from tests.backends.fixtures import write_preset

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")


def _expert(name, folder, **kw):
    return {"name": name, "type": "t2i", "model": str(folder), "num_inference_steps": 2, "height": 32, **kw}


def _experts_toml(*experts) -> str:
    out = []
    for e in experts:
        out.append("[[experts]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in e.items()))
    return "\n\n".join(out)


def _toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"' + str(v) + '"'


def test_missing_model_nan_weights_give_failed_steps_and_the_episode_goes_on(tmp_path, tiny):
    experts = _experts_toml(
        _expert("good", tiny["sd"]), _expert("missing", "./no-such-model"), _expert("nan", tiny["sd_nan"])
    )
    preset = write_preset(tmp_path, tiny, experts=experts, extractor='type = "grammar"')
    env = make_env(preset, max_steps=4)
    env.reset(seed=0, options={"prompt": "A red circle."})
    _, _, term, trunc, info = env.step(1)
    assert info["command_passed"] is False and "ModelLoadError" in info["error"] and "no-such-model" in info["error"]
    _, _, term, trunc, info = env.step(2)
    assert "NaN" in info["error"] and "dtype" in info["error"]
    _, _, term, trunc, info = env.step(0)
    assert "error" not in info and not trunc


def test_out_of_memory_offloads_retries_then_fails_the_step(tiny, caplog):
    import torch

    pool = ModelPool({"device": "auto", "max_on_device": 2})
    expert = DiffusersExpert("oom", model=str(tiny["sd_b"]), task="t2i", num_inference_steps=2, height=32, pool=pool)
    calls = []

    def out_of_memory(module, args):
        calls.append(1)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")

    env = ImagePoserEnv(experts=[expert], canvas_size=64, max_steps=3)
    env.reset(seed=0, options={"prompt": "A red circle."})
    handle = expert.pipeline().unet.register_forward_pre_hook(out_of_memory)
    try:
        with caplog.at_level(logging.WARNING, logger="poser_env.experts.diffusion"):
            _, _, _, _, info = env.step(0)
    finally:
        handle.remove()
    assert len(calls) == 2  # tried, offloaded the others, retried once
    assert "out of accelerator memory" in info["error"] and "max_on_device" in info["error"]
    assert "retrying once" in caplog.text
    _, _, _, _, info = env.step(0)  # the model works again: the episode goes on
    assert "error" not in info


def test_expert_that_raises_is_a_failed_step(tiny):
    with pytest.raises(ValueError, match="steps x strength"):
        DiffusersExpert("bad", model=str(tiny["sd"]), task="img2img", num_inference_steps=1, strength=0.5)
    with pytest.raises(ValueError, match="unknown setting"):
        DiffusersExpert("bad", model=str(tiny["sd"]), task="t2i", stepz=3)
    # A plain SD checkpoint named as InstructPix2Pix: the expert raises inside the step.
    wrong = DiffusersExpert("wrong", model=str(tiny["sd"]), task="instruct-pix2pix", num_inference_steps=2, height=32)
    good = DiffusersExpert("good", model=str(tiny["sd"]), task="t2i", num_inference_steps=2, height=32)
    env = ImagePoserEnv(experts=[wrong, good], canvas_size=64, max_steps=3)
    env.reset(seed=0, options={"prompt": "A red circle."})
    _, _, term, trunc, info = env.step(0)
    assert info["command_passed"] is False and "not an InstructPix2Pix pipeline" in info["error"]
    _, _, term, trunc, info = env.step(1)
    assert "error" not in info


def test_safety_rejection_is_a_failed_step_and_off_by_default(tmp_path, tiny):
    preset = write_preset(tmp_path, tiny, extractor='type = "grammar"')
    env = make_env(preset)
    assert all(e.safety is None for e in env.registry)
    # threshold 0: any probability of the "unsafe" descriptions rejects: every image is refused.
    strict = write_preset(
        tmp_path,
        tiny,
        name="strict.toml",
        extractor='type = "grammar"',
        extra=f'[safety]\ntype = "clip"\nmodel = "{tiny["clip"]}"\nthreshold = 0.0\n',
    )
    env = make_env(strict, max_steps=2)
    env.reset(seed=0, options={"prompt": "A red circle."})
    before = env.unwrapped.render_canvas()
    _, _, term, trunc, info = env.step(0)
    assert "SafetyRejection" in info["error"] and "clip-safety" in info["error"]
    assert np.array_equal(env.unwrapped.render_canvas(), before)  # the rejected image is not kept
    assert not term and not trunc


def test_diffusers_safety_checker_hook(tmp_path, tiny):
    for folder, rejected in (("sd_safety", False), ("sd_safety_strict", True)):
        preset = write_preset(
            tmp_path,
            tiny,
            name=f"{folder}.toml",
            extractor='type = "grammar"',
            extra=f'[safety]\ntype = "diffusers"\nmodel = "{tiny[folder]}"\n',
        )
        env = make_env(preset, max_steps=2)
        env.reset(seed=0, options={"prompt": "A red circle."})
        *_, info = env.step(0)
        assert ("StableDiffusionSafetyChecker" in info.get("error", "")) is rejected


def test_old_setting_names_still_build_with_a_warning_naming_diffusers_name():
    from poser_env.experts.diffusion import DiffusionSettings

    with pytest.warns(DeprecationWarning, match="'num_inference_steps'"):
        old = DiffusionSettings.from_settings(
            {"steps": 2, "guidance": 3.0, "image_guidance": 1.2, "resolution": 32}, "x"
        )
    assert old == DiffusionSettings(num_inference_steps=2, guidance_scale=3.0, image_guidance_scale=1.2, height=32)
    assert old.side == 32 and DiffusionSettings(width=64).side == 64
    with pytest.raises(ValueError, match="same setting"), pytest.warns(DeprecationWarning):
        DiffusionSettings.from_settings({"steps": 2, "num_inference_steps": 3}, "x")
    with pytest.raises(ValueError, match="square"):
        DiffusionSettings(height=32, width=64)
    with pytest.raises(ValueError, match="unknown setting"):
        DiffusionSettings.from_settings({"num_steps": 2}, "x")
    for bad in (float("nan"), float("inf"), -1.0, "7.5", True):
        with pytest.raises(ValueError, match="guidance_scale must be a finite number"):
            DiffusionSettings(guidance_scale=bad)
