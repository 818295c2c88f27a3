"""Draw targets and the scenes that realise them.

The suite generator, the world check and the synthetic experts all need the same two moves:
sample a *target* (what a prompt asks for) and *realise* it (lay out a scene that satisfies
it). Both take a ``numpy.random.Generator`` and nothing else random.

A target never contains two groups that one object could both count for (same shape, and a
colour that is missing on either side or equal): otherwise "two circles" and "a red circle"
would be ambiguous and a check could not be judged on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target
from poser_env.world.layout import LayoutError, place
from poser_env.world.scene import Scene, SceneObject

#: Most objects a sampled target asks for: beyond this a 128 px canvas gets crowded.
MAX_OBJECTS = 8
#: Chance that an object whose size the target leaves open is drawn small (crowding).
P_SMALL = 0.7


def _pick(rng: np.random.Generator, seq: Sequence) -> object:
    return seq[int(rng.integers(len(seq)))]


def conflicts(a: ObjectGroup, b: ObjectGroup) -> bool:
    """Whether one object could count for both groups (see the module docstring)."""
    if a.shape != b.shape:
        return False
    return a.color is None or b.color is None or a.color == b.color


def sample_group(
    rng: np.random.Generator,
    existing: Sequence[ObjectGroup],
    count: int = 1,
    p_color: float = 0.85,
    p_size: float = 0.25,
) -> ObjectGroup | None:
    """A group that conflicts with none of ``existing``; None if no shape/colour is left."""
    for _ in range(50):
        shape = str(_pick(rng, vocab.SHAPES))
        color = str(_pick(rng, list(vocab.COLORS))) if rng.random() < p_color else None
        size = str(_pick(rng, list(vocab.SIZES))) if rng.random() < p_size else None
        g = ObjectGroup(shape, color, size, count)
        if not any(conflicts(g, e) for e in existing):
            return g
    return None


def sample_longform_target(rng: np.random.Generator, n_constraints: int | None = None) -> Target:
    """A long-form generation target with 4 to 10 constraints (one check each).

    Constraints mix object groups (some counted, some with a size), spatial relations between
    single objects, a background and a style.
    """
    n = int(rng.integers(4, 11)) if n_constraints is None else int(n_constraints)
    background = str(_pick(rng, list(vocab.BACKGROUNDS))) if rng.random() < 0.45 else None
    style = str(_pick(rng, vocab.STYLES)) if rng.random() < 0.45 else None
    budget = n - (background is not None) - (style is not None)
    groups: list[ObjectGroup] = []
    relations: list[Relation] = []
    n_objects = 0
    while budget > 0:
        singles = [g for g in groups if g.count == 1 and g.color is not None]
        want_relation = len(singles) >= 2 and rng.random() < 0.35 and len(relations) < 3
        if want_relation:
            i, j = rng.choice(len(singles), size=2, replace=False)
            rel = str(_pick(rng, vocab.RELATIONS))
            a, b = singles[int(i)], singles[int(j)]
            if not any({(r.a, r.b), (r.b, r.a)} & {(a, b)} for r in relations):
                relations.append(Relation(a, rel, b))
                budget -= 1
                continue
        count = 1 if rng.random() < 0.65 else int(rng.integers(2, 5))
        # Leave room for one object per constraint still to come (bar a free background and
        # style), so that a big count does not crowd the later constraints out.
        spare = (background is None) + (style is None)
        count = max(1, min(count, MAX_OBJECTS - n_objects - max(0, budget - 1 - spare)))
        if n_objects + count > MAX_OBJECTS:
            count = 1
        if n_objects + count > MAX_OBJECTS:
            # Crowded: spend the rest of the budget on a background or style, if free.
            if background is None:
                background = str(_pick(rng, list(vocab.BACKGROUNDS)))
            elif style is None:
                style = str(_pick(rng, vocab.STYLES))
            else:
                break
            budget -= 1
            continue
        g = sample_group(rng, groups, count=count)
        if g is None:
            break
        groups.append(g)
        n_objects += count
        budget -= 1
    return Target(groups=tuple(groups), relations=tuple(relations), background=background, style=style)


def realize(
    target: Target,
    rng: np.random.Generator,
    base: Scene | None = None,
) -> Scene:
    """A clean scene that satisfies ``target``.

    Unspecified colours and sizes are drawn at random (never so as to create a conflicting
    object); relations hold firmly (see ``layout.py``). ``base`` supplies the background and
    style when the target leaves them open, and objects to keep: those matched by
    ``target.preserve`` stay where they are.
    """
    taken: list[ObjectGroup] = list(target.groups) + list(target.absent)
    items: list[tuple[str, str, str]] = []
    owner: list[int] = []  # group index of each item
    for gi, g in enumerate(target.groups):
        for _ in range(g.count):
            color = g.color
            if color is None:
                others = [t for t in taken if t is not g]
                free = [
                    c
                    for c in vocab.COLORS
                    if not any(conflicts(ObjectGroup(g.shape, c), t) for t in others if t.color is not None)
                ]
                color = str(_pick(rng, free or list(vocab.COLORS)))
            size = g.size or ("small" if rng.random() < P_SMALL else "large")
            items.append((g.shape, color, size))
            owner.append(gi)
    fixed = list(target.preserve)
    rels = []
    for r in target.relations:
        ia = _find(r.a, target.groups, owner, len(fixed))
        ib = _find(r.b, target.groups, owner, len(fixed))
        if ia is None or ib is None:
            ia = ia if ia is not None else _find_fixed(r.a, fixed)
            ib = ib if ib is not None else _find_fixed(r.b, fixed)
        if ia is None or ib is None:
            raise ValueError(f"relation {r.to_dict()} names an object the target does not contain")
        rels.append((ia, r.rel, ib))
    objects = place(items, rng, relations=rels, fixed=fixed)
    background = target.background or (base.background if base else vocab.DEFAULT_BACKGROUND)
    style = target.style or (base.style if base else vocab.DEFAULT_STYLE)
    return Scene(objects=tuple(fixed) + tuple(objects), background=background, style=style)


def sample_longform(
    rng: np.random.Generator, n_constraints: int | None = None, attempts: int = 20
) -> tuple[Target, Scene]:
    """A long-form target together with a scene realising it (resampled until one fits)."""
    for _ in range(attempts):
        target = sample_longform_target(rng, n_constraints)
        try:
            return target, realize(target, rng)
        except LayoutError:
            continue
    raise LayoutError(f"no realisable long-form target in {attempts} attempts")


def _find(ref: ObjectGroup, groups: Sequence[ObjectGroup], owner: Sequence[int], offset: int) -> int | None:
    for gi, g in enumerate(groups):
        if g.count == 1 and g.shape == ref.shape and g.color == ref.color and g.size == ref.size:
            return offset + owner.index(gi)
    return None


def _find_fixed(ref: ObjectGroup, fixed: Sequence[SceneObject]) -> int | None:
    for i, o in enumerate(fixed):
        if ref.matches(o):
            return i
    return None


def perturb_target(target: Target, rng: np.random.Generator, p: float = 0.5) -> Target:
    """A near-miss of ``target``: each constraint is altered with probability ``p``.

    Counts move by one, colours and relations flip, the background and style change. Checks
    of the result are a mix of true and false on a scene realising ``target``: the world
    check uses them to count misses and false alarms alike.
    """
    groups = []
    for g in target.groups:
        if rng.random() < p:
            if g.count >= 2 or rng.random() < 0.3:
                n = g.count + (1 if (rng.random() < 0.5 and g.count < vocab.MAX_COUNT) or g.count <= 2 else -1)
                g = replace(g, count=n)
            else:
                g = replace(g, color=str(_pick(rng, [c for c in vocab.COLORS if c != g.color])))
        groups.append(g)
    relations = [replace(r, rel=vocab.INVERSE_RELATION[r.rel]) if rng.random() < p else r for r in target.relations]
    background = target.background
    if background is not None and rng.random() < p:
        background = str(_pick(rng, [b for b in vocab.BACKGROUNDS if b != background]))
    style = target.style
    if style is not None and rng.random() < p:
        style = str(_pick(rng, [s for s in vocab.STYLES if s != style]))
    return replace(target, groups=tuple(groups), relations=tuple(relations), background=background, style=style)
