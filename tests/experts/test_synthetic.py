"""Synthetic experts: each does what its profile says, fails as documented, and is seeded."""

import numpy as np
import pytest

from poser_env.registry import ExpertRegistry
from poser_env.types import Canvas
from poser_env.world.checks import ObjectGroup, answer, group_check
from poser_env.world.render import render
from poser_env.world.scene import Scene, SceneObject

REG = ExpertRegistry.from_preset("synthetic")


def blank():
    return Canvas(image=render(Scene()), scene=Scene())


def run(name, text, canvas=None, seed=0, reflection=""):
    return REG[name](text, canvas or blank(), np.random.default_rng(seed), reflection=reflection)


def test_same_rng_same_output():
    a = run("sketchy-t2i", "Draw three red stars and a blue circle.", seed=4)
    b = run("sketchy-t2i", "Draw three red stars and a blue circle.", seed=4)
    assert a.scene == b.scene and np.array_equal(a.image, b.image)


def test_counter_counts_and_layout_cannot_count_past_two():
    for seed in range(10):
        out = run("counter-t2i", "Draw four green hexagons.", seed=seed)
        assert answer(group_check(ObjectGroup("hexagon", "green", None, 4)), out.scene)
        out = run("layout-t2i", "Draw four green hexagons.", seed=seed)
        assert sum(o.shape == "hexagon" for o in out.scene.objects) == 2


def test_frontier_truncates_after_four_constraints():
    text = "Draw a red circle, a blue square, a green star, a pink heart and a white hexagon."
    out = run("frontier-t2i", text)
    assert len(out.scene.objects) == 4


def test_stylist_draws_only_two_groups_but_styles():
    out = run("stylist-t2i", "Draw a red circle, a blue square and a green star. Render it in watercolor style.")
    assert len(out.scene.objects) == 2 and out.scene.style == "watercolor"


def test_i2i_experts_edit_and_ignore_what_they_do_not_do():
    scene = Scene((SceneObject("circle", "red", "large", 0.3, 0.3), SceneObject("square", "blue", "small", 0.7, 0.7)))
    canvas = Canvas(image=render(scene), scene=scene)
    out = run("remove-i2i", "Remove the red circle.", canvas, seed=1)
    assert [o.shape for o in out.scene.objects] == ["square"]
    out = run("background-i2i", "Remove the red circle.", canvas)
    assert out.scene == scene  # not its job: nothing changes
    out = run("background-i2i", "Use a mint background.", canvas)
    assert out.scene.background == "mint"
    out = run("refine-i2i", "Clean up the noise.", Canvas(render(scene.replace(noise=0.05)), scene.replace(noise=0.05)))
    assert out.scene.clean


def test_stylize_damages_small_objects_sometimes_and_reflection_helps():
    objs = tuple(
        SceneObject("circle", c, "small", 0.15 + 0.2 * i, 0.5) for i, c in enumerate(["red", "blue", "green", "pink"])
    )
    scene = Scene(objs)
    canvas = Canvas(render(scene), scene)
    lost = [4 - len(run("stylize-i2i", "Render it in sketch style.", canvas, seed=s).scene.objects) for s in range(200)]
    lost_retry = [
        4
        - len(
            run("stylize-i2i", "Render it in sketch style.", canvas, seed=s, reflection="Not yet right.").scene.objects
        )
        for s in range(200)
    ]
    assert 0.2 < np.mean(lost) / 4 < 0.5
    assert np.mean(lost_retry) < np.mean(lost)


def test_i2i_on_an_image_without_scene_reads_the_pixels():
    scene = Scene((SceneObject("star", "yellow", "large", 0.3, 0.3),))
    out = run("recolor-i2i", "Make the yellow star blue.", Canvas(image=render(scene)), seed=3)
    assert [(o.shape, o.color) for o in out.scene.objects] == [("star", "blue")]


@pytest.mark.parametrize("text", ["", "   ", "x" * 10000, "🙂🙂", "remove remove remove the the"])
def test_any_text_never_crashes(text):
    for e in REG:
        out = e(text, blank(), np.random.default_rng(0))
        assert out.image.shape == (128, 128, 3)
