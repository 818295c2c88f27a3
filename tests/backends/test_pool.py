"""The model pool: weight sharing across pipelines of one base, and the accelerator LRU.

On a machine without an accelerator the pool's device is "cpu", so moving a model "to the
device" and "offloading" it both land in CPU memory: there the LRU test checks the pool's
bookkeeping (what it believes is on the device, evictions) and that every model's parameters
sit where the pool says. On a GPU machine the same test checks real placement (parameters on
cuda for the resident entries, on cpu for the others) and the GPU-only test measures the
memory a second pipeline adds.
"""

from __future__ import annotations

import numpy as np
import pytest

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, PoolConfig, module_bytes, shared_pool


def _ptrs(pipe) -> set[int]:
    import torch

    return {p.data_ptr() for m in pipe.components.values() if isinstance(m, torch.nn.Module) for p in m.parameters()}


def test_pipelines_from_one_base_share_parameter_storage(tiny):
    pool = ModelPool({"device": "auto", "max_on_device": 2})
    ref = ModelRef(str(tiny["sd"]))
    t2i = pool.pipeline(ref, "t2i")
    i2i = pool.pipeline(ref, "img2img")
    inpaint = pool.pipeline(ref, "inpaint")
    assert type(t2i).__name__ == "StableDiffusionPipeline" and type(i2i).__name__ == "StableDiffusionImg2ImgPipeline"
    assert i2i.unet is t2i.unet and inpaint.vae is t2i.vae and i2i.text_encoder is t2i.text_encoder
    assert _ptrs(i2i) == _ptrs(t2i) == _ptrs(inpaint)
    seen: set[int] = set()
    total1, new1 = module_bytes(t2i, seen)
    total2, new2 = module_bytes(i2i, seen)
    assert total1 == total2 == new1 > 0 and new2 == 0  # the second pipeline adds no parameter bytes
    assert pool.loads == 1
    # A separately loaded copy of the same checkpoint (what the pool avoids) duplicates them all.
    other = ModelPool({"device": "cpu", "max_on_device": 1}).pipeline(ref, "img2img")
    _, new_other = module_bytes(other, seen)
    assert new_other == total1


def test_shared_pool_is_found_by_plain_data():
    a = shared_pool({"device": "cpu", "max_on_device": 3})
    assert shared_pool({"max_on_device": 3, "device": "cpu"}) is a
    assert shared_pool({"device": "cpu", "max_on_device": 4}) is not a
    with pytest.raises(ValueError, match="unknown pool setting"):
        PoolConfig.coerce({"gpus": 2})
    with pytest.raises(ValueError, match="positive int"):
        PoolConfig.coerce({"max_on_device": 0})


def _devices(obj) -> set[str]:
    import torch

    modules = (
        [obj]
        if isinstance(obj, torch.nn.Module)
        else [m for m in obj.components.values() if isinstance(m, torch.nn.Module)]
    )
    return {p.device.type for m in modules for p in m.parameters()}


def test_lru_keeps_at_most_max_on_device(tiny):
    from poser_env.critics.clip import ClipScorer

    pool = ModelPool({"device": "auto", "max_on_device": 2})
    refs = [ModelRef(str(tiny[k])) for k in ("sd", "sd_b", "ip2p")]
    clip = ClipScorer(str(tiny["clip"]), pool=pool)
    order = [("sd", 0), ("sd_b", 1), ("clip", None), ("sd", 0), ("ip2p", 2), ("sd_b", 1)]
    img = np.zeros((32, 32, 3), np.uint8)
    for name, i in order:
        if i is None:
            clip.cosine(img, ["a red circle"])
        else:
            pool.pipeline(refs[i], "instruct-pix2pix" if name == "ip2p" else "t2i")
        resident = pool.on_device()
        assert len(resident) <= 2
        assert resident[-1][1].path == (str(tiny["clip"]) if i is None else refs[i].path)  # the last used is resident
        # Parameters are where the pool says (a real check on a GPU; on CPU both places are "cpu").
        for key, entry in pool._entries.items():
            obj = entry.obj[0] if isinstance(entry.obj, tuple) else entry.obj
            want = pool.device_type if entry.on_device else "cpu"
            assert _devices(obj) == {want}
    assert pool.loads == 4 and pool.evictions == 4
    assert pool.stats()["on_device"] == ["diffusers:" + refs[2].path, "diffusers:" + refs[1].path]


def test_offload_all_keeps_only_the_named_entry(tiny):
    pool = ModelPool({"device": "auto", "max_on_device": 3})
    a, b = ModelRef(str(tiny["sd"])), ModelRef(str(tiny["sd_b"]))
    pool.pipeline(a, "t2i")
    pool.pipeline(b, "t2i")
    pool.offload_all(keep=("diffusers", b))
    assert pool.on_device() == [("diffusers", b)]


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="measures CUDA memory: GPU only")
def test_second_pipeline_adds_no_cuda_memory(tiny):
    import torch

    pool = ModelPool({"device": "cuda", "max_on_device": 2})
    ref = ModelRef(str(tiny["sd"]))
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    pool.pipeline(ref, "t2i")
    after_first = torch.cuda.memory_allocated()
    pool.pipeline(ref, "img2img")
    pool.pipeline(ref, "inpaint")
    after_more = torch.cuda.memory_allocated()
    assert after_first > before
    assert after_more == after_first
