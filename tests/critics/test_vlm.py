"""The VLM critic on a tiny LLaVA-style model: yes/no scores in batches, notes that fall back."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")

from poser_env.critics.vlm import VLMCritic  # noqa: E402
from poser_env.types import Canvas, Check  # noqa: E402


def test_vlm_silent_notes_fall_back_to_the_plain_reflection(tiny, caplog):
    critic = VLMCritic(str(tiny["vlm_silent"]), threshold=0.999)  # nearly every check fails
    checks = [
        Check("Is there a red circle?", "object", {"kind": "question", "text": "a"}),
        Check("Is the background mint?", "background", {"kind": "question", "text": "b"}),
    ]
    with caplog.at_level(logging.WARNING, logger="poser_env.critics.vlm"):
        v = critic.critique(Canvas(image=np.zeros((64, 64, 3), np.uint8)), checks)
    assert not v.passed and v.feedback.startswith("Not yet right. Is there a red circle: no")
    assert all(r.note == "" for r in v.results)
    assert "unusable note" in caplog.text


def test_vlm_critic_scores_in_batches_and_is_consistent(tiny):
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    questions = [f"Is there a shape number {i}?" for i in range(7)]
    a = VLMCritic(str(tiny["vlm"]), batch_size=2).scorer.p_yes(image, questions)
    b = VLMCritic(str(tiny["vlm"]), batch_size=8).scorer.p_yes(image, questions)
    assert a.shape == (7,) and np.all((a > 0) & (a < 1))
    np.testing.assert_allclose(a, b, atol=1e-4)  # left padding: batching does not change an answer
    single = VLMCritic(str(tiny["vlm"])).scorer.p_yes(image, questions[3:4])
    np.testing.assert_allclose(single, a[3:4], atol=1e-4)
