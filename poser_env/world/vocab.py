"""The shape world's closed vocabulary: colours, shapes, sizes, relations, backgrounds, styles.

Everything that a prompt, a scene, a renderer or a detector can name lives here, so that one
table is the truth for all of them. Validation helpers raise :class:`VocabularyError` naming
the allowed values, because an unknown word in a specification is a user error that must be
reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The ten GenEval colours with the RGB value the renderer paints. The values are saturated and
#: far apart in RGB so that blur (watercolor) and noise keep them separable.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (250, 135, 0),
    "yellow": (245, 220, 20),
    "green": (30, 150, 50),
    "blue": (30, 70, 225),
    "purple": (130, 40, 175),
    "pink": (250, 110, 190),
    "brown": (115, 65, 25),
    "black": (15, 15, 15),
    "white": (252, 252, 252),
}

#: Background colours. Kept disjoint from the object colours (pale tints), so that an object
#: is never the colour of the ground it stands on: every object stays visible, which keeps the
#: world fair to a pixel critic.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "gray": (175, 175, 175),
    "beige": (225, 205, 165),
    "sky blue": (160, 200, 235),
    "mint": (170, 225, 190),
    "lavender": (200, 180, 230),
}
DEFAULT_BACKGROUND = "gray"

#: Shapes, told apart by geometry alone (see ``geometry.py`` for their outlines).
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "heart")

#: Object sizes, as the half-extent of the shape's box in fractions of the canvas side.
SIZES: dict[str, float] = {"small": 0.075, "large": 0.12}
DEFAULT_SIZE = "small"

#: GenEval's four spatial relations.
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
INVERSE_RELATION: dict[str, str] = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}

#: Rendering styles. ``plain`` is flat fills; the others are described in ``render.py``.
STYLES: tuple[str, ...] = ("plain", "pixel-art", "sketch", "watercolor")
DEFAULT_STYLE = "plain"
#: Accepted spellings in text, mapped to the canonical style name.
STYLE_SYNONYMS: dict[str, str] = {
    "plain": "plain",
    "flat": "plain",
    "pixel-art": "pixel-art",
    "pixel art": "pixel-art",
    "pixelart": "pixel-art",
    "pixelated": "pixel-art",
    "8-bit": "pixel-art",
    "sketch": "sketch",
    "line drawing": "sketch",
    "outline": "sketch",
    "outlined": "sketch",
    "watercolor": "watercolor",
    "watercolour": "watercolor",
    "water-color": "watercolor",
    "water-colour": "watercolor",
}

#: Artefacts that degrade an image; a refiner removes them.
ARTIFACTS: tuple[str, ...] = ("noise", "speckles")

#: Counts 1 to 5 (and zero for "no ..."), as digits and words.
MAX_COUNT = 5
NUMBER_WORDS: dict[str, int] = {
    "no": 0,
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
}
COUNT_WORDS: dict[int, str] = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

#: Plural forms of the shapes, for prompts and questions.
PLURALS: dict[str, str] = {s: s + "es" if s.endswith("x") else s + "s" for s in SHAPES}


class VocabularyError(ValueError):
    """A word outside the shape world's vocabulary was used in a specification."""


def _check(kind: str, value: object, allowed: Iterable[str]) -> str:
    if isinstance(value, str) and isinstance(allowed, (dict, tuple)) and value in allowed:
        return value  # the common case, without building the tuple the message needs
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise VocabularyError(f"unknown {kind} {value!r}; allowed: {', '.join(allowed)}")
    return value


def check_color(value: object) -> str:
    return _check("colour", value, COLORS)


def check_shape(value: object) -> str:
    return _check("shape", value, SHAPES)


def check_size(value: object) -> str:
    return _check("size", value, SIZES)


def check_relation(value: object) -> str:
    return _check("relation", value, RELATIONS)


def check_background(value: object) -> str:
    return _check("background", value, BACKGROUNDS)


def check_style(value: object) -> str:
    """Accept a canonical style name or a spelling variant (``watercolour``), return canonical."""
    if isinstance(value, str) and value.lower() in STYLE_SYNONYMS:
        return STYLE_SYNONYMS[value.lower()]
    return _check("style", value, STYLES)


def plural(shape: str, n: int) -> str:
    return shape if n == 1 else PLURALS[shape]
