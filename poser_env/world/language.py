"""The shape world's surface language: the words and phrase templates prompts are made of.

One set of tables serves the prompt generator (``suites/generate.py``) now and the grammar command
parser later: the generator writes only phrases listed here, so a parser that knows these
tables can read every generated prompt back to exactly the checks it was generated from.

Rules the generator keeps, and a parser may rely on:

1. **Noun phrases** are ``[determiner] [size] [colour] shape``: the determiner is an article
   (``a``/``an``), a count (:data:`COUNT_LOOKUP`: number words or digits, optionally after
   ``exactly``, or ``a single``), or ``the``. Size words come from :data:`SIZE_LOOKUP`,
   colour words from :data:`COLOR_LOOKUP`, shape nouns from :data:`SHAPE_LOOKUP` (singular and
   plural). Nothing else stands between the determiner and the shape noun.
2. **Indefinite introduces, definite refers.** ``a red circle`` / ``three stars`` state an
   object group (one check each); ``the red circle`` names a group stated elsewhere in the
   same prompt (generation) or an object of the source image (editing). A definite phrase
   never states a constraint by itself, and no pronoun ever stands for an object.
3. **Attributes as named.** An object reference carries exactly the attributes the text
   names: ``the large red circle`` is (circle, red, large), ``the red circle`` is (circle, red,
   any size). In generation prompts a reference repeats every attribute of the group it
   names; editing prompts refer to source objects by colour and shape only (they are unique
   by those two in the source).
4. **Count 1 means "at least one"**; counts 2 to 5 mean "exactly" (the checks say so).
5. **Longest match first.** Multi-word entries (``sky blue``, ``to the left of``, ``line
   drawing``, ``take away``) must be matched before their parts; :func:`longest_first` sorts
   a table for that. Background spellings that contain an object colour (``light blue``,
   ``mint green``) occur only next to ``background``/``backdrop``.
6. **Every constraint has its own phrase**: an object group, a relation (``A <relation> B``
   or the inverted ``<Relation> B is A``), a background phrase containing ``background`` or
   ``backdrop``, a style phrase containing a :data:`STYLE_LOOKUP` spelling; in editing
   prompts one clause per edit and one sentence saying that everything else stays.

Relation phrasings are kept only where their meaning is GenEval's rule (the centre of A lies
mostly in that direction from the centre of B, with no overlap): ``over``, ``under``,
``beneath``, ``underneath`` and ``on top of`` are left out because in ordinary English they also
mean covering or touching (and the layout never lets objects overlap); ``directly above``
asks for an alignment the rule does not check; ``next to``/``beside``/``near`` name no
direction; ``higher than``/``lower than`` do not say that the vertical direction dominates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from poser_env.world import vocab

# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

#: Number words and digits for counts 1 to 5 (and ``no``/``zero`` for 0).
NUMBER_WORDS: dict[str, int] = {
    **{w: n for w, n in vocab.NUMBER_WORDS.items()},
    **{str(n): n for n in range(1, vocab.MAX_COUNT + 1)},
}
#: Multi-word determiners meaning one.
SINGLE_DETERMINERS: tuple[str, ...] = ("a single", "one single")
#: The word that may precede a count of 2 or more ("exactly three stars").
EXACTLY = "exactly"
#: Every determiner a parser should accept, mapped to its count (``the`` is a reference).
COUNT_LOOKUP: dict[str, int] = {
    **NUMBER_WORDS,
    **{d: 1 for d in SINGLE_DETERMINERS},
    **{f"{EXACTLY} {w}": n for w, n in NUMBER_WORDS.items() if n >= 2},
}

#: What the generator writes for a count: 1 in its singular forms; 2-5 as words or digits.
SINGULAR_FORMS: tuple[str, ...] = ("a", "one", "a single")

#: Shape nouns, singular and plural, mapped to the canonical shape.
SHAPE_LOOKUP: dict[str, str] = {**{s: s for s in vocab.SHAPES}, **{p: s for s, p in vocab.PLURALS.items()}}

#: Object colour words (one spelling each: ``grey`` is a background word only).
COLOR_WORDS: dict[str, tuple[str, ...]] = {c: (c,) for c in vocab.COLORS}
COLOR_LOOKUP: dict[str, str] = {w: c for c, ws in COLOR_WORDS.items() for w in ws}
#: The noun "colour" in both spellings (in "change the colour of ...").
COLOUR_NOUNS: tuple[str, ...] = ("colour", "color")

#: Size words. Only two sizes exist, so every "small" word means small and every "big" large.
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
SIZE_LOOKUP: dict[str, str] = {w: s for s, ws in SIZE_WORDS.items() for w in ws}

#: Relation phrasings (see the module docstring for the ones left out and why).
RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "left of": ("to the left of", "left of", "on the left side of"),
    "right of": ("to the right of", "right of", "on the right side of"),
    "above": ("above",),
    "below": ("below",),
}
RELATION_LOOKUP: dict[str, str] = {p: r for r, ps in RELATION_PHRASES.items() for p in ps}
#: The phrasings that read well at the front of a sentence ("To the left of the star, ...").
FRONT_RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    r: tuple(p for p in ps if p not in ("left of", "right of")) for r, ps in RELATION_PHRASES.items()
}

#: Background spellings. Built from the vocabulary, so a background added there gets at least
#: its own name.
_BACKGROUND_VARIANTS: dict[str, tuple[str, ...]] = {
    "gray": ("gray", "grey"),
    "sky blue": ("sky blue", "sky-blue", "light blue"),
    "mint": ("mint", "mint green", "mint-green"),
}
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {b: _BACKGROUND_VARIANTS.get(b, (b,)) for b in vocab.BACKGROUNDS}
BACKGROUND_LOOKUP: dict[str, str] = {w: b for b, ws in BACKGROUND_WORDS.items() for w in ws}
#: Nouns that mark a background phrase.
BACKGROUND_NOUNS: tuple[str, ...] = ("background", "backdrop")

#: Style spellings: the vocabulary's synonyms table is the lookup.
STYLE_LOOKUP: dict[str, str] = dict(vocab.STYLE_SYNONYMS)
#: Style words as used before "style" ("in watercolour style", "in a flat style").
STYLE_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "flat"),
    "pixel-art": ("pixel-art", "pixel art", "8-bit", "pixelated"),
    "sketch": ("sketch", "line drawing", "outline"),
    "watercolor": ("watercolor", "watercolour"),
}
#: Style noun phrases ("as pixel art", "into a line drawing").
STYLE_NOUNS: dict[str, tuple[str, ...]] = {
    "plain": ("a flat drawing", "a plain drawing"),
    "pixel-art": ("pixel art", "a pixel-art image"),
    "sketch": ("a sketch", "a line drawing"),
    "watercolor": ("a watercolor painting", "a watercolour painting", "a watercolour"),
}

#: Nouns for the whole picture (in editing clauses: "restyle the image as ...").
IMAGE_NOUNS: tuple[str, ...] = ("image", "picture", "scene", "whole image")

# --------------------------------------------------------------------------------------------
# GenEval-like short prompts
# --------------------------------------------------------------------------------------------

#: Frames around the object description ``{x}``; ``{be}`` is "is" or "are" to agree with it.
GENEVAL_FRAMES: tuple[str, ...] = (
    "{x}",
    "a photo of {x}",
    "a photograph of {x}",
    "a picture of {x}",
    "an image of {x}",
    "a drawing of {x}",
    "an illustration of {x}",
    "a snapshot of {x}",
    "a digital image of {x}",
    "a simple picture of {x}",
    "draw {x}",
    "show {x}",
    "create {x}",
    "generate {x}",
    "produce {x}",
    "depict {x}",
    "please draw {x}",
    "draw a picture of {x}",
    "generate an image of {x}",
    "create a picture of {x}",
    "an image showing {x}",
    "a picture showing {x}",
    "an image with {x}",
    "a picture with {x}",
    "a scene with {x}",
    "a canvas with {x}",
    "there {be} {x}",
    "the image shows {x}",
    "the picture contains {x}",
    "show me {x}",
)
#: Joins the two objects of a two-object prompt.
PAIR_JOINERS: tuple[str, ...] = ("and", "as well as")

# --------------------------------------------------------------------------------------------
# Long-form generation prompts
# --------------------------------------------------------------------------------------------

#: Sentences that state object groups; ``{items}`` is a list ("a red circle, two stars and a
#: large hexagon"); ``{be}`` agrees with the first item.
LIST_SENTENCES: tuple[str, ...] = (
    "There {be} {items}.",
    "The image shows {items}.",
    "The picture contains {items}.",
    "Draw {items}.",
    "Show {items}.",
    "Include {items}.",
    "Create an image with {items}.",
    "Generate a picture of {items}.",
    "I want {items}.",
    "The scene has {items}.",
)
#: Separators inside an item list (the last pair is joined by " and " or ", and ").
LIST_SEPARATOR = ", "
LIST_FINAL_SEPARATORS: tuple[str, ...] = (" and ", ", and ")
#: Sentences that state a relation between two groups introduced elsewhere (``{a}``, ``{b}``
#: are definite references, ``{rel}`` a relation phrase, ``{Rel}`` the same capitalised).
RELATION_SENTENCES: tuple[str, ...] = (
    "The {a} is {rel} the {b}.",
    "The {a} sits {rel} the {b}.",
    "The {a} should be {rel} the {b}.",
    "The {a} appears {rel} the {b}.",
    "Place the {a} {rel} the {b}.",
    "Put the {a} {rel} the {b}.",
    "{Rel} the {b} is the {a}.",
)
#: An item that introduces two single objects and their relation ("a red circle to the left of
#: a blue star"), used inside an item list.
INLINE_RELATION = "{a} {rel} {b}"
#: Background sentences and phrases (``{bg}`` a spelling, ``{an}`` its article).
BACKGROUND_SENTENCES: tuple[str, ...] = (
    "The background is {bg}.",
    "Use {an} {bg} background.",
    "Put everything on {an} {bg} background.",
    "Set the scene against {an} {bg} backdrop.",
    "The backdrop is {bg}.",
    "Make the background {bg}.",
)
#: Attached to the end of a list sentence (before its full stop).
BACKGROUND_SUFFIXES: tuple[str, ...] = (
    " on {an} {bg} background",
    ", all on {an} {bg} background",
    " against {an} {bg} backdrop",
)
#: Put in front of a list sentence.
BACKGROUND_PREFIXES: tuple[str, ...] = ("On {an} {bg} background, ",)
#: Style sentences (``{adj}`` a style adjective, ``{noun}`` a style noun phrase).
STYLE_SENTENCES: tuple[str, ...] = (
    "The whole image is in {adj} style.",
    "Use {an} {adj} style.",
    "Render everything in {adj} style.",
    "Draw everything as {noun}.",
    "The style is {adj}.",
    "Style: {adj}.",
    "Make the picture look like {noun}.",
)
STYLE_SUFFIXES: tuple[str, ...] = (", in {adj} style", ", all in {an} {adj} style")
STYLE_PREFIXES: tuple[str, ...] = ("In {adj} style, ",)

# --------------------------------------------------------------------------------------------
# Editing prompts
# --------------------------------------------------------------------------------------------

#: The edit operations, in the order the docs list them.
EDIT_OPS: tuple[str, ...] = ("add", "remove", "recolor", "move", "background", "style")

#: Verbs per operation (for a parser: the clause's operation is told by its verb, then by
#: whether the object after it is indefinite (add) or definite (move), and by the words
#: ``background`` or a style spelling).
EDIT_VERBS: dict[str, tuple[str, ...]] = {
    "add": ("add", "put", "place", "insert", "draw"),
    "remove": ("remove", "delete", "erase", "take away", "get rid of"),
    "recolor": (
        "recolour",
        "recolor",
        "colour",
        "color",
        "make",
        "paint",
        "turn",
        "change the colour of",
        "change the color of",
    ),
    "move": ("move", "shift", "put", "place", "reposition", "relocate"),
    "background": ("change", "make", "set", "switch", "replace", "paint", "use", "give"),
    "style": ("restyle", "render", "turn", "convert", "switch", "redraw", "make"),
}
#: Clause templates per operation. ``{np}`` is an indefinite noun phrase (add), ``{obj}`` and
#: ``{anchor}`` definite references without the article, ``{color}`` a colour word, ``{rel}``
#: a relation phrase, ``{loc}`` " {rel} the {anchor}" or a location-free ending, ``{image}`` an
#: image noun, ``{bg}``/``{an}`` a background spelling and its article, ``{adj}``/``{noun}``
#: style words.
EDIT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "add": ("add {np}{loc}", "put {np}{loc}", "place {np}{loc}", "insert {np}{loc}", "draw {np}{loc}"),
    "add_front": ("{Rel} the {anchor}, add {np}", "{Rel} the {anchor}, draw {np}"),
    "remove": (
        "remove the {obj}",
        "delete the {obj}",
        "erase the {obj}",
        "take away the {obj}",
        "get rid of the {obj}",
    ),
    "recolor": (
        "recolour the {obj} {color}",
        "recolor the {obj} {color}",
        "recolor the {obj} to {color}",
        "colour the {obj} {color}",
        "make the {obj} {color}",
        "paint the {obj} {color}",
        "turn the {obj} {color}",
        "change the colour of the {obj} to {color}",
        "change the color of the {obj} to {color}",
    ),
    "move": (
        "move the {obj} {rel} the {anchor}",
        "shift the {obj} {rel} the {anchor}",
        "put the {obj} {rel} the {anchor}",
        "place the {obj} {rel} the {anchor}",
        "reposition the {obj} {rel} the {anchor}",
        "relocate the {obj} {rel} the {anchor}",
        "move the {obj} so that the {obj} is {rel} the {anchor}",
    ),
    "background": (
        "change the background to {bg}",
        "make the background {bg}",
        "set the background to {bg}",
        "switch the background to {bg}",
        "replace the background with {bg}",
        "paint the background {bg}",
        "use {an} {bg} background instead",
        "give the {image} {an} {bg} background",
    ),
    "style": (
        "restyle the {image} as {noun}",
        "restyle the {image} in {adj} style",
        "render the {image} in {adj} style",
        "turn the {image} into {noun}",
        "convert the {image} to {adj} style",
        "switch the {image} to {an} {adj} style",
        "redraw the {image} as {noun}",
        "make the {image} look like {noun}",
    ),
}
#: Location endings of an add without a relation; "put" and "place" always take one.
ADD_NO_LOCATION: tuple[str, ...] = ("", " anywhere", " somewhere in the {image}")
#: Add verbs that need a location ending ("put a star anywhere", never "put a star").
ADD_VERBS_WITH_LOCATION: tuple[str, ...] = ("put", "place")
#: Connectors in front of the first, middle and last edit clause of a sentence-per-edit prompt.
FIRST_CONNECTORS: tuple[str, ...] = ("", "First, ", "To start, ")
MIDDLE_CONNECTORS: tuple[str, ...] = ("", "Then ", "Next, ", "After that, ", "Also ")
LAST_CONNECTORS: tuple[str, ...] = ("", "Finally, ", "Lastly, ", "Then ")
#: Joins edit clauses inside one sentence.
CLAUSE_JOINERS: tuple[str, ...] = (", then ", "; then ", ", and then ", "; ")
#: The closing sentence of every editing prompt: everything no edit names stays as it is.
PRESERVE_SENTENCES: tuple[str, ...] = (
    "Keep everything else unchanged.",
    "Leave everything else untouched.",
    "Do not change anything else.",
    "Everything else should stay the same.",
    "Keep the other objects where they are.",
    "Leave the rest of the image as it is.",
)

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def pick(rng: np.random.Generator, seq: Sequence[str]) -> str:
    """One entry of ``seq``, drawn with ``rng``."""
    return seq[int(rng.integers(len(seq)))]


def article(word: str) -> str:
    """``a`` or ``an`` for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """``"an orange circle"``."""
    return f"{article(phrase)} {phrase}"


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def longest_first(table: Mapping[str, object] | Iterable[str]) -> list[str]:
    """Entries of a phrase table ordered for longest-match scanning (longest, then A-Z)."""
    return sorted(table, key=lambda p: (-len(p), p))


