"""What a piece of text asks for, as data: the common currency of parser, extractor and experts.

The parser (``parse.py``) reads English in the shape world's vocabulary and returns a list of
:class:`Intent` s, one per constraint, each tagged with the clause it came from. The command
extractor groups them into commands and derives checks from them; the synthetic experts act
on them (each through its own, imperfect, understanding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup

#: Operations an intent can carry.
#: draw: ``group`` must be in the picture (``group.count`` of them);
#: relate: ``group`` stands ``rel`` ``other`` (both single objects already asked for);
#: absent: no object matches ``group``;
#: background: the background becomes ``color``; style: the picture takes ``style``;
#: clean: no noise or speckles;
#: remove: take away what matches ``group``; recolor: ``group`` takes ``color``;
#: move: move ``group`` so that it stands ``rel`` ``other``.
OPS: tuple[str, ...] = ("draw", "relate", "absent", "background", "style", "clean", "remove", "recolor", "move")


@dataclass(frozen=True)
class Intent:
    op: str
    group: ObjectGroup | None = None
    other: ObjectGroup | None = None
    rel: str | None = None
    color: str | None = None
    style: str | None = None
    clause: int = 0

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown intent op {self.op!r}; allowed: {', '.join(OPS)}")
        if self.rel is not None:
            vocab.check_relation(self.rel)
        if self.style is not None:
            object.__setattr__(self, "style", vocab.check_style(self.style))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"op": self.op, "clause": self.clause}
        if self.group is not None:
            d["group"] = self.group.to_dict()
        if self.other is not None:
            d["other"] = self.other.to_dict()
        for k in ("rel", "color", "style"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d
