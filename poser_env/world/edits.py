"""Edits of a scene: validating edit dicts, applying them, and the target they imply.

An editing task is a source scene plus a list of edit dicts (add, remove, recolor, move,
background, style; see :func:`apply_edits`). :func:`validate_edit` checks one dict,
:func:`apply_edits` gives the scene after the edits (laying objects out with
:func:`~poser_env.world.layout.place`) and :func:`edit_target` what the image must show
afterwards. The suite generator (:mod:`poser_env.world.suites.generate`) and loader
(:mod:`poser_env.world.suites.files`) both use them; they are re-exported by
:mod:`poser_env.world.suites`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, SpecError, Target
from poser_env.world.language import EDIT_OPS
from poser_env.world.layout import LayoutError, place
from poser_env.world.sampling import P_SMALL
from poser_env.world.scene import Scene, SceneObject


class EditError(ValueError):
    """An edit is malformed or cannot be applied (it names an object the scene lacks...)."""


def object_ref(shape: str, color: str | None, size: str | None = None) -> dict[str, Any]:
    """An edit's reference to one object (the ``object`` / ``anchor`` field of an edit)."""
    return {"shape": shape, "color": color, "size": size}


def ref_group(ref: dict[str, Any], count: int = 1) -> ObjectGroup:
    """The object group an edit's reference names (``count`` objects of that description)."""
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
        raise EditError(
            f"unknown field(s) {sorted(unknown)} in {op} edit; allowed: {sorted(required | optional | {'op', 'text'})}"
        )
    if "text" in edit and not isinstance(edit["text"], str):
        raise EditError(f"edit text must be a string: {edit!r}")
    try:
        for k in ("object", "anchor"):
            if edit.get(k) is not None:
                ref = edit[k]
                if not isinstance(ref, dict) or set(ref) - {"shape", "color", "size"} or "shape" not in ref:
                    raise EditError(f"edit {k} must be a dict with shape, color, size: {ref!r}")
                ref_group(ref)
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
        if op == "style" and edit["style"] not in vocab.STYLES:
            vocab.check_style(edit["style"])
            raise EditError(f"edit style must be canonical ({', '.join(vocab.STYLES)}): {edit!r}")
    except (vocab.VocabularyError, SpecError) as e:
        raise EditError(f"bad {op} edit {edit!r}: {e}") from e
    return edit


def find_object(objects: Sequence[Any], ref: dict[str, Any], what: str) -> int:
    """The index of the one object in ``objects`` that ``ref`` names; :class:`EditError` naming
    ``what`` when none or several match."""
    g = ref_group(ref)
    hits = [i for i, o in enumerate(objects) if g.matches(o)]
    if len(hits) != 1:
        raise EditError(f"{what} {g.noun()!r} must name exactly one object of the scene, found {len(hits)}")
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
                rels.append((len(objects), edit["rel"], find_object(objects, edit["anchor"], "add anchor")))
            if ref.get("color") is None:
                raise EditError(f"an added object needs a colour: {edit!r}")
            objects += place(items, rng, relations=rels, fixed=objects, restarts=restarts)
        elif op == "remove":
            del objects[find_object(objects, edit["object"], "removed object")]
        elif op == "recolor":
            i = find_object(objects, edit["object"], "recoloured object")
            o = objects[i]
            objects[i] = SceneObject(o.shape, edit["color"], o.size, o.x, o.y)
        elif op == "move":
            i = find_object(objects, edit["object"], "moved object")
            o = objects.pop(i)
            j = find_object(objects, edit["anchor"], "move anchor")
            (moved,) = place(
                [(o.shape, o.color, o.size)],
                rng,
                relations=[(len(objects), edit["rel"], j)],
                fixed=objects,
                restarts=restarts,
            )
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
        return find_object([_O(t) for t in current], ref, what)

    for edit in edits:
        validate_edit(edit)
        op = edit["op"]
        if op == "add":
            ref = edit["object"]
            g = ref_group(ref, int(edit.get("count", 1)))
            groups.append(g)
            if edit.get("rel") is not None:
                find(edit["anchor"], "add anchor")
                relations.append(Relation(ref_group(ref), edit["rel"], ref_group(edit["anchor"])))
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
            relations.append(Relation(ref_group(edit["object"]), edit["rel"], ref_group(edit["anchor"])))
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
