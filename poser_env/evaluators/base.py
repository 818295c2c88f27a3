"""The evaluator contract: ``evaluate(canvas, task, checks=None) -> metrics``.

The evaluator is the benchmark's judge, called once at the end of an episode; the critic shapes
the reward at every step. Keeping them apart is the point: an agent is never graded by the judge
it was trained against (``poser_env/critics/base.py``). Two evaluators ship: the ground-truth
scene graph of the synthetic world (:mod:`poser_env.evaluators.ground_truth`) and a second model
for real images (:mod:`poser_env.evaluators.model_judge`).

The metrics are a plain dict: ``judged`` (False, with a ``reason``, when this evaluator cannot
judge the canvas), and when judged ``alignment`` (fraction of checks passed), ``accuracy`` (1.0
when every check passes), ``fidelity``, ``n_checks``, ``per_category`` and ``passed`` (one bool
per check, in order). The evaluation harness and the reports read those keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from poser_env.types import Canvas, Check, Task


@runtime_checkable
class Evaluator(Protocol):
    """Anything with a ``name``, ``judges_free_prompts`` and an ``evaluate`` method.

    Subclass it to inherit the default of ``judges_free_prompts``; a class that does not must
    declare it (the env checks at construction)."""

    name: str

    judges_free_prompts: bool = False
    """Whether it judges a task without a target (a free prompt) on the checks the extractor made
    of it (the env then passes ``checks=``). The ground truth cannot: it compares a scene with a
    target. A model judge can: it answers any question about the image."""

    def evaluate(self, canvas: Canvas, task: Task, checks: Sequence[Check] | None = None) -> dict[str, Any]:
        """The metrics of the episode's final canvas; ``checks`` default to the task's own."""
        ...
