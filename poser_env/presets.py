"""Real-model presets (TOML): what ``ImagePoser-Diffusers-v0`` builds, as plain data.

A preset names models and settings; it is turned into the registry specs the env already
understands (``{"name", "entry_point", "kwargs"}``, see :mod:`poser_env.registry`), so nothing
here builds a component itself. Format (full example: ``poser_env/data/presets/real12.toml``,
reference: ``docs/real-models.md``)::

    [preset]                      # name, description
    [env]                         # any EnvConfig field: canvas_size, suite, split, max_steps, ...
    [pool]                        # device, max_on_device, offload_device
    [models]                      # short names -> hub id / folder, or a table of ModelRef fields
    sd15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    [[experts]]                   # name, type (t2i | img2img | instruct-pix2pix | inpaint), model,
                                  # cost, description, mask, safety, DiffusionSettings fields
    [critic]                      # type = "vlm" | "clip", model, settings
    [evaluator]                   # type = "vlm" | "clip", model, settings; allow_same_model
    [extractor]                   # type = "llm" | "grammar", model, settings
    [safety]                      # type = "none" (default) | "clip" | "diffusers"
    [serving]                     # serve the experts and critic with Ray: experts, critic (bools),
                                  # timeout_s, num_cpus, num_gpus, max_restarts, prefix

Security: a preset is data, not code. Its ``type`` names map to this package's classes; an
``entry_point`` (arbitrary Python to import) is refused unless the caller passes
``allow_entry_points=True`` (the preset itself cannot grant that); the same flag guards a
``module:callable`` ``text_encoder`` in ``[env]`` (one rule: :mod:`poser_env.trust`).
``trust_remote_code`` is off for every model; a model whose entry sets it (inline or under
``[models]``) is refused unless the caller passes ``trust_remote_code=True`` (CLI
``--trust-remote-code``); ``poser experts --preset`` lists those models. Local paths starting
with ``.`` are relative to the preset file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poser_env.backends.models import REACHABLE, BackendLoadError, ModelRef, hub_status
from poser_env.config import OPTION_NAMES
from poser_env.registry import RegistryError, find_preset, load_preset

EXPERT_ENTRY = "poser_env.experts.diffusion:DiffusersExpert"
CRITIC_ENTRIES = {"vlm": "poser_env.critics.vlm:VLMCritic", "clip": "poser_env.critics.clip:CLIPCritic"}
EXTRACTOR_ENTRIES = {
    "llm": "poser_env.extractors.llm:LLMExtractor",
    "grammar": "poser_env.extractors.grammar:GrammarExtractor",
}
EVALUATOR_ENTRY = "poser_env.evaluators.model_judge:ModelEvaluator"
EXPERT_TYPES = ("t2i", "img2img", "instruct-pix2pix", "inpaint")
SECTIONS = {"preset", "env", "pool", "models", "experts", "critic", "evaluator", "extractor", "safety", "serving"}
_COMPONENT_KEYS = {"experts", "critic", "extractor", "evaluator"}


class PresetError(RegistryError):
    """A preset is malformed or asks for something it may not; the message says what to change."""


@dataclass
class RealPreset:
    """A loaded preset: the env kwargs it builds, and every model it names (for ``poser experts``)."""

    path: Path
    name: str
    description: str
    env_kwargs: dict[str, Any]
    models: list[dict[str, Any]] = field(default_factory=list)
    """One row per component and model: ``component``, ``name``, ``type``, ``model`` (ModelRef dict)."""
    remote_code: list[str] = field(default_factory=list)
    """Where the preset asks for ``trust_remote_code`` (``"[critic]: org/model"``, ...)."""

    def remote_code_models(self) -> list[str]:
        """The preset entries whose model asks to run its own Python code (``trust_remote_code = true``)."""
        return list(self.remote_code)

    def describe(self, check_reachable: bool = True) -> list[dict[str, Any]]:
        """The rows of ``models``, each with ``reachable``, ``status`` (see
        :func:`~poser_env.backends.models.hub_status`: "not-found" on the hub is told apart from
        "not cached") and ``where`` (nothing is loaded)."""
        rows = []
        for row in self.models:
            out = dict(row)
            out["model_path"] = row["model"]["path"] if row.get("model") else ""
            if check_reachable and row.get("model"):
                out["status"], out["where"] = hub_status(ModelRef.coerce(row["model"]))
                out["reachable"] = out["status"] in REACHABLE
            rows.append(out)
        return rows


def load_real_preset(
    name_or_path: str | Path,
    allow_entry_points: bool = False,
    trust_remote_code: bool = False,
    inspect_only: bool = False,
) -> RealPreset:
    """Read and check a preset; ``allow_entry_points`` lets its tables name ``entry_point`` s,
    ``trust_remote_code`` lets its models that ask for it run their own code. ``inspect_only``
    (for listing, never for building) records such models in ``remote_code`` instead of refusing."""
    path = find_preset(name_or_path, "presets")
    data = load_preset(path, "presets")
    return _Builder(path, data, allow_entry_points, trust_remote_code, inspect_only).build()


def make_env(
    preset: str | Path = "real12",
    allow_entry_points: bool = False,
    render_mode: str | None = None,
    trust_remote_code: bool = False,
    instrument: Callable[[str, Any], Any] | None = None,
    **overrides: Any,
):
    """The ``ImagePoser-Diffusers-v0`` entry point: an ImagePoserEnv built from a preset.

    ``overrides`` are EnvConfig fields that win over the preset's (``canvas_size``, ``max_steps``, ...);
    ``instrument`` goes to the env (see its card: it wraps each component, for timing). The
    extractor's, critic's and evaluator's models load at the first reset (:func:`preload_models`,
    the env's ``before_first_reset``), the experts' at the first step that needs them."""
    from poser_env.env import ImagePoserEnv

    built = load_real_preset(preset, allow_entry_points=allow_entry_points, trust_remote_code=trust_remote_code)
    clash = set(overrides) & _COMPONENT_KEYS
    if clash:
        raise PresetError(f"pass components ({', '.join(sorted(clash))}) in the preset file, not as env kwargs")
    return ImagePoserEnv(
        render_mode=render_mode,
        instrument=instrument,
        preset=built,
        before_first_reset=lambda env: preload_models(env, built),
        **{**built.env_kwargs, **overrides},
    )


#: Components whose models load at the first reset, with their preset section.
_PRELOADED = (("extractor", "[extractor]"), ("critic", "[critic]"), ("evaluator", "[evaluator]"))


def preload_models(env: Any, preset: RealPreset) -> None:
    """Load the extractor's, critic's and evaluator's models (at the env's first reset).

    Experts load lazily and a failing one is a failed step; these three are needed by every
    episode, so a model that cannot load is a configuration error: :class:`BackendLoadError`
    naming the preset entry, the model and the fix. Nothing of the episode is built yet."""
    for role, section in _PRELOADED:
        component = getattr(env, role, None)
        preload = getattr(component, "preload", None)
        if not callable(preload):
            continue  # the grammar extractor, an entry point without preload()
        try:
            preload()
        except Exception as e:
            model = next((r["model"]["path"] for r in preset.models if r["component"] == role and r.get("model")), None)
            cause = " ".join(f"{type(e).__name__}: {e}".split())
            cause = cause if len(cause) <= 400 else cause[:400] + " ..."
            raise BackendLoadError(
                f"preset {preset.path}: the {role}'s model {model or getattr(component, 'name', '')!r} ({section}) failed to load: {cause}. "
                f"Fix: point {section} model at a complete checkpoint (a local folder with its config, weights and "
                f"tokenizer/processor, or a reachable hub id); `poser experts --preset {preset.path}` checks every model"
            ) from e


class _Builder:
    def __init__(
        self,
        path: Path,
        data: Any,
        allow_entry_points: bool,
        trust_remote_code: bool = False,
        inspect_only: bool = False,
    ):
        if not isinstance(data, dict):
            raise PresetError(f"preset {path} must be a TOML table")
        unknown = set(data) - SECTIONS
        if unknown:
            hint = " (the allow flag is the caller's, never the preset's)" if "allow_entry_points" in unknown else ""
            raise PresetError(
                f"preset {path}: unknown section(s) {sorted(unknown)}{hint}; allowed: {', '.join(sorted(SECTIONS))}"
            )
        self.path, self.data, self.allow = path, data, bool(allow_entry_points)
        self.trust, self.inspect_only, self.remote = bool(trust_remote_code), bool(inspect_only), []
        self.rows: list[dict[str, Any]] = []
        self.pool = dict(data.get("pool") or {})
        from poser_env.backends.pool import PoolConfig

        try:
            PoolConfig.coerce(self.pool)
        except (TypeError, ValueError) as e:
            raise PresetError(f"preset {path}: [pool]: {e}") from None
        self.named = {k: self._ref(v, f"[models].{k}") for k, v in (data.get("models") or {}).items()}

    # -- models --------------------------------------------------------------------------

    def _ref(self, value: Any, where: str) -> ModelRef:
        if isinstance(value, str) and value in getattr(self, "named", {}):
            return self.named[value]
        try:
            ref = ModelRef.coerce(value)
        except (TypeError, ValueError) as e:
            raise PresetError(f"preset {self.path}: {where}: {e}") from None
        if ref.path.startswith("."):
            from dataclasses import replace

            ref = replace(ref, path=str((self.path.parent / ref.path).resolve()))
        if ref.trust_remote_code:
            self.remote.append(f"{where}: {ref.path}")
            if not (self.trust or self.inspect_only):
                raise PresetError(
                    f"preset {self.path}: {where} sets trust_remote_code = true for {ref.path!r}: that model would run its own "
                    "Python code at the first reset. A preset cannot switch this on by itself: pass trust_remote_code=True "
                    "(CLI: --trust-remote-code) only if you trust that model's code"
                )
        return ref

    def _model(self, table: Mapping[str, Any], where: str) -> ModelRef:
        if "model" not in table:
            raise PresetError(
                f"preset {self.path}: {where} needs a 'model' (a name from [models], a hub id or a folder)"
            )
        return self._ref(table["model"], where)

    def _entry_point(self, table: Mapping[str, Any], where: str) -> str | None:
        if "entry_point" not in table:
            return None
        if not self.allow:
            raise PresetError(
                f"preset {self.path}: {where} names the Python entry point {table['entry_point']!r}; presets may not import "
                f"arbitrary code unless you pass allow_entry_points=True (CLI: --allow-entry-points)"
            )
        return str(table["entry_point"])

    def _custom(self, t: dict[str, Any], component: str, name: str, name_kwarg: bool = True) -> dict[str, Any]:
        """A registry spec for an allowed entry point: ``kwargs = {...}`` and any other fields
        of the table become its keyword arguments (``name`` names the component)."""
        entry_point = str(t.pop("entry_point"))
        kwargs = t.pop("kwargs", None) or {}
        if not isinstance(kwargs, dict):
            raise PresetError(f"preset {self.path}: {component} {name!r}: kwargs must be a table, got {kwargs!r}")
        if name_kwarg:
            name = str(t.pop("name", name))
        self.rows.append({"component": component, "name": name, "type": "entry_point", "model": None})
        return {"name": name, "entry_point": entry_point, "kwargs": {**kwargs, **t}}

    # -- sections -------------------------------------------------------------------------

    def build(self) -> RealPreset:
        meta = dict(self.data.get("preset") or {})
        env = dict(self.data.get("env") or {})
        bad = set(env) - OPTION_NAMES | (set(env) & _COMPONENT_KEYS)
        if bad:
            raise PresetError(
                f"preset {self.path}: [env] has unknown or component field(s) {sorted(bad)}; components have their own sections"
            )
        from poser_env.trust import UntrustedFileError, check_plain_env_kwargs

        try:  # the checkpoints' rule: a module:callable text encoder is code
            check_plain_env_kwargs(env, allow_entry_points=self.allow, source=f"preset {self.path}: [env]")
        except UntrustedFileError as e:
            raise PresetError(str(e)) from None
        safety = self._safety(self.data.get("safety"), "[safety]")
        experts = self.data.get("experts")
        if not isinstance(experts, list) or not experts:
            raise PresetError(f"preset {self.path}: needs at least one [[experts]] table")
        kwargs: dict[str, Any] = {
            **env,
            "experts": [self._expert(e, i, safety) for i, e in enumerate(experts)],
            "critic": self._critic(self.data.get("critic")),
            "extractor": self._extractor(self.data.get("extractor")),
        }
        kwargs["evaluator"] = self._evaluator(self.data.get("evaluator"), kwargs["critic"])
        if "serving" in self.data:  # experts and critic served by Ray (backends/serving.py, docs/scaling.md)
            from poser_env.backends.serving import serve_components

            if not isinstance(self.data["serving"], dict):
                raise PresetError(f"preset {self.path}: [serving] must be a table")
            kwargs = serve_components(kwargs, self.data["serving"], f"preset {self.path}: [serving]")
        return RealPreset(
            self.path,
            str(meta.get("name", self.path.stem)),
            str(meta.get("description", "")),
            kwargs,
            self.rows,
            self.remote,
        )

    def _expert(self, table: Any, i: int, safety: Any) -> dict[str, Any]:
        where = f"[[experts]] #{i + 1}"
        if not isinstance(table, dict) or "name" not in table:
            raise PresetError(f"preset {self.path}: {where} must be a table with a 'name'")
        t = dict(table)
        name = str(t.pop("name"))
        where = f"expert {name!r}"
        if self._entry_point(t, where) is not None:
            return self._custom(t, "expert", name, name_kwarg=False)
        kind = t.pop("type", None)
        if kind not in EXPERT_TYPES:
            raise PresetError(f"preset {self.path}: {where} has type {kind!r}; allowed: {', '.join(EXPERT_TYPES)}")
        ref = self._model(t, where)
        t["model"] = ref.to_dict()
        t["task"] = kind
        t["pool"] = self.pool
        t["allow_entry_points"] = self.allow
        if "safety" in t:
            t["safety"] = self._safety(t["safety"], f"{where}.safety")
        elif safety is not None:
            t["safety"] = safety
        if isinstance(t.get("mask"), dict) and "entry_point" in t["mask"]:
            self._entry_point(t["mask"], f"{where}.mask")
        self.rows.append({"component": "expert", "name": name, "type": kind, "model": ref.to_dict()})
        return {"name": name, "entry_point": EXPERT_ENTRY, "kwargs": t}

    def _safety(self, table: Any, where: str) -> dict[str, Any] | None:
        if not table:
            return None
        t = dict(table)
        if self._entry_point(t, where) is not None:
            return t
        if t.get("type", "none") == "none":
            return None
        if "model" in t:
            ref = self._ref(t["model"], where)
            t["model"] = ref.to_dict()
            self.rows.append({"component": "safety", "name": where, "type": t.get("type"), "model": ref.to_dict()})
        return t

    def _critic(self, table: Any) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise PresetError(f'preset {self.path}: needs a [critic] table (type = "vlm" or "clip", model = ...)')
        t = dict(table)
        if self._entry_point(t, "[critic]") is not None:
            return self._custom(t, "critic", "critic")
        kind = t.pop("type", "vlm")
        if kind not in CRITIC_ENTRIES:
            raise PresetError(f"preset {self.path}: [critic] type {kind!r}; allowed: {', '.join(CRITIC_ENTRIES)}")
        ref = self._model(t, "[critic]")
        t.update(model=ref.to_dict(), pool=self.pool)
        t.setdefault("name", kind)
        self.rows.append({"component": "critic", "name": t["name"], "type": kind, "model": ref.to_dict()})
        return {"name": t["name"], "entry_point": CRITIC_ENTRIES[kind], "kwargs": t}

    def _extractor(self, table: Any) -> dict[str, Any]:
        t = dict(table or {"type": "grammar"})
        if self._entry_point(t, "[extractor]") is not None:
            return self._custom(t, "extractor", "extractor")
        kind = t.pop("type", "llm")
        if kind not in EXTRACTOR_ENTRIES:
            raise PresetError(f"preset {self.path}: [extractor] type {kind!r}; allowed: {', '.join(EXTRACTOR_ENTRIES)}")
        if kind == "grammar":
            self.rows.append({"component": "extractor", "name": "grammar", "type": "grammar", "model": None})
            return {"name": "grammar", "entry_point": EXTRACTOR_ENTRIES["grammar"], "kwargs": {}}
        ref = self._model(t, "[extractor]")
        t.update(model=ref.to_dict(), pool=self.pool)
        t.setdefault("name", kind)
        self.rows.append({"component": "extractor", "name": t["name"], "type": kind, "model": ref.to_dict()})
        return {"name": t["name"], "entry_point": EXTRACTOR_ENTRIES[kind], "kwargs": t}

    def _evaluator(self, table: Any, critic: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise PresetError(
                f"preset {self.path}: needs an [evaluator] table: a second model that judges the final image "
                f'(type = "vlm" or "clip", model = ...); it must not be the critic\'s model'
            )
        t = dict(table)
        if self._entry_point(t, "[evaluator]") is not None:
            return self._custom(t, "evaluator", "evaluator")
        allow_same = bool(t.pop("allow_same_model", False))
        ref = self._model(t, "[evaluator]")
        kind = t.pop("type", "vlm")
        if kind not in CRITIC_ENTRIES:
            raise PresetError(f"preset {self.path}: [evaluator] type {kind!r}; allowed: {', '.join(CRITIC_ENTRIES)}")
        critic_model = critic["kwargs"].get("model", {}).get("path") if isinstance(critic.get("kwargs"), dict) else None
        same = critic_model is not None and _same_model(critic_model, ref.path)
        if same and not allow_same:
            raise PresetError(
                f"preset {self.path}: the evaluator's model {ref.path!r} is the critic's; an agent would be graded by the judge it "
                f"was trained against. Name a different model, or set allow_same_model = true in [evaluator] (reports then say so)"
            )
        t["model"] = ref.to_dict()
        t["type"] = kind
        self.rows.append({"component": "evaluator", "name": "evaluator", "type": kind, "model": ref.to_dict()})
        return {
            "name": "evaluator",
            "entry_point": EVALUATOR_ENTRY,
            "kwargs": {"judge": t, "pool": self.pool, "same_as_critic": same},
        }


def _same_model(a: str, b: str) -> bool:
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()
