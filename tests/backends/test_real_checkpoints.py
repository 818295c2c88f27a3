"""The real checkpoints' quirks (issue 17), each on a tiny model that mirrors the real one where
it matters: OneVision's video processor, PixArt's spiece-only tokenizer, variant-only weights,
built-in safety checkers, NaN scores, Mistral's yes/no pieces, declared bf16, logits memory,
the planner sharing the extractor's model, task/resolution checks, SigLIP padding, fp16 SDXL
derivation, and the hub's "not found" told apart from "not cached"."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from poser_env.backends.models import (
    BackendLoadError,
    ModelRef,
    declared_dtype,
    file_problems,
    hub_status,
    resolve_dtype,
)
from poser_env.backends.pool import ModelPool, env_pool
from poser_env.critics.vlm import NOT_FINITE_NOTE, VLMCritic, answer_token_ids
from poser_env.env import ImagePoserEnv
from poser_env.experts.diffusion import DiffusersExpert
from poser_env.presets import make_env
from poser_env.types import Canvas, Check
from tests.backends import tiny_models as T
from tests.backends.fixtures import write_preset


def _torchvision_works() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # absent, or a CUDA build beside a CPU torch (its ops fail to register)
        return False
    return True


@pytest.fixture(scope="module")
def tiny17(tmp_path_factory, tiny):
    root = tmp_path_factory.mktemp("tiny17")
    strict = tiny["sd_safety_strict"]
    return {
        "onevision": T.build_onevision(root / "onevision"),
        "pixart": T.build_pixart(root / "pixart"),
        "inpaint_fp16": T.build_sd_variant_only(root / "inpaint-fp16"),
        "sd_checker": T.build_sd_with_checker(root / "sd-checker", strict),
        "vlm_nan": T.build_vlm(root / "vlm-nan", seed=5, nan_weights=True),
        "sdxl": T.build_sdxl(root / "sdxl"),
        "siglip": T.build_siglip(root / "siglip"),
    }


CHECKS = [
    Check("Is there a red circle?", "object", {"kind": "question", "text": "a"}),
    Check("Is the background mint?", "background", {"kind": "question", "text": "b"}),
]
IMAGE = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)


# ---- 1. LLaVA-OneVision: the video processor needs torchvision ---------------------------------


def test_onevision_processor_loads_with_torchvision_or_says_how(tmp_path, tiny, tiny17):
    preset = write_preset(
        tmp_path, tiny, critic=f'type = "vlm"\nmodel = "{tiny17["onevision"]}"', extractor='type = "grammar"'
    )
    env = make_env(preset, max_steps=2)
    if not _torchvision_works():
        with pytest.raises(BackendLoadError) as err:
            env.reset(seed=0, options={"prompt": "A red circle."})
        msg = str(err.value)
        assert "[critic]" in msg and "torchvision" in msg and "torchvision==0.28.0" in msg and "\n" not in msg
        return
    env.reset(seed=0, options={"prompt": "A red circle."})  # GPU machines / CPU with the CPU torchvision build
    processor = env.critic.scorer.load()[1]
    assert type(processor).__name__ == "LlavaOnevisionProcessor" and processor.video_processor is not None
    p = env.critic.scorer.p_yes(IMAGE, ["Is there a red circle?", "Is it blue?"])
    assert p.shape == (2,) and np.isfinite(p).all()


# ---- 2. PixArt: a tokenizer folder with only spiece.model ---------------------------------------


def test_pixart_with_only_spiece_model_generates_and_checks_resolution(tiny17):
    assert sorted(p.name for p in (tiny17["pixart"] / "tokenizer").iterdir()) == [
        "spiece.model",
        "tokenizer_config.json",
    ]
    pool = ModelPool({"device": "auto", "max_on_device": 1})
    # sample_size 32 (latents) is PixArt's 256-px family: its resolution bins hold 256 x 256.
    expert = DiffusersExpert(
        "pixart",
        model=str(tiny17["pixart"]),
        task="t2i",
        num_inference_steps=2,
        guidance_scale=4.5,
        height=256,
        pool=pool,
    )
    canvas = expert("A red circle.", None, np.random.default_rng(0))
    assert canvas.image.shape == (256, 256, 3) and canvas.image.dtype == np.uint8
    # PixArt's transformer patches 2x2 latents: 8 x 2 = 16 is the unit; 264 is refused at load.
    bad = DiffusersExpert(
        "pixart-264", model=str(tiny17["pixart"]), task="t2i", num_inference_steps=2, height=264, pool=pool
    )
    env = ImagePoserEnv(experts=[bad, expert], canvas_size=64, max_steps=3)
    env.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = env.step(0)
    assert "multiple of 16" in info["error"] and "use 256" in info["error"] and "\n" not in info["error"]


# ---- 3. the hub: "not found" is not "not cached" -----------------------------------------------

#: File lists as the hub's API returns them (``siblings``), copied from the stored listings of
#: the real repositories (see docs/real-models.md, "What was checked").
SD15_INPAINT_FILES = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.fp16.bin",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "sd-v1-5-inpainting.ckpt",
]
PIXART_FILES = [
    "model_index.json",
    "tokenizer/spiece.model",
    "transformer/diffusion_pytorch_model.safetensors",
    "text_encoder/model-00001-of-00004.safetensors",
    "text_encoder/model.fp16-00001-of-00002.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
]


class _Hub(BaseHTTPRequestHandler):
    """Answers ``/api/models/<owner>/<name>`` as the hub does: 404 with its ``X-Error-Code``."""

    repos = {"owner/ok": PIXART_FILES, "owner/inpaint": SD15_INPAINT_FILES}

    def do_GET(self):  # noqa: N802
        repo = "/".join(self.path.split("?")[0].split("/")[3:5])
        if repo in self.repos:
            body = json.dumps({"id": repo, "siblings": [{"rfilename": f} for f in self.repos[repo]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"error": "not found"}'
            self.send_response(401 if repo == "owner/gated" else 404)
            self.send_header("X-Error-Code", "GatedRepo" if repo == "owner/gated" else "RepoNotFound")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_hub_status_tells_not_found_from_not_cached(monkeypatch):
    import huggingface_hub.constants

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # The test session runs offline (tests/conftest.py); this test is online against a local "hub".
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        assert hub_status(ModelRef("owner/gone"))[0] == "not-found"
        assert "NOT FOUND on the hub" in hub_status(ModelRef("owner/gone"))[1]
        assert hub_status(ModelRef("owner/gated"))[0] == "gated"
        assert hub_status(ModelRef("owner/ok", variant="fp16")) == (
            "on-hub",
            "hub id owner/ok, on the hub, to be downloaded",
        )
        status, where = hub_status(ModelRef("owner/inpaint"))
        assert status == "files" and "unet/ has safetensors only for variant fp16: set variant = 'fp16'" in where
        assert hub_status(ModelRef("owner/inpaint", variant="fp16"))[0] == "on-hub"
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        status, where = hub_status(ModelRef("owner/gone"))
        assert status == "not-cached-offline" and "not asked" in where
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as the library reads it at import
        assert hub_status(ModelRef("owner/gone"))[0] == "not-cached-offline"
    finally:
        server.shutdown()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: unreachable, not "not found"
    assert hub_status(ModelRef("owner/gone"))[0] == "hub-unreachable"


def test_file_problems_on_the_real_listings():
    assert file_problems(PIXART_FILES, ModelRef("p", variant="fp16")) == []
    assert file_problems(PIXART_FILES, ModelRef("p", variant="bf16")) == ["no weight file of variant 'bf16'"]
    assert file_problems(["unet/diffusion_pytorch_model.bin"], ModelRef("x")) == [
        "unet/ has only pickled weights (set use_safetensors = false to load them with weights_only=True)"
    ]


# ---- 4. variant-only weights: the hint names the variant, not pickles --------------------------


def test_variant_only_checkpoint_hint_then_loads(tiny17):
    pool = ModelPool({"device": "auto", "max_on_device": 1})
    folder = str(tiny17["inpaint_fp16"])
    expert = DiffusersExpert(
        "inpaint", model=folder, task="inpaint", num_inference_steps=2, strength=1.0, height=32, pool=pool
    )
    env = ImagePoserEnv(experts=[expert], canvas_size=64, max_steps=2)
    env.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = env.step(0)
    assert "set variant = 'fp16'" in info["error"] and "use_safetensors = false" not in info["error"]
    fixed = DiffusersExpert(
        "inpaint",
        model={"path": folder, "variant": "fp16"},
        task="inpaint",
        num_inference_steps=2,
        strength=1.0,
        height=32,
        pool=pool,
    )
    out = fixed("Add a red circle on the left.", Canvas(image=IMAGE[:32, :32]), np.random.default_rng(0))
    assert out.image.shape == (32, 32, 3)


# ---- 5. a checkpoint's own safety checker: never a silent black image --------------------------


def test_builtin_safety_checker_is_off_by_default_or_a_failed_step(tmp_path, tiny, tiny17):
    expert = f'[[experts]]\nname = "sd"\ntype = "t2i"\nmodel = "{tiny17["sd_checker"]}"\nnum_inference_steps = 2\nheight = 32\n'
    off = make_env(
        write_preset(tmp_path, tiny, name="off.toml", experts=expert, extractor='type = "grammar"'), max_steps=2
    )
    off.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = off.step(0)
    assert "error" not in info and off.registry[0].pipeline().safety_checker is None  # not loaded: safety is off
    assert off.unwrapped.render_canvas().max() > 0
    on = make_env(
        write_preset(
            tmp_path,
            tiny,
            name="on.toml",
            experts=expert,
            extractor='type = "grammar"',
            extra='[safety]\ntype = "builtin"\n',
        ),
        max_steps=2,
    )
    on.reset(seed=0, options={"prompt": "A red circle."})
    before = on.unwrapped.render_canvas()
    *_, info = on.step(0)  # this checker flags every image: diffusers blacks it out and sets the flag
    assert "SafetyRejection" in info["error"] and "nsfw_content_detected" in info["error"]
    assert on.registry[0].pipeline().safety_checker is not None
    assert np.array_equal(on.unwrapped.render_canvas(), before)  # the black image was not kept


def test_safety_checks_reject_when_their_scores_are_nan(tmp_path, tiny):
    from poser_env.experts.safety import ClipSafetyCheck, DiffusersSafetyCheck

    pool = ModelPool({"device": "auto", "max_on_device": 2})
    nan_checker = DiffusersSafetyCheck(
        str(T.build_sd_safety_checker(tmp_path / "nan-checker", nan_weights=True)), pool=pool
    )
    ok, reason = nan_checker.check(IMAGE)
    assert not ok and "not finite" in reason
    assert DiffusersSafetyCheck(str(tiny["sd_safety"]), pool=pool).check(IMAGE)[0]  # the same checker, finite: passes
    clip = ClipSafetyCheck(str(tiny["clip"]), pool=pool)
    model, _ = clip.scorer.load()
    import torch

    with torch.no_grad():
        saved = model.visual_projection.weight.clone()
        model.visual_projection.weight.fill_(float("nan"))
    try:
        ok, reason = clip.check(IMAGE)
    finally:
        with torch.no_grad():
            model.visual_projection.weight.copy_(saved)
    assert not ok and "not finite" in reason


# ---- 6-7. VLM scores: NaN never passes; yes/no tokens are whole words ---------------------------


def test_vlm_with_nan_weights_fails_every_check(tiny17, caplog):
    critic = VLMCritic(str(tiny17["vlm_nan"]), threshold=0.01, notes=False)
    assert np.isnan(critic.scorer.p_yes(IMAGE, [c.question for c in CHECKS])).all()
    verdict = critic.critique(Canvas(image=IMAGE), CHECKS)
    assert not any(r.passed for r in verdict.results) and all(r.note == NOT_FINITE_NOTE for r in verdict.results)
    assert verdict.score == 0.0 and "not finite" in caplog.text


def test_yes_no_ids_with_mistrals_real_tokenizer(tmp_path):
    tok = T.mistral_tokenizer(tmp_path / "mistral")
    assert len(tok) == 32000
    yes, no = answer_token_ids(tok)
    assert [tok.decode([i]) for i in yes] == ["yes", "Yes"] and [tok.decode([i]) for i in no] == ["no", "No", "NO"]
    first_of_caps = tok.encode("YES", add_special_tokens=False)[0]
    assert tok.decode([first_of_caps]) == "Y" and first_of_caps not in yes  # the piece "Y" would bias toward yes


# ---- 8. dtype auto follows a declared bfloat16 --------------------------------------------------


def test_dtype_auto_follows_the_declared_bfloat16(tmp_path, tiny):
    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path / "llm-bf16"
    AutoModelForCausalLM.from_pretrained(tiny["llm"], dtype=torch.bfloat16).save_pretrained(folder)
    ref = ModelRef(str(folder))
    assert declared_dtype(ref) == "bfloat16" and declared_dtype(ModelRef(str(tiny["vlm"]))) in (None, "float32")
    assert resolve_dtype("auto", "cuda", "bfloat16", bf16_supported=True) == torch.bfloat16
    assert (
        resolve_dtype("auto", "cuda", "bfloat16", bf16_supported=False) == torch.float32
    )  # never fp16 for a bf16 model
    assert (
        resolve_dtype("auto", "cuda", "float32") == torch.float16
        and resolve_dtype("auto", "cpu", "bfloat16") == torch.float32
    )
    assert resolve_dtype("float16", "cuda", "bfloat16") == torch.float16  # an explicit setting wins
    kw = ref.load_kwargs("cpu")
    assert kw.get("dtype", kw.get("torch_dtype")) == torch.float32


# ---- 9-10. logits only where they are read; the planner shares the extractor's model ----------


def _logits_shapes(model):
    shapes = []
    return shapes, model.register_forward_hook(lambda m, a, out: shapes.append(tuple(out.logits.shape)))


def test_critic_asks_for_the_last_position_only(tiny):
    critic = VLMCritic(str(tiny["vlm"]), batch_size=3, notes=False)
    model, _ = critic.scorer.load()
    shapes, hook = _logits_shapes(model)
    try:
        critic.scorer.p_yes(IMAGE, [f"Is there shape {i}?" for i in range(5)])
    finally:
        hook.remove()
    vocab = model.config.text_config.vocab_size
    assert shapes == [(3, 1, vocab), (2, 1, vocab)]


def test_planner_scores_option_positions_only_with_the_extractors_model(tiny_preset, tiny):
    import torch

    from poser_agents.baselines import make_baseline

    env = make_env(tiny_preset, max_steps=3)
    obs, _ = env.reset(seed=0, options={"prompt": "Draw a red circle."})
    pool = env_pool(env)
    loads = pool.loads
    agent = make_baseline(f"llm:{tiny['llm']}", env)
    assert agent.chat is env.extractor.chat and agent.chat.pool is pool  # one model, in the env's pool
    model, tok = agent.chat.load()
    names = list(env.action_names)
    msgs = agent.messages(env.episode_context(), names)
    shapes, hook = _logits_shapes(model)
    try:
        scores = agent.chat.option_logprobs(msgs, names)
    finally:
        hook.remove()
    longest = max(len(tok(n, add_special_tokens=False)["input_ids"]) for n in names)
    assert shapes == [(len(names), longest, model.config.vocab_size)]  # not (options, prompt + option, vocab)
    prefix = tok(agent.chat.prompt(msgs), add_special_tokens=False)["input_ids"]
    for name, score in zip(names, scores):  # the same numbers as a full forward pass, one option at a time
        ids = tok(name, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([prefix + ids])).logits[0].float(), -1)
        want = logp[torch.arange(len(prefix) - 1, len(prefix) + len(ids) - 1), torch.tensor(ids)].mean().item()
        assert score == pytest.approx(want, abs=1e-4)
    agent.predict(obs)
    assert pool.loads == loads  # no second copy of the model


# ---- 12. the task against the checkpoint --------------------------------------------------------


def test_an_inpainting_checkpoint_used_as_t2i_is_refused_in_one_line(tiny):
    expert = DiffusersExpert("wrong", model=str(tiny["inpaint"]), task="t2i", num_inference_steps=2, height=32)
    env = ImagePoserEnv(experts=[expert], canvas_size=64, max_steps=2)
    env.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = env.step(0)
    assert (
        "inpainting checkpoint" in info["error"]
        and "9 input channels" in info["error"]
        and 'type = "inpaint"' in info["error"]
    )


# ---- 13. SigLIP pads to max_length --------------------------------------------------------------


def test_siglip_scores_do_not_depend_on_the_batch(tiny17):
    from poser_env.critics.clip import ClipScorer

    scorer = ClipScorer(str(tiny17["siglip"]), pool=ModelPool({"device": "auto", "max_on_device": 1}))
    alone = scorer.cosine(IMAGE, ["a red circle"])
    batched = scorer.cosine(IMAGE, ["a red circle", "two blue squares left of a green star above a circle"])
    np.testing.assert_allclose(alone, batched[:1], atol=1e-5)


# ---- fp16 SDXL: derived pipelines keep the dtype and the storage -------------------------------


def test_fp16_sdxl_derives_img2img_and_inpainting_without_copies(tiny17):
    import torch

    pool = ModelPool({"device": "auto", "max_on_device": 1})
    ref = ModelRef(str(tiny17["sdxl"]), dtype="float16")
    pipes = [pool.pipeline(ref, task) for task in ("t2i", "img2img", "inpaint")]
    assert [type(p).__name__ for p in pipes] == [
        "StableDiffusionXLPipeline",
        "StableDiffusionXLImg2ImgPipeline",
        "StableDiffusionXLInpaintPipeline",
    ]
    for p in pipes:
        mods = [m for m in p.components.values() if isinstance(m, torch.nn.Module)]
        assert {q.dtype for m in mods for q in m.parameters()} == {torch.float16}
    ptrs = [
        {q.data_ptr() for m in p.components.values() if isinstance(m, torch.nn.Module) for q in m.parameters()}
        for p in pipes
    ]
    assert ptrs[0] == ptrs[1] == ptrs[2] and pool.loads == 1
