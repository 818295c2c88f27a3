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
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token=None,
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
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg).eval()
    if suppress_all_but is not None:
        keep = (
            tok.convert_tokens_to_ids(suppress_all_but)
            if suppress_all_but in tok.get_vocab()
            else tok.encode(suppress_all_but)[0]
        )
        model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i != keep]
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_vlm(folder: Path, seed: int = 0, suppress_all_but: str | None = None, nan_weights: bool = False) -> Path:
    """A tiny LLaVA: a CLIP vision tower, a Llama text model, LlavaProcessor with a chat template.
    ``suppress_all_but`` as for :func:`build_chat_llm` (applies to ``generate`` only);
    ``nan_weights`` fills the text model's final norm with NaN (what a float16 overflow leaves)."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    tok = chat_tokenizer(extra_special=("<image>",))
    image_id = tok.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    text = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=image_id,
        image_token_index=image_id,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(cfg).eval()
    if nan_weights:
        with torch.no_grad():
            model.model.language_model.norm.weight.fill_(float("nan"))
    if suppress_all_but is not None:
        keep = tok.convert_tokens_to_ids(suppress_all_but)
        model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i != keep]
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        chat_template=CHAT_TEMPLATE,
        patch_size=8,
        vision_feature_select_strategy="full",
        num_additional_image_tokens=1,
    )
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
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    CLIPModel(cfg).eval().save_pretrained(folder)
    CLIPProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tok,
    ).save_pretrained(folder)
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
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=in_ch,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=16,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=32,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    )
    if nan_vae:
        with torch.no_grad():
            vae.decoder.conv_out.weight.fill_(float("nan"))
    sched = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    cls = {
        "t2i": StableDiffusionPipeline,
        "instruct-pix2pix": StableDiffusionInstructPix2PixPipeline,
        "inpaint": StableDiffusionInpaintPipeline,
    }[kind]
    pipe = cls(
        unet=unet,
        vae=vae,
        text_encoder=text,
        tokenizer=tok,
        scheduler=sched,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def build_sd_safety_checker(
    folder: Path, seed: int = 0, flag_everything: bool = False, nan_weights: bool = False
) -> Path:
    """A tiny ``StableDiffusionSafetyChecker`` with its CLIP image processor, saved like
    ``CompVis/stable-diffusion-safety-checker``. ``flag_everything`` lowers its concept
    thresholds so that every image is flagged (its real decision rule, with other numbers)."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    checker = StableDiffusionSafetyChecker(cfg).eval()
    if flag_everything:
        with torch.no_grad():
            checker.concept_embeds_weights.fill_(-10.0)
    if nan_weights:  # what a float16 overflow leaves: every comparison with a threshold is False
        with torch.no_grad():
            checker.visual_projection.weight.fill_(float("nan"))
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

    from tests.backends.fixtures import write_preset

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/tiny-models")
    preset = write_preset(out, build_all(out))
    print(f"wrote the tiny models and {preset}")