def normalise(text: str) -> str:
    """The comparison form of a prompt: lower case, punctuation dropped, single spaces.

    Two prompts that differ only in case or punctuation are the same prompt (this is what
    the suites' split-disjointness is measured on).
    """
    text = re.sub(r"[^a-z0-9\- ]+", " ", text.lower())
    return " ".join(text.split())


def noun(shape: str, color: str | None = None, size_word: str | None = None, plural: bool = False) -> str:
    """``"big red circles"`` (attribute words as given, no determiner)."""
    head = vocab.PLURALS[shape] if plural else shape
    return " ".join(w for w in (size_word, color, head) if w)


def size_word(size: str | None, rng: np.random.Generator) -> str | None:
    return None if size is None else pick(rng, SIZE_WORDS[size])


def count_phrase(
    shape: str,
    color: str | None,
    size: str | None,
    count: int,
    rng: np.random.Generator,
    singular_forms: Sequence[str] = SINGULAR_FORMS,
    p_digit: float = 0.35,
    p_exactly: float = 0.25,
) -> str:
    """An indefinite noun phrase stating ``count`` objects: ``"a single red circle"``,
    ``"3 big stars"``, ``"exactly four hexagons"``."""
    if not 1 <= count <= vocab.MAX_COUNT:
        raise ValueError(f"a stated count must be 1 to {vocab.MAX_COUNT}, got {count}")
    sw = size_word(size, rng)
    if count == 1:
        head = noun(shape, color, sw)
        det = pick(rng, singular_forms)
        return with_article(head) if det == "a" else f"{det} {head}"
    number = str(count) if rng.random() < p_digit else vocab.COUNT_WORDS[count]
    if rng.random() < p_exactly:
        number = f"{EXACTLY} {number}"
    return f"{number} {noun(shape, color, sw, plural=True)}"


