"""The grammar parser: English -> the shape world's :class:`Intent` s, every word accounted for.

A small pipeline, one pass per stage, each linear in the length of the text:

1. **Tokens** (:func:`tokenize`); hyphenated words stay whole when a table knows them
   (``8-bit``, ``mint-green``) and are split otherwise (``purple-coloured``, ``pencil-sketch``).
2. **Clauses** (:func:`clause_spans`): sentences, ``;``, and ``then`` / ``and then``; leading
   connectors ("First,", "After that,") are dropped. Commas never split (item lists use them).
3. Per clause, the **background** spelling (next to ``background``/``backdrop``, or after
   ``on``/``against`` when it is no object colour: "on gray"), the **style** spelling (``plain``
   and ``flat`` only where they name a style: "a plain background" is no style) and **clean**
   words are found and set aside (longest match first everywhere).
4. **Noun-phrase chunks** (:mod:`poser_env.world.chunks`): quantifier, modifiers, colour(s),
   size, shape noun singular or plural, with or without a determiner; coordinated colours
   ("a red and a blue circle", "red, green and blue squares") and distributive tails ("two
   stars, one green and the other purple") give one group per colour.
5. **Relations** between chunks: ``A <relation> B``, fronted (``<Relation> B ... A``), chained
   ("above and to the left of") and compound ("to the upper left of": two relations), with
   coordinated objects ("below the square and the triangle": two relations). Relations the
   world cannot check (near, beside, inside ...) and relations between groups of several
   objects are *not understood*.
6. **Operations** per chunk: negated -> absent; after a remove verb -> remove; indefinite ->
   draw; definite with a recolour verb and a bare colour -> recolor; else a reference.
7. **Reference resolution** (:func:`read` with ``introduce=True``, the extractor's reading): a
   definite phrase refers to a mention anywhere in the text, or to an object of the source
   image; otherwise it introduces its object (a draw). :func:`parse` (the experts' reading of
   one instruction) never introduces: the extractor rewrites such phrases with an article.
8. **Accounting**: each token is *used* (it went into an intent), *ignorable*
   (:data:`~poser_env.world.lexicon.FUNCTION_WORDS`) or *not understood*; the spans not
   understood and the coverage come back with the intents (:class:`Reading`).

Never raises: text it does not understand yields fewer intents and more unread spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from poser_env.world import language as L
from poser_env.world import lexicon as X
from poser_env.world.checks import ObjectGroup
from poser_env.world.chunks import NP, chunk, match, table
from poser_env.world.clause_read import (
    IGNORED,
    UNREAD,
    USED,
    Clause,
    final,
    operations,
    predicate_color,
    relations,
    settings,
)
from poser_env.world.intents import Intent

__all__ = ["parse", "read", "Reading", "clauses", "clause_spans", "tokenize", "PRESERVE_RE"]

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*|[.;!?,:]")
_MASK = "\x00"
Tok = tuple[str, int, int]


_CONNECTORS = table(
    {
        c: True
        for c in (
            "first",
            "to start",
            "to begin",
            "then",
            "next",
            "after that",
            "also",
            "finally",
            "lastly",
            "afterwards",
            "and",
            "and then",
            "now",
            "second",
            "third",
            "please",
            "so",
        )
    }
)
_SENTENCE_END = frozenset({".", ";", "!", "?"})
#: Words every table knows whole: a hyphenated token made of them is split, others kept.
_WHOLE = frozenset(
    w
    for t in (L.BACKGROUND_LOOKUP, L.STYLE_LOOKUP, L.COLOR_LOOKUP, L.SHAPE_LOOKUP, L.COUNT_LOOKUP, X.SIZE_LOOKUP)
    for p in t
    for w in p.split()
    if "-" in w
)
PRESERVE_RE = re.compile(
    r"\b(?:everything|anything|all) else\b|\bthe rest\b|\bother (?:objects|shapes)\b|\bunchanged\b|\buntouched\b"
    r"|\bas (?:it|they) (?:is|are)\b|\bstay(?:s)? the same\b|\bwhere (?:it|they) (?:is|are)\b|\bkeep(?:ing)? the\b"
    r"|\balone\b|\bthe rest stays\b|\bnothing else changes\b",
    re.IGNORECASE,
)


def tokenize(text: str) -> list[Tok]:
    """``(lower-case token, start, end)`` for each word (hyphenated words stay whole: ``8-bit``,
    ``mint-green``) and each punctuation mark that matters (``. ; ! ? , :``)."""
    return list(_tokens(text))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[Tok, ...]:
    # Cached: the extractor's reading and its clause spans tokenize the same prompt.
    return tuple((m.group().lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text))


def _expand(tokens: list[Tok]) -> list[Tok]:
    """Hyphenated tokens no table knows whole, split into their parts ("purple-coloured")."""
    out: list[Tok] = []
    for w, a, b in tokens:
        if "-" in w and w not in _WHOLE:
            pos = a
            for part in w.split("-"):
                if part:
                    out.append((part, pos, pos + len(part)))
                pos += len(part) + 1
        else:
            out.append((w, a, b))
    return out


# --------------------------------------------------------------------------------------------
# Clauses
# --------------------------------------------------------------------------------------------


def split_clauses(tokens: list[Tok]) -> list[list[Tok]]:
    """Token runs of the clauses, connectors and separators dropped (empty runs kept out)."""
    out: list[list[Tok]] = []
    cur: list[Tok] = []

    def flush() -> None:
        nonlocal cur
        words = [t[0] for t in cur]
        i = 0
        while i < len(cur):  # drop leading connectors and the commas after them
            if words[i] == ",":
                i += 1
                continue
            m = match(words, i, _CONNECTORS)
            if m is None or words[i : i + 2] == ["next", "to"]:  # "Next to the square, ..." is a relation
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
    return [(run[0][1], run[-1][2]) for run in split_clauses(_expand(tokenize(text)))]


def clauses(text: str) -> list[str]:
    """The clause texts of ``text`` (see :func:`clause_spans`)."""
    return [text[a:b] for a, b in clause_spans(text)]


# --------------------------------------------------------------------------------------------
# One clause
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# The whole text
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What a text asks for and what of it was not understood.

    ``intents``: one per constraint, in text order within each clause. ``unread``: character
    spans ``(start, end)`` of the text not understood (text order). ``used`` / ``unread_words``:
    content tokens that went into an intent / that did not (ignorable words are neither).
    ``introduced``: ``(start, end, article)`` of the determiners of definite phrases that
    introduce their object (no earlier mention, no source object). ``unread_refs``: objects
    named inside a construction not understood (an edit might touch them).
    """

    intents: tuple[Intent, ...] = ()
    unread: tuple[tuple[int, int], ...] = ()
    used: int = 0
    unread_words: int = 0
    introduced: tuple[tuple[int, int, str], ...] = ()
    unread_refs: tuple[ObjectGroup, ...] = ()

    @property
    def coverage(self) -> float:
        """Share of the content words that went into a check (1.0 when there are none)."""
        total = self.used + self.unread_words
        return self.used / total if total else 1.0


