"""The grammar parser: English in the shape world's vocabulary -> a list of :class:`Intent` s.

It reads exactly the surface language that ``language.py`` tabulates (and the generator in
``suite_gen.py`` writes), relying on that module's rules: noun phrases are
``[determiner] [size] [colour] shape``; indefinite phrases state groups, definite ones refer;
a relation is ``A <relation> B`` or the inverted ``<Relation> B ... A``; a background phrase
contains ``background``/``backdrop``; a style phrase contains a style spelling; an edit's
operation is told by its verb (remove), a bare colour after a definite object (recolour), a
move verb (move) or its nouns (background, style).

How a text is read, and why in this order:

1. **Clauses** (:func:`clause_spans`): sentences, ``;``, and ``then`` / ``and then``, in text
   order; leading connectors ("First,", "After that,", "Then") are dropped. Commas alone never
   split, because item lists ("a red circle, two stars, and a hexagon") use them.
2. Per clause, the **background** spelling (only when the clause says ``background`` or
   ``backdrop``, since ``light blue`` or ``mint green`` contain object colours), the
   **style** spelling and **clean** words are found first and masked, so that what remains
   holds only object phrases (longest match first everywhere, rule 5).
3. **Noun phrases**, then **relations** (B is the phrase right after the relation words; A
   is the nearest phrase before them, or, in the inverted form, the next phrase after B),
   then per remaining phrase: indefinite -> draw, negated ("no", "without") -> absent,
   definite after a remove verb -> remove, definite followed by a bare colour -> recolor.

Intents come out in text order within a clause (a truncating expert reads the first ones).
:func:`parse` never raises: text it does not understand yields fewer intents, or none.
Results are cached per text (experts parse their instruction at every env step).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from poser_env.world import language as L
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup
from poser_env.world.intents import Intent

__all__ = ["parse", "clauses", "clause_spans", "tokenize"]

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*|[.;!?,:]")
_MASK = "\x00"


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """``(lower-case token, start, end)`` for each word (hyphenated words stay whole: ``8-bit``,
    ``mint-green``) and each punctuation mark that matters (``. ; ! ? , :``)."""
    return [(m.group().lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _table(entries: Mapping[str, object]) -> tuple[dict[tuple[str, ...], object], int]:
    """A phrase table keyed by token tuples (tokenised as text is), and its longest key."""
    out: dict[tuple[str, ...], object] = {}
    for phrase, value in entries.items():
        key = tuple(t for t, _, _ in tokenize(phrase))
        if key:
            out.setdefault(key, value)
    return out, max((len(k) for k in out), default=1)


def _match(tokens: list[str], i: int, table: tuple[dict[tuple[str, ...], object], int]) -> tuple[int, object] | None:
    """The longest entry of ``table`` starting at ``tokens[i]``: (its length, its value)."""
    entries, longest = table
    for k in range(min(longest, len(tokens) - i), 0, -1):
        value = entries.get(tuple(tokens[i : i + k]))
        if value is not None:
            return k, value
    return None


# Determiners: a count (int), "the" (definite reference), "any" (a reference, for "without any").
_DETERMINERS = _table({**L.COUNT_LOOKUP, "the": "the", "any": "any"})
_SIZES = _table(L.SIZE_LOOKUP)
_COLORS = _table(L.COLOR_LOOKUP)
_SHAPES = _table(L.SHAPE_LOOKUP)
_RELATIONS = _table(L.RELATION_LOOKUP)
_BACKGROUNDS = _table(L.BACKGROUND_LOOKUP)
_STYLES = _table(L.STYLE_LOOKUP)
_BACKGROUND_NOUNS = frozenset(L.BACKGROUND_NOUNS)
#: Words that ask for a clean image ("no noise", "remove the speckles", "a crisp image").
_CLEAN_WORDS = frozenset(
    {"noise", "noisy", "speckles", "speckle", "specks", "speck", "artifacts", "artefacts", "artifact", "artefact",
     "grain", "grainy", "clean", "crisp", "denoise", "denoised", "declutter"}
)
_REMOVE_VERBS = _table({**{v: True for v in L.EDIT_VERBS["remove"]}, "eliminate": True})
_MOVE_VERBS = frozenset({"move", "shift", "reposition", "relocate", "drag", "slide"})
_NEGATIONS = frozenset({"without", "minus"})
#: Connectors that open a clause and carry no content ("First,", "After that,", "Then").
_CONNECTORS = _table(
    {c: True for c in ("first", "to start", "to begin", "then", "next", "after that", "also", "finally", "lastly",
                       "afterwards", "and", "and then", "now", "second", "third", "please", "so")}
)
_SENTENCE_END = frozenset({".", ";", "!", "?"})


# --------------------------------------------------------------------------------------------
# Clauses
# --------------------------------------------------------------------------------------------


def _split(tokens: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    """Token runs of the clauses, connectors and separators dropped (empty runs kept out)."""
    out: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []

    def flush() -> None:
        nonlocal cur
        words = [t[0] for t in cur]
        i = 0
        while i < len(cur):  # drop leading connectors and the commas after them
            if words[i] == ",":
                i += 1
                continue
            m = _match(words, i, _CONNECTORS)
            if m is None:
                break
            i += m[0]
        run = cur[i:]
        while run and run[-1][0] in (",", ":"):
            run = run[:-1]
        if any(t[0] not in (",", ":") for t in run):
            out.append(run)
        cur = []

    for tok in tokens:
        word = tok[0]
        if word in _SENTENCE_END:
            flush()
        elif word == "then":
            # "X, then Y" / "X and then Y" / "Then Y": a new clause starts here.
            while cur and cur[-1][0] in (",", "and"):
                cur.pop()
            flush()
        else:
            cur.append(tok)
    flush()
    return out


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the clauses of ``text``, connectors left out.

    ``clause`` in the intents :func:`parse` returns is an index into this list.
    """
    if not isinstance(text, str):
        return []
    return [(run[0][1], run[-1][2]) for run in _split(tokenize(text))]


