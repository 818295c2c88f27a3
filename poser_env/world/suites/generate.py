"""The seeded prompt-suite generator: samples GenEval-like, long-form and editing tasks.

Every task is checked while it is generated: a generation target is realised with
:func:`~poser_env.world.sampling.realize`; an editing task's edits are applied to its source
with :func:`~poser_env.world.edits.apply_edits` (which lays objects out with
:func:`~poser_env.world.layout.place`); in both cases every check of the target must be true
on the result, else the task is resampled.

Splits are disjoint in prompt text by construction (see
:func:`~poser_env.world.suites.spec.split_of`): each split's generator keeps drawing until it
has its quota of prompts of its own. So each (suite, split) is generated independently, from
its own ``numpy`` Generator (:func:`~poser_env.world.suites.spec.split_rng`), and
regenerating one file needs no other.

Files are written one task per line by :func:`~poser_env.world.suites.files.task_line` (keys
sorted, compact separators, floats rounded by the ``to_dict`` methods), so regeneration is
byte-identical; :func:`check_files` (``python -m poser_env.world.suites --check``) verifies
that.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poser_env.types import Task
from poser_env.world import language as L
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target, answer, checks_for
from poser_env.world.edits import apply_edits, edit_target, find_object, object_ref, ref_group
from poser_env.world.geometry import relations_between
from poser_env.world.layout import LayoutError, place
from poser_env.world.sampling import P_SMALL, conflicts, realize, sample_longform_target
from poser_env.world.scene import Scene
from poser_env.world.suites.files import task_line
from poser_env.world.suites.prompts import editing_prompt, longform_prompt
from poser_env.world.suites.spec import (
    CATEGORIES,
    FORMS_SUITES,
    MAX_EDIT_OBJECTS,
    SPLITS,
    SUITES,
    category_quota,
    split_of,
    split_rng,
    suite_file,
)

#: One draw from any sequence: language.pick, typed for words only (prompts.py and sampling keep copies).
_pick: Callable[..., Any] = L.pick

# --------------------------------------------------------------------------------------------
# Candidates: a prompt with its target, and a check that it is achievable
# --------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    prompt: str
    target: Target
    source: Scene | None = None
    edits: list[dict[str, Any]] | None = None
    #: Completes and verifies the task (may change ``source``); False means "resample".
    finish: Callable[[np.random.Generator], bool] | None = None


def _two_distinct(rng: np.random.Generator, seq: Sequence[str]) -> tuple[str, str]:
    i, j = rng.choice(len(seq), size=2, replace=False)
    return seq[int(i)], seq[int(j)]


def realises(target: Target, rng: np.random.Generator, times: int = 2) -> bool:
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


def _geneval_candidate(category: str, rng: np.random.Generator) -> Candidate:
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
    return Candidate(prompt, target, finish=lambda r: realises(target, r))


# --- long-form ------------------------------------------------------------------------------


def _longform_candidate(category: str, rng: np.random.Generator) -> Candidate | None:
    target = sample_longform_target(rng)
    if not 4 <= len(checks_for(target)) <= 10:
        return None
    prompt = longform_prompt(target, rng)
    return Candidate(prompt, target, finish=lambda r: realises(target, r))


# --- editing --------------------------------------------------------------------------------


def sample_edits(
    source_items: Sequence[tuple[str, str, str]], background: str, style: str, rng: np.random.Generator, n_edits: int
) -> list[dict[str, Any]] | None:
    """``n_edits`` edits for a source of ``(shape, colour, size)`` items unique by (shape, colour).

    Keeps every reference unique when it is made, never touches an object twice, never moves,
    removes or recolours an object that an earlier relation names (that would break it),
    never brings back a (shape, colour) that an edit made absent, and keeps the scene at most
    :data:`MAX_EDIT_OBJECTS` objects. None when it runs out of possible edits.
    """
    # Scene state: dicts with shape, color, src (source index or None), touched, frozen, unique.
    cur: list[dict[str, Any]] = [
        {"shape": s, "color": c, "src": i, "touched": False, "frozen": False}
        for i, (s, c, _) in enumerate(source_items)
    ]
    taken: list[ObjectGroup] = []  # groups and absences of the target so far
    edits: list[dict[str, Any]] = []
    used_ops: set[str] = set()
    weights = {"add": 0.26, "remove": 0.15, "recolor": 0.2, "move": 0.19, "background": 0.1, "style": 0.1}

    def unique(o: dict[str, Any]) -> bool:
        return sum(1 for p in cur if p["shape"] == o["shape"] and p["color"] == o["color"]) == 1

    def free_pair(shape: str, color: str) -> bool:
        g = ObjectGroup(shape, color)
        return not any(p["shape"] == shape and p["color"] == color for p in cur) and not any(
            conflicts(g, t) for t in taken
        )

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
            edit: dict[str, Any] = {
                "op": "add",
                "object": object_ref(shape, color, size),
                "count": count,
                "rel": None,
                "anchor": None,
            }
            if count == 1 and anchors and rng.random() < 0.6:
                a = _pick(rng, anchors)
                a["frozen"] = True
                edit["rel"], edit["anchor"] = _pick(rng, vocab.RELATIONS), object_ref(a["shape"], a["color"])
            taken.append(ObjectGroup(shape, color, size, count))
            cur += [
                {"shape": shape, "color": color, "src": None, "touched": True, "frozen": count > 1}
                for _ in range(count)
            ]
        elif op == "remove":
            o = _pick(rng, editable)
            edit = {"op": "remove", "object": object_ref(o["shape"], o["color"])}
            taken.append(ObjectGroup(o["shape"], o["color"], None, 0))
            cur.remove(o)
        elif op == "recolor":
            o = _pick(rng, editable)
            colors = [c for c in vocab.COLORS if c != o["color"] and free_pair(o["shape"], c)]
            if not colors:
                return None
            new = _pick(rng, colors)
            edit = {"op": "recolor", "object": object_ref(o["shape"], o["color"]), "color": new}
            taken += [ObjectGroup(o["shape"], new), ObjectGroup(o["shape"], o["color"], None, 0)]
            o["color"], o["touched"] = new, True
        elif op == "move":
            movable = [o for o in editable if any(a is not o for a in anchors)]
            o = _pick(rng, movable)
            a = _pick(rng, [x for x in anchors if x is not o])
            edit = {
                "op": "move",
                "object": object_ref(o["shape"], o["color"]),
                "rel": _pick(rng, vocab.RELATIONS),
                "anchor": object_ref(a["shape"], a["color"]),
            }
            o["touched"] = o["frozen"] = True
            a["frozen"] = True
        elif op == "background":
            edit = {"op": "background", "background": _pick(rng, [b for b in vocab.BACKGROUNDS if b != background])}
        else:
            edit = {"op": "style", "style": _pick(rng, [s for s in vocab.STYLES if s != style])}
        edits.append(edit)
    return edits


def candidate_task(cand: Candidate, suite: str, split: str, category: str, index: int) -> Task:
    """The :class:`Task` a kept candidate becomes: task ``index`` of ``suite``'s ``split``."""
    return Task(
        id=f"{suite}-{split}-{index:04d}",
        prompt=cand.prompt,
        task_category=category,
        suite=suite,
        split=split,
        target=cand.target,
        source=cand.source,
        edits=tuple(cand.edits or ()),
    )


