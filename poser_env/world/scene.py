"""The scene: what is drawn on a canvas, as plain data.

A :class:`Scene` is the ground truth of the synthetic world. Experts keep it up to date while
they draw, the renderer turns it into pixels, and the evaluator judges checks against it. The
pixel detector produces a Scene too (its estimate from pixels), so one judge function serves
both the critic and the evaluator.

Coordinates are fractions of the canvas side, with the origin at the top left and ``y``
growing downwards, so a scene does not depend on the canvas size it is rendered at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from poser_env.world import vocab
from poser_env.world.geometry import shape_half_extent

#: Default canvas side in pixels. 128 keeps a small object about 19 px across, enough for the
#: detector to tell a hexagon from a circle, while a render plus a critique stays near a
#: millisecond (see docs/world.md for the measured figures).
DEFAULT_CANVAS = 128
MIN_CANVAS = 64
MAX_CANVAS = 1024


class SceneError(ValueError):
    """A scene or object specification is malformed."""


def check_canvas(size: object) -> int:
    """Validate a canvas side length in pixels."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise SceneError(f"canvas size must be an int, got {size!r}")
    if not MIN_CANVAS <= size <= MAX_CANVAS:
        raise SceneError(
            f"canvas size {size} is out of range; use {MIN_CANVAS} to {MAX_CANVAS} pixels (default {DEFAULT_CANVAS})"
        )
    return size


@dataclass(frozen=True)
class SceneObject:
    """One drawn shape: what it is and where its centre lies (fractions of the canvas)."""

    shape: str
    color: str
    size: str = vocab.DEFAULT_SIZE
    x: float = 0.5
    y: float = 0.5

    def __post_init__(self) -> None:
        vocab.check_shape(self.shape)
        vocab.check_color(self.color)
        vocab.check_size(self.size)
        for name in ("x", "y"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
                raise SceneError(f"object {name} must be a fraction in [0, 1], got {v!r}")

    @property
    def half_extent(self) -> tuple[float, float]:
        """Half width and half height of the object's box, in canvas fractions."""
        return shape_half_extent(self.shape, self.size)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in canvas fractions."""
        hw, hh = self.half_extent
        return (self.x - hw, self.y - hh, self.x + hw, self.y + hh)

    def describe(self, with_size: bool = False) -> str:
        """``"red circle"`` or ``"large red circle"``."""
        return f"{self.size} {self.color} {self.shape}" if with_size else f"{self.color} {self.shape}"

    def moved(self, x: float, y: float) -> SceneObject:
        return replace(self, x=x, y=y)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["x"] = round(float(self.x), 4)
        d["y"] = round(float(self.y), 4)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneObject:
        if not isinstance(d, dict):
            raise SceneError(f"an object must be a dict, got {type(d).__name__}")
        unknown = set(d) - {"shape", "color", "size", "x", "y"}
        if unknown:
            raise SceneError(f"unknown object field(s) {sorted(unknown)}; allowed: shape, color, size, x, y")
        if "shape" not in d or "color" not in d:
            raise SceneError(f"an object needs 'shape' and 'color', got {d!r}")
        return cls(**d)


@dataclass(frozen=True)
class Scene:
    """A whole picture: objects (drawn in order), background, style and artefacts.

    ``noise`` is the standard deviation of pixel noise as a fraction of 255 (0 = none);
    ``speckles`` the number of stray specks. ``artifact_seed`` fixes where noise and specks
    fall, so that rendering is a pure function of the scene.
    """

    objects: tuple[SceneObject, ...] = ()
    background: str = vocab.DEFAULT_BACKGROUND
    style: str = vocab.DEFAULT_STYLE
    noise: float = 0.0
    speckles: int = 0
    artifact_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        for o in self.objects:
            if not isinstance(o, SceneObject):
                raise SceneError(f"scene objects must be SceneObject, got {type(o).__name__}")
        vocab.check_background(self.background)
        object.__setattr__(self, "style", vocab.check_style(self.style))
        if not isinstance(self.noise, (int, float)) or not 0.0 <= self.noise <= 0.5:
            raise SceneError(f"noise must be in [0, 0.5], got {self.noise!r}")
        if isinstance(self.speckles, bool) or not isinstance(self.speckles, int) or self.speckles < 0:
            raise SceneError(f"speckles must be a non-negative int, got {self.speckles!r}")

    @property
    def clean(self) -> bool:
        return self.noise == 0 and self.speckles == 0

    def with_objects(self, objects: list[SceneObject] | tuple[SceneObject, ...]) -> Scene:
        return replace(self, objects=tuple(objects))

    def replace(self, **changes: Any) -> Scene:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objects": [o.to_dict() for o in self.objects],
            "background": self.background,
            "style": self.style,
            "noise": round(float(self.noise), 4),
            "speckles": int(self.speckles),
            "artifact_seed": int(self.artifact_seed),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scene:
        if not isinstance(d, dict):
            raise SceneError(f"a scene must be a dict, got {type(d).__name__}")
        allowed = {"objects", "background", "style", "noise", "speckles", "artifact_seed"}
        unknown = set(d) - allowed
        if unknown:
            raise SceneError(f"unknown scene field(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
        objects = d.get("objects", [])
        if not isinstance(objects, list):
            raise SceneError("scene 'objects' must be a list")
        kwargs = {k: v for k, v in d.items() if k != "objects"}
        return cls(objects=tuple(SceneObject.from_dict(o) for o in objects), **kwargs)


@dataclass
class DetectedObject:
    """An object as the pixel detector saw it: the same attributes plus its pixel evidence.

    It quacks like :class:`SceneObject` (``shape``, ``color``, ``size``, ``x``, ``y``, ``bbox``),
    so the judge answers checks on a detected scene exactly as on a ground-truth one.
    """

    shape: str
    color: str
    size: str
    x: float
    y: float
    bbox: tuple[float, float, float, float]
    area: float = 0.0
    confidence: float = 1.0


@dataclass
class DetectedScene:
    """The detector's reading of an image (see ``detect.py``)."""

    objects: list[DetectedObject] = field(default_factory=list)
    background: str = vocab.DEFAULT_BACKGROUND
    style: str = vocab.DEFAULT_STYLE
    noise: float = 0.0
    speckles: int = 0

    @property
    def clean(self) -> bool:
        return self.noise == 0 and self.speckles == 0
