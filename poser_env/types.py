"""Plain data shared by every component: checks and tasks.

These types carry no behaviour that depends on a backend: a real vision-language critic reads
only ``Check.question``; the synthetic critic and the evaluator also read ``Check.spec``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import InitVar, dataclass, field
from typing import Any

from poser_env.deprecation import ImagePoserDeprecationWarning

#: The categories a check can belong to (GenEval's plus what long prompts and edits add).
CHECK_CATEGORIES: tuple[str, ...] = (
    "object",
    "count",
    "color",
    "position",
    "attribute",
    "background",
    "style",
    "preserve",
    "quality",
)


@dataclass(frozen=True)
class Check:
    """One verifiable yes/no fact about an image.

    ``question`` is plain English ("Are there exactly two blue squares?") for any critic;
    ``spec`` is the machine-readable form (a JSON-able dict) used by the synthetic critic and
    the evaluator. Two checks are equal when their category and spec are equal.
    """

    question: str
    category: str
    spec: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    _key: str = field(init=False, repr=False, compare=False, hash=False, default="")

    def __post_init__(self) -> None:
        # Checks are hashed constantly (sets of checks at every step): compute the key once.
        object.__setattr__(self, "_key", self.category + ":" + json.dumps(self.spec, sort_keys=True))
        if self.category not in CHECK_CATEGORIES:
            raise ValueError(f"unknown check category {self.category!r}; allowed: {', '.join(CHECK_CATEGORIES)}")
        if not isinstance(self.question, str) or not self.question.strip().endswith("?"):
            raise ValueError(f"a check's question must be a sentence ending with '?', got {self.question!r}")

    @property
    def key(self) -> str:
        """A canonical string for the spec: stable across runs, used for equality and hashing."""
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)  # str caches its hash; no property call (sets of checks every step)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "category": self.category, "spec": dict(self.spec)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(question=d["question"], category=d["category"], spec=dict(d.get("spec", {})))


@dataclass(frozen=True)
class Task:
    """One episode's job.

    ``prompt`` is the long-form text an agent must realise. ``source`` is the image to edit
    (in the synthetic world a :class:`~poser_env.world.scene.Scene`, rendered on demand), or
    None for generation. ``target`` is the synthetic world's
    :class:`~poser_env.world.checks.Target` (or any object whose ``checks()`` method lists its
    :class:`Check` objects): what the evaluator checks. Real-world tasks have no target; their checks
    come from the command extractor.

    ``task_category`` is the task's kind within its suite (GenEval's ``single_object`` ...
    ``color_attr``, or ``longform`` / ``editing``), as against a check's ``category`` (what one
    check asks about: :data:`CHECK_CATEGORIES`). Suite files and the episode summary keep the
    key ``category`` for it; ``category`` is the attribute's deprecated name (``Task(category=...)``
    and ``task.category`` warn).
    """

    id: str
    prompt: str
    task_category: str = "custom"
    suite: str = "custom"
    split: str = "custom"
    target: Any = None
    source: Any = None
    edits: tuple[dict[str, Any], ...] = ()
    category: InitVar[str | None] = None

    def __post_init__(self, category: str | None) -> None:
        if category is not None:
            if self.task_category not in ("custom", category):
                raise TypeError(
                    f"category={category!r} and task_category={self.task_category!r} are the same setting; "
                    "pass task_category= only"
                )
            warnings.warn(
                "Task(category=...) is deprecated, use task_category=", ImagePoserDeprecationWarning, stacklevel=3
            )
            object.__setattr__(self, "task_category", category)

    @property
    def checks(self) -> list[Check]:
        """The target's checks (empty when the task has no target).

        The target computes them (``Target.checks()``), so this data model imports nothing of the
        world that builds on it.
        """
        if self.target is None:
            return []
        return list(self.target.checks())


def _deprecated_task_category(self: Task) -> str:
    """Deprecated name of ``Task.task_category`` (read-only)."""
    warnings.warn("Task.category is deprecated, use task_category", ImagePoserDeprecationWarning, stacklevel=2)
    return self.task_category


# Set after the dataclass is built, whose __init__ keeps ``category=None`` as the InitVar's default.
Task.category = property(_deprecated_task_category)  # type: ignore[attr-defined]


#: Kinds of instruction the command extractor emits.
COMMAND_KINDS: tuple[str, ...] = (
    "generate",
    "add",
    "remove",
    "recolor",
    "move",
    "background",
    "style",
    "refine",
    "edit",
)


@dataclass(frozen=True)
class Command:
    """One instruction from the extractor, with the checks that say it was carried out.

    ``not_understood``: the spans of the prompt, in the part this command comes from, that the
    extractor could not turn into any check (reported to the user; never silently dropped).
    """

    text: str
    kind: str
    checks: tuple[Check, ...] = ()
    not_understood: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in COMMAND_KINDS:
            raise ValueError(f"unknown command kind {self.kind!r}; allowed: {', '.join(COMMAND_KINDS)}")
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "not_understood", tuple(str(s) for s in self.not_understood))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text, "kind": self.kind, "checks": [c.to_dict() for c in self.checks]}
        if self.not_understood:
            d["not_understood"] = list(self.not_understood)
        return d


@dataclass
class Canvas:
    """An image plus, in the synthetic world, the scene graph of what was actually drawn.

    ``image`` is uint8 H x W x 3. ``scene`` is the evaluator's ground truth; real experts
    leave it None.
    """

    image: Any
    scene: Any = None


@dataclass(frozen=True)
class CheckResult:
    """A critic's answer to one check: passed or not, and how sure it is (0.5 = unsure)."""

    check: Check
    passed: bool
    confidence: float = 1.0
    note: str = ""
    """What the critic saw instead, for the reflection ("I see two")."""

    def to_dict(self) -> dict[str, Any]:
        d = {
            "question": self.check.question,
            "category": self.check.category,
            "passed": self.passed,
            "confidence": round(float(self.confidence), 4),
        }
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class Verdict:
    """The critic's reading of a canvas against checks.

    ``score`` is the fraction of checks passed (1.0 when there are none); ``feedback`` is the
    reflection: a short text naming what failed, handed to the next expert on a retry.
    """

    results: tuple[CheckResult, ...] = ()
    feedback: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        if not self.feedback:
            object.__setattr__(self, "feedback", reflection(self.results))

    def subset(self, checks: set[Check] | list[Check]) -> Verdict:
        """The verdict restricted to some checks, with its reflection rebuilt for them."""
        keep = set(checks)
        return Verdict(tuple(r for r in self.results if r.check in keep))

    @property
    def score(self) -> float:
        return sum(r.passed for r in self.results) / len(self.results) if self.results else 1.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def by_category(self) -> dict[str, float]:
        """Fraction passed per check category (only categories present)."""
        out: dict[str, list[bool]] = {}
        for r in self.results:
            out.setdefault(r.check.category, []).append(r.passed)
        return {k: sum(v) / len(v) for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "feedback": self.feedback,
            "results": [r.to_dict() for r in self.results],
        }


def reflection(results: tuple[CheckResult, ...] | list[CheckResult], limit: int = 4) -> str:
    """A short text naming what failed (and what the critic saw instead), for a retry."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return ""
    parts = [r.check.question.rstrip("?") + ": no" + (f", {r.note}" if r.note else "") for r in failed[:limit]]
    more = f" (and {len(failed) - limit} more)" if len(failed) > limit else ""
    return "Not yet right. " + "; ".join(parts) + more + "."
