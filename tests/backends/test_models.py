"""Plain-data settings: model references and dtypes (the model machinery), expert and critic settings."""

from __future__ import annotations

import pytest

from poser_env.backends.models import ModelRef, resolve_device, torch_dtype
from poser_env.critics.vlm import VLMSettings, readable
from poser_env.experts.diffusion import DiffusionSettings


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


def test_settings_validation():
    with pytest.raises(ValueError, match="multiple of 8"):
        DiffusionSettings(height=30)
    with pytest.raises(ValueError, match="strength"):
        DiffusionSettings(strength=0)
    with pytest.raises(ValueError, match="strictly between"):
        VLMSettings(threshold=1.0)
    assert readable("  I see   a blue\nsquare. ") == "I see a blue square"
    assert readable("B\ufffd\ufffd Ans6obj1 Ans") == "" and readable("Ans6obj1 Ansion xq7") == ""
    assert (
        readable("") == ""
        and readable("yes") == ""
        and readable("two blue squares, 3 stars") == "two blue squares, 3 stars"
    )
