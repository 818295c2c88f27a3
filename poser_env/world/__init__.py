"""The shape world: vocabulary, scenes, rendering, pixel detection, checks and prompt suites.

Pure functions and dataclasses. It knows nothing of experts, critics or the environment, so
it can be read, tested and reused on its own (``poser world check`` measures it).
"""

from poser_env.world.checks import (
    ObjectGroup,
    Relation,
    SpecError,
    Target,
    answer,
    checks_for,
    score,
)
from poser_env.world.render import render
from poser_env.world.scene import (
    DEFAULT_CANVAS,
    DetectedObject,
    DetectedScene,
    Scene,
    SceneError,
    SceneObject,
    check_canvas,
)
from poser_env.world.vocab import VocabularyError

__all__ = [
    "DEFAULT_CANVAS",
    "DetectedObject",
    "DetectedScene",
    "ObjectGroup",
    "Relation",
    "Scene",
    "SceneError",
    "SceneObject",
    "SpecError",
    "Target",
    "VocabularyError",
    "answer",
    "check_canvas",
    "checks_for",
    "render",
    "score",
]
