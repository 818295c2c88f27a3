"""Checks (questions and the judge), target sampling and realisation, and the layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poser_env.types import Check
from poser_env.world import vocab
from poser_env.world.checks import (
    PRESERVE_TOLERANCE,
    SAME_POSITION_TOLERANCE,
    ObjectGroup,
    Relation,
    SpecError,
    Target,
    answer,
    checks_for,
    preserve_check,
    preserve_match,
    region_name,
    score,
)
from poser_env.world.geometry import boxes_overlap, relations_between
from poser_env.world.layout import BORDER, GAP, LayoutError, holds_firmly, place
from poser_env.world.sampling import (
    MAX_OBJECTS,
    conflicts,
    perturb_target,
    realize,
    sample_longform,
    sample_longform_target,
)
from poser_env.world.scene import DetectedObject, DetectedScene, Scene, SceneError, SceneObject


def obj(shape="circle", color="red", x=0.5, y=0.5, size="small") -> SceneObject:
    return SceneObject(shape, color, size, x, y)


def scene(*objects: SceneObject, **kw) -> Scene:
    return Scene(objects=objects, **kw)


# --------------------------------------------------------------------------------------------
# Target -> checks
# --------------------------------------------------------------------------------------------


def test_checks_for_questions_and_categories():
    red = ObjectGroup("circle", "red")
    star = ObjectGroup("star", "blue", "large")
    target = Target(
        groups=(red, star, ObjectGroup("hexagon"), ObjectGroup("heart", "orange", count=3)),
        relations=(Relation(red, "left of", star),),
        absent=(ObjectGroup("square", "green", count=0),),
        preserve=(obj("triangle", "pink", 0.1, 0.1),),
        background="mint",
        style="watercolour",
        clean=True,
    )
    got = [(c.question, c.category) for c in checks_for(target)]
    assert got == [
        ("Is there a red circle?", "color"),
        ("Is there a large blue star?", "attribute"),
        ("Is there a hexagon?", "object"),
        ("Are there exactly three orange hearts?", "count"),
        ("Is the red circle to the left of the large blue star?", "position"),
        ("Are there no green squares in the image?", "object"),
        ("Is the small pink triangle still in the top left?", "preserve"),
        ("Is the background mint?", "background"),
        ("Is the image drawn in the watercolor style?", "style"),
        ("Is the image free of noise and speckles?", "quality"),
    ]
    assert all(c.question.endswith("?") for c in checks_for(target))
    assert checks_for(Target()) == []
    assert checks_for(Target(groups=(ObjectGroup("circle", "orange"),)))[0].question == "Is there an orange circle?"


def test_region_names():
    assert region_name(0.5, 0.5) == "in the centre"
    assert region_name(0.1, 0.5) == "on the left"
    assert region_name(0.5, 0.9) == "at the bottom"
    assert region_name(0.9, 0.1) == "in the top right"


def test_check_equality_is_by_spec_and_questions_are_sentences():
    a = Check("Is there a red circle?", "color", {"kind": "exists", "shape": "circle"})
    b = Check("Any red circle?", "color", {"kind": "exists", "shape": "circle"})
    assert a == b and hash(a) == hash(b)
    with pytest.raises(ValueError, match="ending with '\\?'"):
        Check("There is a circle.", "object")
    with pytest.raises(ValueError, match="unknown check category 'shape'"):
        Check("Is there a circle?", "shape")
    assert Check.from_dict(a.to_dict()) == a


def test_target_round_trips_through_dict():
    red = ObjectGroup("circle", "red", "small")
    t = Target(
        groups=(red, ObjectGroup("star", count=2)),
        relations=(Relation(red, "above", ObjectGroup("star")),),
        absent=(ObjectGroup("heart", "black", count=0),),
        preserve=(obj(x=0.123456),),
        background="beige",
        style="pixel-art",
    )
    back = Target.from_dict(t.to_dict())
    assert back.to_dict() == t.to_dict()
    assert set(checks_for(back)) == set(checks_for(t))


# --------------------------------------------------------------------------------------------
# The judge
# --------------------------------------------------------------------------------------------


def _q(kind, **spec):
    return {"kind": kind, **spec}


def test_answer_objects_counts_and_absence():
    s = scene(obj("circle", "red", 0.2, 0.2), obj("circle", "red", 0.8, 0.2), obj("star", "blue", 0.5, 0.8, "large"))
    assert answer(_q("exists", shape="circle", color="red", size=None, n=1), s)
    assert answer(_q("exists", shape="star", color=None, size="large", n=1), s)
    assert not answer(_q("exists", shape="star", color=None, size="small", n=1), s)
    assert answer(_q("count", shape="circle", color="red", size=None, n=2), s)
    assert not answer(_q("count", shape="circle", color=None, size=None, n=3), s)
    assert answer(_q("absent", shape="heart", color=None, size=None, n=0), s)
    assert not answer(_q("absent", shape="circle", color="red", size=None, n=0), s)
    # Count 1 means "at least one", as the question says.
    (c,) = checks_for(Target(groups=(ObjectGroup("circle", "red"),)))
    assert answer(c, s)


def test_answer_relations_follow_genevals_rule():
    left, right = obj("circle", "red", 0.2, 0.5), obj("star", "blue", 0.8, 0.5)
    s = scene(left, right)
    spec = lambda rel, a=("circle", "red"), b=("star", "blue"): _q(  # noqa: E731
        "relation",
        a={"shape": a[0], "color": a[1], "size": None},
        rel=rel,
        b={"shape": b[0], "color": b[1], "size": None},
    )
    assert answer(spec("left of"), s) and not answer(spec("right of"), s)
    assert answer(spec("right of", ("star", "blue"), ("circle", "red")), s)
    assert not answer(spec("above"), s) and not answer(spec("below"), s)
    # A diagonal offset counts for both directions; a mostly vertical one only for the vertical.
    diag = scene(obj("circle", "red", 0.25, 0.25), obj("star", "blue", 0.75, 0.75))
    assert relations_between(diag.objects[0].bbox, diag.objects[1].bbox) == {"left of", "above"}
    steep = scene(obj("circle", "red", 0.5, 0.15), obj("star", "blue", 0.58, 0.85))
    assert answer(spec("above"), steep) and not answer(spec("left of"), steep)
    # Within the margin (0.1 x the boxes' sizes) there is no relation at all.
    close = scene(obj("circle", "red", 0.5, 0.5), obj("star", "blue", 0.51, 0.5))
    assert not any(answer(spec(r), close) for r in vocab.RELATIONS)
    # Any pair of matching objects will do; an object is never related to itself.
    two = scene(obj("circle", "red", 0.9, 0.5), obj("circle", "red", 0.1, 0.5), obj("star", "blue", 0.5, 0.5))
    assert answer(spec("left of"), two) and answer(spec("right of"), two)
    assert not answer(spec("left of", ("circle", "red"), ("circle", "red")), scene(left))


def test_answer_background_style_clean():
    s = scene(background="lavender", style="sketch", noise=0.05)
    assert answer(_q("background", color="lavender"), s)
    assert not answer(_q("background", color="gray"), s)
    assert answer(_q("style", style="sketch"), s)
    assert not answer(_q("clean"), s)
    assert answer(_q("clean"), s.replace(noise=0.0))
    assert not answer(_q("clean"), s.replace(noise=0.0, speckles=3))


def test_answer_preserve_tolerance():
    o = obj("heart", "pink", 0.3, 0.6)
    (c,) = checks_for(Target(preserve=(o,)))
    assert answer(c, scene(o))
    d = PRESERVE_TOLERANCE * 0.9
    assert answer(c, scene(o.moved(0.3 + d, 0.6 - d)))
    assert not answer(c, scene(o.moved(0.3 + PRESERVE_TOLERANCE * 1.2, 0.6)))
    assert not answer(c, scene(SceneObject("heart", "red", "small", 0.3, 0.6)))
    assert not answer(c, scene(SceneObject("heart", "pink", "large", 0.3, 0.6)))


def test_preserve_match_one_rule_two_tolerances():
    o = obj("heart", "pink", 0.3, 0.6)
    spec = preserve_check(o).spec
    reading = preserve_check(o.moved(0.33, 0.6)).spec  # another preserve spec, 0.03 away
    assert preserve_match(spec, o.moved(0.33, 0.6), PRESERVE_TOLERANCE)  # kept: judged by answer
    assert preserve_match(spec, reading, PRESERVE_TOLERANCE)
    assert not preserve_match(spec, reading, SAME_POSITION_TOLERANCE)  # not the same request
    assert not preserve_match(spec, {**reading, "color": "red"}, PRESERVE_TOLERANCE)
    assert not preserve_match(spec, {k: v for k, v in reading.items() if k != "x"}, PRESERVE_TOLERANCE)
    assert preserve_match({**spec, "color": None}, SceneObject("heart", "red", "small", 0.3, 0.6), PRESERVE_TOLERANCE)


def test_answer_works_on_detected_scenes():
    det = DetectedScene(
        objects=[DetectedObject("square", "green", "small", 0.2, 0.5, (0.13, 0.43, 0.27, 0.57))],
        background="beige",
    )
    (c,) = checks_for(Target(groups=(ObjectGroup("square", "green"),)))
    assert answer(c, det)
    assert score([c, Check("Is the background mint?", "background", {"kind": "background", "color": "mint"})], det) == (
        [True, False],
        0.5,
    )
    assert score([], det) == ([], 1.0)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "teleport"},
        {},
        {"kind": "count", "shape": "circle", "color": None, "size": None},  # no n
        {"kind": "relation", "a": {"shape": "circle", "color": None, "size": None}, "rel": "left of"},  # no b
        {"kind": "exists", "shape": "blob", "color": None, "size": None, "n": 1},
        {"kind": "exists", "color": "red", "n": 1},  # no shape
    ],
)
def test_malformed_check_specs_raise_spec_error(spec):
    with pytest.raises(SpecError):
        answer(spec, scene(obj()))


@pytest.mark.parametrize(
    "bad",
    [
        {"groups": [{"shape": "circle", "colour": "red"}]},
        {"groups": [{"color": "red"}]},
        {"groups": [{"shape": "circle", "count": 6}]},
        {"relations": [{"a": {"shape": "circle"}, "rel": "left of"}]},
        {"shapes": []},
        {"groups": ["circle"]},
        {"groups": [{"shape": "circle", "count": True}]},
    ],
)
def test_malformed_targets_raise_spec_error(bad):
    with pytest.raises((SpecError, SceneError)):
        Target.from_dict(bad)


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda: ObjectGroup("blob"), ["unknown shape 'blob'", "circle, square, triangle"]),
        (lambda: ObjectGroup("circle", "teal"), ["unknown colour 'teal'", "red, orange"]),
        (lambda: ObjectGroup("circle", size="huge"), ["unknown size 'huge'", "small, large"]),
        (lambda: Target(style="cubist"), ["unknown style 'cubist'", "plain, pixel-art"]),
        (lambda: Target(background="teal"), ["unknown background 'teal'", "gray, beige"]),
        (lambda: Relation(ObjectGroup("circle"), "near", ObjectGroup("star")), ["unknown relation 'near'", "left of"]),
        (lambda: obj(color="grey"), ["unknown colour 'grey'"]),
    ],
)
def test_vocabulary_errors_name_the_allowed_values(make, words):
    with pytest.raises(vocab.VocabularyError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_style_spellings_are_accepted():
    assert Target(style="watercolour").style == "watercolor"
    assert Target(style="pixel art").style == "pixel-art"
    assert Scene(style="line drawing").style == "sketch"


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


def _inside(o: SceneObject) -> bool:
    x0, y0, x1, y1 = o.bbox
    return x0 >= BORDER - 1e-9 and y0 >= BORDER - 1e-9 and x1 <= 1 - BORDER + 1e-9 and y1 <= 1 - BORDER + 1e-9


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 7))
def test_layout_never_overlaps_and_stays_inside(seed, n):
    rng = np.random.default_rng(seed)
    items = [(str(rng.choice(vocab.SHAPES)), "red", "large" if rng.random() < 0.3 else "small") for _ in range(n)]
    objs = place(items, rng)
    assert [(o.shape, o.color, o.size) for o in objs] == items
    assert all(_inside(o) for o in objs)
    assert not any(boxes_overlap(a.bbox, b.bbox, GAP - 1e-9) for i, a in enumerate(objs) for b in objs[i + 1 :])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rel=st.sampled_from(vocab.RELATIONS))
def test_layout_relations_hold_firmly(seed, rel):
    rng = np.random.default_rng(seed)
    fixed = [SceneObject("square", "blue", "small", 0.5, 0.5)]
    objs = place(
        [("circle", "red", "small"), ("star", "green", "large")],
        rng,
        relations=[(1, rel, 0), (0, vocab.INVERSE_RELATION[rel], 2)],
        fixed=fixed,
    )
    every = fixed + objs
    assert holds_firmly(every[1].bbox, rel, every[0].bbox)
    assert holds_firmly(every[0].bbox, vocab.INVERSE_RELATION[rel], every[2].bbox)
    assert rel in relations_between(every[2].bbox, every[0].bbox)  # the rule is symmetric


def test_layout_is_deterministic_and_reports_impossible_requests():
    items = [("circle", "red", "small"), ("star", "blue", "small")]
    assert place(items, np.random.default_rng(3)) == place(items, np.random.default_rng(3))
    with pytest.raises(LayoutError, match="relations contradict"):
        place(items, np.random.default_rng(0), relations=[(0, "left of", 1), (1, "left of", 0)], restarts=2, tries=50)
    with pytest.raises(LayoutError):
        place([("hexagon", "red", "large")] * 30, np.random.default_rng(0), restarts=2, tries=50)


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def test_conflicts():
    assert conflicts(ObjectGroup("circle"), ObjectGroup("circle", "red"))
    assert conflicts(ObjectGroup("circle", "red", "small"), ObjectGroup("circle", "red", "large"))
    assert not conflicts(ObjectGroup("circle", "red"), ObjectGroup("circle", "blue"))
    assert not conflicts(ObjectGroup("circle"), ObjectGroup("star"))


def test_longform_targets_have_the_requested_size_and_no_conflicts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(4, 11))
        t = sample_longform_target(rng, n)
        assert len(checks_for(t)) == n
        assert sum(g.count for g in t.groups) <= MAX_OBJECTS
        groups = list(t.groups)
        assert not any(conflicts(a, b) for i, a in enumerate(groups) for b in groups[i + 1 :])
        keys = {(g.shape, g.color, g.size) for g in groups if g.count == 1}
        for r in t.relations:
            assert (r.a.shape, r.a.color, r.a.size) in keys and (r.b.shape, r.b.color, r.b.size) in keys


def test_realised_scenes_satisfy_their_targets_exactly():
    rng = np.random.default_rng(1)
    for _ in range(60):
        t, s = sample_longform(rng)
        assert all(answer(c, s) for c in checks_for(t))
        # No stray objects: every object belongs to exactly one group, counts are exact.
        assert len(s.objects) == sum(g.count for g in t.groups)
        assert all(sum(g.matches(o) for g in t.groups) == 1 for o in s.objects)
        assert not any(
            boxes_overlap(a.bbox, b.bbox, GAP - 1e-9) for i, a in enumerate(s.objects) for b in s.objects[i + 1 :]
        )
        for r in t.relations:
            a = next(o for o in s.objects if r.a.matches(o))
            b = next(o for o in s.objects if r.b.matches(o))
            assert holds_firmly(a.bbox, r.rel, b.bbox)


def test_realize_keeps_preserved_objects_and_base_settings():
    keep = obj("square", "green", 0.15, 0.15)
    base = scene(keep, background="beige", style="sketch")
    t = Target(
        groups=(ObjectGroup("star", "red"),),
        relations=(Relation(ObjectGroup("star", "red"), "right of", ObjectGroup("square", "green")),),
        preserve=(keep,),
    )
    s = realize(t, np.random.default_rng(0), base=base)
    assert s.objects[0] == keep and (s.background, s.style) == ("beige", "sketch")
    assert all(answer(c, s) for c in checks_for(t))


def test_sampling_is_reproducible():
    a = sample_longform(np.random.default_rng(42))
    b = sample_longform(np.random.default_rng(42))
    assert a[0].to_dict() == b[0].to_dict() and a[1].to_dict() == b[1].to_dict()


def test_perturbed_targets_give_a_mix_of_true_and_false():
    rng = np.random.default_rng(5)
    results = []
    for _ in range(100):
        t, s = sample_longform(rng)
        results += [answer(c, s) for c in checks_for(perturb_target(t, rng))]
    share = np.mean(results)
    assert 0.25 < share < 0.75
    t, s = sample_longform(rng)
    assert all(answer(c, s) for c in checks_for(perturb_target(t, rng, p=0.0)))