def _key(g: ObjectGroup) -> tuple[str, str, str]:
    return (g.shape, g.color or "*", g.size or "*")


def _projections(g: ObjectGroup) -> list[tuple[str, str, str]]:
    return [(g.shape, c, s) for c in ("*", g.color or "*") for s in ("*", g.size or "*")]


@lru_cache(maxsize=4096)
def _read(text: str, introduce: bool, present: tuple[tuple[str, str, str], ...]) -> Reading:
    tokens = _expand(tokenize(text))
    runs = split_clauses(tokens)
    cls: list[Clause] = []
    prev: NP | None = None
    for index, run in enumerate(runs):
        c = Clause([t[0] for t in run], index)
        settings(c)
        c.nps = chunk(c.words, c.status)
        c.prev = prev
        prev = c.nps[-1] if c.nps else prev
        if not any(x in X.RECOLOR_VERBS for x in c.words):
            for k, n in enumerate(c.nps):
                if not n.negated:
                    predicate_color(c, n, c.nps[k + 1].start if k + 1 < len(c.nps) else len(c.words))
        relations(c)
        operations(c)
        if not c.found and PRESERVE_RE.search(" ".join(c.original)):
            c.mark(0, len(c.words), USED)
        if any(final(word, x) == UNREAD for word, x in zip(c.original, c.status)):
            # a clause partly not understood might change what it names
            c.unread_refs += [n.group() for n in c.refs if not n.anchor]
        cls.append(c)

    introduced: list[tuple[int, int, str]] = []
    if introduce:
        seen: set[tuple[str, str, str]] = set()
        for c in cls:
            for _, i in c.found:
                if i.op == "draw" and i.group is not None:
                    seen.update(_projections(i.group))
                elif i.op == "recolor" and i.group is not None and i.color:  # what the recolour makes
                    seen.update(_projections(replace(i.group, color=i.color)))
        seen.update(
            (s, col, sz) for sh, co, si in present for s, col, sz in [(sh, a, b) for a in ("*", co) for b in ("*", si)]
        )
        for c, run in zip(cls, runs):
            definite: dict[Any, Any] = {}  # related definite chunks by the group they name
            for n in c.nps:
                if n.related and n.det == "the":
                    definite.setdefault(n.group(), n)
            for pos, i in list(c.found):
                if i.op not in ("relate", "move") or i.group is None or i.other is None:
                    continue
                for g in (i.group, i.other):
                    np_ = definite.get(replace(g, count=1))
                    if np_ is not None and np_.det == "the" and g is not None and _key(g) not in seen:
                        c.add(np_.start, Intent("draw", group=replace(g, count=1), clause=c.index))
                        seen.update(_projections(g))
                        introduced.append(_article(run, np_))
            for np_ in c.refs:
                g = np_.group(np_.ref_count if np_.plural else 1)
                if _key(g) not in seen and 1 <= g.count <= 5:
                    c.add(np_.start, Intent("draw", group=g, clause=c.index))
                    seen.update(_projections(g))
                    introduced.append(_article(run, np_))
            drawn = {x.group for _, x in c.found if x.op == "draw"}
            moved = {
                id(i)
                for _, i in c.found
                if i.op == "move" and i.group is not None and replace(i.group, count=1) in drawn
            }
            c.found = [(p, replace(i, op="relate") if id(i) in moved else i) for p, i in c.found]

    intents: list[Intent] = []
    status: list[tuple[int, int, int, str, int]] = []  # (start, end, status, word, clause)
    for c, run in zip(cls, runs):
        c.found.sort(key=lambda p: p[0])
        intents += [i for _, i in c.found]
        for (word, a, b), s in zip(run, c.status):
            status.append((a, b, final(word, s), word, c.index))
    used = sum(1 for s in status if s[2] == USED and s[3][0].isalnum())
    unread = sum(1 for s in status if s[2] == UNREAD)
    return Reading(
        tuple(intents),
        tuple(_spans(status)),
        used,
        unread,
        tuple(sorted(introduced)),
        tuple(g for c in cls for g in c.unread_refs),
    )


