"""Target specifications, the checks they imply, and the judge that answers a check on a scene.

A :class:`Target` says what a finished image must show: object groups (with counts), spatial
relations, objects that must be absent, objects that must be preserved from a source image,
the background, the style and whether it must be clean. :func:`checks_for` turns it into
:class:`~poser_env.types.Check` s, each with a plain-English question and a spec.

:func:`answer` judges one check against a scene. It is the same function for both judges:
given the ground-truth :class:`Scene` it is the evaluator; given the detector's
:class:`DetectedScene` it is the synthetic critic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from poser_env.types import Check
from poser_env.world import vocab
from poser_env.world.geometry import relations_between
from poser_env.world.scene import SceneError, SceneObject

#: How far (canvas fractions) a preserved object's centre may drift and still count as kept:
#: the judgement of an edited image (:func:`answer`). See :func:`preserve_match`.
PRESERVE_TOLERANCE = 0.06
#: How far two readings of one object's position may differ and still name the same preserve
#: check: the task's stored position against one measured on the rendered source's pixels
#: (pairing checks, not judging images). See :func:`preserve_match`.
SAME_POSITION_TOLERANCE = 0.02

#: A check spec's ``kind``: how :func:`answer` judges it (as against the check's ``category``,
#: what it asks about, and a task's ``task_category``; docs/world.md "Checks and judges").
SPEC_KINDS: tuple[str, ...] = ("exists", "count", "absent", "relation", "background", "style", "clean", "preserve")

_REL_PHRASE = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}


class SpecError(ValueError):
    """A target specification or a check spec is malformed."""


@dataclass(frozen=True)
class ObjectGroup:
    """``count`` objects of a shape, optionally of one colour and one size.

    ``count`` 0 means "none of these" (used by removals)."""

    shape: str
    color: str | None = None
    size: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        vocab.check_shape(self.shape)
        if self.color is not None:
            vocab.check_color(self.color)
        if self.size is not None:
            vocab.check_size(self.size)
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 0 <= self.count <= vocab.MAX_COUNT:
            raise SpecError(f"count must be an int from 0 to {vocab.MAX_COUNT}, got {self.count!r}")

    def noun(self) -> str:
        """``"small red circle"`` (singular, with whatever attributes are set)."""
        return " ".join(w for w in (self.size, self.color, self.shape) if w)

    def noun_plural(self) -> str:
        return " ".join(w for w in (self.size, self.color, vocab.PLURALS[self.shape]) if w)

    def ref(self) -> dict[str, Any]:
        return {"shape": self.shape, "color": self.color, "size": self.size}

    def matches(self, obj: Any) -> bool:
        return (
            obj.shape == self.shape
            and (self.color is None or obj.color == self.color)
            and (self.size is None or obj.size == self.size)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "color": self.color, "size": self.size, "count": self.count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectGroup:
        _expect_keys(d, {"shape", "color", "size", "count"}, "object group", required={"shape"})
        return cls(**d)


@dataclass(frozen=True)
class Relation:
    """``a`` stands ``rel`` ``b`` (both single objects)."""

    a: ObjectGroup
    rel: str
    b: ObjectGroup

    def __post_init__(self) -> None:
        vocab.check_relation(self.rel)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.ref(), "rel": self.rel, "b": self.b.ref()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Relation:
        _expect_keys(d, {"a", "rel", "b"}, "relation", required={"a", "rel", "b"})
        return cls(ObjectGroup.from_dict(d["a"]), d["rel"], ObjectGroup.from_dict(d["b"]))


@dataclass(frozen=True)
class Target:
    """What a finished image must show. Every field is optional."""

    groups: tuple[ObjectGroup, ...] = ()
    relations: tuple[Relation, ...] = ()
    absent: tuple[ObjectGroup, ...] = ()
    preserve: tuple[SceneObject, ...] = ()
    background: str | None = None
    style: str | None = None
    clean: bool = False

    def __post_init__(self) -> None:
        for name in ("groups", "relations", "absent", "preserve"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.background is not None:
            vocab.check_background(self.background)
        if self.style is not None:
            object.__setattr__(self, "style", vocab.check_style(self.style))

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.to_dict() for g in self.groups],
            "relations": [r.to_dict() for r in self.relations],
            "absent": [g.ref() for g in self.absent],
            "preserve": [o.to_dict() for o in self.preserve],
            "background": self.background,
            "style": self.style,
            "clean": self.clean,
        }

    def checks(self) -> list[Check]:
        """All checks this target implies (:func:`checks_for`); what ``Task.checks`` returns.
        Built once per target (a new list each call): every episode's summary asks for them."""
        built = self.__dict__.get("_checks")
        if built is None:
            built = tuple(checks_for(self))
            object.__setattr__(self, "_checks", built)
        return list(built)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Target:
        _expect_keys(d, {"groups", "relations", "absent", "preserve", "background", "style", "clean"}, "target")
        try:
            return cls(
                groups=tuple(ObjectGroup.from_dict(g) for g in d.get("groups", [])),
                relations=tuple(Relation.from_dict(r) for r in d.get("relations", [])),
                absent=tuple(ObjectGroup.from_dict({**g, "count": 0}) for g in d.get("absent", [])),
                preserve=tuple(SceneObject.from_dict(o) for o in d.get("preserve", [])),
                background=d.get("background"),
                style=d.get("style"),
                clean=bool(d.get("clean", False)),
            )
        except TypeError as e:  # a list where a dict belongs, and the like
            raise SpecError(f"malformed target {d!r}: {e}") from e


