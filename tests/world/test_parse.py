"""The grammar parser: every committed prompt reads back to its target, tricky surface forms,
and no string ever makes it raise."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poser_env.world import language as L
from poser_env.world import parse as parse_module
from poser_env.world.checks import (
    ObjectGroup,
    Relation,
    background_check,
    checks_for,
    clean_check,
    group_check,
    relation_check,
    style_check,
)
from poser_env.world.intents import OPS, Intent
from poser_env.world.parse import clause_spans, clauses, parse, tokenize
from poser_env.world.suites import SPLITS, SUITES, load_suite


def checks_of(intents: list[Intent]) -> set:
    """The checks a list of intents asks for (built here with the suites' builders)."""
    out = set()
    for i in intents:
        g = i.group
        if i.op == "draw":
            out.add(group_check(g))
        elif i.op in ("relate", "move"):
            out.add(relation_check(Relation(g, i.rel, i.other)))
        elif i.op in ("absent", "remove"):
            out.add(group_check(ObjectGroup(g.shape, g.color, g.size, 0)))
        elif i.op == "recolor":
            out.add(group_check(ObjectGroup(g.shape, i.color, g.size)))
            out.add(group_check(ObjectGroup(g.shape, g.color, g.size, 0)))
        elif i.op == "background":
            out.add(background_check(i.color))
        elif i.op == "style":
            out.add(style_check(i.style))
        elif i.op == "clean":
            out.add(clean_check())
    return out


def G(shape, color=None, size=None, count=1):
    return ObjectGroup(shape, color, size, count)


def ops(text):
    return [i.op for i in parse(text)]


# --------------------------------------------------------------------------------------------
# Every committed task
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_every_committed_prompt_parses_to_its_target(suite):
    """Generation: the intents ask for exactly the target's checks. Editing: exactly the
    target's checks other than preservation (which needs the source image)."""
    fails, n = [], 0
    for split in SPLITS:
        for task in load_suite(suite, split):
            n += 1
            want = {c for c in checks_for(task.target) if c.spec.get("kind") != "preserve"}
            got = checks_of(parse(task.prompt))
            if got != want:
                fails.append((task.id, task.prompt, sorted(c.question for c in want ^ got)))
    rate = 1 - len(fails) / n
    print(f"\nparse agreement {suite}: {100 * rate:.2f}% of {n}; failures: {fails[:5]}")
    assert rate >= 0.99, fails[:10]


_EDIT_OPS = {
    "add": {"draw", "relate"},
    "remove": {"remove"},
    "recolor": {"recolor"},
    "move": {"move", "relate"},
    "background": {"background"},
    "style": {"style"},
}


def test_editing_clauses_follow_the_edits_in_order():
    """One clause per edit, in order: the intents of clause k carry edit k's operation."""
    for split in SPLITS:
        for task in load_suite("editing", split):
            by_clause = defaultdict(set)
            for i in parse(task.prompt):
                by_clause[i.clause].add(i.op)
            assert len(clauses(task.prompt)) == len(task.edits) + 1, task.prompt  # + the "keep" sentence
            for k, edit in enumerate(task.edits):
                assert by_clause[k] and by_clause[k] <= _EDIT_OPS[edit["op"]], (task.prompt, k, by_clause[k])
                assert {i.op for i in parse(edit["text"])} == by_clause[k]


def test_parse_is_fast_on_suite_prompts():
    prompts = [t.prompt for t in load_suite("longform", "val")]
    parse_module._parse.cache_clear()
    t0 = time.perf_counter()
    for p in prompts:
        parse(p)
    per_prompt = (time.perf_counter() - t0) / len(prompts)
    print(f"\nparse: {1e6 * per_prompt:.0f} us per long-form prompt (uncached)")
    assert per_prompt < 5e-3
    t0 = time.perf_counter()
    for p in prompts:
        parse(p)
    assert (time.perf_counter() - t0) / len(prompts) < 1e-4  # cached


# --------------------------------------------------------------------------------------------
# Surface forms
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, group",
    [
        ("a red circle", G("circle", "red")),
        ("an orange star", G("star", "orange")),
        ("one hexagon", G("hexagon")),
        ("a single large green heart", G("heart", "green", "large")),
        ("one single tiny square", G("square", size="small")),
        ("3 big stars", G("star", size="large", count=3)),
        ("three big stars", G("star", size="large", count=3)),
        ("exactly 4 blue triangles", G("triangle", "blue", count=4)),
        ("exactly five little pink hexagons", G("hexagon", "pink", "small", 5)),
        ("Two Circles", G("circle", count=2)),
    ],
)
def test_counts_digits_and_words(text, group):
    (intent,) = parse(text)
    assert intent.op == "draw" and intent.group == group