def _article(run: list[Tok], n: NP) -> tuple[int, int, str]:
    """The determiner of ``n`` and what replaces it: "a"/"an" (singular) or "" (plural)."""
    word, a, b = run[n.start]
    if n.plural:
        return a, run[n.start + 1][1] if n.start + 1 < len(run) else b, ""
    nxt = run[n.start + 1][0] if n.start + 1 < len(run) else ""
    return a, b, ("an" if nxt[:1] in "aeiou" else "a") if word[:1].islower() else ("An" if nxt[:1] in "aeiou" else "A")


def _spans(status: list[tuple[int, int, int, str, int]]) -> list[tuple[int, int]]:
    """Runs of unread tokens, bridged over ignorable words between them and extended left over
    a leading preposition or article ("in the ocean", "at the end of the pier")."""
    out: list[tuple[int, int]] = []
    k = 0
    n = len(status)
    while k < n:
        if status[k][2] != UNREAD:
            k += 1
            continue
        start = k
        while (
            start > 0
            and status[start - 1][2] == IGNORED
            and status[start - 1][3] in X.SPAN_LEADERS
            and status[start - 1][4] == status[k][4]
        ):
            start -= 1
        end = k
        j = k + 1
        while j < n and status[j][4] == status[k][4]:
            if status[j][2] == UNREAD:
                end = j
                j += 1
            elif status[j][2] == IGNORED and status[j][3][0].isalnum():
                j += 1
            else:
                break
        out.append((status[start][0], status[end][1]))
        k = end + 1
    return out


def _present_key(present: Iterable[object] | None) -> tuple[tuple[str, str, str], ...]:
    if not present:
        return ()
    return tuple(
        sorted(
            (str(getattr(o, "shape", "")), str(getattr(o, "color", "")), str(getattr(o, "size", ""))) for o in present
        )
    )


def read(text: str, present: Sequence[object] | None = None, introduce: bool = True) -> Reading:
    """The full reading of ``text``: intents, spans not understood, coverage (module docstring).

    ``present``: objects of the source image (anything with ``shape``, ``color``, ``size``),
    which definite phrases may refer to. ``introduce``: a definite phrase that refers to
    nothing introduces its object. Never raises; a non-string gives an empty reading.
    """
    if not isinstance(text, str):
        return Reading()
    try:
        return _read(text, bool(introduce), _present_key(present))
    except RecursionError:  # pragma: no cover - a safety net; the stages are iterative
        return Reading()


def parse(text: str) -> list[Intent]:
    """What ``text`` asks for: one :class:`Intent` per constraint, tagged with its clause.

    The experts' reading of an instruction: a definite phrase refers (never introduces).
    Never raises; a non-string or text without shape-world phrases gives ``[]``.
    """
    return list(read(text, introduce=False).intents)


_parse = _read  # the cache (``_parse.cache_clear()``), under the name earlier versions used
