"""Procedural experts of the shape world, each with a skill profile and seeded failure modes.

An expert reads its instruction with the world's parser, like a real model reads a prompt
through its text encoder, then acts on what it understood. Its *profile* (plain data in
``poser_env/data/experts/synthetic.json``) says how well: which operations it performs, how
many constraints it reads before truncating, how often it miscounts, swaps colours, bleeds a
recolour, damages small objects, leaves artefacts. Every failure is drawn from the ``rng``
the env passes in, so an episode is reproducible from its seed.

T2I experts draw a fresh scene from the whole description they are given; I2I experts edit
the scene on the canvas (the ground-truth graph kept by earlier synthetic experts, or, for an
image that has none, what the pixel detector reads off it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from poser_env.experts.base import MODALITIES, KindAlias, modality_kwargs
from poser_env.types import Canvas
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target
from poser_env.world.detect import detect
from poser_env.world.intents import OPS, Intent
from poser_env.world.layout import LayoutError, place
from poser_env.world.parse import parse
from poser_env.world.render import render
from poser_env.world.sampling import P_SMALL, realize
from poser_env.world.scene import DEFAULT_CANVAS, Scene, SceneObject


@dataclass(frozen=True)
class ExpertProfile:
    """What an expert can do and how it fails. Probabilities are per call unless stated."""

    modality: str
    """``t2i`` draws from scratch, ``i2i`` edits the canvas (the data's older key ``kind`` is accepted)."""
    cost: float
    """Relative compute units charged per call (the env's cost penalty uses it)."""
    ops: tuple[str, ...] = ("draw", "relate", "background", "style", "clean")
    """Intent operations it carries out; anything else in its instruction is ignored."""
    max_intents: int | None = None
    """Reads only the first N constraints of its text (a truncating text encoder)."""
    max_groups: int | None = None
    """T2I: draws only the first N object groups it read."""
    max_count: int | None = None
    """Draws at most N objects of one group, however many are asked for (cannot count higher)."""
    styles: tuple[str, ...] = ("plain",)
    """Styles it can paint; asked for another, it paints plain."""
    relations: bool = True
    """T2I: honours spatial relations (otherwise the layout is random)."""
    p_miscount: float = 0.0
    """Per group of two or more: draws one too many or one too few."""
    p_color_swap: float = 0.0
    """With two or more colours: two objects of different groups swap colours."""
    p_drop: float = 0.0
    """T2I: one object is forgotten."""
    p_fail: float = 0.0
    """I2I: per understood constraint, the edit silently does nothing."""
    p_bleed: float = 0.0
    """Recolour: the nearest other object takes the new colour too."""
    p_damage_small: float = 0.0
    """Restyle: each small object is washed out (lost)."""
    p_artifacts: float = 0.0
    """Leaves noise and speckles on the image."""
    reflection_gain: float = 0.5
    """Failure probabilities are multiplied by this on a retry (when the call carries a reflection)."""
    # Situation-dependent reliability (ImagePoser-Hard-v0's experts; 0 = off, and then no
    # random number is drawn, so the default experts' episodes are unchanged).
    p_fail_big_count: float = 0.0
    """Per group of more than three objects: draws one too many or one too few."""
    p_fail_crowded: float = 0.0
    """When the result holds ``crowded_at`` objects or more: one of them is lost."""
    crowded_at: int = 6
    """Objects on the canvas from which it counts as crowded."""
    p_fail_small: float = 0.0
    """Each small object this call draws is lost."""
    p_fail_styled: float = 0.0
    """I2I: on a canvas already painted in a style other than plain, each edit silently does
    nothing (what was done before matters: restyle last)."""

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"expert modality must be 't2i' or 'i2i', got {self.modality!r}")
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "styles", tuple(vocab.check_style(s) for s in self.styles))
        for op in self.ops:
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in expert profile; allowed: {', '.join(OPS)}")
        if isinstance(self.crowded_at, bool) or not isinstance(self.crowded_at, int) or self.crowded_at < 1:
            raise ValueError(f"profile field crowded_at must be a positive int, got {self.crowded_at!r}")
        for f in fields(self):
            if f.name.startswith("p_") or f.name == "reflection_gain":
                v = getattr(self, f.name)
                if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                    raise ValueError(f"profile field {f.name} must be a probability in [0, 1], got {v!r}")