def _expect_keys(d: Any, allowed: set[str], what: str, required: Iterable[str] = ()) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{what} must be a dict, got {type(d).__name__}: {d!r}")
    unknown = set(d) - allowed
    if unknown:
        raise SpecError(f"unknown {what} field(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = set(required) - set(d)
    if missing:
        raise SpecError(f"{what} is missing {sorted(missing)}: {d!r}")


# --------------------------------------------------------------------------------------------
# Target -> checks
# --------------------------------------------------------------------------------------------


def region_name(x: float, y: float) -> str:
    """A coarse place name for a point, for questions a VLM can answer ("in the top left")."""
    col = "left" if x < 1 / 3 else ("right" if x > 2 / 3 else "")
    row = "top" if y < 1 / 3 else ("bottom" if y > 2 / 3 else "")
    if not col and not row:
        return "in the centre"
    if not row:
        return f"on the {col}"
    if not col:
        return f"at the {row}"
    return f"in the {row} {col}"


def group_check(g: ObjectGroup) -> Check:
    """The check that a group is present in the right number (or absent when count is 0)."""
    spec = {**g.ref(), "n": g.count}
    if g.count == 0:
        return Check(f"Are there no {g.noun_plural()} in the image?", "object", {"kind": "absent", **spec})
    if g.count == 1:
        category = "attribute" if g.size else ("color" if g.color else "object")
        article = "an" if g.noun()[0] in "aeiou" else "a"
        return Check(f"Is there {article} {g.noun()}?", category, {"kind": "exists", **spec})
    word = vocab.COUNT_WORDS[g.count]
    return Check(f"Are there exactly {word} {g.noun_plural()}?", "count", {"kind": "count", **spec})


def relation_check(r: Relation) -> Check:
    return Check(
        f"Is the {r.a.noun()} {_REL_PHRASE[r.rel]} the {r.b.noun()}?",
        "position",
        {"kind": "relation", "a": r.a.ref(), "rel": r.rel, "b": r.b.ref()},
    )


def background_check(color: str) -> Check:
    return Check(f"Is the background {color}?", "background", {"kind": "background", "color": color})


def style_check(style: str) -> Check:
    return Check(f"Is the image drawn in the {style} style?", "style", {"kind": "style", "style": style})


def clean_check() -> Check:
    return Check("Is the image free of noise and speckles?", "quality", {"kind": "clean"})


def preserve_check(o: SceneObject) -> Check:
    return Check(
        f"Is the {o.describe(with_size=True)} still {region_name(o.x, o.y)}?",
        "preserve",
        {
            "kind": "preserve",
            "shape": o.shape,
            "color": o.color,
            "size": o.size,
            "x": round(o.x, 3),
            "y": round(o.y, 3),
        },
    )


def preserve_match(spec: Mapping[str, Any], other: Any, tolerance: float) -> bool:
    """Whether ``other`` is the object a preserve check's ``spec`` keeps: the same shape, and the
    same colour and size where the spec names them (as every check matches), with its centre
    within ``tolerance`` of the spec's on both axes. ``other`` is a scene object or another
    preserve spec (a dict; one without a position never matches).

    The one matching rule for preserve checks, with two tolerances for two questions:

    - :data:`PRESERVE_TOLERANCE` (0.06), *was the object kept?* (:func:`answer`, on the ground
      truth and on the critic's detected scene): it must hold the detector's error, up to
      1.5 px (0.023 of a 64 px canvas), and a real editor redrawing a kept object a few pixels
      off; it stays below 0.075, the smallest object's half-extent, so no two objects of a
      layout without overlaps are both within it of one position.
    - :data:`SAME_POSITION_TOLERANCE` (0.02), *are two checks the same request?* (the env's
      ``critic_agreement``, the extractor check): the task's stored position against the one
      an extractor measured on the rendered source (128 px), which differ by the detector's
      error only; checks 0.03 apart ask for different places (``tests/extractors``).

    Why not one number: 0.06 for pairing would pair checks 0.03 apart, which the extractor
    check's test pins as different; 0.02 for judging changes no synthetic figure measured
    (the seeded digests and ``poser calibrate --env ImagePoser-Edit-v0 --split test
    --episodes 300`` are identical, the synthetic experts redraw kept objects exactly) but sits
    inside the detector's error on a 64 px canvas and would call a kept object that a real
    editor moved by 3 px gone. So the rule is shared and the tolerance is the caller's.
    """
    get = other.get if isinstance(other, Mapping) else (lambda key: getattr(other, key, None))
    if get("shape") != spec["shape"] or any(spec.get(k) is not None and get(k) != spec[k] for k in ("color", "size")):
        return False
    x, y = get("x"), get("y")
    if x is None or y is None:
        return False
    return abs(float(x) - float(spec["x"])) <= tolerance and abs(float(y) - float(spec["y"])) <= tolerance


def checks_for(target: Target) -> list[Check]:
    """All checks a target implies, in a stable order (objects, relations, absences, ...)."""
    checks = [group_check(g) for g in target.groups]
    checks += [relation_check(r) for r in target.relations]
    checks += [group_check(g) for g in target.absent]
    checks += [preserve_check(o) for o in target.preserve]
    if target.background is not None:
        checks.append(background_check(target.background))
    if target.style is not None:
        checks.append(style_check(target.style))
    if target.clean:
        checks.append(clean_check())
    return checks


# --------------------------------------------------------------------------------------------
# The judge
# --------------------------------------------------------------------------------------------


class ObjectLike(Protocol):
    """What a check reads of an object (read-only: frozen scene objects and detections both fit)."""

    @property
    def shape(self) -> str: ...
    @property
    def color(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...

    @property
    def bbox(self) -> tuple[float, float, float, float]: ...


class SceneLike(Protocol):
    """What a check reads of a scene (read-only: the ground truth and the detector's reading both fit)."""

    @property
    def objects(self) -> Sequence[ObjectLike]: ...
    @property
    def background(self) -> str: ...
    @property
    def style(self) -> str: ...

    @property
    def clean(self) -> bool: ...


#: Object groups already built (and so validated) from a spec's words: every critique asks
#: the same few, and building one checks each word against the vocabulary.
_REFS: dict[tuple[Any, Any, Any], ObjectGroup] = {}


def _ref(spec: dict[str, Any]) -> ObjectGroup:
    words = (spec["shape"], spec.get("color"), spec.get("size"))
    try:
        hit = _REFS.get(words)
    except TypeError:  # an unhashable word: ObjectGroup says what is wrong with it
        return ObjectGroup(*words)
    if hit is None:
        hit = ObjectGroup(*words)  # raises for a word outside the vocabulary: nothing kept
        if len(_REFS) < 4096:
            _REFS[words] = hit
    return hit


def answer(check: Check | dict[str, Any], scene: SceneLike) -> bool:
    """Whether ``scene`` satisfies the check (the check itself or its spec dict)."""
    spec = check.spec if isinstance(check, Check) else check
    kind = spec.get("kind") if isinstance(spec, dict) else None
    try:
        if kind in ("exists", "count", "absent"):
            ref = _ref(spec)  # once, not per object (this is the critic's inner loop)
            n = sum(1 for o in scene.objects if ref.matches(o))
            return n >= 1 if kind == "exists" else n == spec["n"]
        if kind == "relation":
            a, b = _ref(spec["a"]), _ref(spec["b"])
            return any(
                spec["rel"] in relations_between(oa.bbox, ob.bbox)
                for oa in scene.objects
                if a.matches(oa)
                for ob in scene.objects
                if ob is not oa and b.matches(ob)
            )
        if kind == "background":
            return scene.background == spec["color"]
        if kind == "style":
            return scene.style == spec["style"]
        if kind == "clean":
            return bool(scene.clean)
        if kind == "preserve":
            _ref(spec)  # the spec's words are checked as in every other kind
            return any(preserve_match(spec, o, PRESERVE_TOLERANCE) for o in scene.objects)
    except (KeyError, TypeError, SceneError, vocab.VocabularyError) as e:
        raise SpecError(f"malformed check spec {spec!r}: {e}") from e
    raise SpecError(f"unknown check kind {kind!r} in {spec!r}; allowed: {', '.join(SPEC_KINDS)}")


def score(checks: Sequence[Check], scene: SceneLike) -> tuple[list[bool], float]:
    """Per-check answers and the fraction passed (1.0 for an empty list)."""
    results = [answer(c, scene) for c in checks]
    return results, (sum(results) / len(results) if results else 1.0)