def editing_candidate(
    rng: np.random.Generator,
    sources: tuple[int, int] = (2, 6),
    chain: tuple[int, int] = (2, 6),
    min_edits: int = 0,
    prompt_fn: Callable[[list[dict[str, Any]], np.random.Generator], tuple[str, list[str]] | None] = editing_prompt,
) -> Candidate | None:
    """An editing task: a source of ``sources`` objects (``[lo, hi)``, distinct shape-colour
    pairs) and a chain of ``chain`` edits (``[lo, hi)`` asked of :func:`sample_edits`; fewer
    than ``min_edits`` drawn means resample). The base suite uses the defaults, the harder
    level (:mod:`poser_env.world.suites.levels`) a shorter source and a longer chain; the draws
    are in one fixed order, so the committed files of both regenerate byte for byte.
    ``prompt_fn`` writes the prompt (the v1 suite's forms; None means resample)."""
    n_src = int(rng.integers(*sources))
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n_src:
        p = (_pick(rng, vocab.SHAPES), _pick(rng, list(vocab.COLORS)))
        if p not in pairs:
            pairs.append(p)
    items = [(s, c, "small" if rng.random() < P_SMALL else "large") for s, c in pairs]
    background = _pick(rng, list(vocab.BACKGROUNDS))
    style = vocab.DEFAULT_STYLE if rng.random() < 0.6 else _pick(rng, vocab.STYLES)
    edits = sample_edits(items, background, style, rng, int(rng.integers(*chain)))
    if edits is None or len(edits) < min_edits:
        return None
    made = prompt_fn(edits, rng)
    if made is None:
        return None
    prompt, texts = made
    edits = [{**e, "text": t} for e, t in zip(edits, texts)]
    cand = Candidate(prompt, Target(), edits=edits)

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
                o = source.objects[find_object(source.objects, e["object"], "moved object")]
                anchor = [x for x in source.objects if ref_group(e["anchor"]).matches(x)]
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