class ShapeWorldExpert(KindAlias):
    """A synthetic T2I or I2I expert driven by an :class:`ExpertProfile`."""

    def __init__(self, name: str, description: str = "", **profile: Any):
        self.name = name
        self.description = description
        profile = modality_kwargs(profile, f"expert {name!r}")
        known = {f.name for f in fields(ExpertProfile)}
        unknown = set(profile) - known
        if unknown:
            raise ValueError(
                f"unknown profile field(s) {sorted(unknown)} for expert {name!r}; allowed: {', '.join(sorted(known))}"
            )
        self.profile = ExpertProfile(**profile)
        self.modality = self.profile.modality
        self.cost = float(self.profile.cost)

    def __repr__(self) -> str:
        return f"ShapeWorldExpert({self.name!r}, modality={self.modality!r}, cost={self.cost})"

    # ----------------------------------------------------------------------------------------

    def __call__(
        self, instruction: str, canvas: Canvas | None, rng: np.random.Generator, reflection: str = ""
    ) -> Canvas:
        gain = self.profile.reflection_gain if reflection else 1.0
        intents = parse(instruction)
        if self.profile.max_intents is not None:
            intents = intents[: self.profile.max_intents]
        intents = [i for i in intents if i.op in self.profile.ops]
        size = canvas.image.shape[0] if canvas is not None else DEFAULT_CANVAS
        base = _scene_of(canvas)
        if self.modality == "t2i":
            scene = self._draw(intents, base, rng, gain)
        else:
            scene = self._edit(intents, base, rng, gain)
        scene = self._situational(scene, base, rng, gain)
        scene = self._maybe_artifacts(scene, rng, gain)
        return Canvas(image=render(scene, size), scene=scene)

    # ----------------------------------------------------------------------------------------
    # T2I

    def _draw(self, intents: list[Intent], base: Scene | None, rng: np.random.Generator, gain: float) -> Scene:
        p = self.profile
        groups = [i.group for i in intents if i.op == "draw" and i.group is not None and i.group.count > 0]
        if p.max_groups is not None:
            groups = groups[: p.max_groups]
        if p.max_count is not None:
            groups = [replace(g, count=min(g.count, p.max_count)) for g in groups]
        groups = [
            replace(g, count=int(np.clip(g.count + rng.choice([-1, 1]), 1, vocab.MAX_COUNT)))
            if g.count >= 2 and rng.random() < p.p_miscount * gain
            else g
            for g in groups
        ]
        if p.p_fail_big_count > 0:
            groups = [
                replace(g, count=int(np.clip(g.count + rng.choice([-1, 1]), 1, vocab.MAX_COUNT)))
                if g.count > 3 and rng.random() < p.p_fail_big_count * gain
                else g
                for g in groups
            ]
        relations = []
        if p.relations:
            singles = {(g.shape, g.color, g.size) for g in groups if g.count == 1}
            for i in intents:
                if (
                    i.op == "relate"
                    and i.group
                    and i.other
                    and (i.group.shape, i.group.color, i.group.size) in singles
                    and (i.other.shape, i.other.color, i.other.size) in singles
                ):
                    relations.append(Relation(replace(i.group, count=1), i.rel, replace(i.other, count=1)))
        background = next((i.color for i in intents if i.op == "background"), None)
        style = next((i.style for i in intents if i.op == "style"), None)
        if style is not None and style not in p.styles:
            style = "plain"
        target = Target(groups=tuple(groups), relations=tuple(relations), background=background, style=style)
        try:
            scene = realize(target, rng)
        except (LayoutError, ValueError):
            # Contradictory or crowded: draw what fits, without the relations.
            try:
                scene = realize(replace(target, relations=()), rng)
            except (LayoutError, ValueError):
                scene = Scene(background=background or vocab.DEFAULT_BACKGROUND, style=style or "plain")
        objects = list(scene.objects)
        if len(objects) >= 2 and rng.random() < p.p_color_swap * gain:
            i, j = rng.choice(len(objects), size=2, replace=False)
            if objects[i].color != objects[j].color:
                objects[i], objects[j] = (
                    replace(objects[i], color=objects[j].color),
                    replace(objects[j], color=objects[i].color),
                )
        if objects and rng.random() < p.p_drop * gain:
            objects.pop(int(rng.integers(len(objects))))
        return scene.with_objects(objects)

    # ----------------------------------------------------------------------------------------
    # I2I

    def _edit(self, intents: list[Intent], base: Scene | None, rng: np.random.Generator, gain: float) -> Scene:
        p = self.profile
        scene = base or Scene()
        objects = list(scene.objects)
        background, style = scene.background, scene.style
        noise, speckles = scene.noise, scene.speckles
        relates = [i for i in intents if i.op == "relate" and i.group and i.other]
        styled = scene.style != vocab.DEFAULT_STYLE
        for intent in intents:
            if styled and p.p_fail_styled > 0 and rng.random() < p.p_fail_styled * gain:
                continue
            if intent.op == "relate":
                if "draw" in p.ops:
                    continue  # handled with the draw that introduces its object
                if rng.random() < p.p_fail * gain:
                    continue
                objects = _move(objects, intent.group, intent.rel, intent.other, rng)
                continue
            if rng.random() < p.p_fail * gain:
                continue
            if intent.op == "draw" and intent.group is not None:
                group = (
                    intent.group
                    if p.max_count is None
                    else replace(intent.group, count=min(intent.group.count, p.max_count))
                )
                if p.p_fail_big_count > 0 and group.count > 3 and rng.random() < p.p_fail_big_count * gain:
                    group = replace(group, count=int(np.clip(group.count + rng.choice([-1, 1]), 1, vocab.MAX_COUNT)))
                objects = _add(objects, group, relates, rng, p.p_miscount * gain)
            elif intent.op in ("remove", "absent") and intent.group is not None:
                objects = [o for o in objects if not intent.group.matches(o)]
            elif intent.op == "recolor" and intent.group is not None and intent.color:
                objects = _recolor(objects, intent.group, intent.color, rng, p.p_bleed * gain)
            elif intent.op == "move" and intent.group is not None and intent.other is not None:
                objects = _move(objects, intent.group, intent.rel, intent.other, rng)
            elif intent.op == "background" and intent.color:
                background = intent.color
            elif intent.op == "style" and intent.style:
                if intent.style not in p.styles:
                    continue
                style = intent.style
                objects = [o for o in objects if not (o.size == "small" and rng.random() < p.p_damage_small * gain)]
            elif intent.op == "clean":
                noise, speckles = 0.0, 0
        return Scene(tuple(objects), background, style, noise, speckles, scene.artifact_seed)

    # ----------------------------------------------------------------------------------------

    def _situational(self, scene: Scene, base: Scene | None, rng: np.random.Generator, gain: float) -> Scene:
        """Failures that depend on the situation: small new objects lost, a crowded canvas
        losing one object. Draws nothing when both are off."""
        p = self.profile
        if p.p_fail_small <= 0 and p.p_fail_crowded <= 0:
            return scene
        objects = list(scene.objects)
        if p.p_fail_small > 0:
            old = set(base.objects) if base is not None and self.modality == "i2i" else set()
            objects = [o for o in objects if o in old or o.size != "small" or not rng.random() < p.p_fail_small * gain]
        if p.p_fail_crowded > 0 and len(objects) >= p.crowded_at and rng.random() < p.p_fail_crowded * gain:
            objects.pop(int(rng.integers(len(objects))))
        return scene.with_objects(objects)

    def _maybe_artifacts(self, scene: Scene, rng: np.random.Generator, gain: float) -> Scene:
        if self.profile.p_artifacts and rng.random() < self.profile.p_artifacts * gain:
            return scene.replace(
                noise=float(rng.uniform(0.04, 0.08)),
                speckles=int(rng.integers(3, 11)),
                artifact_seed=int(rng.integers(2**31 - 1)),
            )
        return scene


