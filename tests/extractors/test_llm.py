"""The LLM extractor: schema validation, repair, and the grammar fallback on any bad answer."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poser_env.critics.vlm import readable
from poser_env.extractors.grammar import GrammarExtractor
from poser_env.extractors.llm import EXAMPLE, CommandSchemaError, LLMExtractor, parse_commands
from poser_env.types import Canvas

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")

PROMPT = "Draw two red circles. Add a blue star above them. Use a mint background."


def test_valid_answers_parse_with_fences_and_chatter():
    answer = "Sure! Here you go:\n```json\n" + json.dumps(EXAMPLE) + "\n```\nHope that helps."
    cmds = parse_commands(answer)
    assert [c.kind for c in cmds] == ["generate", "add"]
    assert cmds[0].checks[0].question == "Are there exactly two apples?" and cmds[0].checks[0].category == "count"
    # Two different questions are two different checks (the spec carries the question).
    assert len({ch for c in cmds for ch in c.checks}) == 4
    assert [c.text for c in parse_commands(json.dumps(EXAMPLE["commands"]))] == [c.text for c in cmds]  # a bare list


@pytest.mark.parametrize(
    "answer, problem",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I cannot help with that.", "no JSON"),
        ("{{{{{{{{", "no JSON"),
        ('{"commands": []}', "1 to 16"),
        (
            '{"commands": [{"text": "x", "kind": "paint", "checks": [{"question": "Is it?", "category": "object"}]}]}',
            "kind must be one of",
        ),
        (
            '{"commands": [{"text": "x", "kind": "add", "checks": [{"question": "Is it", "category": "object"}]}]}',
            "ending with '?'",
        ),
        (
            '{"commands": [{"text": "x", "kind": "add", "checks": [{"question": "Is it?", "category": "mood"}]}]}',
            "category must be one of",
        ),
        ('{"cmds": 3}', '"commands" list'),
        ("[" * 5000 + "]" * 5000, "not an object"),
        ("[" * 3000, "no JSON"),
    ],
)
def test_invalid_answers_name_the_problem(answer, problem):
    with pytest.raises(CommandSchemaError, match=problem):
        parse_commands(answer)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_a_schema_error(text):
    try:
        cmds = parse_commands(text)
    except CommandSchemaError as e:
        assert e.problems
    else:
        assert cmds


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["commands", "text", "kind", "checks", "question", "category", "x"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_any_json_value_parses_or_raises_a_schema_error(value):
    try:
        parse_commands(json.dumps(value))
    except CommandSchemaError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_readable_never_raises_and_is_one_short_line(text):
    out = readable(text)
    assert "\n" not in out and len(out) <= 120


@pytest.mark.parametrize(
    "model, reason", [("llm", "invalid answer"), ("llm_empty", "the answer is empty"), ("llm_braces", "no JSON")]
)
def test_bad_models_fall_back_to_the_grammar_with_a_warning(tiny, caplog, model, reason):
    ex = LLMExtractor(str(tiny[model]), max_new_tokens=24)
    with caplog.at_level(logging.WARNING, logger="poser_env.extractors.llm"):
        cmds = ex.extract(PROMPT)
    assert ex.last_source == "grammar-fallback" and ex.fallbacks == 1
    assert [c.to_dict() for c in cmds] == [c.to_dict() for c in GrammarExtractor().extract(PROMPT)]
    assert (
        "falling back to the grammar extractor" in caplog.text
        and reason in caplog.text
        and "after 2 tries" in caplog.text
    )


def test_a_model_that_cannot_load_falls_back_too(tmp_path, caplog):
    ex = LLMExtractor(str(tmp_path / "missing-model"), retries=0)
    with caplog.at_level(logging.WARNING, logger="poser_env.extractors.llm"):
        cmds = ex.extract("A red circle.")
    assert cmds and "the model failed" in caplog.text
    with pytest.raises(ValueError, match="empty prompt"):
        ex.extract("  ")


def test_the_extractor_is_told_whether_an_image_is_edited(tiny):
    ex = LLMExtractor(str(tiny["llm"]))
    blank = Canvas(image=np.full((64, 64, 3), 240, np.uint8))
    photo = Canvas(image=np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    from poser_env.extractors.llm import _has_content

    assert not _has_content(blank) and _has_content(photo) and not _has_content(None)
    assert "drawn from scratch" in ex.messages("x", editing=False)[1]["content"]
    assert "being edited" in ex.messages("x", editing=True)[1]["content"]
    # The prompt goes through the tokenizer's own chat template.
    text = ex.chat.prompt(ex.messages("A red circle.", editing=False))
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")


def test_valid_and_repaired_answers_of_a_real_model(trained_llm, caplog):
    from tests.backends.fixtures import TRAINED_SYSTEM

    ex = LLMExtractor(str(trained_llm), system=TRAINED_SYSTEM, max_new_tokens=80)
    with caplog.at_level(logging.WARNING, logger="poser_env.extractors.llm"):
        cmds = ex.extract("A red circle.")
        assert ex.last_source == "llm"
        assert [(c.text, c.kind, [q.question for q in c.checks]) for c in cmds] == [
            ("Draw a red circle.", "generate", ["Is there a red circle?"])
        ]
        assert cmds[0].not_understood == ()  # the answer mentions every content word
        cmds = ex.extract("A blue square.")
        assert ex.last_source == "llm-repaired"  # the first answer was cut short; the retry was valid
        assert cmds[0].text == "Draw a blue square."
    assert ex.fallbacks == 0 and "falling back" not in caplog.text


def test_env_runs_on_the_llm_extractors_commands(tmp_path, tiny, trained_llm):
    from poser_env.presets import make_env
    from tests.backends.fixtures import TRAINED_SYSTEM, write_preset

    preset = write_preset(
        tmp_path,
        tiny,
        extractor=f'type = "llm"\nmodel = "{trained_llm}"\nmax_new_tokens = 80\nsystem = "{TRAINED_SYSTEM}"',
    )
    env = make_env(preset, max_steps=2)
    _, info = env.reset(seed=0, options={"prompt": "A red circle."})
    assert env.extractor.last_source == "llm"
    assert info["commands"] == [
        {
            "text": "Draw a red circle.",
            "kind": "generate",
            "checks": [
                {
                    "question": "Is there a red circle?",
                    "category": "object",
                    "spec": {"kind": "question", "text": "Is there a red circle?"},
                }
            ],
        }
    ]
    *_, info = env.step(0)
    assert "error" not in info and info["verdict"]["results"][0]["question"] == "Is there a red circle?"