def _editing_candidate(category: str, rng: np.random.Generator) -> Candidate | None:
    return editing_candidate(rng)


# --- v1: the forms of issue 12 (poser_env/world/suites/forms.py) ---------------------------


def forms_candidate(
    category: str, rng: np.random.Generator, constraints: tuple[int, int] = (2, 11), checks: tuple[int, int] = (1, 12)
) -> Candidate | None:
    """A generation task of ``constraints`` (``[lo, hi)``) constraints written in form
    ``category``, kept when its checks number ``checks`` (``[lo, hi]``). For the
    ``coordinated`` form one or two groups of the same shape in other colours join a group of
    one (as "a red and a blue circle" needs); realisability is checked as for long-form. The
    v1 suite uses the defaults, the Hard level's ``gen_forms`` split
    (:mod:`poser_env.world.suites.levels`) Hard's lengths; the draws are in one fixed order, so
    the committed files of both regenerate byte for byte."""
    from poser_env.world.suites.forms import forms_prompt

    target = sample_longform_target(rng, n_constraints=int(rng.integers(*constraints)))
    if category == "coordinated":
        base = [g for g in target.groups if g.count == 1 and g.size is None and g.color is not None]
        if not base:
            return None
        g0 = _pick(rng, base)
        groups = list(target.groups)
        for _ in range(int(rng.integers(1, 3))):
            new = ObjectGroup(g0.shape, _pick(rng, list(vocab.COLORS)))
            if sum(g.count for g in groups) < 8 and not any(conflicts(new, g) or new == g for g in groups):
                groups.append(new)
        target = dataclasses.replace(target, groups=tuple(groups))
    if category == "relation_wording" and target.relations and rng.random() < 0.35:
        # A second, orthogonal relation of one pair, stated as one compound phrase ("to the
        # upper left of": two checks).
        r = _pick(rng, list(target.relations))
        rel = _pick(rng, ["left of", "right of"] if r.rel in ("above", "below") else ["above", "below"])
        target = dataclasses.replace(target, relations=(*target.relations, Relation(r.a, rel, r.b)))
    if not checks[0] <= len(checks_for(target)) <= checks[1]:
        return None
    prompt = forms_prompt(target, category, rng)
    if prompt is None:
        return None
    return Candidate(prompt, target, finish=lambda r: realises(target, r))


def forms_editing_candidate(
    category: str,
    rng: np.random.Generator,
    sources: tuple[int, int] = (2, 6),
    chain: tuple[int, int] = (2, 6),
    min_edits: int = 0,
) -> Candidate | None:
    """An editing task (as :func:`editing_candidate`) with at least one clause in form ``category``."""
    from poser_env.world.suites.forms import forms_editing_prompt
    from poser_env.world.suites.prompts import edit_clause

    return editing_candidate(
        rng,
        sources=sources,
        chain=chain,
        min_edits=min_edits,
        prompt_fn=lambda edits, r: forms_editing_prompt(edits, r, category, edit_clause),
    )


_CANDIDATES: dict[str, Callable[[str, np.random.Generator], Candidate | None]] = {
    "geneval": _geneval_candidate,
    "longform": _longform_candidate,
    "editing": _editing_candidate,
    "forms": forms_candidate,
    "forms_editing": forms_editing_candidate,
}


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


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
            tasks.append(candidate_task(cand, suite, split, category, len(tasks)))
            made += 1
    return tasks


def split_text(suite: str, split: str) -> str:
    """The exact file content of one (suite, split)."""
    return "".join(task_line(t) + "\n" for t in generate_split(suite, split))


def all_pairs() -> list[tuple[str, str]]:
    """Every generated (suite, split) of the base generator: the v0 suites and the v1 forms suites."""
    return [(s, p) for s in SUITES + FORMS_SUITES for p in SPLITS]


def generate_all(out_dir: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None) -> list[Path]:
    """Write every (or the given) (suite, split) file under ``out_dir``; return the paths."""
    written = []
    for suite, split in pairs if pairs is not None else all_pairs():
        path = suite_file(suite, split, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(split_text(suite, split), encoding="utf-8")
        written.append(path)
    return written


def check_files(root: str | Path | None = None, pairs: Iterable[tuple[str, str]] | None = None) -> str | None:
    """Regenerate and compare with the files under ``root``: None if identical, else the first
    difference (file, line number, both lines)."""
    pairs = list(pairs) if pairs is not None else all_pairs()
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
