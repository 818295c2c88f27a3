"""The pixel critic: cached verdicts equal fresh ones and follow the pixels."""

from poser_env.critics.synthetic import PixelCritic, _judge
from poser_env.types import Canvas, Check
from poser_env.world.detect import detect
from poser_env.world.render import render
from poser_env.world.scene import Scene, SceneObject

RED = Check("Is there a red circle?", "object", {"kind": "exists", "shape": "circle", "color": "red"})


def test_cached_verdict_equals_a_fresh_one_and_follows_the_pixels():
    image = render(Scene((SceneObject("circle", "red", "large", 0.5, 0.5),)), 128)
    critic = PixelCritic()
    first = critic.critique(Canvas(image), [RED])
    again = critic.critique(Canvas(image.copy()), [RED])
    assert first.passed and again == first == _judge(detect(image), [RED])
    image[:] = 255  # the same array, other pixels: a new reading, not the cached one
    assert not critic.critique(Canvas(image), [RED]).passed


def test_results_carry_the_question_asked():
    image = render(Scene((SceneObject("circle", "red", "large", 0.5, 0.5),)), 128)
    other = Check("Do you see a red circle?", "object", dict(RED.spec))  # equal spec, other words
    critic = PixelCritic()
    critic.critique(Canvas(image), [RED])
    assert critic.critique(Canvas(image), [other]).results[0].check.question == other.question
