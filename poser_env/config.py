"""The environment's configuration: one documented dataclass, plain data only.

Every field is JSON-serialisable so that ``gym.make("ImagePoser-v0", **kwargs)`` and the
registered ``EnvSpec`` stay valid; components are named by preset or by registry spec, never
passed as objects (objects are accepted by ``ImagePoserEnv`` directly, for experiments).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from poser_env.world.scene import DEFAULT_CANVAS, check_canvas

SUITE_MIXES: dict[str, tuple[str, ...]] = {
    "mixed": ("geneval", "longform", "editing"),
    "generation": ("geneval", "longform"),
    "geneval": ("geneval",),
    "longform": ("longform",),
    "editing": ("editing",),
}

DEFAULT_CRITIC = {"name": "pixel", "entry_point": "poser_env.critics.synthetic:PixelCritic"}
DEFAULT_EXTRACTOR = {"name": "grammar", "entry_point": "poser_env.extractors.grammar:GrammarExtractor"}
DEFAULT_EVALUATOR = {"name": "ground-truth", "entry_point": "poser_env.evaluators.ground_truth:GroundTruthEvaluator"}


@dataclass
class EnvConfig:
    """Settings of :class:`~poser_env.env.ImagePoserEnv` (defaults are those of ImagePoser-v0)."""

    suite: str = "mixed"
    """Task suites to draw from: one of ``mixed``, ``generation``, ``geneval``, ``longform``, ``editing``."""
    split: str = "train"
    """``train``, ``val`` or ``test``. Agents train on train, tune on val, report on test."""
    canvas: int = DEFAULT_CANVAS
    """Canvas side in pixels (64 to 1024)."""
    experts: Any = "synthetic"
    """Expert preset name or JSON path, or a list of registry specs; the action space follows its order."""
    critic: Any = field(default_factory=lambda: dict(DEFAULT_CRITIC))
    """Registry spec of the critic that scores each step."""
    extractor: Any = field(default_factory=lambda: dict(DEFAULT_EXTRACTOR))
    """Registry spec of the command extractor."""
    evaluator: Any = field(default_factory=lambda: dict(DEFAULT_EVALUATOR))
    """Registry spec of the end-of-episode evaluator (never the critic)."""
    text_encoder: str = "hash"
    """``hash`` (fast, no model), ``minilm`` (real sentence embeddings), or a local model folder."""
    max_steps: int = 16
    """Truncation: steps per episode at most."""
    max_attempts: int = 3
    """A command that fails this many times is dropped and recorded as failed."""
    keep_best: bool = True
    """On a failed attempt keep whichever canvas (new or previous) the critic scores higher."""
    enable_stop: bool = False
    """Add a STOP action (ends the episode now)."""
    enable_defer: bool = False
    """Add a DEFER action (moves the current command to the end of the queue, once per command)."""
    cost_weight: float = 0.01
    """Reward penalty per unit of expert cost."""
    step_penalty: float = 0.02
    """Reward penalty per step, so that short pipelines are preferred."""
    invalid_action_penalty: float = 0.1
    """Penalty of a masked action, which is a no-op (an out-of-range action raises instead)."""

    def __post_init__(self) -> None:
        if self.suite not in SUITE_MIXES:
            raise ValueError(f"unknown suite {self.suite!r}; allowed: {', '.join(SUITE_MIXES)}")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"unknown split {self.split!r}; allowed: train, val, test")
        check_canvas(self.canvas)
        for name in ("max_steps", "max_attempts"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("cost_weight", "step_penalty", "invalid_action_penalty"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "EnvConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"unknown ImagePoser option(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
