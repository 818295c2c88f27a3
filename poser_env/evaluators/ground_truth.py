"""The synthetic world's evaluator: the ground-truth scene graph against the task's target.

It never looks at pixels, so it is exact, and it is a different judge from the pixel critic
that shapes the reward: the self-evaluation bias the Image-POSER reviewers pointed out cannot
arise here. Metrics follow GenEval: a task is *accurate* when every check passes; *alignment*
is the fraction of checks that pass; *fidelity* is 1 for an image free of artefacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from poser_env.evaluators.base import Evaluator
from poser_env.types import Canvas, Check, Task
from poser_env.world.checks import answer
from poser_env.world.scene import Scene


class GroundTruthEvaluator(Evaluator):
    name = "ground-truth"
    judges_free_prompts = False  # it compares a scene with a target: a free prompt has none

    def evaluate(self, canvas: Canvas, task: Task, checks: Sequence[Check] | None = None) -> dict[str, Any]:
        """Metrics for the final canvas of an episode.

        ``checks`` defaults to the task's target checks. A canvas without a scene graph (drawn
        by a real model) cannot be judged here: the result says so with ``judged: False``.
        """
        checks = list(task.checks if checks is None else checks)
        scene = canvas.scene
        if not isinstance(scene, Scene):
            return {"judged": False, "reason": "the canvas has no ground-truth scene (a non-synthetic expert drew it)"}
        passed = [answer(c, scene) for c in checks]
        per_category: dict[str, list[bool]] = {}
        for c, p in zip(checks, passed):
            per_category.setdefault(c.category, []).append(p)
        return {
            "judged": True,
            "alignment": sum(passed) / len(passed) if passed else 1.0,
            "accuracy": float(all(passed)),
            "fidelity": float(scene.clean),
            "n_checks": len(checks),
            "per_category": {k: sum(v) / len(v) for k, v in sorted(per_category.items())},
            "passed": passed,
        }
