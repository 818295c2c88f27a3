"""The critic contract: ``critique(canvas, checks) -> Verdict``.

A critic looks at the image (never at the scene graph a synthetic expert keeps) and answers
each check; its verdict gives the env's reward and, through each result's ``note``, the
reflection text for a retry (``poser_env.types.reflection``), which the env hands to the next
expert as its own ``reflection`` argument. The evaluator that scores a benchmark is a separate
component (``poser_env/evaluators``), so the agent is never graded by the judge it was trained
against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from poser_env.types import Canvas, Check, Verdict


@runtime_checkable
class Critic(Protocol):
    """Anything with a ``name``, ``scores_commands`` and a ``critique`` method.

    Subclass it to inherit the default of ``scores_commands``; a class that does not must
    declare it (the env checks at construction and names what is missing)."""

    name: str

    scores_commands: bool = False
    """Whether it scores the episode's commands as well as their checks (the CLIP critic's
    ``mode = "command"``): the env then calls ``critique(canvas, checks, commands=commands)``."""

    def critique(self, canvas: Canvas, checks: Sequence[Check]) -> Verdict: ...
