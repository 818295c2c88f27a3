"""The real world's evaluator: a second model that judges the final image, never the critic.

The reward comes from the critic; the benchmark's numbers come from here. If both were the
same model an agent could learn that model's blind spots and be graded by the same blind
spots (the self-evaluation bias the Image-POSER reviewers pointed out). The preset loader
therefore refuses an evaluator whose model is the critic's unless the preset says
``allow_same_model = true``, and then every summary carries ``same_as_critic: true``.

Metrics match the synthetic evaluator's keys (``judged``, ``alignment``, ``accuracy``,
``fidelity``, ``n_checks``, ``per_category``, ``passed``) so the evaluation harness and reports
work unchanged. The checks judged are the task's target checks when the task has them, else
the extractor's checks of the episode. ``fidelity`` is the answer to one quality question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poser_env.evaluators.base import Evaluator
from poser_env.types import Canvas, Check, Task

QUALITY_QUESTION = "Is this image clean, without noise, artefacts or distortions?"


class ModelEvaluator(Evaluator):
    """Judges with a VLM or CLIP critic built from plain data (``judge = {"type": "vlm", "model": ...}``)."""

    #: It answers any question about the image, so the env has it judge prompt-only tasks on the
    #: extractor's checks.
    judges_free_prompts = True

    def __init__(
        self,
        judge: Mapping[str, Any],
        name: str = "model-evaluator",
        pool: Any = None,
        same_as_critic: bool = False,
        quality_question: str = QUALITY_QUESTION,
    ):
        judge = dict(judge)
        kind = judge.pop("type", "vlm")
        if kind == "vlm":
            from poser_env.critics.vlm import VLMCritic

            judge.setdefault("notes", False)  # the evaluator gives no feedback
            self.critic = VLMCritic(pool=pool, **judge)
        elif kind == "clip":
            from poser_env.critics.clip import CLIPCritic

            if judge.get("mode", "check") != "check":
                raise ValueError(
                    f"[evaluator] mode = {judge['mode']!r}: the evaluator judges the task's checks, which belong to "
                    f'no command; mode = "command" is a [critic] setting, remove it here'
                )

            self.critic = CLIPCritic(pool=pool, **judge)
        else:
            raise ValueError(f"unknown evaluator judge type {kind!r}; allowed: vlm, clip")
        self.name = name
        self.same_as_critic = bool(same_as_critic)
        self.quality = Check(quality_question, "quality", {"kind": "question", "text": quality_question})

    @property
    def model_id(self) -> str:
        return self.critic.model_id

    def preload(self) -> None:
        """Load the judge's model now, so a bad checkpoint fails at the first reset, not at an episode's end."""
        self.critic.preload()

    def evaluate(self, canvas: Canvas, task: Task, checks: Sequence[Check] | None = None) -> dict[str, Any]:
        checks = list(task.checks if checks is None else checks)
        verdict = self.critic.critique(canvas, [*checks, self.quality])
        results = verdict.results[: len(checks)]
        passed = [r.passed for r in results]
        per_category: dict[str, list[bool]] = {}
        for c, p in zip(checks, passed):
            per_category.setdefault(c.category, []).append(p)
        return {
            "judged": True,
            "judge": self.model_id,
            "same_as_critic": self.same_as_critic,
            "alignment": sum(passed) / len(passed) if passed else 1.0,
            "accuracy": float(all(passed)),
            "fidelity": float(verdict.results[-1].passed),
            "n_checks": len(checks),
            "per_category": {k: sum(v) / len(v) for k, v in sorted(per_category.items())},
            "passed": passed,
        }