def clauses(text: str) -> list[str]:
    """The clause texts of ``text`` (see :func:`clause_spans`)."""
    return [text[a:b] for a, b in clause_spans(text)]


# --------------------------------------------------------------------------------------------
# One clause
# --------------------------------------------------------------------------------------------


@dataclass
class _NP:
    start: int
    end: int  # one past the shape noun
    det: object  # int count, "the", "any", "bare"
    shape: str
    color: str | None
    size: str | None
    negated: bool = False
    used: bool = False

    def group(self, count: int = 1) -> ObjectGroup:
        return ObjectGroup(self.shape, self.color, self.size, count)

    @property
    def indefinite(self) -> bool:
        return isinstance(self.det, int) and not isinstance(self.det, bool)


def _noun_phrase(words: list[str], i: int) -> _NP | None:
    """The noun phrase starting at ``words[i]``, if one does."""
    det: object = "bare"
    j = i
    m = _match(words, j, _DETERMINERS)
    if m is not None:
        det, j = m[1], j + m[0]
        if det in ("the", "any"):  # "the two red circles" refers; its number states nothing
            mn = _match(words, j, _DETERMINERS)
            if mn is not None and isinstance(mn[1], int):
                j += mn[0]
    size = color = None
    while j < len(words):
        ms = _match(words, j, _SIZES)
        if ms is None:
            break
        size, j = str(ms[1]), j + ms[0]
    mc = _match(words, j, _COLORS)
    if mc is not None:
        color, j = str(mc[1]), j + mc[0]
    mh = _match(words, j, _SHAPES)
    if mh is None:
        return None
    return _NP(i, j + mh[0], det, str(mh[1]), color, size)


def _mask_first(words: list[str], table: tuple[dict[tuple[str, ...], object], int]) -> tuple[int, object] | None:
    """Find the first entry of ``table`` in ``words``, mask it, return (position, value)."""
    for i in range(len(words)):
        m = _match(words, i, table)
        if m is not None:
            words[i : i + m[0]] = [_MASK] * m[0]
            return i, m[1]
    return None