def reference(shape: str, color: str | None, size: str | None, rng: np.random.Generator) -> str:
    """A definite reference without the article: ``"big red circle"`` (say "the" before it)."""
    return noun(shape, color, size_word(size, rng))


def relation_phrase(rel: str, rng: np.random.Generator, front: bool = False) -> str:
    """A phrasing of ``rel``; ``front`` for one that can open a sentence."""
    table = FRONT_RELATION_PHRASES if front else RELATION_PHRASES
    return pick(rng, table[vocab.check_relation(rel)])


def background_word(background: str, rng: np.random.Generator) -> str:
    return pick(rng, BACKGROUND_WORDS[vocab.check_background(background)])


def style_adjective(style: str, rng: np.random.Generator) -> str:
    return pick(rng, STYLE_ADJECTIVES[vocab.check_style(style)])


def style_noun(style: str, rng: np.random.Generator) -> str:
    return pick(rng, STYLE_NOUNS[vocab.check_style(style)])


def join_items(items: Sequence[str], rng: np.random.Generator) -> str:
    """``"a and b"``, ``"a, b and c"`` or ``"a, b, and c"``."""
    if len(items) == 1:
        return items[0]
    final = pick(rng, LIST_FINAL_SEPARATORS) if len(items) > 2 else LIST_FINAL_SEPARATORS[0]
    return LIST_SEPARATOR.join(items[:-1]) + final + items[-1]


def _style_spellings_are_known() -> None:
    """Every style word the generator writes is a spelling the lookup table knows."""
    for style, adjs in STYLE_ADJECTIVES.items():
        for a in adjs:
            assert STYLE_LOOKUP.get(a) == style, (style, a)
    for style, nouns in STYLE_NOUNS.items():
        for n in nouns:
            found = [w for w in longest_first(STYLE_LOOKUP) if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", n)]
            assert found and STYLE_LOOKUP[found[0]] == style, (style, n)


_style_spellings_are_known()
