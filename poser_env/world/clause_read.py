"""The clause stages of the grammar reader: settings, relations, operations (see ``parse.py``).

A :class:`Clause` holds one clause's words, each word's status (used, ignorable, not
understood), its noun-phrase chunks and the intents found so far; :func:`settings`,
:func:`relations` and :func:`operations` are stages 3, 5 and 6 of the pipeline described in
``parse.py``, each one pass over the clause.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import cast

from poser_env.world import language as L
from poser_env.world import lexicon as X
from poser_env.world.checks import ObjectGroup
from poser_env.world.chunks import NP, Table, match, table
from poser_env.world.intents import Intent

USED, IGNORED, UNREAD = 1, 0, 2
_MASK = "\x00"

_BACKGROUNDS = table(L.BACKGROUND_LOOKUP)
_STYLES = table(
    {
        **L.STYLE_LOOKUP,
        "pencil sketch": "sketch",
        "sketched": "sketch",
        "pencil drawing": "sketch",
        "line art": "sketch",
        "watercolour wash": "watercolor",
        "watercolor wash": "watercolor",
        "watercolours": "watercolor",
        "watercolors": "watercolor",
        "8 bit": "pixel-art",
        "pixel": "pixel-art",
        "pixels": "pixel-art",
    }
)
_AMBIGUOUS_STYLES = frozenset({"plain", "flat", "pixel", "pixels"})
_STYLE_CONTEXT_AFTER = frozenset(
    {"style", "styled", "drawing", "look", "design", "rendering", "art", "shading", "fills"}
)
_BACKGROUND_NOUNS = frozenset(L.BACKGROUND_NOUNS)
_CLEAN_WORDS = frozenset(
    {
        "noise",
        "noisy",
        "speckles",
        "speckle",
        "specks",
        "speck",
        "artifacts",
        "artefacts",
        "artifact",
        "artefact",
        "grain",
        "grainy",
        "clean",
        "crisp",
        "denoise",
        "denoised",
        "declutter",
    }
)
_REMOVE_VERBS = table({**{v: True for v in L.EDIT_VERBS["remove"]}, **{v: True for v in X.EXTRA_REMOVE_VERBS}})
#: Words that end a removal's reach: another operation's verb, or an exception.
_SCOPE_ENDS = frozenset(
    X.RECOLOR_VERBS
    | {
        "add",
        "put",
        "place",
        "insert",
        "draw",
        "move",
        "shift",
        "keep",
        "keeping",
        "but",
        "except",
        "leave",
        "leaving",
        "then",
        "give",
        "set",
        "use",
    }
)
_MOVE_VERBS = frozenset({"move", "shift", "reposition", "relocate", "drag", "slide", "moved", "shifted"})
_NEGATIONS = frozenset({"without", "minus"})
#: Relation phrasings -> the relations they state (empty: one the world cannot check).
_RELATIONS = table(
    {
        **{p: (r,) for p, r in L.RELATION_LOOKUP.items()},
        **{p: ((r,) if r else ()) for p, r in X.EXTRA_RELATIONS.items()},
        **{p: rs for p, rs in X.COMPOUND_RELATIONS.items()},
        **{p: () for p in X.UNEXPRESSIBLE_RELATIONS},
    }
)


class Clause:
    """One clause being read: its words, each word's status, its chunks and intents."""

    def __init__(self, words: list[str], index: int):
        self.words = list(words)
        self.original = list(words)
        self.index = index
        self.status: list[int | None] = [None] * len(words)
        self.found: list[tuple[int, Intent]] = []
        self.nps: list[NP] = []
        self.refs: list[NP] = []  # definite phrases with no operation: resolved later
        self.unread_refs: list[ObjectGroup] = []
        self.prev: NP | None = None  # the last chunk of the clause before ("below it")

    def mark(self, a: int, b: int, status: int) -> None:
        for k in range(max(a, 0), min(b, len(self.status))):
            if self.status[k] != USED:
                self.status[k] = status

    def mask(self, a: int, b: int) -> None:
        self.mark(a, b, USED)
        self.words[a:b] = [_MASK] * (b - a)

    def add(self, pos: int, intent: Intent) -> None:
        self.found.append((pos, intent))


def _first(
    words: list[str], tab: Table, ok: Callable[[int, int], bool] = lambda i, n: True, start: int = 0
) -> tuple[int, int, object] | None:
    firsts = tab[2]
    for i in range(start, len(words)):
        if words[i] not in firsts:  # no key starts with it: match would say None
            continue
        m = match(words, i, tab)
        if m is not None and ok(i, m[0]):
            return i, m[0], m[1]
    return None


