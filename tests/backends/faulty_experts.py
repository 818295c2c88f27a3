"""Real experts that misbehave on demand, for the served-expert fault tests.

It draws with a shape-world expert; when the file ``flag`` exists, it reads what to do from it
(``exit``: the process dies; ``sleep``: it hangs for a minute), deletes it, and does that. The
flag is a file so that the test, in another process, can trigger one fault at a chosen step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poser_env.registry import build


class FlakyExpert:
    def __init__(self, name: str, flag: str, inner: Mapping[str, Any]):
        self.name = name
        self.flag = Path(flag)
        self.inner = build(inner, name=name)
        self.kind, self.cost, self.description = (
            self.inner.kind,
            self.inner.cost,
            "a shape-world expert that fails on demand",
        )

    def __call__(self, instruction, canvas, rng, reflection=""):
        if self.flag.exists():
            fault = self.flag.read_text().strip()
            self.flag.unlink()
            if fault == "exit":
                os._exit(1)
            if fault == "sleep":
                time.sleep(60)
        return self.inner(instruction, canvas, rng, reflection=reflection)


class PoisonBatchExpert:
    """A shape-world expert with a batched path that fails as a whole when one request says
    "poison" (as a pipeline call fails for one bad input); alone, that request fails by itself."""

    def __init__(self, name: str, inner: Mapping[str, Any]):
        self.name = name
        self.inner = build(inner, name=name)
        self.modality, self.cost, self.description = (
            self.inner.modality,
            self.inner.cost,
            "a shape-world expert, batched",
        )

    def __call__(self, instruction, canvas, rng, reflection=""):
        if "poison" in instruction:
            raise ValueError(f"cannot draw {instruction!r}")
        return self.inner(instruction, canvas, rng, reflection=reflection)

    def call_batch(self, instructions, canvases, rngs, reflections=None):
        if any("poison" in i for i in instructions):
            raise RuntimeError("the batched call failed")
        reflections = reflections or [""] * len(instructions)
        return [self.inner(i, c, r, reflection=f) for i, c, r, f in zip(instructions, canvases, rngs, reflections)]