def _scene_of(canvas: Canvas | None) -> Scene | None:
    """The canvas's scene graph, or what the detector reads off an image without one."""
    if canvas is None:
        return None
    if isinstance(canvas.scene, Scene):
        return canvas.scene
    seen = detect(np.asarray(canvas.image))
    objs = [
        SceneObject(o.shape, o.color, o.size, float(np.clip(o.x, 0, 1)), float(np.clip(o.y, 0, 1)))
        for o in seen.objects
    ]
    return Scene(tuple(objs), seen.background, seen.style)


def _pick_size(g: ObjectGroup, rng: np.random.Generator) -> str:
    return g.size or ("small" if rng.random() < P_SMALL else "large")


def _pick_color(g: ObjectGroup, rng: np.random.Generator) -> str:
    return g.color or str(list(vocab.COLORS)[int(rng.integers(len(vocab.COLORS)))])


def _add(
    objects: list[SceneObject], g: ObjectGroup, relates: list[Intent], rng: np.random.Generator, p_miscount: float
) -> list[SceneObject]:
    n = g.count
    if n >= 2 and rng.random() < p_miscount:
        n = int(np.clip(n + rng.choice([-1, 1]), 1, vocab.MAX_COUNT))
    items = [(g.shape, _pick_color(g, rng), _pick_size(g, rng)) for _ in range(n)]
    rels = []
    if n == 1:
        for r in relates:
            if r.group is not None and r.other is not None and r.group.matches(SceneObject(*items[0])):
                j = next((k for k, o in enumerate(objects) if r.other.matches(o)), None)
                if j is not None:
                    rels.append((len(objects), r.rel, j))
    try:
        return objects + place(items, rng, relations=rels, fixed=objects)
    except LayoutError:
        try:
            return objects + place(items, rng, fixed=objects)
        except LayoutError:
            return objects  # no room: nothing is added, and the critic will say so