def settings(c: Clause) -> None:
    """Background, style and clean words: found, turned into intents, masked."""
    w = c.words
    nouns = [i for i, x in enumerate(w) if x in _BACKGROUND_NOUNS]
    if nouns:
        hit = _first(w, _BACKGROUNDS)
        if hit is not None:
            i, n, value = hit
            c.add(i, Intent("background", color=str(value), clause=c.index))
            c.mask(i, i + n)
            near = min(nouns, key=lambda k: abs(k - i))
            c.mask(near, near + 1)
    else:  # "on gray", "against mint": a background word that is no object colour, ending a phrase
        for i in range(1, len(w)):
            if w[i - 1] in ("on", "against") and (m := match(w, i, _BACKGROUNDS)) is not None:
                end = i + m[0]
                if w[i] not in L.COLOR_LOOKUP and (end == len(w) or w[end] in (",", ":", "and")):
                    c.add(i, Intent("background", color=str(m[1]), clause=c.index))
                    c.mask(i, end)
                    break

    def style_ok(i: int, n: int) -> bool:
        if n > 1 or w[i] not in _AMBIGUOUS_STYLES:
            return not (i + n < len(w) and w[i + n] in _BACKGROUND_NOUNS)
        after = w[i + n] if i + n < len(w) else ""
        before = w[i - 1] if i > 0 else ""
        return after in _STYLE_CONTEXT_AFTER or (before in (":", "is") and "style" in w)

    hit = _first(w, _STYLES, style_ok)
    if hit is not None:
        i, n, value = hit
        c.add(i, Intent("style", style=str(value), clause=c.index))
        while hit is not None and hit[2] == value:  # "8-bit pixel art": one style, said twice
            i, n, _ = hit
            c.mask(i, i + n)
            for k in (i - 1, i + n):
                if 0 <= k < len(w) and w[k] in ("style", "styled"):
                    c.mark(k, k + 1, USED)
            hit = _first(w, _STYLES, style_ok, i + n)
    clean = [i for i, x in enumerate(w) if x in _CLEAN_WORDS]
    if clean:
        c.add(clean[0], Intent("clean", clause=c.index))
        for i in clean:
            c.mask(i, i + 1)


def relations(c: Clause) -> None:
    """Relations between the clause's chunks (module docstring, stage 5)."""
    w, nps = c.words, c.nps
    if not nps:
        return
    starts = {n.start: n for n in nps}
    ends = [n.end for n in nps]
    first = [n.start for n in nps]
    move_at = next((i for i, x in enumerate(w) if x in _MOVE_VERBS), None)
    i = 0
    rel_firsts = _RELATIONS[2]
    while i < len(w):
        m = match(w, i, _RELATIONS) if w[i] in rel_firsts else None
        if m is None or any(n.start <= i < n.end for n in _around(nps, ends, i)):
            i += 1
            continue
        rels: list[str] = list(cast(Sequence[str], m[1]))
        known = bool(rels)
        end = i + m[0]
        while (
            end + 1 < len(w) and w[end] in ("and", ",") and (m2 := match(w, end + 1, _RELATIONS)) is not None and m2[1]
        ):
            rels += list(cast(Sequence[str], m2[1]))
            end = end + 1 + m2[0]
        b = starts.get(end)
        if b is None and end < len(w) and w[end] == "it":  # "below it": the last single object named
            k0 = bisect_left(ends, i + 1) - 1
            if not (i == 0 or w[i - 1] in (",", "and", ":")):
                k0 -= 1  # "put a circle left of it": not the subject itself
            ref = nps[k0] if k0 >= 0 else c.prev
            if ref is not None and ref.single:
                b = replace(ref, start=end, end=end + 1, det="the", used=False, related=False)
        phrase = w[i]
        if not known and phrase in X.FUNCTION_WORDS and m[0] == 1:
            # "in", "on", "by" ...: a relation the world cannot check only between two shapes.
            k = bisect_left(ends, i + 1) - 1
            if b is not None and k >= 0 and all(x in X.FUNCTION_WORDS for x in w[nps[k].end : i]):
                c.mark(i, end, UNREAD)
                b.anchor = True
            i = end
            continue
        if not known or b is None or b.negated:
            c.mark(i, end, UNREAD)
            if b is not None:
                b.anchor = True  # named as a place, not changed
            i = end
            continue
        others = [b]
        j = b.end
        while j + 1 < len(w) and w[j] == "and" and (b2 := starts.get(j + 1)) is not None and b2.det == "the":
            if match(w, b2.end, _RELATIONS) is not None:
                break
            others.append(b2)
            j = b2.end
        fronted = i == 0 or w[i - 1] in (",", "and", ":")
        k = bisect_left(ends, i + 1) - 1
        after = None
        if fronted or k < 0:  # the first chunk after the (last) object: bisect, not a scan
            for n in nps[bisect_left(first, others[-1].end) :]:
                if not n.negated:
                    after = n
                    break
        a = after if after is not None else (nps[k] if k >= 0 and not nps[k].negated else None)
        if a is None or not a.single or not all(o.single for o in others):
            c.mark(i, end, UNREAD)
            for o in others:
                o.anchor = True
            i = end
            continue
        op = "move" if move_at is not None and move_at < a.start and a.det == "the" else "relate"
        for o in others:
            for rel in rels:
                c.add(i, Intent(op, group=a.group(), other=o.group(), rel=rel, clause=c.index))
            o.used = True
        a.used = True
        a.related = b.related = True
        for o in others:
            o.related = True
        c.mark(i, end, USED)
        if op == "move" and move_at is not None:
            c.mark(move_at, move_at + 1, USED)
        i = end


