"""Prompt suites: a seeded generator, the committed task files and their loader.

Three suites, each with train / val / test splits (see ``docs/suites.md``):

- ``geneval``: GenEval-like short prompts in six categories (single_object, two_object,
  counting, colors, position, color_attr), equal numbers per category.
- ``longform``: long generation prompts with 4 to 10 constraints (objects, counts, colours,
  sizes, relations, background, style).
- ``editing``: a source scene of 2 to 5 objects plus 2 to 5 edits (add, remove, recolor, move,
  background, style); untouched source objects must be preserved.

Every task is checked while it is generated: a generation target is realised with
:func:`~poser_env.world.sampling.realize`; an editing task's edits are applied to its source
with :func:`apply_edits` (which lays objects out with :func:`~poser_env.world.layout.place`);
in both cases every check of the target must be true on the result, else the task is
resampled.

**Splits are disjoint in prompt text by construction**: a prompt belongs to the split that a
hash of its normalised text (:func:`~poser_env.world.language.normalise`) picks with
probabilities :data:`SPLIT_FRACTIONS`; each split's generator keeps drawing until it has its
quota of prompts of its own. So each (suite, split) is generated independently, from its own
``numpy`` Generator derived from :data:`MASTER_SEED`, and regenerating one file needs no other.

Files: ``poser_env/data/suites/<suite>/<split>.jsonl``, one JSON object per line with the keys
``id, suite, category, split, prompt, target, source, edits`` (keys sorted, compact
separators, floats rounded by the ``to_dict`` methods), so regeneration is byte-identical.
``python -m poser_env.world.suites --check`` verifies that.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from poser_env.types import Task
from poser_env.world import language as L
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, SpecError, Target, answer, checks_for
from poser_env.world.geometry import relations_between
from poser_env.world.layout import LayoutError, place
from poser_env.world.sampling import P_SMALL, conflicts, realize, sample_longform_target
from poser_env.world.scene import Scene, SceneError, SceneObject

SUITES: tuple[str, ...] = ("geneval", "longform", "editing")
SPLITS: tuple[str, ...] = ("train", "val", "test")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "geneval": ("single_object", "two_object", "counting", "colors", "position", "color_attr"),
    "longform": ("longform",),
    "editing": ("editing",),
    # Hand-written prompts in words the generator never uses (data/heldout/): a test of
    # generalisation beyond the templates, never trained on. Not generated, so not in SUITES.
    "heldout": ("heldout_generation", "heldout_editing"),
}
#: Tasks per split (split equally over a suite's categories).
SPLIT_SIZES: dict[str, dict[str, int]] = {
    "geneval": {"train": 1200, "val": 240, "test": 300},
    "longform": {"train": 1000, "val": 200, "test": 300},
    "editing": {"train": 1000, "val": 200, "test": 300},
}
#: The one seed every suite file derives from.
MASTER_SEED = 20250611
#: Share of the prompt space (by hash of the normalised text) that belongs to each split.
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.65, "val": 0.15, "test": 0.20}
#: The keys of one task line.
TASK_KEYS: tuple[str, ...] = ("category", "edits", "id", "prompt", "source", "split", "suite", "target")
#: Edit operations (see :func:`apply_edits`).
EDIT_OPS: tuple[str, ...] = L.EDIT_OPS
#: Most objects an editing scene holds at any time (the canvas gets crowded beyond).
MAX_EDIT_OBJECTS = 7

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "suites"


class SuiteFormatError(ValueError):
    """A suite file holds a malformed line (the message names the file, the line and the fault)."""


class EditError(ValueError):
    """An edit is malformed or cannot be applied (it names an object the scene lacks...)."""


# --------------------------------------------------------------------------------------------
# Seeds and splits
# --------------------------------------------------------------------------------------------


def split_rng(suite: str, split: str) -> np.random.Generator:
    """The Generator that makes one (suite, split) file."""
    _check_suite_split(suite, split)
    seq = np.random.SeedSequence([MASTER_SEED, zlib.crc32(suite.encode()), zlib.crc32(split.encode())])
    return np.random.default_rng(seq)


def split_of(prompt: str) -> str:
    """The split a prompt belongs to: a stable hash of its normalised text."""
    digest = hashlib.sha256(L.normalise(prompt).encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    acc = 0.0
    for split in SPLITS:
        acc += SPLIT_FRACTIONS[split]
        if u < acc:
            return split
    return SPLITS[-1]


def _check_suite_split(suite: str, split: str) -> None:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(SUITES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


def category_quota(suite: str, split: str) -> dict[str, int]:
    """How many tasks of each category a split holds."""
    _check_suite_split(suite, split)
    cats = CATEGORIES[suite]
    total = SPLIT_SIZES[suite][split]
    base, extra = divmod(total, len(cats))
    return {c: base + (1 if i < extra else 0) for i, c in enumerate(cats)}


# --------------------------------------------------------------------------------------------
# Candidates: a prompt with its target, and a check that it is achievable
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    prompt: str
    target: Target
    source: Scene | None = None
    edits: list[dict[str, Any]] | None = None
    #: Completes and verifies the task (may change ``source``); False means "resample".
    finish: Callable[[np.random.Generator], bool] | None = None


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _two_distinct(rng: np.random.Generator, seq: Sequence[str]) -> tuple[str, str]:
    i, j = rng.choice(len(seq), size=2, replace=False)
    return seq[int(i)], seq[int(j)]


def _realises(target: Target, rng: np.random.Generator, times: int = 2) -> bool:
    """``times`` independent layouts realising ``target`` all succeed and pass every check.

    Asking for two keeps out targets so tight (say, a chain of three relations across the
    canvas) that a layout is found only by luck: those would be unfair to experts too.
    """
    for _ in range(times):
        try:
            scene = realize(target, rng)
        except LayoutError:
            return False
        if not all(answer(c, scene) for c in checks_for(target)):
            return False
    return True


def _surface(text: str, rng: np.random.Generator) -> str:
    """GenEval prompts are lower case without a full stop; some get either, for variety."""
    if rng.random() < 0.3:
        text = L.capitalise(text)
    if rng.random() < 0.3:
        text += "."
    return text


def _geneval_candidate(category: str, rng: np.random.Generator) -> _Candidate:
    shapes = vocab.SHAPES
    colors = list(vocab.COLORS)
    plural = False
    relations: tuple[Relation, ...] = ()
    if category == "single_object":
        shape = _pick(rng, shapes)
        groups: tuple[ObjectGroup, ...] = (ObjectGroup(shape),)
        x = L.count_phrase(shape, None, None, 1, rng)
    elif category == "two_object":
        s1, s2 = _two_distinct(rng, shapes)
        groups = (ObjectGroup(s1), ObjectGroup(s2))
        x = f"{L.count_phrase(s1, None, None, 1, rng, ('a', 'one'))} {_pick(rng, L.PAIR_JOINERS)} {L.count_phrase(s2, None, None, 1, rng, ('a', 'one'))}"
    elif category == "counting":
        shape = _pick(rng, shapes)
        n = int(rng.integers(2, vocab.MAX_COUNT + 1))
        groups = (ObjectGroup(shape, count=n),)
        x = L.count_phrase(shape, None, None, n, rng)
        plural = True
    elif category == "colors":
        shape, color = _pick(rng, shapes), _pick(rng, colors)
        groups = (ObjectGroup(shape, color),)
        x = L.count_phrase(shape, color, None, 1, rng)
    elif category == "position":
        s1, s2 = _two_distinct(rng, shapes)
        rel = _pick(rng, vocab.RELATIONS)
        a, b = ObjectGroup(s1), ObjectGroup(s2)
        groups, relations = (a, b), (Relation(a, rel, b),)
        x = f"{L.with_article(s1)} {L.relation_phrase(rel, rng)} {L.with_article(s2)}"
    elif category == "color_attr":
        s1, s2 = _two_distinct(rng, shapes)
        c1, c2 = _two_distinct(rng, colors)
        groups = (ObjectGroup(s1, c1), ObjectGroup(s2, c2))
        x = f"{L.count_phrase(s1, c1, None, 1, rng, ('a', 'one'))} {_pick(rng, L.PAIR_JOINERS)} {L.count_phrase(s2, c2, None, 1, rng, ('a', 'one'))}"
    else:
        raise ValueError(f"unknown geneval category {category!r}; allowed: {', '.join(CATEGORIES['geneval'])}")
    frame = _pick(rng, L.GENEVAL_FRAMES)
    prompt = _surface(frame.format(x=x, be="are" if plural else "is"), rng)
    target = Target(groups=groups, relations=relations)
    return _Candidate(prompt, target, finish=lambda r: _realises(target, r))


# --- long-form ------------------------------------------------------------------------------


def _key(g: ObjectGroup) -> tuple[str, str | None, str | None]:
    return (g.shape, g.color, g.size)


def longform_prompt(target: Target, rng: np.random.Generator) -> str:
    """Surface text stating every constraint of a generation target exactly once.

    Groups are stated in item lists spread over one to three sentences (in random order);
    a relation is either stated inline as an item that introduces both of its objects ("a red
    circle to the left of a blue star") or as its own sentence with definite references after
    the lists; the background and the style are a sentence of their own (anywhere) or a
    phrase attached to a list sentence.
    """
    groups = list(target.groups)
    index = {_key(g): i for i, g in enumerate(groups)}
    introduced: list[int] = []
    inline: list[tuple[str, bool]] = []  # (text, plural) of items stating a relation
    later: list[Relation] = []
    for ri in rng.permutation(len(target.relations)):
        r = target.relations[int(ri)]
        ia, ib = index[_key(r.a)], index[_key(r.b)]
        if ia not in introduced and ib not in introduced and rng.random() < 0.5:
            a = L.with_article(L.reference(r.a.shape, r.a.color, r.a.size, rng))
            b = L.with_article(L.reference(r.b.shape, r.b.color, r.b.size, rng))
            inline.append((L.INLINE_RELATION.format(a=a, rel=L.relation_phrase(r.rel, rng), b=b), False))
            introduced += [ia, ib]
        else:
            later.append(r)
    plain = [
        (L.count_phrase(g.shape, g.color, g.size, g.count, rng), g.count > 1)
        for i, g in enumerate(groups)
        if i not in introduced
    ]
    plain = [plain[int(k)] for k in rng.permutation(len(plain))]

    # Split the items into 1 to 3 list sentences. An inline relation always ends its list (so
    # that no item follows its second object: "a circle above a star and two hearts" would
    # read as "above a star and two hearts"), hence at least one sentence per inline relation.
    n_items = len(plain) + len(inline)
    n_chunks = 1 if n_items <= 2 else int(rng.integers(1, min(3, n_items) + 1))
    n_chunks = max(n_chunks, len(inline))
    with_inline = sorted(int(k) for k in rng.choice(n_chunks, size=len(inline), replace=False))
    owner = [k for k in range(n_chunks) if k not in with_inline]  # one plain item each, first
    owner += [int(rng.integers(n_chunks)) for _ in range(len(plain) - len(owner))]
    chunks: list[list[tuple[str, bool]]] = [[] for _ in range(n_chunks)]
    for item, k in zip(plain, owner):
        chunks[k].append(item)
    for item, k in zip(inline, with_inline):
        chunks[k].append(item)
    templates = list(rng.permutation(len(L.LIST_SENTENCES)))[:n_chunks]
    # Per list sentence: [prefix, body, suffix]; the body's template ends with a full stop.
    parts: list[list[str]] = []
    for chunk, t in zip(chunks, templates):
        text = L.LIST_SENTENCES[int(t)].format(
            items=L.join_items([c[0] for c in chunk], rng), be="are" if chunk[0][1] else "is"
        )
        parts.append(["", text[:-1], "."])
    extra: list[str] = []  # sentences of their own

    def attach(adj_or_bg: dict[str, str], sentences: Sequence[str], prefixes: Sequence[str], suffixes: Sequence[str]) -> None:
        mode = rng.random()
        if mode < 0.25 and not parts[0][0]:
            parts[0][0] = _pick(rng, prefixes).format(**adj_or_bg)
            return
        free = [k for k, p in enumerate(parts) if p[2] == "."]
        if mode < 0.5 and free:
            k = _pick(rng, free)
            parts[k][2] = _pick(rng, suffixes).format(**adj_or_bg) + "."
            return
        extra.append(_pick(rng, sentences).format(**adj_or_bg))

    if target.background is not None:
        bg = L.background_word(target.background, rng)
        attach({"bg": bg, "an": L.article(bg)}, L.BACKGROUND_SENTENCES, L.BACKGROUND_PREFIXES, L.BACKGROUND_SUFFIXES)
    if target.style is not None:
        adj = L.style_adjective(target.style, rng)
        fields = {"adj": adj, "an": L.article(adj), "noun": L.style_noun(target.style, rng)}
        attach(fields, L.STYLE_SENTENCES, L.STYLE_PREFIXES, L.STYLE_SUFFIXES)

    sentences = []
    for prefix, body, end in parts:
        if prefix and not body.startswith("I "):
            body = body[:1].lower() + body[1:]
        sentences.append(prefix + body + end)
    for r in later:
        template = _pick(rng, L.RELATION_SENTENCES)
        rel = L.relation_phrase(r.rel, rng, front=template.startswith("{Rel}"))
        sentences.append(
            template.format(
                a=L.reference(r.a.shape, r.a.color, r.a.size, rng),
                b=L.reference(r.b.shape, r.b.color, r.b.size, rng),
                rel=rel,
                Rel=L.capitalise(rel),
            )
        )
    for s in extra:  # a background or style sentence goes first, last, or in between
        sentences.insert(int(rng.integers(len(sentences) + 1)), s)
    return " ".join(sentences)


def _longform_candidate(category: str, rng: np.random.Generator) -> _Candidate | None:
    target = sample_longform_target(rng)
    if not 4 <= len(checks_for(target)) <= 10:
        return None
    prompt = longform_prompt(target, rng)
    return _Candidate(prompt, target, finish=lambda r: _realises(target, r))


# --- editing --------------------------------------------------------------------------------


def _ref(shape: str, color: str | None, size: str | None = None) -> dict[str, Any]:
    return {"shape": shape, "color": color, "size": size}


def _group(ref: dict[str, Any], count: int = 1) -> ObjectGroup:
    return ObjectGroup(ref["shape"], ref.get("color"), ref.get("size"), count)


_EDIT_FIELDS: dict[str, tuple[set[str], set[str]]] = {  # op: (required, optional) besides op/text
    "add": ({"object"}, {"count", "rel", "anchor"}),
    "remove": ({"object"}, set()),
    "recolor": ({"object", "color"}, set()),
    "move": ({"object", "rel", "anchor"}, set()),
    "background": ({"background"}, set()),
    "style": ({"style"}, set()),
}


def validate_edit(edit: Any) -> dict[str, Any]:
    """Check one edit dict (see :func:`apply_edits`); return it. Raises :class:`EditError`."""
    if not isinstance(edit, dict):
        raise EditError(f"an edit must be a dict, got {type(edit).__name__}: {edit!r}")
    op = edit.get("op")
    if op not in _EDIT_FIELDS:
        raise EditError(f"unknown edit op {op!r}; allowed: {', '.join(EDIT_OPS)}")
    required, optional = _EDIT_FIELDS[op]
    missing = required - set(edit)
    if missing:
        raise EditError(f"{op} edit is missing {sorted(missing)}: {edit!r}")
    unknown = set(edit) - required - optional - {"op", "text"}
    if unknown:
        raise EditError(f"unknown field(s) {sorted(unknown)} in {op} edit; allowed: {sorted(required | optional | {'op', 'text'})}")
    if "text" in edit and not isinstance(edit["text"], str):
        raise EditError(f"edit text must be a string: {edit!r}")
    try:
        for k in ("object", "anchor"):
            if edit.get(k) is not None:
                ref = edit[k]
                if not isinstance(ref, dict) or set(ref) - {"shape", "color", "size"} or "shape" not in ref:
                    raise EditError(f"edit {k} must be a dict with shape, color, size: {ref!r}")
                _group(ref)
        if op in ("remove", "recolor", "move") and edit["object"].get("color") is None:
            raise EditError(f"a {op} edit must name the object's colour: {edit!r}")
        if op == "add":
            count = edit.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= vocab.MAX_COUNT:
                raise EditError(f"add count must be 1 to {vocab.MAX_COUNT}: {edit!r}")
            if (edit.get("rel") is None) != (edit.get("anchor") is None):
                raise EditError(f"an add with a relation needs both rel and anchor: {edit!r}")
            if edit.get("rel") is not None and count != 1:
                raise EditError(f"only a single added object can have a relation: {edit!r}")
        if edit.get("rel") is not None:
            vocab.check_relation(edit["rel"])
        if op == "recolor":
            vocab.check_color(edit["color"])
        if op == "background":
            vocab.check_background(edit["background"])
        if op == "style":
            if edit["style"] not in vocab.STYLES:
                vocab.check_style(edit["style"])
                raise EditError(f"edit style must be canonical ({', '.join(vocab.STYLES)}): {edit!r}")
    except (vocab.VocabularyError, SpecError) as e:
        raise EditError(f"bad {op} edit {edit!r}: {e}") from e
    return edit


def _find(objects: Sequence[Any], ref: dict[str, Any], what: str) -> int:
    g = _group(ref)
    hits = [i for i, o in enumerate(objects) if g.matches(o)]
    if len(hits) != 1:
        raise EditError(
            f"{what} {g.noun()!r} must name exactly one object of the scene, found {len(hits)}"
        )
    return hits[0]


def apply_edits(
    source: Scene, edits: Sequence[dict[str, Any]], rng: np.random.Generator, attempts: int = 5, restarts: int = 4
) -> Scene:
    """The scene after ``edits``, applied in order to ``source`` (the ground truth of an edit).

    Edit dicts (``text`` optional everywhere; references are ``{"shape", "color", "size"}``
    with ``size`` None meaning any):

    - ``{"op": "add", "object": ref, "count": n, "rel": rel | None, "anchor": ref | None}``:
      place ``n`` new objects (a size left open is drawn), the single one ``rel`` the anchor.
    - ``{"op": "remove", "object": ref}``: delete the object.
    - ``{"op": "recolor", "object": ref, "color": c}``: give it colour ``c``, in place.
    - ``{"op": "move", "object": ref, "rel": rel, "anchor": ref}``: place it anew, ``rel``
      the anchor, keeping clear of every other object.
    - ``{"op": "background", "background": b}`` and ``{"op": "style", "style": s}``.

    References must match exactly one object of the scene at that point. Raises
    :class:`EditError` when one does not, and :class:`~poser_env.world.layout.LayoutError`
    when no layout fits. Objects are placed among fixed ones, so ``restarts`` (of
    :func:`~poser_env.world.layout.place`) only buys more random tries; a few are enough. An
    early placement can leave no room for a later relation, so the whole sequence is tried up
    to ``attempts`` times.
    """
    for edit in edits:
        validate_edit(edit)
    for attempt in range(attempts):
        try:
            return _apply_once(source, edits, rng, restarts)
        except LayoutError:
            if attempt == attempts - 1:
                raise
    raise ValueError(f"attempts must be at least 1, got {attempts}")


def _apply_once(source: Scene, edits: Sequence[dict[str, Any]], rng: np.random.Generator, restarts: int) -> Scene:
    objects = list(source.objects)
    background, style = source.background, source.style
    for edit in edits:
        op = edit["op"]
        if op == "add":
            ref = edit["object"]
            n = int(edit.get("count", 1))
            items = [
                (ref["shape"], ref["color"], ref.get("size") or ("small" if rng.random() < P_SMALL else "large"))
                for _ in range(n)
            ]
            rels = []
            if edit.get("rel") is not None:
                rels.append((len(objects), edit["rel"], _find(objects, edit["anchor"], "add anchor")))
            if ref.get("color") is None:
                raise EditError(f"an added object needs a colour: {edit!r}")
            objects += place(items, rng, relations=rels, fixed=objects, restarts=restarts)
        elif op == "remove":
            del objects[_find(objects, edit["object"], "removed object")]
        elif op == "recolor":
            i = _find(objects, edit["object"], "recoloured object")
            o = objects[i]
            objects[i] = SceneObject(o.shape, edit["color"], o.size, o.x, o.y)
        elif op == "move":
            i = _find(objects, edit["object"], "moved object")
            o = objects.pop(i)
            j = _find(objects, edit["anchor"], "move anchor")
            (moved,) = place([(o.shape, o.color, o.size)], rng, relations=[(len(objects), edit["rel"], j)], fixed=objects, restarts=restarts)
            objects.insert(i, moved)
        elif op == "background":
            background = edit["background"]
        elif op == "style":
            style = edit["style"]
    return source.replace(objects=tuple(objects), background=background, style=style)


def edit_target(source: Scene, edits: Sequence[dict[str, Any]]) -> Target:
    """What the image must show after ``edits`` on ``source`` (the editing task's target).

    - add: a group (exists, or the exact count), and the relation to its anchor if any;
    - remove: the object is absent;
    - recolor: an object of the new colour exists, none of the old colour is left;
    - move: the relation to its anchor;
    - background / style: the new one;
    - every source object that no edit removes, recolours or moves is preserved (same shape,
      colour and size, near its old place). Anchors are not touched by being anchors.
    Relation ends carry the attributes the edit names (an add's size, a reference's colour).
    """
    # (shape, colour, size, index in source or None) of what the scene holds at each point.
    current: list[tuple[str, str, str | None, int | None]] = [
        (o.shape, o.color, o.size, i) for i, o in enumerate(source.objects)
    ]
    touched: set[int] = set()
    groups: list[ObjectGroup] = []
    relations: list[Relation] = []
    absent: list[ObjectGroup] = []
    background = style = None

    class _O:  # quacks like an object for ObjectGroup.matches
        def __init__(self, t: tuple[str, str, str | None, int | None]) -> None:
            self.shape, self.color, self.size = t[0], t[1], t[2]

    def find(ref: dict[str, Any], what: str) -> int:
        return _find([_O(t) for t in current], ref, what)

    for edit in edits:
        validate_edit(edit)
        op = edit["op"]
        if op == "add":
            ref = edit["object"]
            g = _group(ref, int(edit.get("count", 1)))
            groups.append(g)
            if edit.get("rel") is not None:
                find(edit["anchor"], "add anchor")
                relations.append(Relation(_group(ref), edit["rel"], _group(edit["anchor"])))
            current += [(ref["shape"], ref["color"], ref.get("size"), None)] * g.count
        elif op == "remove":
            i = find(edit["object"], "removed object")
            shape, color, _, src = current.pop(i)
            absent.append(ObjectGroup(shape, color, None, 0))
            if src is not None:
                touched.add(src)
        elif op == "recolor":
            i = find(edit["object"], "recoloured object")
            shape, color, size, src = current[i]
            current[i] = (shape, edit["color"], size, src)
            groups.append(ObjectGroup(shape, edit["color"]))
            absent.append(ObjectGroup(shape, color, None, 0))
            if src is not None:
                touched.add(src)
        elif op == "move":
            i = find(edit["object"], "moved object")
            find(edit["anchor"], "move anchor")
            relations.append(Relation(_group(edit["object"]), edit["rel"], _group(edit["anchor"])))
            if current[i][3] is not None:
                touched.add(current[i][3])
        elif op == "background":
            background = edit["background"]
        elif op == "style":
            style = edit["style"]
    preserve = tuple(o for i, o in enumerate(source.objects) if i not in touched)
    return Target(
        groups=tuple(groups),
        relations=tuple(relations),
        absent=tuple(absent),
        preserve=preserve,
        background=background,
        style=style,
    )


def sample_edits(source_items: Sequence[tuple[str, str, str]], background: str, style: str, rng: np.random.Generator, n_edits: int) -> list[dict[str, Any]] | None:
    """``n_edits`` edits for a source of ``(shape, colour, size)`` items unique by (shape, colour).

    Keeps every reference unique when it is made, never touches an object twice, never moves,
    removes or recolours an object that an earlier relation names (that would break it),
    never brings back a (shape, colour) that an edit made absent, and keeps the scene at most
    :data:`MAX_EDIT_OBJECTS` objects. None when it runs out of possible edits.
    """
    # Scene state: dicts with shape, color, src (source index or None), touched, frozen, unique.
    cur: list[dict[str, Any]] = [
        {"shape": s, "color": c, "src": i, "touched": False, "frozen": False} for i, (s, c, _) in enumerate(source_items)
    ]
    taken: list[ObjectGroup] = []  # groups and absences of the target so far
    edits: list[dict[str, Any]] = []
    used_ops: set[str] = set()
    weights = {"add": 0.26, "remove": 0.15, "recolor": 0.2, "move": 0.19, "background": 0.1, "style": 0.1}

    def unique(o: dict[str, Any]) -> bool:
        return sum(1 for p in cur if p["shape"] == o["shape"] and p["color"] == o["color"]) == 1

    def free_pair(shape: str, color: str) -> bool:
        g = ObjectGroup(shape, color)
        return not any(p["shape"] == shape and p["color"] == color for p in cur) and not any(conflicts(g, t) for t in taken)

    for _ in range(n_edits):
        editable = [o for o in cur if o["src"] is not None and not o["touched"] and not o["frozen"] and unique(o)]
        anchors = [o for o in cur if unique(o)]
        options = []
        if len(cur) < MAX_EDIT_OBJECTS:
            options.append("add")
        if editable and len(cur) > 1:
            options.append("remove")
        if editable:
            options.append("recolor")
        if any(any(a is not o for a in anchors) for o in editable):
            options.append("move")
        options += [op for op in ("background", "style") if op not in used_ops]
        if not options:
            return None
        p = np.array([weights[o] for o in options])
        op = options[int(rng.choice(len(options), p=p / p.sum()))]
        used_ops.add(op)
        if op == "add":
            for _ in range(30):
                shape, color = _pick(rng, vocab.SHAPES), _pick(rng, list(vocab.COLORS))
                if free_pair(shape, color):
                    break
            else:
                return None
            size = _pick(rng, list(vocab.SIZES)) if rng.random() < 0.3 else None
            count = 1
            if rng.random() < 0.15 and len(cur) + 2 <= MAX_EDIT_OBJECTS:
                count = int(rng.integers(2, min(3, MAX_EDIT_OBJECTS - len(cur)) + 1))
            edit: dict[str, Any] = {"op": "add", "object": _ref(shape, color, size), "count": count, "rel": None, "anchor": None}
            if count == 1 and anchors and rng.random() < 0.6:
                a = _pick(rng, anchors)
                a["frozen"] = True
                edit["rel"], edit["anchor"] = _pick(rng, vocab.RELATIONS), _ref(a["shape"], a["color"])
            taken.append(ObjectGroup(shape, color, size, count))
            cur += [{"shape": shape, "color": color, "src": None, "touched": True, "frozen": count > 1} for _ in range(count)]
        elif op == "remove":
            o = _pick(rng, editable)
            edit = {"op": "remove", "object": _ref(o["shape"], o["color"])}
            taken.append(ObjectGroup(o["shape"], o["color"], None, 0))
            cur.remove(o)
        elif op == "recolor":
            o = _pick(rng, editable)
            colors = [c for c in vocab.COLORS if c != o["color"] and free_pair(o["shape"], c)]
            if not colors:
                return None
            new = _pick(rng, colors)
            edit = {"op": "recolor", "object": _ref(o["shape"], o["color"]), "color": new}
            taken += [ObjectGroup(o["shape"], new), ObjectGroup(o["shape"], o["color"], None, 0)]
            o["color"], o["touched"] = new, True
        elif op == "move":
            movable = [o for o in editable if any(a is not o for a in anchors)]
            o = _pick(rng, movable)
            a = _pick(rng, [x for x in anchors if x is not o])
            edit = {"op": "move", "object": _ref(o["shape"], o["color"]), "rel": _pick(rng, vocab.RELATIONS), "anchor": _ref(a["shape"], a["color"])}
            o["touched"] = o["frozen"] = True
            a["frozen"] = True
        elif op == "background":
            edit = {"op": "background", "background": _pick(rng, [b for b in vocab.BACKGROUNDS if b != background])}
        else:
            edit = {"op": "style", "style": _pick(rng, [s for s in vocab.STYLES if s != style])}
        edits.append(edit)
    return edits


def edit_clause(edit: dict[str, Any], rng: np.random.Generator) -> str:
    """One clause stating ``edit`` (lower case, no full stop)."""
    op = edit["op"]
    image = _pick(rng, L.IMAGE_NOUNS)
    if op == "add":
        o = edit["object"]
        np_ = L.count_phrase(o["shape"], o["color"], o.get("size"), edit.get("count", 1), rng, singular_forms=("a", "one"))
        if edit.get("rel") is not None:
            anchor = L.reference(edit["anchor"]["shape"], edit["anchor"]["color"], None, rng)
            if rng.random() < 0.2:
                rel = L.relation_phrase(edit["rel"], rng, front=True)
                return _pick(rng, L.EDIT_TEMPLATES["add_front"]).format(Rel=rel, anchor=anchor, np=np_)
            rel = L.relation_phrase(edit["rel"], rng)
            loc = f" {rel} the {anchor}"
            return _pick(rng, L.EDIT_TEMPLATES["add"]).format(np=np_, loc=loc)
        template = _pick(rng, L.EDIT_TEMPLATES["add"])
        endings = L.ADD_NO_LOCATION[1:] if template.split()[0] in L.ADD_VERBS_WITH_LOCATION else L.ADD_NO_LOCATION
        return template.format(np=np_, loc=_pick(rng, endings).format(image=image))
    if op in ("remove", "recolor", "move"):
        o = edit["object"]
        fields = {"obj": L.reference(o["shape"], o["color"], None, rng)}
        if op == "recolor":
            fields["color"] = edit["color"]
        if op == "move":
            fields["rel"] = L.relation_phrase(edit["rel"], rng)
            fields["anchor"] = L.reference(edit["anchor"]["shape"], edit["anchor"]["color"], None, rng)
        return _pick(rng, L.EDIT_TEMPLATES[op]).format(**fields)
    if op == "background":
        bg = L.background_word(edit["background"], rng)
        return _pick(rng, L.EDIT_TEMPLATES["background"]).format(bg=bg, an=L.article(bg), image=image)
    adj = L.style_adjective(edit["style"], rng)
    return _pick(rng, L.EDIT_TEMPLATES["style"]).format(adj=adj, an=L.article(adj), noun=L.style_noun(edit["style"], rng), image=image)


def editing_prompt(edits: Sequence[dict[str, Any]], rng: np.random.Generator) -> tuple[str, list[str]]:
    """The prompt for a list of edits, and each edit's clause exactly as the prompt spells it.

    Either one sentence per edit (with connectors such as "First," / "Then" / "Finally,") or
    clauses joined inside one or two sentences (", then", "; "); always closed by a sentence
    saying that everything else stays.
    """
    clauses = [edit_clause(e, rng) for e in edits]
    n = len(clauses)
    texts: list[str] = []
    sentences: list[str] = []
    if rng.random() < 0.55:
        for k, c in enumerate(clauses):
            conn = _pick(rng, L.FIRST_CONNECTORS if k == 0 else L.LAST_CONNECTORS if k == n - 1 else L.MIDDLE_CONNECTORS)
            text = c if conn else L.capitalise(c)
            texts.append(text)
            sentences.append(conn + text + ".")
    else:
        n_sent = 1 if n <= 2 or rng.random() < 0.5 else 2
        cut = n if n_sent == 1 else int(rng.integers(1, n))
        for part in (clauses[:cut], clauses[cut:]):
            if not part:
                continue
            part = [L.capitalise(part[0]), *part[1:]]
            texts += part
            s = part[0]
            for c in part[1:]:
                s += _pick(rng, L.CLAUSE_JOINERS) + c
            sentences.append(s + ".")
    sentences.append(_pick(rng, L.PRESERVE_SENTENCES))
    return " ".join(sentences), texts


def _editing_candidate(category: str, rng: np.random.Generator) -> _Candidate | None:
    n_src = int(rng.integers(2, 6))
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n_src:
        p = (_pick(rng, vocab.SHAPES), _pick(rng, list(vocab.COLORS)))
        if p not in pairs:
            pairs.append(p)
    items = [(s, c, "small" if rng.random() < P_SMALL else "large") for s, c in pairs]
    background = _pick(rng, list(vocab.BACKGROUNDS))
    style = vocab.DEFAULT_STYLE if rng.random() < 0.6 else _pick(rng, vocab.STYLES)
    edits = sample_edits(items, background, style, rng, int(rng.integers(2, 6)))
    if edits is None:
        return None
    prompt, texts = editing_prompt(edits, rng)
    edits = [{**e, "text": t} for e, t in zip(edits, texts)]
    cand = _Candidate(prompt, Target(), edits=edits)

    def finish(r: np.random.Generator) -> bool:
        try:
            objects = place(items, r)
        except LayoutError:
            return False
        # Round-trip through the file format, so that later checks see what the file holds.
        source = Scene.from_dict(Scene(objects=tuple(objects), background=background, style=style).to_dict())
        target = edit_target(source, edits)
        groups = list(target.groups) + list(target.absent)
        if any(conflicts(a, b) for k, a in enumerate(groups) for b in groups[k + 1 :]):
            return False
        checks = checks_for(target)
        # Every move must ask for something the source does not show already.
        for e in edits:
            if e["op"] == "move":
                o = source.objects[_find(source.objects, e["object"], "moved object")]
                anchor = [x for x in source.objects if _group(e["anchor"]).matches(x)]
                if anchor and e["rel"] in relations_between(o.bbox, anchor[0].bbox):
                    return False
        # Two independent one-shot layouts must both succeed: a task whose first placements
        # often leave no room for a later relation is not kept (it would be unfair to experts
        # that edit one step at a time).
        if all(answer(c, source) for c in checks):
            return False
        for _ in range(2):
            try:
                result = apply_edits(source, edits, r, attempts=1)
            except LayoutError:
                return False
            if not all(answer(c, result) for c in checks):
                return False
        cand.source, cand.target = source, target
        return True

    cand.finish = finish
    return cand


_CANDIDATES: dict[str, Callable[[str, np.random.Generator], _Candidate | None]] = {
    "geneval": _geneval_candidate,
    "longform": _longform_candidate,
    "editing": _editing_candidate,
}


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "suite": task.suite,
        "category": task.category,
        "split": task.split,
        "prompt": task.prompt,
        "target": task.target.to_dict(),
        "source": None if task.source is None else task.source.to_dict(),
        "edits": [dict(e) for e in task.edits],
    }


def task_line(task: Task) -> str:
    """One task as its file line (without the newline): sorted keys, compact separators."""
    return json.dumps(task_to_dict(task), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def generate_split(suite: str, split: str) -> list[Task]:
    """The tasks of one (suite, split), in file order (category by category)."""
    rng = split_rng(suite, split)
    seen: set[str] = set()
    tasks: list[Task] = []
    for category, quota in category_quota(suite, split).items():
        made = draws = 0
        while made < quota:
            draws += 1
            if draws > 2000 + 200 * quota:
                raise RuntimeError(f"could not fill {suite}/{split}/{category}: {made} of {quota} after {draws} draws")
            cand = _CANDIDATES[suite](category, rng)
            if cand is None:
                continue
            key = L.normalise(cand.prompt)
            if key in seen or split_of(cand.prompt) != split:
                continue
            if cand.finish is not None and not cand.finish(rng):
                continue
            seen.add(key)
            tasks.append(
                Task(
                    id=f"{suite}-{split}-{len(tasks):04d}",
                    prompt=cand.prompt,
                    category=category,
                    suite=suite,
                    split=split,
                    target=cand.target,
                    source=cand.source,
                    edits=tuple(cand.edits or ()),
                )
            )
            made += 1
    return tasks


def split_text(suite: str, split: str) -> str:
    """The exact file content of one (suite, split)."""
    return "".join(task_line(t) + "\n" for t in generate_split(suite, split))


def suite_file(suite: str, split: str, root: str | Path | None = None) -> Path:
    _check_suite_split(suite, split)
    return Path(root if root is not None else DEFAULT_DIR) / suite / f"{split}.jsonl"


def generate_all(out_dir: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None) -> list[Path]:
    """Write every (or the given) (suite, split) file under ``out_dir``; return the paths."""
    written = []
    for suite, split in pairs if pairs is not None else [(s, p) for s in SUITES for p in SPLITS]:
        path = suite_file(suite, split, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(split_text(suite, split), encoding="utf-8")
        written.append(path)
    return written


def check_files(root: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None) -> str | None:
    """Regenerate and compare with the files under ``root``: None if identical, else the first
    difference (file, line number, both lines)."""
    pairs = list(pairs) if pairs is not None else [(s, p) for s in SUITES for p in SPLITS]
    with tempfile.TemporaryDirectory() as tmp:
        generate_all(tmp, pairs)
        for suite, split in pairs:
            committed, fresh = suite_file(suite, split, root), suite_file(suite, split, tmp)
            if not committed.exists():
                return f"{committed}: missing"
            a = committed.read_text(encoding="utf-8").splitlines(keepends=True)
            b = fresh.read_text(encoding="utf-8").splitlines(keepends=True)
            for n in range(max(len(a), len(b))):
                la = a[n] if n < len(a) else "<end of file>"
                lb = b[n] if n < len(b) else "<end of file>"
                if la != lb:
                    return f"{committed}:{n + 1} differs\n  committed: {la.rstrip()}\n  generated: {lb.rstrip()}"
    return None


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def parse_task_line(line: str, where: str) -> Task:
    """One file line as a :class:`Task`; ``where`` ("file:line") goes into any error.

    Raises :class:`SuiteFormatError` naming ``where`` and the fault for bad JSON, missing or
    unknown keys, unknown suite / split / category, and an invalid target, source or edit
    (unknown colour, shape, style ...).
    """

    def fail(msg: str) -> SuiteFormatError:
        return SuiteFormatError(f"{where}: {msg}")

    try:
        d = json.loads(line)
    except json.JSONDecodeError as e:
        raise fail(f"not valid JSON ({e})") from e
    if not isinstance(d, dict):
        raise fail(f"a task line must be a JSON object, got {type(d).__name__}")
    missing = [k for k in TASK_KEYS if k not in d]
    if missing:
        raise fail(f"missing key(s) {missing}; a task line has {', '.join(TASK_KEYS)}")
    unknown = sorted(set(d) - set(TASK_KEYS))
    if unknown:
        raise fail(f"unknown key(s) {unknown}; a task line has {', '.join(TASK_KEYS)}")
    for k in ("id", "prompt"):
        if not isinstance(d[k], str) or not d[k].strip():
            raise fail(f"{k!r} must be a non-empty string, got {d[k]!r}")
    heldout = d["suite"] == "heldout"
    if d["suite"] not in SUITES and not heldout:
        raise fail(f"unknown suite {d['suite']!r}; allowed: {', '.join(SUITES)}, heldout")
    if d["split"] not in SPLITS and not (heldout and d["split"] == "heldout"):
        raise fail(f"unknown split {d['split']!r}; allowed: {', '.join(SPLITS)} (heldout tasks: heldout)")
    if d["category"] not in CATEGORIES[d["suite"]]:
        raise fail(f"unknown category {d['category']!r} for suite {d['suite']}; allowed: {', '.join(CATEGORIES[d['suite']])}")
    try:
        if not isinstance(d["target"], dict):
            raise SpecError(f"target must be an object, got {type(d['target']).__name__}")
        target = Target.from_dict(d["target"])
        checks_for(target)
    except (SpecError, SceneError, vocab.VocabularyError, ValueError) as e:
        raise fail(f"bad target: {e}") from e
    source = None
    if d["source"] is not None:
        try:
            source = Scene.from_dict(d["source"])
        except (SceneError, vocab.VocabularyError, TypeError, ValueError) as e:
            raise fail(f"bad source: {e}") from e
    if not isinstance(d["edits"], list):
        raise fail(f"'edits' must be a list, got {type(d['edits']).__name__}")
    for k, e in enumerate(d["edits"]):
        try:
            validate_edit(e)
        except EditError as err:
            raise fail(f"bad edit {k}: {err}") from err
    if d["suite"] == "editing" and (source is None or not d["edits"]):
        raise fail("an editing task needs a source scene and at least one edit")
    if d["suite"] not in ("editing", "heldout") and (source is not None or d["edits"]):
        raise fail(f"a {d['suite']} task has no source and no edits")
    return Task(
        id=d["id"],
        prompt=d["prompt"],
        category=d["category"],
        suite=d["suite"],
        split=d["split"],
        target=target,
        source=source,
        edits=tuple(d["edits"]),
    )


@lru_cache(maxsize=64)
def _load(suite: str, split: str, path: str) -> tuple[Task, ...]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"suite file {p} not found; regenerate with `python -m poser_env.world.suites`")
    tasks: list[Task] = []
    ids: set[str] = set()
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            where = f"{p}:{n}"
            if not line.strip():
                raise SuiteFormatError(f"{where}: empty line")
            task = parse_task_line(line, where)
            if task.suite != suite or task.split != split:
                raise SuiteFormatError(f"{where}: task is {task.suite}/{task.split} but the file holds {suite}/{split}")
            if task.id in ids:
                raise SuiteFormatError(f"{where}: duplicate task id {task.id!r}")
            ids.add(task.id)
            tasks.append(task)
    return tuple(tasks)


def load_suite(suite: str, split: str, path: str | Path | None = None) -> list[Task]:
    """The tasks of a suite's split.

    ``path`` is the suites root (holding ``<suite>/<split>.jsonl``; default: the package's
    data) or one ``.jsonl`` file. Results are cached per file; each call returns a new list.
    """
    _check_suite_split(suite, split)
    p = Path(path) if path is not None else DEFAULT_DIR
    if not p.is_file():
        p = suite_file(suite, split, p)
    return list(_load(suite, split, str(p.resolve())))


def load_heldout(path: str | Path | None = None) -> list[Task]:
    """The hand-written held-out prompts (``data/heldout/paraphrases.jsonl``), never trained on."""
    p = Path(path) if path is not None else DEFAULT_DIR.parent / "heldout" / "paraphrases.jsonl"
    return list(_load("heldout", "heldout", str(p.resolve())))


# --------------------------------------------------------------------------------------------
# Statistics and command line
# --------------------------------------------------------------------------------------------


def suite_stats(root: str | Path | None = None) -> str:
    """A Markdown table of tasks per suite, category and split, with mean checks per task."""
    rows = ["| suite | category | train | val | test | total | checks per task (mean, min-max) |", "|---|---|---:|---:|---:|---:|---|"]
    for suite in SUITES:
        by_split = {sp: load_suite(suite, sp, root) for sp in SPLITS}
        for cat in CATEGORIES[suite]:
            counts = [sum(1 for t in by_split[sp] if t.category == cat) for sp in SPLITS]
            n_checks = [len(t.checks) for sp in SPLITS for t in by_split[sp] if t.category == cat]
            rows.append(
                f"| {suite} | {cat} | {' | '.join(map(str, counts))} | {sum(counts)} | "
                f"{np.mean(n_checks):.2f} ({min(n_checks)}-{max(n_checks)}) |"
            )
        if len(CATEGORIES[suite]) > 1:
            counts = [len(by_split[sp]) for sp in SPLITS]
            rows.append(f"| {suite} | **all** | {' | '.join(map(str, counts))} | {sum(counts)} | |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m poser_env.world.suites", description="Generate, check or summarise the prompt suites."
    )
    parser.add_argument("--out", default=None, help=f"suites root to write or check (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="regenerate to a temporary folder and compare")
    parser.add_argument("--stats", action="store_true", help="print tasks per suite, category and split")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else DEFAULT_DIR
    if args.stats:
        print(suite_stats(root))
        return 0
    if args.check:
        diff = check_files(root)
        if diff is not None:
            print(f"suite files differ from the generator: {diff}", file=sys.stderr)
            return 1
        print(f"suite files under {root} match the generator")
        return 0
    t0 = time.perf_counter()
    paths = generate_all(root)
    print(f"wrote {len(paths)} files under {root} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