def _recolor(
    objects: list[SceneObject], g: ObjectGroup, color: str, rng: np.random.Generator, p_bleed: float
) -> list[SceneObject]:
    out = list(objects)
    hit = [k for k, o in enumerate(out) if g.matches(o)]
    for k in hit:
        out[k] = replace(out[k], color=color)
    if hit and len(out) > len(hit) and rng.random() < p_bleed:
        k0 = hit[0]
        others = [k for k in range(len(out)) if k not in hit]
        near = min(others, key=lambda k: (out[k].x - out[k0].x) ** 2 + (out[k].y - out[k0].y) ** 2)
        out[near] = replace(out[near], color=color)
    return out


def _move(
    objects: list[SceneObject],
    g: ObjectGroup | None,
    rel: str | None,
    other: ObjectGroup | None,
    rng: np.random.Generator,
) -> list[SceneObject]:
    if g is None or other is None or rel is None:
        return objects
    k = next((i for i, o in enumerate(objects) if g.matches(o)), None)
    j = next((i for i, o in enumerate(objects) if other.matches(o) and i != k), None)
    if k is None or j is None:
        return objects
    rest = [o for i, o in enumerate(objects) if i != k]
    j2 = j if j < k else j - 1
    o = objects[k]
    try:
        moved = place([(o.shape, o.color, o.size)], rng, relations=[(len(rest), rel, j2)], fixed=rest)[0]
    except LayoutError:
        return objects
    return rest[:k] + [moved] + rest[k:]
