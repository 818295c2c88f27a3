"""Build tiny, randomly initialised models and save them the way real checkpoints are saved.

Each builder writes a folder that the real loaders read (``from_pretrained(folder)``), so the
backends under test take exactly the code path a user's hub id or local model takes. Weights
are random: the tests check plumbing, faults and memory, never image quality. Seeds are fixed,
so every build is identical.
"""

from __future__ import annotations

from pathlib import Path

#: ChatML-style template shared by the tiny chat LLM and the tiny VLM (image placeholders as
#: ``<image>``, which is what LlavaProcessor expands).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Is there a red circle? yes no Yes No. The image shows two blue squares left of a star.",
    '{"commands": [{"text": "Draw a red circle.", "kind": "generate", "checks": [{"question": "Is there a red circle?", "category": "object"}]}]}',
    "Choose one expert: sd15-t2i, sdxl-t2i, img2img, instruct-pix2pix, inpaint. Answer with its name.",
    "Add a green triangle above the circle. Use a mint background. Make it watercolour style.",
]


def chat_tokenizer(extra_special: tuple[str, ...] = ()):
    """A byte-level BPE tokenizer trained in memory, with chat special tokens and a template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>", *extra_special]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>", pad_token="<pad>", unk_token=None,
        additional_special_tokens=list(specials[1:2]) + list(extra_special),
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_chat_llm(folder: Path, seed: int = 0, suppress_all_but: str | None = None) -> Path:
    """A tiny Llama chat model. ``suppress_all_but`` saves a generation config that lets the model
    emit only that token (``"<|im_end|>"``: it always answers with empty text; ``"{"``: with a run
    of braces), a real misbehaving model for the fault tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tok = chat_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=2048, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, bos_token_id=None, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    if suppress_all_but is not None:
        keep = tok.convert_tokens_to_ids(suppress_all_but) if suppress_all_but in tok.get_vocab() else tok.encode(suppress_all_but)[0]
        model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i != keep]
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_vlm(folder: Path, seed: int = 0, suppress_all_but: str | None = None) -> Path:
    """A tiny LLaVA: a CLIP vision tower, a Llama text model, LlavaProcessor with a chat template.
    ``suppress_all_but`` as for :func:`build_chat_llm` (applies to ``generate`` only)."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    tok = chat_tokenizer(extra_special=("<image>",))
    image_id = tok.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=2048, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                       bos_token_id=None, tie_word_embeddings=False)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_id=image_id, image_token_index=image_id,
                      vision_feature_layer=-1, vision_feature_select_strategy="full", projector_hidden_act="gelu")
    model = LlavaForConditionalGeneration(cfg).eval()
    if suppress_all_but is not None:
        keep = tok.convert_tokens_to_ids(suppress_all_but)
        model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i != keep]
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tok, chat_template=CHAT_TEMPLATE,
                               patch_size=8, vision_feature_select_strategy="full", num_additional_image_tokens=1)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def clip_tokenizer():
    """CLIPTokenizer from a vocab dict and merges: the byte-level alphabet is enough."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def build_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=77, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(cfg).eval().save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tokenizer=tok).save_pretrained(folder)
    return folder