def build_trained_chat_llm(
    folder: Path, conversations: list[tuple[list[dict], str]], seed: int = 0, max_steps: int = 400
) -> Path:
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
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def learnt() -> bool:
        model.eval()
        with torch.no_grad():
            for pre, full, answer in rows:
                out = model.generate(
                    torch.tensor([pre]),
                    max_new_tokens=len(full) - len(pre) + 2,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
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
        raise RuntimeError(
            f"the tiny chat model did not learn its answers in {max_steps} steps (loss {loss.item():.4f})"
        )
    model.eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# ---- tiny models mirroring the real checkpoints where it matters (issue 17) -------------------


def train_spiece(path: Path, vocab_size: int = 96) -> Path:
    """A small SentencePiece unigram model trained on the corpus, written as ``spiece.model``
    (the only tokenizer weights T5 checkpoints such as PixArt's ship)."""
    import io

    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 8),
        model_writer=out,
        vocab_size=vocab_size,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        minloglevel=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def build_pixart(folder: Path, seed: int = 0) -> Path:
    """A tiny PixArt-alpha pipeline saved like ``PixArt-alpha/PixArt-XL-2-512x512``: a
    ``Transformer2DModel`` (patch size 2, learned sigma), a T5 encoder, and a ``tokenizer/``
    folder that holds only ``spiece.model`` (plus the small JSON files the real one has)."""
    import json

    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, PixArtAlphaPipeline, PixArtTransformer2DModel
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    torch.manual_seed(seed)
    spiece = train_spiece(folder / "tokenizer" / "spiece.model")
    tok = T5Tokenizer(vocab_file=str(spiece), extra_ids=0, legacy=False)
    # Room for the 100 <extra_id_*> tokens a reloaded T5 tokenizer adds (the real T5 has 32,128 rows for 32,100 tokens).
    text = T5EncoderModel(
        T5Config(
            vocab_size=len(tok) + 128,
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
        )
    )
    transformer = PixArtTransformer2DModel(
        sample_size=32,
        num_layers=2,
        patch_size=2,
        attention_head_dim=8,
        num_attention_heads=4,
        in_channels=4,
        out_channels=8,
        cross_attention_dim=32,
        caption_channels=32,
        norm_num_groups=32,
        norm_type="ada_norm_single",
        num_embeds_ada_norm=1000,
    )
    # Four VAE blocks: the real scale factor 8, so that PixArt's unit is 8 x patch 2 = 16 pixels.
    vae = AutoencoderKL(
        block_out_channels=(16, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=256,
        layers_per_block=1,
    )
    pipe = PixArtAlphaPipeline(
        tokenizer=tok, text_encoder=text, vae=vae, transformer=transformer, scheduler=DPMSolverMultistepScheduler()
    )
    pipe.save_pretrained(folder)
    tokdir = folder / "tokenizer"
    for f in tokdir.iterdir():  # keep what the real folder has: spiece.model and its configs, no tokenizer.json
        if f.name not in ("spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
            f.unlink()
    cfg = json.loads((tokdir / "tokenizer_config.json").read_text())
    cfg["tokenizer_class"] = "T5Tokenizer"
    (tokdir / "tokenizer_config.json").write_text(json.dumps(cfg))
    return folder


def build_sd_with_checker(folder: Path, checker: Path, seed: int = 0) -> Path:
    """A tiny SD pipeline that ships a safety checker inside it (``safety_checker/`` and
    ``feature_extractor/`` folders, listed in model_index.json), like SD 1.5 and
    InstructPix2Pix; ``checker`` is a folder from :func:`build_sd_safety_checker`."""
    from diffusers import DiffusionPipeline, StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    base = DiffusionPipeline.from_pretrained(build_sd(folder.with_name(folder.name + "-base"), "t2i", seed=seed))
    pipe = StableDiffusionPipeline(
        **{k: v for k, v in base.components.items() if k not in ("safety_checker", "feature_extractor")},
        safety_checker=StableDiffusionSafetyChecker.from_pretrained(checker),
        feature_extractor=CLIPImageProcessor.from_pretrained(checker),
        requires_safety_checker=True,
    )
    pipe.save_pretrained(folder)
    return folder


def build_sd_variant_only(folder: Path, kind: str = "inpaint", variant: str = "fp16", seed: int = 3) -> Path:
    """A tiny pipeline saved with ``variant`` files only (``*.fp16.safetensors``), like the
    official SD 1.5 inpainting repository's safetensors."""
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(build_sd(folder.with_name(folder.name + "-plain"), kind, seed=seed))
    pipe.save_pretrained(folder, variant=variant)
    return folder


def build_sdxl(folder: Path, seed: int = 0, dtype: str = "float16") -> Path:
    """A tiny SDXL base (two CLIP text encoders, one with projection; text-time conditioning),
    saved in ``dtype``."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=32,
    )
    tc = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.pad_token_id,
        projection_dim=32,
        hidden_act="gelu",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(**tc)),
        tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**tc)),
        tokenizer_2=tok,
        unet=unet,
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    )
    pipe.to(getattr(torch, dtype)).save_pretrained(folder)
    return folder


def build_siglip(folder: Path, seed: int = 0) -> Path:
    """A tiny SigLIP (text tower without attention mask, pooled at the last position) with a
    SentencePiece tokenizer, saved like ``google/siglip-*``."""
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor, SiglipTokenizer
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    torch.manual_seed(seed)
    spiece = train_spiece(folder / "_spiece" / "spiece.model")
    tok = SiglipTokenizer(vocab_file=str(spiece), model_max_length=16)
    cfg = SiglipConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=16,
            pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
    )
    SiglipModel(cfg).eval().save_pretrained(folder)
    SiglipProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tok
    ).save_pretrained(folder)
    return folder


def mistral_tokenizer(folder: Path):
    """Mistral's real SentencePiece tokenizer (the 32k vocabulary of Mistral-7B-Instruct v0.1/v0.2,
    which LLaVA-NeXT Mistral 7B uses), from the file the ``mistral_common`` package ships, saved
    as ``tokenizer.model`` (as the hub checkpoints ship it) and loaded by ``AutoTokenizer``."""
    import json
    import shutil
    from importlib.resources import files

    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(files("mistral_common") / "data" / "tokenizer.model.v1"), folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "legacy": True,
                "add_bos_token": True,
                "add_eos_token": False,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
            }
        )
    )
    return AutoTokenizer.from_pretrained(folder)


def build_onevision(folder: Path, seed: int = 0, nan_weights: bool = False) -> Path:
    """A tiny LLaVA-OneVision (SigLIP vision tower, Qwen2 text model, anyres tiling), saved with
    the files the real ``llava-hf/llava-onevision-qwen2-0.5b-ov-hf`` has: the image processor's
    ``preprocessor_config.json``, ``processor_config.json``, a chat template and a
    ``video_processor/`` config, which transformers 5 loads through ``AutoProcessor`` (and which
    needs torchvision). Written by hand so that it can be built without torchvision.
    ``nan_weights`` fills the language model's last norm with NaN (an fp16 overflow's result)."""
    import json

    import torch
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        Qwen2Config,
        SiglipVisionConfig,
    )
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil

    torch.manual_seed(seed)
    tok = chat_tokenizer(extra_special=("<image>", "<video>"))
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        vision_use_head=False,
    )
    text = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    pins = [[32, 32], [32, 64], [64, 32], [64, 64]]
    cfg = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pins,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    model = LlavaOnevisionForConditionalGeneration(cfg).eval()
    if nan_weights:
        with torch.no_grad():
            model.model.language_model.norm.weight.fill_(float("nan"))
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    LlavaOnevisionImageProcessorPil(size={"height": 32, "width": 32}, image_grid_pinpoints=pins).save_pretrained(folder)
    (folder / "processor_config.json").write_text(
        json.dumps(
            {
                "processor_class": "LlavaOnevisionProcessor",
                "num_image_tokens": 16,
                "vision_feature_select_strategy": "full",
                "vision_aspect_ratio": "anyres_max_9",
            }
        )
    )
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    (folder / "video_processor").mkdir(exist_ok=True)
    (folder / "video_processor" / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "video_processor_type": "LlavaOnevisionVideoProcessor",
                "processor_class": "LlavaOnevisionProcessor",
                "size": {"height": 32, "width": 32},
                "do_resize": True,
                "do_rescale": True,
                "do_normalize": True,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
            }
        )
    )
    return folder
