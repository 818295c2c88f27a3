"""The reader on the forms of issue 12: each example's right reading, what is reported as not
understood, and linear time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poser_env.world.checks import ObjectGroup
from poser_env.world.parse import Reading, read
from poser_env.world.scene import SceneObject


def G(shape, color=None, size=None, count=1):
    return ObjectGroup(shape, color, size, count)


def draws(r: Reading) -> list[ObjectGroup]:
    return [i.group for i in r.intents if i.op == "draw"]


def rels(r: Reading) -> list[tuple]:
    return [(i.group.shape, i.rel, i.other.shape) for i in r.intents if i.op in ("relate", "move")]


def unread(text: str, r: Reading | None = None) -> list[str]:
    r = r if r is not None else read(text)
    return [text[a:b] for a, b in r.unread]


# 1. Objects introduced with "the"


def test_definite_phrases_introduce_their_object():
    r = read("The yellow square rests on top of the purple hexagon.")
    assert draws(r) == [G("square", "yellow"), G("hexagon", "purple")]
    assert rels(r) == [("square", "above", "hexagon")] and unread("", r) == []
    r = read("The red star sits next to the green triangle.")
    assert draws(r) == [G("star", "red"), G("triangle", "green")] and rels(r) == []
    assert unread("The red star sits next to the green triangle.") == ["next to"]


def test_definite_phrases_refer_to_mentions_and_source_objects():
    r = read("Draw a red circle and a blue star. The red circle is above the blue star.")
    assert draws(r) == [G("circle", "red"), G("star", "blue")] and not r.introduced
    src = [SceneObject("circle", "red", "large", 0.3, 0.3)]
    r = read("Put a star below the red circle.", present=src)
    assert draws(r) == [G("star")] and rels(r) == [("star", "below", "circle")]
    assert draws(read("Put a star below the red circle.")) == [G("star"), G("circle", "red")]


# 2. Relation wordings


@pytest.mark.parametrize(
    "phrase, rel",
    [
        ("on top of", "above"),
        ("on the top of", "above"),
        ("atop", "above"),
        ("over", "above"),
        ("beneath", "below"),
        ("under", "below"),
        ("underneath", "below"),
        ("on the bottom of", "below"),
        ("just left of", "left of"),
        ("is placed above", "above"),
        ("hangs over", "above"),
        ("rests beneath", "below"),
    ],
)
def test_relation_wordings(phrase, rel):
    text = f"a red circle {phrase} a blue star"
    r = read(text)
    assert rels(r) == [("circle", rel, "star")] and unread(text, r) == []


def test_compound_fronted_chained_and_coordinated_relations():
    assert rels(read("a star to the upper left of a circle")) == [
        ("star", "above", "circle"),
        ("star", "left of", "circle"),
    ]
    assert rels(read("a star above and to the right of a circle")) == [
        ("star", "above", "circle"),
        ("star", "right of", "circle"),
    ]
    r = read("Below the circle there is a small red square")
    assert rels(r) == [("square", "below", "circle")] and G("square", "red", "small") in draws(r)
    assert rels(read("To the right of the star sits a heart")) == [("heart", "right of", "star")]
    assert rels(read("a circle below the square and the triangle")) == [
        ("circle", "below", "square"),
        ("circle", "below", "triangle"),
    ]
    assert rels(read("Paint a purple circle; below it, a yellow square.")) == [("square", "below", "circle")]


@pytest.mark.parametrize("phrase", ["near", "next to", "beside", "inside", "behind", "between", "in front of"])
def test_relations_the_world_cannot_check_are_reported(phrase):
    text = f"a red circle {phrase} a blue star"
    r = read(text)
    assert rels(r) == [] and draws(r) == [G("circle", "red"), G("star", "blue")]
    assert unread(text, r) == [phrase] and r.coverage < 1.0


def test_relations_between_groups_are_reported_not_checked():
    r = read("three squares above a circle")
    assert rels(r) == [] and unread("three squares above a circle", r) == ["above"]


# 3. and 4. Bare plurals, no determiner, words between determiner and noun


@pytest.mark.parametrize(
    "text, groups",
    [
        ("a green square and orange stars", [G("square", "green"), G("star", "orange")]),
        ("stars and a circle", [G("star"), G("circle")]),
        ("five bright red hearts", [G("heart", "red", count=5)]),
        ("two deep purple-coloured stars", [G("star", "purple", count=2)]),
        ("a vivid, orange heart", [G("heart", "orange")]),
        ("a trio of white squares", [G("square", "white", count=3)]),
        ("a pair of squares", [G("square", count=2)]),
        ("a couple of huge blue squares", [G("square", "blue", "large", 2)]),
    ],
)
def test_noun_phrases(text, groups):
    r = read(text)
    assert draws(r) == groups and unread(text, r) == []


def test_vague_quantities_are_at_least_one_and_reported():
    r = read("a few stars")
    assert draws(r) == [G("star")] and unread("a few stars", r) == ["a few"]


# 5. Colour words in descriptive clauses


def test_colours_of_other_things_make_no_check():
    text = "The hexagons stand out against the green grass"
    r = read(text)
    assert draws(r) == [G("hexagon")] and "green grass" in " ".join(unread(text, r))
    text = "a heart beneath the pale pink of the evening sky"
    r = read(text)
    assert draws(r) == [G("heart")] and all(
        i.color is None and (i.group is None or i.group.color is None) for i in r.intents
    )
    assert unread(text, r)


# 6. Distributive and coordinated attributes


@pytest.mark.parametrize(
    "text, groups",
    [
        ("two stars, one green and the other purple", [G("star", "green"), G("star", "purple")]),
        ("a red and a blue circle", [G("circle", "red"), G("circle", "blue")]),
        ("red, green and blue squares", [G("square", "red"), G("square", "green"), G("square", "blue")]),
    ],
)
def test_distributive_colours(text, groups):
    r = read(text)
    assert draws(r) == groups and unread(text, r) == []


def test_a_two_coloured_object_is_reported():
    r = read("a red and blue circle")
    assert draws(r) == [G("circle")] and unread("a red and blue circle", r) == ["red and blue"]


# 7. Styles


@pytest.mark.parametrize(
    "text, style",
    [
        ("a star in a watercolour-wash style", "watercolor"),
        ("a star as a pencil sketch", "sketch"),
        ("a pencil-sketch of a star", "sketch"),
        ("a star drawn as pixel art", "pixel-art"),
        ("an 8-bit star", "pixel-art"),
    ],
)
def test_style_wordings(text, style):
    r = read(text)
    assert [i.style for i in r.intents if i.op == "style"] == [style] and unread(text, r) == []


def test_a_plain_background_is_no_style():
    r = read("a star on a plain background")
    assert [i.op for i in r.intents] == ["draw"] and unread("a star on a plain background", r) == [
        "on a plain background"
    ]


# 8. Edits


def test_recolour_of_a_plural_and_shape_change():
    (i,) = read("make the circles orange").intents
    assert (i.op, i.group, i.color) == ("recolor", G("circle"), "orange")
    r = read("turn the triangle into a square")
    assert r.intents == () and unread("turn the triangle into a square", r) == ["the triangle into a square"]
    assert r.unread_refs == (G("triangle"),)
    (i,) = read("turn the blue square into a yellow one").intents
    assert (i.op, i.color) == ("recolor", "yellow")


# 9. Anything outside the world


@pytest.mark.parametrize(
    "text, spans",
    [
        ("a red star and a wooden bench", ["a wooden bench"]),
        ("a red star in the ocean", ["in the ocean"]),
        ("a blue circle at the end of the pier", ["at the end of the pier"]),
        ("a shiny star", ["shiny"]),
    ],
)
def test_words_outside_the_world(text, spans):
    r = read(text)
    assert unread(text, r) == spans and r.coverage < 1.0


def test_function_words_are_ignorable():
    r = read("Please draw me a picture of a red circle.")
    assert r.unread == () and r.coverage == 1.0


# Never raises, linear


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises(text):
    r = read(text, present=[SceneObject("circle", "red", "small", 0.5, 0.5)])
    assert 0.0 <= r.coverage <= 1.0
    assert all(0 <= a <= b <= len(text) for a, b in r.unread)


def test_work_grows_linearly_with_length(monkeypatch):
    """Counted, not timed: the table look-ups (the parser's unit of work) for a text 8 times
    longer are at most about 8 times as many."""
    from poser_env.world import chunks, clause_read
    from poser_env.world import parse as parse_module

    calls = [0]
    real = chunks.match

    def counting(*args):
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(chunks, "match", counting)
    monkeypatch.setattr(parse_module, "match", counting)
    monkeypatch.setattr(clause_read, "match", counting)
    base = (
        "Below the circle there is a small red square next to a wooden bench, and two stars, one green and the "
        "other purple; red, green and blue squares above the large heart. "
    )
    work = []
    for n in (10, 80):
        calls[0] = 0
        read(base * n + f"{n} more")
        work.append(calls[0])
    assert work[1] <= 8.5 * work[0], work
    calls[0] = 0
    read("red " * 4000 + "star")  # one long chunk attempt, no quadratic rescans
    assert calls[0] < 20 * 4000
