"""Tiny random-weight models, built once per test session and saved to a temporary folder.

A pytest plugin (``tests/conftest.py`` loads it), so that the tests of every role (critics,
experts, extractors, evaluators, presets, backends) share one session's models.

Every backend test loads them back through the real loaders (``from_pretrained`` on a local
folder, via a TOML preset where the test is about the env), exactly as a user's checkpoint
would be loaded. The device is chosen automatically (``device = "auto"``), so the same tests
run on a GPU machine.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.backends import tiny_models as T

REAL_EXTRA = "the real backends need the 'real' extra: pip install -e .[real]"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Folders of tiny models: sd, sd_b (a second base), ip2p, inpaint, sd_nan, vlm, vlm_b
    (the evaluator), vlm_silent (generates nothing), clip, llm, llm_empty, llm_braces, sd_safety
    and sd_safety_strict (diffusers' safety checker; the strict one flags every image)."""
    pytest.importorskip("diffusers", reason=REAL_EXTRA)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: one thread per worker is faster than two fighting
    root = tmp_path_factory.mktemp("tiny-models")
    out = {
        "sd": T.build_sd(root / "sd", "t2i", seed=0),
        "sd_b": T.build_sd(root / "sd_b", "t2i", seed=1),
        "ip2p": T.build_sd(root / "ip2p", "instruct-pix2pix", seed=2),
        "inpaint": T.build_sd(root / "inpaint", "inpaint", seed=3),
        "sd_nan": T.build_sd(root / "sd_nan", "t2i", seed=4, nan_vae=True),
        "vlm": T.build_vlm(root / "vlm", seed=0),
        "vlm_b": T.build_vlm(root / "vlm_b", seed=1),
        "vlm_silent": T.build_vlm(root / "vlm_silent", seed=2, suppress_all_but="<|im_end|>"),
        "clip": T.build_clip(root / "clip", seed=0),
        "llm": T.build_chat_llm(root / "llm", seed=0),
        "llm_empty": T.build_chat_llm(root / "llm_empty", seed=1, suppress_all_but="<|im_end|>"),
        "llm_braces": T.build_chat_llm(root / "llm_braces", seed=2, suppress_all_but="{"),
        "sd_safety": T.build_sd_safety_checker(root / "sd_safety", seed=0),
        "sd_safety_strict": T.build_sd_safety_checker(root / "sd_safety_strict", seed=0, flag_everything=True),
    }
    yield out
    torch.set_num_threads(threads)


def sd_experts(tiny: dict[str, Path]) -> str:
    """The ``[[experts]]`` TOML of two experts over one base model (``tiny['sd']``): ``tiny-t2i``
    and ``tiny-img2img`` (cost 0.8)."""
    return f"""
        [[experts]]
        name = "tiny-t2i"
        type = "t2i"
        model = "{tiny["sd"]}"
        cost = 1.0
        num_inference_steps = 2
        height = 32

        [[experts]]
        name = "tiny-img2img"
        type = "img2img"
        model = "{tiny["sd"]}"
        cost = 0.8
        num_inference_steps = 2
        strength = 0.5
        height = 32
    """


def write_preset(
    folder: Path,
    tiny: dict[str, Path],
    name: str = "tiny.toml",
    experts: str | None = None,
    critic: str | None = None,
    evaluator: str | None = None,
    extractor: str | None = None,
    extra: str = "",
    pool: str = 'device = "auto"\nmax_on_device = 2',
) -> Path:
    """A preset over the tiny models: four experts (T2I, img2img from the same base,
    InstructPix2Pix, inpainting), the VLM critic, a second VLM as evaluator, the LLM extractor."""
    experts = (
        experts
        if experts is not None
        else sd_experts(tiny)
        + f"""
        [[experts]]
        name = "tiny-ip2p"
        type = "instruct-pix2pix"
        model = "{tiny["ip2p"]}"
        cost = 1.0
        num_inference_steps = 2
        height = 32

        [[experts]]
        name = "tiny-inpaint"
        type = "inpaint"
        model = "{tiny["inpaint"]}"
        cost = 1.0
        num_inference_steps = 2
        strength = 1.0
        height = 32
        mask = {{ type = "words" }}
    """
    )
    critic = critic if critic is not None else f'type = "vlm"\nmodel = "{tiny["vlm"]}"\nbatch_size = 4'
    evaluator = evaluator if evaluator is not None else f'type = "vlm"\nmodel = "{tiny["vlm_b"]}"'
    extractor = extractor if extractor is not None else f'type = "llm"\nmodel = "{tiny["llm"]}"\nmax_new_tokens = 24'
    text = "\n".join(
        [
            '[preset]\nname = "tiny"\ndescription = "tiny random models for tests"',
            '[env]\ncanvas_size = 64\nsuite = "generation"\nmax_steps = 4\ntext_encoder = "hash"',
            f"[pool]\n{pool}",
            textwrap.dedent(experts),
            f"[critic]\n{critic}",
            f"[evaluator]\n{evaluator}",
            f"[extractor]\n{extractor}",
            textwrap.dedent(extra),
        ]
    )
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def tiny_preset(tmp_path, tiny) -> Path:
    return write_preset(tmp_path, tiny)


#: The short system message the trained tiny extractor model was taught under.
TRAINED_SYSTEM = "Answer with JSON commands."


@pytest.fixture(scope="session")
def trained_llm(tmp_path_factory, tiny) -> Path:
    """A tiny chat model trained to answer the extractor: "A red circle." with valid JSON at once,
    "A blue square." first with truncated JSON and, shown its problems, with valid JSON."""
    import json

    from poser_env.extractors.llm import CommandSchemaError, LLMExtractor, parse_commands

    def answer(text: str, question: str) -> str:
        return json.dumps(
            {"commands": [{"text": text, "kind": "generate", "checks": [{"question": question, "category": "object"}]}]}
        )

    ex = LLMExtractor("unused", system=TRAINED_SYSTEM)
    red, blue = ex.messages("A red circle.", editing=False), ex.messages("A blue square.", editing=False)
    bad = '{"commands": [{"text": "Draw a blue square."'
    try:
        parse_commands(bad)
    except CommandSchemaError as e:
        problems = e.problems
    conversations = [
        (red, answer("Draw a red circle.", "Is there a red circle?")),
        (blue, bad),
        (LLMExtractor.repair_messages(blue, bad, problems), answer("Draw a blue square.", "Is there a blue square?")),
    ]
    return T.build_trained_chat_llm(tmp_path_factory.mktemp("trained-llm") / "llm", conversations)


def run_frames(env, actions, seed=0, options=None):
    """Reset and play ``actions`` (stopping at the episode's end): the canvases and infos of
    every step, the reset's first; each observation's mask and reward are checked on the way."""
    import numpy as np

    obs, info = env.reset(seed=seed, options=options)
    frames, infos = [env.unwrapped.render_canvas()], [info]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        frames.append(env.unwrapped.render_canvas())
        infos.append(info)
        assert obs["action_mask"].dtype == np.int8 and np.isfinite(r)
        if term or trunc:
            break
    return frames, infos