def build_sd(folder: Path, kind: str = "t2i", seed: int = 0, nan_vae: bool = False) -> Path:
    """A tiny Stable Diffusion pipeline: ``t2i`` (4 UNet input channels; img2img and inpainting
    derive from it with ``from_pipe``), ``instruct-pix2pix`` (8) or ``inpaint`` (9).
    ``nan_vae`` saves a VAE whose last decoder layer holds NaN: a real broken checkpoint."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionInstructPix2PixPipeline,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    in_ch = {"t2i": 4, "instruct-pix2pix": 8, "inpaint": 9}[kind]
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=in_ch, out_channels=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=32, norm_num_groups=16, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=16, sample_size=32)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                        max_position_embeddings=77, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                                        pad_token_id=tok.pad_token_id))
    if nan_vae:
        with torch.no_grad():
            vae.decoder.conv_out.weight.fill_(float("nan"))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    cls = {"t2i": StableDiffusionPipeline, "instruct-pix2pix": StableDiffusionInstructPix2PixPipeline, "inpaint": StableDiffusionInpaintPipeline}[kind]
    pipe = cls(unet=unet, vae=vae, text_encoder=text, tokenizer=tok, scheduler=sched, safety_checker=None, feature_extractor=None,
               requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def build_sd_safety_checker(folder: Path, seed: int = 0, flag_everything: bool = False) -> Path:
    """A tiny ``StableDiffusionSafetyChecker`` with its CLIP image processor, saved like
    ``CompVis/stable-diffusion-safety-checker``. ``flag_everything`` lowers its concept
    thresholds so that every image is flagged (its real decision rule, with other numbers)."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8),
                     projection_dim=16)
    checker = StableDiffusionSafetyChecker(cfg).eval()
    if flag_everything:
        with torch.no_grad():
            checker.concept_embeds_weights.fill_(-10.0)
    checker.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_all(root: Path) -> dict[str, Path]:
    """The tiny models the backend tests use (also for ``python -m tests.backends.tiny_models``)."""
    root.mkdir(parents=True, exist_ok=True)
    return {
        "sd": build_sd(root / "sd", "t2i", seed=0),
        "ip2p": build_sd(root / "ip2p", "instruct-pix2pix", seed=2),
        "inpaint": build_sd(root / "inpaint", "inpaint", seed=3),
        "vlm": build_vlm(root / "vlm", seed=0),
        "vlm_b": build_vlm(root / "vlm_b", seed=1),
        "clip": build_clip(root / "clip", seed=0),
        "llm": build_chat_llm(root / "llm", seed=0),
    }


if __name__ == "__main__":
    # Build the tiny models and a preset over them, for measuring the env's overhead:
    #   python -m tests.backends.tiny_models /tmp/tiny && poser bench env --preset /tmp/tiny/tiny.toml --json
    import sys

    from tests.backends.conftest import write_preset

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/tiny-models")
    preset = write_preset(out, build_all(out))
    print(f"wrote the tiny models and {preset}")


def build_trained_chat_llm(folder: Path, conversations: list[tuple[list[dict], str]], seed: int = 0, max_steps: int = 400) -> Path:
    """A tiny Llama trained until it answers each ``(messages, answer)`` conversation with exactly
    ``answer`` under greedy decoding: a real model whose output the extractor must parse (the
    tests use it for the valid-answer and the repaired-answer paths). Raises if it fails to learn."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tok = chat_tokenizer()
    rows = []
    for messages, answer in conversations:
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        pre = tok(prompt, add_special_tokens=False)["input_ids"]
        rows.append((pre, tok(prompt + answer + tok.eos_token, add_special_tokens=False)["input_ids"], answer))
    width = max(len(full) for _, full, _ in rows)
    x = torch.full((len(rows), width), tok.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (pre, full, _) in enumerate(rows):
        x[i, : len(full)] = torch.tensor(full)
        attn[i, : len(full)] = 1
        labels[i, len(pre) : len(full)] = torch.tensor(full[len(pre) :])
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=2048, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, bos_token_id=None, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def learnt() -> bool:
        model.eval()
        with torch.no_grad():
            for pre, full, answer in rows:
                out = model.generate(torch.tensor([pre]), max_new_tokens=len(full) - len(pre) + 2, do_sample=False,
                                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
                if tok.decode(out[0, len(pre) :], skip_special_tokens=True) != answer:
                    model.train()
                    return False
        return True

    for step in range(max_steps):
        loss = model(input_ids=x, attention_mask=attn, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.005 and learnt():
            break
    else:
        raise RuntimeError(f"the tiny chat model did not learn its answers in {max_steps} steps (loss {loss.item():.4f})")
    model.eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
