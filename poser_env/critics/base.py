"""The critic contract: ``critique(canvas, checks) -> Verdict``.

A critic looks at the image (never at the scene graph a synthetic expert keeps) and answers
each check; its verdict gives the env's reward and, through each result's ``note``, the
reflection text for a retry (``poser_env.types.reflection``). The evaluator that scores a
benchmark is a separate component (``poser_env/evaluators``), so the agent is never graded
by the judge it was trained against.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from poser_env.types import Canvas, Check, Verdict


@runtime_checkable
class Critic(Protocol):
    name: str

    def critique(self, canvas: Canvas, checks: Sequence[Check]) -> Verdict: ...
