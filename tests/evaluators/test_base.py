"""The evaluator contract: both evaluators are :class:`Evaluator` s and declare whether they judge
free prompts (the env asks the declaration, never guesses)."""

from __future__ import annotations

import numpy as np

from poser_env.evaluators.base import Evaluator
from poser_env.evaluators.ground_truth import GroundTruthEvaluator
from poser_env.evaluators.model_judge import ModelEvaluator
from poser_env.types import Canvas, Task


def test_the_evaluators_keep_the_protocol_and_declare_free_prompts() -> None:
    gt = GroundTruthEvaluator()
    assert isinstance(gt, Evaluator) and gt.judges_free_prompts is False
    assert ModelEvaluator.judges_free_prompts is True and Evaluator in ModelEvaluator.__mro__
    # The ground truth cannot judge a real image: it says so instead of guessing.
    out = gt.evaluate(Canvas(image=np.zeros((8, 8, 3), np.uint8)), Task(id="t", prompt="a red circle"))
    assert out == {"judged": False, "reason": "the canvas has no ground-truth scene (a non-synthetic expert drew it)"}


def test_an_object_without_evaluate_is_not_an_evaluator() -> None:
    class NoJudge:
        name = "x"
        judges_free_prompts = False

    assert not isinstance(NoJudge(), Evaluator)
