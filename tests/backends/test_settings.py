"""Plain-data settings of the backends: model references, masks, expert and critic settings."""

from __future__ import annotations

import numpy as np
import pytest

from poser_env.backends.diffusers_experts import DiffusionSettings
from poser_env.backends.masks import RegionMask, WordsMask, make_mask_provider
from poser_env.backends.models import ModelRef, resolve_device, torch_dtype
from poser_env.backends.vlm_critic import VLMSettings, readable


def test_model_ref_defaults_and_errors():
    ref = ModelRef.coerce("stabilityai/sdxl-turbo")
    assert (ref.trust_remote_code, ref.use_safetensors, ref.dtype) == (False, True, "auto")
    assert ModelRef.coerce({"path": "a/b", "dtype": "bfloat16"}).dtype == "bfloat16"
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        ModelRef("a/b", dtype="fp8")
    with pytest.raises(ValueError, match="unknown model field"):
        ModelRef.coerce({"path": "a/b", "trust": True})
    with pytest.raises(ValueError, match="true or false"):
        ModelRef("a/b", trust_remote_code="yes")
    with pytest.raises(ValueError, match="non-empty 'path'"):
        ModelRef(" ")


def test_dtype_and_device_resolution():
    import torch

    assert torch_dtype("auto", "cpu") == torch.float32 and torch_dtype("auto", "cuda") == torch.float16
    assert torch_dtype("bfloat16", "cpu") == torch.bfloat16
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else resolve_device("auto"))
    kw = ModelRef("a/b", revision="v1", variant="fp16").load_kwargs("cpu", "diffusers")
    assert kw["use_safetensors"] is True and kw["revision"] == "v1" and kw["variant"] == "fp16"
    assert ("dtype" in kw) != ("torch_dtype" in kw)


def test_masks():
    img = np.zeros((64, 64, 3), np.uint8)
    words = WordsMask()
    left = words("Add a tree on the left.", img) > 0
    assert left[:, :30].all() and not left[:, 40:].any()
    top = words("Put a bird in the sky.", img) > 0
    assert top[:30].all() and not top[40:].any()
    assert words.box_for("Add a cat in the top-right corner.") == [0.45, 0.0, 1.0, 0.55]
    assert (words("Add a cat.", img) > 0).mean() == pytest.approx(0.64, abs=0.05)  # no spatial word: the whole minus a border
    region = make_mask_provider({"type": "region", "box": [0, 0, 0.5, 0.5]})
    assert isinstance(region, RegionMask) and (region("x", img) > 0).sum() == 32 * 32
    with pytest.raises(ValueError, match="fractions"):
        RegionMask([0.5, 0, 0.2, 1])
    with pytest.raises(ValueError, match="unknown mask provider 'sam'"):
        make_mask_provider({"type": "sam"})
    with pytest.raises(ValueError, match="allow_entry_points"):
        make_mask_provider({"entry_point": "os:getcwd"})


def test_settings_validation():
    with pytest.raises(ValueError, match="multiple of 8"):
        DiffusionSettings(resolution=30)
    with pytest.raises(ValueError, match="strength"):
        DiffusionSettings(strength=0)
    with pytest.raises(ValueError, match="strictly between"):
        VLMSettings(threshold=1.0)
    assert readable("  I see   a blue\nsquare. ") == "I see a blue square"
    assert readable("B\ufffd\ufffd Ans6obj1 Ans") == "" and readable("Ans6obj1 Ansion xq7") == ""
    assert readable("") == "" and readable("yes") == "" and readable("two blue squares, 3 stars") == "two blue squares, 3 stars"
