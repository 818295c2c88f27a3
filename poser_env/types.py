"""Plain data shared by every component: checks and tasks.

These types carry no behaviour that depends on a backend: a real vision-language critic reads
only ``Check.question``; the synthetic critic and the evaluator also read ``Check.spec``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    def __post_init__(self) -> None:
        if self.category not in CHECK_CATEGORIES:
            raise ValueError(f"unknown check category {self.category!r}; allowed: {', '.join(CHECK_CATEGORIES)}")
        if not isinstance(self.question, str) or not self.question.strip().endswith("?"):
            raise ValueError(f"a check's question must be a sentence ending with '?', got {self.question!r}")

    @property
    def key(self) -> str:
        """A canonical string for the spec: stable across runs, used for equality and hashing."""
        import json

        return self.category + ":" + json.dumps(self.spec, sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "category": self.category, "spec": dict(self.spec)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Check":
        return cls(question=d["question"], category=d["category"], spec=dict(d.get("spec", {})))


@dataclass(frozen=True)
class Task:
    """One episode's job.

    ``prompt`` is the long-form text an agent must realise. ``source`` is the image to edit
    (in the synthetic world a :class:`~poser_env.world.scene.Scene`, rendered on demand), or
    None for generation. ``target`` is the synthetic world's
    :class:`~poser_env.world.checks.Target`: what the evaluator checks. Real-world tasks have
    no target; their checks come from the command extractor.
    """

    id: str
    prompt: str
    category: str = "custom"
    suite: str = "custom"
    split: str = "custom"
    target: Any = None
    source: Any = None
    edits: tuple[dict[str, Any], ...] = ()

    @property
    def checks(self) -> list[Check]:
        """The target's checks (empty when the task has no target)."""
        if self.target is None:
            return []
        from poser_env.world.checks import checks_for

        return checks_for(self.target)
