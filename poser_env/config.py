"""The environment's configuration: one documented dataclass, plain data only.

Every field is JSON-serialisable so that ``gym.make("ImagePoser-v0", **kwargs)`` and the
registered ``EnvSpec`` stay valid; components are named by preset or by registry spec, never
passed as objects (objects are accepted by ``ImagePoserEnv`` directly, for experiments).
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from dataclasses import InitVar, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.registry import ComponentSpec, ExpertRegistry
from poser_env.world.scene import DEFAULT_CANVAS, check_canvas

SUITE_MIXES: dict[str, tuple[str, ...]] = {
    "mixed": ("geneval", "longform", "editing"),
    "generation": ("geneval", "longform"),
    "geneval": ("geneval",),
    "longform": ("longform",),
    "editing": ("editing",),
    # ImagePoser-Hard-v0's suites (poser_env/world/suites/levels.py): long prompts, long edit chains.
    "hard": ("hard_longform", "hard_editing"),
    # ImagePoser-v1 and its siblings: the v0 suites plus the v1 forms suites
    # (poser_env/world/suites/forms.py: the prompt forms of issue 12).
    "mixed_v1": ("geneval", "longform", "editing", "forms", "forms_editing"),
    "generation_v1": ("geneval", "longform", "forms"),
    "editing_v1": ("editing", "forms_editing"),
    "forms": ("forms",),
    "forms_editing": ("forms_editing",),
}
#: Splits every suite mix has. The generalisation splits GEN_SPLITS (``gen``: held-out
#: combinations of colour, shape and relation; ``gen_forms``: held-out prompt forms) exist
#: only for the mixes of GEN_SPLIT_SOURCES, each mix declaring its own.
SPLITS_ALL: tuple[str, ...] = ("train", "val", "test")
GEN_SPLITS: tuple[str, ...] = ("gen", "gen_forms")
#: Per suite mix, its generalisation splits and the (suite, file split) pairs each draws its
#: tasks from (train / val / test draw ``<suite>/<split>`` of every suite of the mix).
#: ``hard``: its own files (poser_env/world/suites/levels.py). ``mixed`` (ImagePoser-v0 and
#: -Drift-v0) has no ``gen``: its train split covers every colour-shape and relation
#: combination; its ``gen_forms`` is the v1 forms suites' test tasks, tasks of v0's kinds written
#: in the prompt forms of issue 12, which the v0 templates that write its train / val / test
#: never use (docs/benchmark.md, "The prompt forms split"; ImagePoser-v1 trains on the forms).
GEN_SPLIT_SOURCES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "hard": {
        "gen": (("hard_longform", "gen"), ("hard_editing", "gen")),
        "gen_forms": (("hard_longform", "gen_forms"), ("hard_editing", "gen_forms")),
    },
    "mixed": {"gen_forms": (("forms", "test"), ("forms_editing", "test"))},
}
#: The suite mixes that have at least one generalisation split.
GEN_SPLIT_MIXES: tuple[str, ...] = tuple(GEN_SPLIT_SOURCES)


def mix_splits(suite: str) -> tuple[str, ...]:
    """The splits suite mix ``suite`` has: train, val, test and its generalisation splits."""
    return SPLITS_ALL + tuple(GEN_SPLIT_SOURCES.get(suite, {}))


def gen_splits(suite: str) -> tuple[str, ...]:
    """The generalisation splits of suite mix ``suite`` (empty for most mixes)."""
    return tuple(GEN_SPLIT_SOURCES.get(suite, {}))


def split_sources(suite: str, split: str) -> tuple[tuple[str, str], ...]:
    """The (suite, file split) pairs whose tasks make split ``split`` of suite mix ``suite``,
    in order (a ValueError naming the allowed splits when the mix lacks ``split``)."""
    if suite not in SUITE_MIXES:
        raise ValueError(f"unknown suite {suite!r}; allowed: {', '.join(SUITE_MIXES)}")
    check_split(suite, split)
    if split in SPLITS_ALL:
        return tuple((s, split) for s in SUITE_MIXES[suite])
    return GEN_SPLIT_SOURCES[suite][split]


def check_split(suite: str, split: str) -> None:
    """One ValueError when suite mix ``suite`` has no split ``split``: it names the mix's
    splits and, for a generalisation split, the mixes that have it."""
    splits = mix_splits(suite)
    if split in splits:
        return
    hint = ""
    if split in GEN_SPLITS:
        having = [m for m, gs in GEN_SPLIT_SOURCES.items() if split in gs]
        hint = f" ({split} exists for suite {', '.join(having)})"
    raise ValueError(f"unknown split {split!r} for suite {suite!r}; allowed: {', '.join(splits)}{hint}")


#: Splits held out for evaluation: no learner may train on them, nor draw logged data from them.
HELD_OUT_SPLITS: tuple[str, ...] = ("test", *GEN_SPLITS)

#: Upper bounds of the numeric fields. A penalty above 100 per unit already dwarfs the at most
#: 1.0 of alignment an episode can gain; larger values only risk overflow (1e308 * cost = inf).
MAX_PENALTY = 100.0
MAX_STEPS_LIMIT = 1_000
MAX_ATTEMPTS_LIMIT = 100

#: Values of ``drift_modality``: every expert may be degraded, or only those of one modality.
DRIFT_MODALITIES: tuple[str, ...] = ("all", "t2i", "i2i")
#: Values of ``drift_unit``: each expert degraded on its own, or one provider's experts together.
DRIFT_UNITS: tuple[str, ...] = ("expert", "provider")
#: The error of ``drift_unit="provider"`` with experts that declare no provider (raised by the env).
NO_PROVIDERS = (
    'drift_unit="provider" needs experts that declare a provider (e.g. experts="synthetic_providers", '
    'or a "provider" in each expert spec); these experts declare none: use drift_unit="expert"'
)

#: Options renamed in v0, old name -> new name: the old name still works (``gym.make``,
#: ``ImagePoserEnv``, :meth:`EnvConfig.from_kwargs`, a preset's ``[env]``) with a
#: ``DeprecationWarning`` for one release (the env card's version history).
RENAMED_OPTIONS: dict[str, str] = {"canvas": "canvas_size"}

DEFAULT_CRITIC = {"name": "pixel", "entry_point": "poser_env.critics.synthetic:PixelCritic"}
DEFAULT_EXTRACTOR = {"name": "grammar", "entry_point": "poser_env.extractors.grammar:GrammarExtractor"}
DEFAULT_EVALUATOR = {"name": "ground-truth", "entry_point": "poser_env.evaluators.ground_truth:GroundTruthEvaluator"}


@dataclass
class EnvConfig:
    """Settings of :class:`~poser_env.env.ImagePoserEnv` (defaults are those of ImagePoser-v0)."""

    suite: str = "mixed"
    """Task suites to draw from: one of ``mixed``, ``generation``, ``geneval``, ``longform``, ``editing``,
    ``hard``, and v1's ``mixed_v1``, ``generation_v1``, ``editing_v1``, ``forms``, ``forms_editing``."""
    split: str = "train"
    """``train``, ``val`` or ``test``. Agents train on train, tune on val, report on test. Suite
    ``hard`` also has the generalisation splits ``gen`` (held-out combinations) and
    ``gen_forms`` (held-out prompt forms), suite ``mixed`` ``gen_forms`` only (the v1 forms
    suites' test tasks): reported apart (GEN_SPLIT_SOURCES)."""
    canvas_size: int = DEFAULT_CANVAS
    """Canvas side in pixels (64 to 1024); ``canvas`` is its deprecated name (the
    :class:`~poser_env.types.Canvas` is the image itself)."""
    experts: Any = "synthetic"
    """Expert preset name or JSON/TOML path; a list of expert names (a subset of the default
    ``synthetic`` registry, in that order); or a list of registry specs. The action space follows its order."""
    critic: Any = field(default_factory=lambda: dict(DEFAULT_CRITIC))
    """Registry spec of the critic that scores each step."""
    extractor: Any = field(default_factory=lambda: dict(DEFAULT_EXTRACTOR))
    """Registry spec of the command extractor."""
    evaluator: Any = field(default_factory=lambda: dict(DEFAULT_EVALUATOR))
    """Registry spec of the end-of-episode evaluator (never the critic)."""
    text_encoder: str = "hash"
    """``hash`` (fast, no model), ``minilm`` (real sentence embeddings), or a local model folder."""
    precompute_text: bool | str = "auto"
    """At the first reset that draws from the split, embed every prompt and command text of the
    split's tasks in large batches, once per process (``poser_env/text_precompute.py``): a
    one-off cost (tens of seconds for a train split with MiniLM on a CPU) that makes later
    resets of new tasks as cheap as repeats. ``True``, ``False``, or ``"auto"``: on for model
    encoders, off for ``hash``. Episodes do not depend on it beyond a model's last float bits."""
    max_steps: int = 16
    """Truncation: steps per episode at most (1 to 1000)."""
    max_attempts: int = 3
    """A command that fails this many times is dropped and recorded as failed (1 to 100)."""
    keep_best: bool = True
    """On a failed attempt keep whichever canvas (new or previous) the critic scores higher."""
    enable_stop: bool = False
    """Add a STOP action (ends the episode now)."""
    enable_defer: bool = False
    """Add a DEFER action (moves the current command to the end of the queue, once per command)."""
    cost_weight: float = 0.01
    """Reward penalty per unit of expert cost (finite, 0 to 100)."""
    step_penalty: float = 0.02
    """Reward penalty per step, so that short pipelines are preferred (finite, 0 to 100)."""
    invalid_action_penalty: float = 0.1
    """Penalty of a masked action, which is a no-op (an out-of-range action raises instead; finite, 0 to 100)."""
    cost_budget: float | None = None
    """Cost units an episode may spend; when spent, the episode ends (terminated, the commands
    left count as failed) and the observation gains a ``budget`` key (fraction left). None: no budget."""
    drift_p: float = 0.0
    """Drift: at each reset every expert is *degraded* with this probability, drawn from the
    env's generator and hidden from the agent (as when a served model's version or load changes)."""
    drift_fail: float = 0.0
    """Drift: a degraded expert's call fails silently (the canvas comes back unchanged) with this probability."""
    drift_modality: str = "all"
    """Drift: which experts may be degraded: ``all``, or only those of one modality, ``t2i`` or
    ``i2i`` (a draw is still made for every expert, so the draws do not depend on this)."""
    drift_unit: str = "expert"
    """Drift: what is degraded: ``expert`` (each expert on its own, with ``drift_p``) or
    ``provider`` (at reset one provider, drawn uniformly, is degraded with ``drift_p``, and so is
    every expert it serves; needs experts that declare a provider, e.g. ``synthetic_providers``)."""
    drift_visible: bool = False
    """Drift: a degraded expert's failed call returns an error (as a served model that is down
    answers with one) instead of failing silently: no image comes back, ``info["error"]`` names
    the provider, and the observation gains an ``error`` key that reads 1 after a call that
    returned no image (0 after any other step). The error is shown once, right after the call:
    which provider is down must be remembered by the agent (ImagePoser-Drift-v1)."""
    observe_step_count: bool = True
    """False: the observation's step entry (``progress[0]``) reads 0, so no observed counter
    tells how many steps earlier commands took (on ImagePoser-Drift-v1 a memoryless policy could
    otherwise read its own wasted calls off it)."""
    step_slack: int | None = None
    """A deadline per task: an episode of n commands ends after n + ``step_slack`` steps,
    *terminated* (part of the task, like the cost budget: the commands left count as failed,
    ``info["deadline_reached"]``), so every wasted call costs, in the return too (0 to 1000).
    ``max_steps`` still truncates if it comes first. None: no deadline."""
    canvas: InitVar[int | None] = None
    """Deprecated name of ``canvas_size`` (a ``DeprecationWarning``; reading ``config.canvas``
    warns too). Not a field: ``to_dict`` and ``fields`` hold ``canvas_size`` only."""

    def __post_init__(self, canvas: int | None) -> None:
        if canvas is not None:
            if self.canvas_size not in (DEFAULT_CANVAS, canvas):
                raise TypeError(
                    f"canvas={canvas!r} and canvas_size={self.canvas_size!r} are the same setting; pass canvas_size= only"
                )
            warnings.warn(
                "ImagePoser option canvas= is deprecated, use canvas_size= (renamed in v0; the old name goes in the "
                "next release)",
                ImagePoserDeprecationWarning,
                stacklevel=3,
            )
            self.canvas_size = canvas
        # Every field is checked here, once, so a bad value fails at construction with its
        # name, never later as a NaN reward or a silently truthy string.
        for name in ("suite", "split", "text_encoder"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v:
                raise ValueError(f"{name} must be a non-empty string, got {v!r}")
        if self.suite not in SUITE_MIXES:
            raise ValueError(f"unknown suite {self.suite!r}; allowed: {', '.join(SUITE_MIXES)}")
        check_split(self.suite, self.split)
        check_canvas(self.canvas_size)
        check_experts(self.experts)
        for name, high in (("max_steps", MAX_STEPS_LIMIT), ("max_attempts", MAX_ATTEMPTS_LIMIT)):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 1 <= v <= high:
                raise ValueError(f"{name} must be an int from 1 to {high}, got {v!r}")
            setattr(self, name, int(v))
        for name in ("keep_best", "enable_stop", "enable_defer"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {v!r} ({type(v).__name__})")
            setattr(self, name, bool(v))
        for name in ("cost_weight", "step_penalty", "invalid_action_penalty"):
            v = getattr(self, name)
            if (
                isinstance(v, (bool, np.bool_))
                or not isinstance(v, numbers.Real)
                or not math.isfinite(v)
                or not 0 <= float(v) <= MAX_PENALTY
            ):
                raise ValueError(f"{name} must be a finite number from 0 to {MAX_PENALTY:g}, got {v!r}")
            setattr(self, name, float(v))
        if self.cost_budget is not None and (
            isinstance(self.cost_budget, bool)
            or not isinstance(self.cost_budget, (int, float))
            or not 0 < self.cost_budget < float("inf")
        ):
            raise ValueError(f"cost_budget must be a positive finite number or None, got {self.cost_budget!r}")
        if not (self.precompute_text == "auto" or isinstance(self.precompute_text, (bool, np.bool_))):
            raise ValueError(f"precompute_text must be True, False or 'auto', got {self.precompute_text!r}")
        if isinstance(self.precompute_text, np.bool_):
            self.precompute_text = bool(self.precompute_text)
        if not isinstance(self.drift_modality, str) or self.drift_modality not in DRIFT_MODALITIES:
            raise ValueError(
                f"drift_modality must be one of {', '.join(DRIFT_MODALITIES)}, got {self.drift_modality!r}"
            )
        if not isinstance(self.drift_unit, str) or self.drift_unit not in DRIFT_UNITS:
            raise ValueError(f"drift_unit must be one of {', '.join(DRIFT_UNITS)}, got {self.drift_unit!r}")
        for name in ("drift_visible", "observe_step_count"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {v!r} ({type(v).__name__})")
            setattr(self, name, bool(v))
        if self.step_slack is not None:
            v = self.step_slack
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v <= MAX_STEPS_LIMIT:
                raise ValueError(f"step_slack must be None or an int from 0 to {MAX_STEPS_LIMIT}, got {v!r}")
            self.step_slack = int(v)
        for name in ("drift_p", "drift_fail"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> EnvConfig:
        """The config of ``gym.make``'s keywords (the fields, and the renamed options' old
        names of :data:`RENAMED_OPTIONS`, which warn)."""
        for old, new in RENAMED_OPTIONS.items():
            if old in kwargs and new in kwargs:
                raise TypeError(f"ImagePoser options {old}= and {new}= are the same setting; pass {new}= only")
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known - set(RENAMED_OPTIONS)
        if unknown:
            raise TypeError(f"unknown ImagePoser option(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _deprecated_canvas(self: EnvConfig) -> int:
    """Deprecated name of ``canvas_size`` (read-only)."""
    warnings.warn("EnvConfig.canvas is deprecated, use canvas_size", ImagePoserDeprecationWarning, stacklevel=2)
    return self.canvas_size


# After the dataclass is built (its __init__ keeps ``canvas=None`` as the InitVar's default),
# reading ``config.canvas`` warns and returns the size instead of the InitVar's None.
EnvConfig.canvas = property(_deprecated_canvas)  # type: ignore[attr-defined]

#: Every keyword :meth:`EnvConfig.from_kwargs` accepts: the fields and the renamed options' old names.
OPTION_NAMES: frozenset[str] = frozenset(f.name for f in fields(EnvConfig)) | frozenset(RENAMED_OPTIONS)


EXPERTS_ACCEPTED = (
    "a preset name or a .json/.toml path (e.g. 'synthetic'), a list of expert names from the default "
    "registry (e.g. ['sketchy-t2i', 'recolor-i2i']), a list of registry specs "
    "({'name', 'entry_point', 'kwargs'}), an ExpertRegistry, or a list of expert objects"
)


def check_experts(experts: Any) -> None:
    """Refuse an ``experts`` value of a type the env cannot build from, saying what it accepts.

    Names, specs and objects are checked further when the registry is built.
    """
    if isinstance(experts, (str, os.PathLike)):
        if not str(experts):
            raise ValueError(f"experts is empty; expected {EXPERTS_ACCEPTED}")
        return
    if isinstance(experts, ExpertRegistry):
        return
    if not isinstance(experts, (list, tuple)):
        raise ValueError(f"experts must be {EXPERTS_ACCEPTED}; got {experts!r} ({type(experts).__name__})")
    if not experts:
        raise ValueError(f"experts is an empty list; expected {EXPERTS_ACCEPTED}")
    kinds = {
        "name" if isinstance(e, str) else "spec" if isinstance(e, (dict, ComponentSpec)) else "object" for e in experts
    }
    if len(kinds) > 1:
        raise ValueError(
            f"experts mixes names, specs and objects ({', '.join(sorted(kinds))}); use one kind: {EXPERTS_ACCEPTED}"
        )
    if kinds == {"object"}:
        bad = [e for e in experts if not callable(e) or not hasattr(e, "name")]
        if bad:
            raise ValueError(
                f"experts holds {bad[0]!r} ({type(bad[0]).__name__}), which is not an expert; expected {EXPERTS_ACCEPTED}"
            )