def _around(nps: list[NP], ends: list[int], i: int) -> Iterable[NP]:
    k = bisect_left(ends, i + 1)
    return nps[k : k + 1]


def operations(c: Clause) -> None:
    """Per chunk: absent, remove, draw, recolor, or a reference (stage 6)."""
    w = c.words
    remove = _first(w, _REMOVE_VERBS)
    remove_end = len(w)
    if remove is not None:  # a removal reaches up to the next verb ("remove X and paint Y red")
        remove_end = next((k for k in range(remove[0] + remove[1], len(w)) if w[k] in _SCOPE_ENDS), len(w))
    recolor_verb = next((i for i, x in enumerate(w) if x in X.RECOLOR_VERBS), None)
    for idx, n in enumerate(c.nps):
        if n.skip:
            continue
        if n.negated:
            for g in n.groups(0):
                c.add(n.start, Intent("absent", group=g, clause=c.index))
            n.used = True
        elif remove is not None and remove[0] < n.start < remove_end:
            for g in n.groups():
                c.add(n.start, Intent("remove", group=g, clause=c.index))
            c.mark(remove[0], remove[0] + remove[1], USED)
            n.used = True
        elif n.det != "the":
            for g in n.groups():
                c.add(n.start, Intent("draw", group=g, clause=c.index))
            n.used = True
        elif not n.used:
            nxt = c.nps[idx + 1].start if idx + 1 < len(c.nps) else len(w)
            target = _new_color(w, n.end, nxt) if recolor_verb is not None else None
            if target is not None and recolor_verb is not None:
                color, a, b = target
                c.add(n.start, Intent("recolor", group=n.group(), color=color, clause=c.index))
                c.mark(a, b, USED)
                c.mark(recolor_verb, recolor_verb + 1, USED)
                n.used = True
            elif (
                recolor_verb is not None
                and n.end < len(w)
                and w[n.end] in ("into", "to")
                and idx + 1 < len(c.nps)
                and c.nps[idx + 1].start == n.end + 1
            ):
                # "turn the triangle into a square": the world has no shape change.
                nxt_np = c.nps[idx + 1]
                for k in range(n.start, nxt_np.end):
                    c.status[k] = UNREAD
                nxt_np.skip = True
                c.unread_refs.append(n.group())
                continue
            elif not n.related:
                c.refs.append(n)
        if n.used or n.det == "the":
            c.mark(n.start, n.end, USED)
            for k in n.unread:
                c.status[k] = UNREAD
            for k in n.ignorable:
                c.status[k] = IGNORED


def predicate_color(c: Clause, n: NP, nxt: int) -> bool:
    """ "the circles are red": the colour is an attribute of the phrase (no recolour verb)."""
    w = c.words
    j = n.end
    if j + 1 >= min(nxt, len(w)) + 1 or w[j] not in X.COPULAS:
        return False
    col = L.COLOR_LOOKUP.get(w[j + 1]) if j + 1 < len(w) else None
    if col is None or (j + 2 < len(w) and w[j + 2] not in (",", "and", ":")) or (n.colors and n.colors != [col]):
        return False
    n.colors = [col]
    c.mark(j, j + 2, USED)
    return True


def _new_color(w: list[str], a: int, b: int) -> tuple[str, int, int] | None:
    """The bare colour after a definite chunk, before the next one: "paint the heart pink",
    "change ... to blue", "into a yellow one"."""
    for j in range(a, b):
        col = L.COLOR_LOOKUP.get(w[j])
        if col is not None:
            end = j + 1
            if end < len(w) and w[end] in ("one", "ones"):
                end += 1
            return col, j, end
    return None


def final(word: str, status: int | None) -> int:
    """A word's status once the clause is read: unmarked words are ignorable or not understood."""
    if status is not None:
        return status
    return IGNORED if (word in X.FUNCTION_WORDS or word in X.INTENSIFIERS or not word[:1].isalnum()) else UNREAD
