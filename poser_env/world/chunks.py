"""Noun-phrase chunks: ``[quantifier] [modifiers] [size] colour(s) shape`` over a clause's words.

One left-to-right pass; a chunk that fails is skipped whole, so the pass is linear in the
number of words. A chunk records which of its words were not understood (an unknown modifier:
"a *wooden* star"; a shade: "a *light* blue star"; a vague quantifier: "*several* stars") and
which are ignorable (colour intensifiers: "bright red", "deep purple-*coloured*").

Readings (see ``lexicon.py`` for the word decisions):

- determiner: a count (``a``, ``one``, ``3``, ``exactly four``, ``a single``, ``a pair of``, ``a
  couple of``, ``a trio of``), ``no`` (negated), ``the``/``this``/``these`` (definite), none
  (a bare noun: at least one);
- colours coordinated before a plural noun, or with the article repeated, are distributive:
  "red, green and blue squares", "a red and a blue circle" give one group per colour; "a red and
  blue circle" (one two-coloured circle) is not understood;
- a distributive tail after a counted group: "two stars, one green and the other purple".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from poser_env.world import language as L
from poser_env.world import lexicon as X
from poser_env.world.checks import ObjectGroup

#: A phrase table: entries keyed by word tuples, the longest key's length, and per first word
#: the longest key starting with it (most words start no key: ``match`` answers them at once).
Table = tuple[dict[tuple[str, ...], object], int, dict[str, int]]

_TOKEN_SPLIT = str.split


def table(entries: Mapping[str, object]) -> Table:
    """A phrase table keyed by word tuples (words as the tokenizer writes them), its longest
    key, and the longest key per first word."""
    out: dict[tuple[str, ...], object] = {}
    for phrase, value in entries.items():
        key = tuple(phrase.lower().replace(",", " ,").split())
        if key:
            out.setdefault(key, value)
    firsts: dict[str, int] = {}
    for key in out:
        firsts[key[0]] = max(firsts.get(key[0], 0), len(key))
    return out, max((len(k) for k in out), default=1), firsts


def match(words: list[str], i: int, tab: Table) -> tuple[int, object] | None:
    """The longest entry of ``tab`` starting at ``words[i]``: (its length, its value)."""
    entries, longest, firsts = tab
    if 0 <= i < len(words):
        # Only keys that start with words[i] can match: none for most words (the parser asks
        # every table at every position).
        longest = firsts.get(words[i], 0)
    for k in range(min(longest, len(words) - i), 0, -1):
        value = entries.get(tuple(words[i : i + k]))
        if value is not None:
            return k, value
    return None


_DETERMINERS = table(
    {
        **L.COUNT_LOOKUP,
        **X.QUANTIFIERS,
        **{q: "vague" for q in X.VAGUE_QUANTIFIERS},
        "the": "the",
        "any": "the",
        "this": "the",
        "that": "the",
        "these": "the",
        "those": "the",
        "both": "the",
        "both the": "the",
        "all the": "the",
        "all": "the",
        "another": 1,
    }
)
_SIZES = table(X.SIZE_LOOKUP)
_COLORS = table(L.COLOR_LOOKUP)
_SHAPES = table(L.SHAPE_LOOKUP)
_PLURALS = frozenset(L.SHAPE_LOOKUP) - frozenset(L.SHAPE_LOOKUP.values())
_NEGATIONS = frozenset({"without", "minus"})
#: Words that can never be an unknown modifier (they have a job of their own).
_KNOWN = frozenset(
    {
        w
        for t in (
            L.COUNT_LOOKUP,
            L.SHAPE_LOOKUP,
            L.COLOR_LOOKUP,
            X.SIZE_LOOKUP,
            L.RELATION_LOOKUP,
            X.EXTRA_RELATIONS,
            L.BACKGROUND_LOOKUP,
            L.STYLE_LOOKUP,
        )
        for p in t
        for w in p.split()
    }
    | set(X.RECOLOR_VERBS)
    | {w for p in L.EDIT_VERBS["remove"] + X.EXTRA_REMOVE_VERBS for w in p.split()}
    | {"move", "shift", "then", "no", "not", "without", "background", "backdrop", "style"}
    | {w for p in X.UNEXPRESSIBLE_RELATIONS for w in p.split()}
)
#: Background colour words that name no object colour ("a gray circle": reported, the circle kept).
_BACKGROUND_ONLY = frozenset(w for p in L.BACKGROUND_LOOKUP for w in p.split() if w not in L.COLOR_LOOKUP) - {"sky"}
_ITEM_DETS = table(
    {
        "one": 1,
        "the other": 1,
        "another": 1,
        "the second": 1,
        "the third": 1,
        "the last": 1,
        "a": 1,
        "an": 1,
        **{w: n for w, n in L.NUMBER_WORDS.items() if n >= 2},
        **{f"the other {w}": n for w, n in L.NUMBER_WORDS.items() if n >= 2},
    }
)
MASK = "\x00"


@dataclass
class NP:
    """One noun-phrase chunk: words ``start`` to ``end`` (one past the shape noun)."""

    start: int
    end: int
    det: object  # an int count, "the", "bare", "vague"
    shape: str
    colors: list[str] = field(default_factory=list)
    size: str | None = None
    plural: bool = False
    negated: bool = False
    distributive: bool = False
    parts: list[tuple[str, int]] = field(default_factory=list)  # (colour, count) of a distributive tail
    unread: list[int] = field(default_factory=list)
    ignorable: list[int] = field(default_factory=list)
    used: bool = False
    related: bool = False
    ref_count: int = 1  # "the two red circles": the number a definite phrase names
    skip: bool = False  # part of a construction not understood ("into a square")
    anchor: bool = False  # the object of a relation the world cannot check ("next to the circle")

    @property
    def count(self) -> int:
        if isinstance(self.det, int) and not isinstance(self.det, bool):
            return self.det
        return 1

    @property
    def color(self) -> str | None:
        return self.colors[0] if len(self.colors) == 1 and not self.parts else None

    @property
    def single(self) -> bool:
        """One object: a relation can hold between it and another."""
        if self.parts or len(self.colors) > 1 or self.plural:
            return False
        return self.det == "the" or self.count == 1

    def group(self, count: int = 1) -> ObjectGroup:
        return ObjectGroup(self.shape, self.color, self.size, count)

    def groups(self, count: int | None = None) -> list[ObjectGroup]:
        """The groups it states: one per colour when distributive, else one."""
        if self.parts:
            return [ObjectGroup(self.shape, c, self.size, k if count is None else count) for c, k in self.parts]
        if self.distributive:
            return [ObjectGroup(self.shape, c, self.size, 1 if count is None else count) for c in self.colors]
        return [ObjectGroup(self.shape, self.color, self.size, self.count if count is None else count)]


def _is_modifier(words: list[str], j: int) -> bool:
    w = words[j] if j < len(words) else ""
    return w in L.COLOR_LOOKUP or w in X.SIZE_LOOKUP or w in X.INTENSIFIERS or w in X.SHADES


def _noun_phrase(words: list[str], i: int) -> tuple[NP | None, int]:
    """The chunk starting at ``words[i]`` (or None) and how far the attempt read."""
    n = len(words)
    det: object = "bare"
    unread: list[int] = []
    ignorable: list[int] = []
    j = i
    ref_count = 1
    m = match(words, i, _DETERMINERS) if words[i] in _DETERMINERS[2] else None
    if m is not None:
        det, j = m[1], i + m[0]
        if det == "vague":
            unread += range(i, j)
    if det == "the":
        mn = match(words, j, _DETERMINERS)
        if mn is not None and isinstance(mn[1], int):
            j += mn[0]
            ref_count = int(mn[1])  # type: ignore[call-overload]
        while j < n and words[j] in ("other", "same", "second", "first", "third", "last"):
            j += 1
    colors: list[str] = []
    size = None
    repeated_article = False
    unknown_run = 0
    while j < n:
        w = words[j]
        if w == MASK:
            break
        # (each table is asked only for a word that starts one of its keys: the same answers)
        ms = match(words, j, _SIZES) if w in _SIZES[2] else None
        if ms is not None:
            size, j, unknown_run = str(ms[1]), j + ms[0], 0
            continue
        mc = match(words, j, _COLORS) if w in _COLORS[2] else None
        if mc is not None:
            colors.append(str(mc[1]))
            j, unknown_run = j + mc[0], 0
            while j < n and words[j] in X.COLOURED:
                ignorable.append(j)
                j += 1
            continue
        if w in X.INTENSIFIERS:
            ignorable.append(j)
            j += 1
            continue
        if w in X.SHADES and _is_modifier(words, j + 1):
            unread.append(j)
            j += 1
            continue
        if w == "," and (colors or size) and _is_modifier(words, j + 1):
            j += 1
            continue
        if w in ("and", "or") and colors:
            if j + 1 < n and words[j + 1] in L.COLOR_LOOKUP:
                j += 1
                continue
            if j + 2 < n and words[j + 1] in ("a", "an", "one") and _is_modifier(words, j + 2):
                repeated_article = True
                j += 2
                continue
        if (
            (det != "bare" or colors or size)
            and unknown_run < 3
            and w[:1].isalpha()
            and w not in X.FUNCTION_WORDS
            and (w not in _KNOWN or w in _BACKGROUND_ONLY)
        ):
            unread.append(j)
            unknown_run += 1
            j += 1
            continue
        break
    mh = match(words, j, _SHAPES) if j < n and words[j] in _SHAPES[2] else None
    if mh is None:
        return None, j
    head = words[j]
    np_ = NP(
        i,
        j + mh[0],
        det,
        str(mh[1]),
        colors,
        size,
        plural=head in _PLURALS,
        unread=unread,
        ignorable=ignorable,
        ref_count=ref_count,
    )
    if len(colors) > 1:
        if np_.plural or repeated_article:
            np_.distributive = True
            if isinstance(det, int) and det not in (1, len(colors)):
                np_.unread += range(i, i + 1)  # "two red and blue squares": which two?
        else:  # "a red and blue circle": one object of two colours
            np_.colors = []
            np_.unread += [k for k in range(i, j) if words[k] in L.COLOR_LOOKUP or words[k] in ("and", "or", ",")]
    if isinstance(det, int) and det >= 2 and not colors:
        _distributive_tail(words, np_)
    return np_, np_.end


def _distributive_tail(words: list[str], np_: NP) -> None:
    """ "two stars, one green and the other purple": one group per colour, if the items add up."""
    n = len(words)
    j = np_.end
    if j >= n or words[j] != ",":
        return
    j += 1
    parts: dict[str, int] = {}
    total = 0
    while j < n:
        m = match(words, j, _ITEM_DETS)
        if m is None:
            break
        k = j + m[0]
        mc = match(words, k, _COLORS)
        if mc is None:
            break
        k += mc[0]
        mh = match(words, k, _SHAPES)
        if mh is not None:
            if mh[1] != np_.shape:
                break
            k += mh[0]
        parts[str(mc[1])] = parts.get(str(mc[1]), 0) + int(m[1])  # type: ignore[call-overload]
        total += int(m[1])  # type: ignore[call-overload]
        j = k
        if j < n and words[j] in (",", "and"):
            j += 1
            if j < n and words[j] == "and":
                j += 1
            continue
        break
    if total == np_.count and len(parts) >= 1 and total >= 2:
        np_.parts = list(parts.items())
        np_.end = j if words[j - 1] not in (",", "and") else j - 1


def chunk(words: list[str], status: list[int | None] | None = None) -> list[NP]:
    """The clause's noun-phrase chunks, left to right (masked words never belong to one)."""
    out: list[NP] = []
    i = 0
    n = len(words)
    while i < n:
        if words[i] == MASK:
            i += 1
            continue
        np_, j = _noun_phrase(words, i)
        if np_ is None:
            i = max(i + 1, j)  # any chunk starting inside the failed one fails where it did
            continue
        if np_.det == 0:
            np_.negated = True
        elif i > 0 and words[i - 1] in _NEGATIONS:
            np_.negated = True
            if status is not None:
                status[i - 1] = 1
        out.append(np_)
        i = np_.end
    return out