@pytest.mark.parametrize("phrase", [p for ps in L.RELATION_PHRASES.values() for p in ps])
def test_every_relation_phrasing(phrase):
    rel = L.RELATION_LOOKUP[phrase]
    intents = parse(f"a red circle {phrase} a blue star")
    assert [i.op for i in intents] == ["draw", "relate", "draw"]
    r = intents[1]
    assert (r.group, r.rel, r.other) == (G("circle", "red"), rel, G("star", "blue"))


@pytest.mark.parametrize(
    "text, a, rel, b",
    [
        (
            "The big red circle is to the left of the blue star.",
            G("circle", "red", "large"),
            "left of",
            G("star", "blue"),
        ),
        ("The red circle sits right of the star.", G("circle", "red"), "right of", G("star")),
        ("Place the heart above the square.", G("heart"), "above", G("square")),
        ("On the left side of the blue star is the red circle.", G("circle", "red"), "left of", G("star", "blue")),
        ("Below the heart is the tiny square.", G("square", size="small"), "below", G("heart")),
        ("To the right of the green hexagon, add a pink heart", G("heart", "pink"), "right of", G("hexagon", "green")),
    ],
)
def test_relation_sentences_and_inverted_forms(text, a, rel, b):
    (r,) = [i for i in parse(text) if i.op in ("relate", "move")]
    assert (r.group, r.rel, r.other) == (a, rel, b)


def test_definite_references_state_nothing():
    assert parse("The red circle is nice.") == []
    assert parse("the star") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Use a grey background.", "gray"),
        ("The background is gray.", "gray"),
        ("Set the scene against a light blue backdrop.", "sky blue"),
        ("Make the background sky-blue", "sky blue"),
        ("replace the background with mint-green", "mint"),
        ("Put everything on a mint green background.", "mint"),
    ],
)
def test_backgrounds_and_spellings(text, expected):
    assert [(i.op, i.color) for i in parse(text)] == [("background", expected)]


def test_background_colour_words_are_not_objects():
    intents = parse("There is a blue star on a light blue background.")
    assert [(i.op, i.group or i.color) for i in intents] == [("draw", G("star", "blue")), ("background", "sky blue")]
    assert "background" not in ops("a mint green circle")  # no background noun, no background


@pytest.mark.parametrize(
    "text, style",
    [
        ("Render everything in watercolour style.", "watercolor"),
        ("The whole image is in watercolor style.", "watercolor"),
        ("Make the picture look like a line drawing.", "sketch"),
        ("Style: 8-bit.", "pixel-art"),
        ("Draw everything as pixel art.", "pixel-art"),
        ("Use a flat style.", "plain"),
        ("convert the image to water-colour style", "watercolor"),
    ],
)
def test_styles_british_and_american(text, style):
    assert [(i.op, i.style) for i in parse(text)] == [("style", style)]