def _parse_clause(words: list[str], index: int) -> list[tuple[int, Intent]]:
    """(position, intent) pairs of one clause (``words`` is modified: matched words masked)."""
    found: list[tuple[int, Intent]] = []
    if any(w in _BACKGROUND_NOUNS for w in words):
        hit = _mask_first(words, _BACKGROUNDS)
        if hit is not None:
            found.append((hit[0], Intent("background", color=str(hit[1]), clause=index)))
    hit = _mask_first(words, _STYLES)
    if hit is not None:
        found.append((hit[0], Intent("style", style=str(hit[1]), clause=index)))
    clean_at = next((i for i, w in enumerate(words) if w in _CLEAN_WORDS), None)
    if clean_at is not None:
        found.append((clean_at, Intent("clean", clause=index)))
        words = [_MASK if w in _CLEAN_WORDS else w for w in words]

    # Noun phrases, left to right, each as long as it goes.
    nps: list[_NP] = []
    i = 0
    while i < len(words):
        np_ = _noun_phrase(words, i)
        if np_ is None:
            i += 1
            continue
        if np_.det == 0:
            np_.negated = True
        elif i > 0 and words[i - 1] in _NEGATIONS:
            np_.negated = True
        nps.append(np_)
        i = np_.end
    if not nps:
        return found
    starts = {n.start: n for n in nps}

    # Relations: B right after the relation words; A the nearest phrase before, else after B.
    move_at = next((i for i, w in enumerate(words) if w in _MOVE_VERBS), None)
    i = 0
    while i < len(words):
        m = _match(words, i, _RELATIONS)
        if m is None:
            i += 1
            continue
        end = i + m[0]
        b = starts.get(end)
        if b is not None and not b.negated:
            before = [n for n in nps if n.end <= i and n is not b and not n.negated]
            after = [n for n in nps if n.start >= b.end and not n.negated]
            a = before[-1] if before else (after[0] if after else None)
            if a is not None and _single(a) and _single(b):
                op = "move" if move_at is not None and move_at < a.start and not a.indefinite else "relate"
                rel = str(m[1])
                found.append((i, Intent(op, group=a.group(), other=b.group(), rel=rel, clause=index)))
                if not a.indefinite:
                    a.used = True
                if not b.indefinite:
                    b.used = True
        i = end

    remove_at = next((i for i in range(len(words)) if _match(words, i, _REMOVE_VERBS) is not None), None)
    for n in nps:
        if n.negated:
            found.append((n.start, Intent("absent", group=n.group(0), clause=index)))
        elif remove_at is not None and remove_at < n.start:
            found.append((n.start, Intent("remove", group=n.group(), clause=index)))
        elif n.indefinite:
            count = int(n.det)  # type: ignore[call-overload]
            if 1 <= count <= vocab.MAX_COUNT:
                found.append((n.start, Intent("draw", group=n.group(count), clause=index)))
        elif not n.used:
            color = _bare_color_after(words, n, nps)
            if color is not None:
                found.append((n.start, Intent("recolor", group=n.group(), color=color, clause=index)))
    return found


def _single(n: _NP) -> bool:
    return not n.indefinite or n.det == 1


def _bare_color_after(words: list[str], n: _NP, nps: list[_NP]) -> str | None:
    """The first colour word after ``n`` that is not part of a noun phrase (before the next
    phrase): the new colour in "paint the red heart pink" / "change ... to blue"."""
    nxt = min((m.start for m in nps if m.start >= n.end), default=len(words))
    for j in range(n.end, nxt):
        m = _match(words, j, _COLORS)
        if m is not None:
            return str(m[1])
    return None


@lru_cache(maxsize=2048)
def _parse(text: str) -> tuple[Intent, ...]:
    out: list[Intent] = []
    for index, run in enumerate(_split(tokenize(text))):
        words = [t[0] for t in run]
        found = _parse_clause(words, index)
        found.sort(key=lambda p: p[0])  # stable: ties keep discovery order
        out += [intent for _, intent in found]
    return tuple(out)


def parse(text: str) -> list[Intent]:
    """What ``text`` asks for: one :class:`Intent` per constraint, tagged with its clause.

    Never raises; a non-string or text without shape-world phrases gives ``[]``.
    """
    if not isinstance(text, str):
        return []
    return list(_parse(text))
