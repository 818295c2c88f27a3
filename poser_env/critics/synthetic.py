"""The shape world's critic: the pixel detector behind the :class:`Critic` protocol.

It reads only pixels (``world.detect``), then judges each check's spec on the detected scene
with the same judge the evaluator uses on the ground truth. Disagreements between the two are
therefore the detector's errors alone, and ``poser world check`` measures them.

Canvases recur (a failed edit leaves the scene as it was, every generation task starts
blank), so detections are cached per process by a digest of the pixels (``memo.pixel_key``)
and verdicts by (pixels, checks): still a function of the pixels alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from poser_env.critics.base import Critic
from poser_env.memo import LRU, pixel_key
from poser_env.types import Canvas, Check, CheckResult, Verdict
from poser_env.world import vocab
from poser_env.world.checks import SpecError, answer
from poser_env.world.detect import as_image, detect_shared
from poser_env.world.scene import DetectedScene


class PixelCritic(Critic):
    """Critic of the synthetic world.

    A check whose spec it cannot judge (a free-form question from a non-grammar extractor)
    counts as failed with confidence 0.5, and its note says so.
    """

    name = "pixel"

    def critique(self, canvas: Canvas, checks: Sequence[Check]) -> Verdict:
        image = as_image(np.asarray(canvas.image))  # a ValueError naming the problem
        key = pixel_key(image)
        checks = tuple(checks)
        # Checks compare by spec; the question is part of the key too, as results carry it.
        vkey = (key, tuple((c.key, c.question) for c in checks))
        verdict = _VERDICTS.get(vkey)
        if verdict is None:
            verdict = _VERDICTS.put(vkey, _judge(detect_shared(image, key), checks))
        return verdict


#: Per process, verdicts by (pixel digest, checks); detections are cached by ``detect``.
#: Verdicts are frozen; the shared detected scenes are only read by the judge.
_VERDICTS: LRU[Verdict] = LRU(4096)


def _judge(seen: DetectedScene, checks: Sequence[Check]) -> Verdict:
    results = []
    for c in checks:
        try:
            ok = answer(c, seen)
            results.append(CheckResult(c, ok, 1.0, "" if ok else _note(c, seen)))
        except SpecError:
            results.append(CheckResult(c, False, 0.5, "this critic cannot judge that question"))
    return Verdict(tuple(results))


def _note(check: Check, seen: DetectedScene) -> str:
    """What the detector saw instead, where that helps the next attempt."""
    spec = check.spec
    kind = spec.get("kind")
    if kind in ("exists", "count", "absent"):
        n = sum(
            1
            for o in seen.objects
            if o.shape == spec.get("shape")
            and spec.get("color") in (None, o.color)
            and spec.get("size") in (None, o.size)
        )
        return f"I see {vocab.COUNT_WORDS.get(n, str(n))}"
    if kind == "background":
        return f"it looks {seen.background}"
    if kind == "style":
        return f"it looks {seen.style}"
    return ""