def test_edit_operations():
    (r,) = parse("take away the brown circle")
    assert (r.op, r.group) == ("remove", G("circle", "brown"))
    for text in (
        "recolour the red heart blue",
        "recolor the red heart to blue",
        "paint the red heart blue",
        "change the colour of the red heart to blue",
        "change the color of the red heart to blue",
        "turn the red heart blue",
        "make the red heart blue",
    ):
        (r,) = parse(text)
        assert (r.op, r.group, r.color) == ("recolor", G("heart", "red"), "blue"), text
    (m,) = parse("move the red square so that the red square is below the white triangle")
    assert (m.op, m.group, m.rel, m.other) == ("move", G("square", "red"), "below", G("triangle", "white"))
    add = parse("insert a large pink hexagon to the left of the red circle")
    assert [(i.op, i.group) for i in add] == [
        ("draw", G("hexagon", "pink", "large")),
        ("relate", G("hexagon", "pink", "large")),
    ]
    assert add[1].other == G("circle", "red")
    assert [(i.op, i.style) for i in parse("turn the image into pixel art")] == [("style", "pixel-art")]


def test_absent_and_clean():
    assert [(i.op, i.group) for i in parse("There are no red stars.")] == [("absent", G("star", "red", count=0))]
    assert [(i.op, i.group) for i in parse("a circle without any squares")] == [
        ("draw", G("circle")),
        ("absent", G("square", count=0)),
    ]
    for text in ("no noise", "remove the speckles", "make it clean", "a crisp image"):
        assert ops(text) == ["clean"], text


def test_clause_order_and_connectors():
    text = "First, add a red star. Then remove the blue circle; after that, make the background beige, and then restyle the image as a sketch. Keep everything else unchanged."
    assert clauses(text) == [
        "add a red star",
        "remove the blue circle",
        "make the background beige",
        "restyle the image as a sketch",
        "Keep everything else unchanged",
    ]
    assert [(i.op, i.clause) for i in parse(text)] == [("draw", 0), ("remove", 1), ("background", 2), ("style", 3)]
    # Commas in item lists never split a clause.
    assert len(clauses("There are a red circle, two stars, and a large hexagon.")) == 1
    assert clause_spans("") == [] and clauses("...;;,") == []


def test_intents_are_in_text_order_within_a_clause():
    intents = parse("On a beige background, draw a heart and two stars, in watercolour style")
    assert [i.op for i in intents] == ["background", "draw", "draw", "style"]


# --------------------------------------------------------------------------------------------
# Never raises
# --------------------------------------------------------------------------------------------

_VOCAB = sorted(
    {
        w
        for table in (
            L.COUNT_LOOKUP,
            L.SHAPE_LOOKUP,
            L.COLOR_LOOKUP,
            L.SIZE_LOOKUP,
            L.RELATION_LOOKUP,
            L.BACKGROUND_LOOKUP,
            L.STYLE_LOOKUP,
        )
        for w in table
    }
    | {
        "the",
        "background",
        "backdrop",
        "style",
        "no",
        "without",
        "then",
        "and",
        ",",
        ".",
        ";",
        "remove",
        "move",
        "recolor",
        "to",
        "is",
        "add",
        "noise",
        "of",
        "exactly",
        "make",
        "change",
        "colour",
        "!",
        "?",
        ":",
        "-",
    }
)


def _valid(intents):
    assert isinstance(intents, list)
    for i in intents:
        assert isinstance(i, Intent) and i.op in OPS and i.clause >= 0


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text):
    _valid(parse(text))
    clause_spans(text)
    tokenize(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), max_size=60))
def test_random_vocabulary_mixes_never_raise(words):
    _valid(parse(" ".join(words)))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=5), st.sampled_from(["", " ", ",", ".", "-"]))
def test_ten_thousand_characters(words, sep):
    text = (sep.join(words) + " ") * (10_000 // (len(sep.join(words)) + 1) + 1)
    text = text[:10_000]
    t0 = time.perf_counter()
    _valid(parse(text))
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\t",
        "☃ 🎨 ∑",
        "İ" * 50,
        "a" * 10_000,
        "." * 10_000,
        " " * 10_000,
        "red " * 2500,
        "the red circle " * 700,
        "\x00\x00",
        "3 3 3 circles",
    ],
)
def test_odd_strings(text):
    _valid(parse(text))


def test_non_strings_give_nothing():
    assert parse(None) == [] and parse(42) == [] and parse(["a star"]) == []  # type: ignore[arg-type]
