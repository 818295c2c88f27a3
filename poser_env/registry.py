"""Build components from plain data, and the expert registry that defines the action space.

Gymnasium's ``EnvSpec`` must stay JSON-serialisable, so an env never receives a callable: it
receives specs such as ``{"name": "layout-t2i", "entry_point": "poser_env.experts.synthetic:
ShapeWorldExpert", "kwargs": {...}}`` and builds the objects itself. The same mechanism builds
critics, extractors and evaluators, so a user plugs in a new component by naming its class.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poser_env.experts.base import MODALITIES, expert_modality

DATA_DIR = Path(__file__).parent / "data"


class RegistryError(ValueError):
    """A component spec is malformed, names something that cannot be imported, or a lookup failed."""


@dataclass(frozen=True)
class ComponentSpec:
    """Plain-data recipe for a component: ``entry_point`` is ``"package.module:Class"``.

    ``provider`` (optional, experts only) names who serves the model: experts of one provider
    can be degraded together on ImagePoser-Drift-v0 (the env's ``drift_unit="provider"``)."""

    name: str
    entry_point: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    provider: str | None = None

    @classmethod
    def coerce(cls, spec: ComponentSpec | Mapping[str, Any]) -> ComponentSpec:
        if isinstance(spec, ComponentSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise RegistryError(f"a component spec must be a dict with name, entry_point, kwargs; got {spec!r}")
        unknown = set(spec) - {"name", "entry_point", "kwargs", "provider"}
        if unknown:
            raise RegistryError(
                f"unknown component spec field(s) {sorted(unknown)}; allowed: name, entry_point, kwargs, provider"
            )
        if "entry_point" not in spec:
            raise RegistryError(f"component spec {dict(spec)!r} has no 'entry_point' (\"module:Class\")")
        kwargs = spec.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise RegistryError(f"'kwargs' of component {spec.get('name')!r} must be a dict, got {kwargs!r}")
        name = str(spec.get("name", spec["entry_point"]))
        return cls(
            name=name,
            entry_point=str(spec["entry_point"]),
            kwargs=dict(kwargs),
            provider=check_provider(spec.get("provider"), name),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "entry_point": self.entry_point, "kwargs": dict(self.kwargs)}
        return out if self.provider is None else {**out, "provider": self.provider}


PROVIDER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}"


def check_provider(provider: Any, name: str) -> str | None:
    """``provider`` of expert ``name``: None, or a short plain name (letters, digits, ``_.-``)."""
    if provider is None:
        return None
    if not isinstance(provider, str) or not re.fullmatch(PROVIDER_PATTERN, provider):
        raise RegistryError(
            f"provider of expert {name!r} must be a name of 1 to 41 letters, digits, '_', '.' or '-' "
            f"starting with a letter or digit (e.g. 'north'), or absent; got {provider!r}"
        )
    return provider


def load_entry_point(entry_point: str) -> Any:
    """Import ``"module:attr"`` and return the attribute, with an error that says what failed."""
    if not isinstance(entry_point, str) or entry_point.count(":") != 1:
        raise RegistryError(f"entry point must look like 'package.module:Class', got {entry_point!r}")
    module_name, attr = entry_point.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise RegistryError(f"cannot import module {module_name!r} for entry point {entry_point!r}: {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise RegistryError(f"module {module_name!r} has no attribute {attr!r} (entry point {entry_point!r})") from None


def build(spec: ComponentSpec | Mapping[str, Any], **extra: Any) -> Any:
    """Instantiate a component from its spec. ``name`` is passed to the constructor if it takes one."""
    spec = ComponentSpec.coerce(spec)
    factory = load_entry_point(spec.entry_point)
    kwargs = {**spec.kwargs, **extra}
    try:
        return factory(**kwargs)
    except TypeError as e:
        raise RegistryError(f"cannot build component {spec.name!r} from {spec.entry_point}: {e}") from e


def check_declared(component: Any, role: str, members: Sequence[str], base: str) -> Any:
    """``component``, once it has every member of ``members`` that its role's protocol declares
    (capabilities such as a critic's ``scores_commands``); else a :class:`RegistryError` naming
    what is missing and the fix: subclass ``base``, which gives the defaults, or define them."""
    missing = [m for m in members if not hasattr(component, m)]
    if missing:
        cls = type(component)
        raise RegistryError(
            f"{role} {getattr(component, 'name', cls.__name__)!r} ({cls.__module__}.{cls.__qualname__}) does not declare "
            f"{', '.join(missing)}: subclass {base} (which gives the defaults) or define them on the class"
        )
    return component


PRESET_SUFFIXES = (".json", ".toml")


def find_preset(name_or_path: str | Path, kind: str) -> Path:
    """The file of a preset: an existing ``.json`` / ``.toml`` path, or a bare name looked up in
    ``poser_env/data/<kind>/<name>.json`` then ``.toml``."""
    path = Path(name_or_path).expanduser()
    if path.suffix in PRESET_SUFFIXES and path.is_file():
        return path
    for suffix in PRESET_SUFFIXES:
        candidate = DATA_DIR / kind / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for s in PRESET_SUFFIXES for p in (DATA_DIR / kind).glob(f"*{s}"))
    label = "" if kind == "presets" else f"{kind} "
    raise RegistryError(
        f"no {label}preset {str(name_or_path)!r}: not a JSON or TOML file, and the built-in presets are {available}"
    )


def load_preset(name_or_path: str | Path, kind: str) -> Any:
    """Load a JSON or TOML preset: a bare name looks in ``poser_env/data/<kind>/``."""
    path = find_preset(name_or_path, kind)
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                raise RegistryError(
                    f"reading the TOML preset {path} needs Python 3.11+ or `pip install tomli`"
                ) from None
        try:
            return tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise RegistryError(f"preset {path} is not valid TOML: {e}") from e
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RegistryError(f"{kind} preset {path} is not valid JSON: {e}") from e


class ExpertRegistry:
    """An ordered set of named experts. Action ``i`` of the env calls ``registry[i]``.

    Build it from expert objects, from specs (``from_specs``), or from a preset name or file
    (``from_preset("synthetic")``). Adding an expert is one class and one entry.
    """

    def __init__(self, experts: Sequence[Any], providers: Sequence[str | None] | None = None):
        if not experts:
            raise RegistryError("an expert registry needs at least one expert")
        if providers is not None and len(providers) != len(experts):
            raise RegistryError(f"{len(providers)} providers given for {len(experts)} experts: give one per expert")
        names = [e.name for e in experts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RegistryError(f"duplicate expert name(s) {dupes}: each expert needs its own name")
        modalities = []
        for e in experts:
            modality = expert_modality(e)
            if modality not in MODALITIES:
                raise RegistryError(f"expert {e.name!r} has modality {modality!r}; allowed: t2i, i2i")
            modalities.append(modality)
            cost = getattr(e, "cost", None)
            if not isinstance(cost, (int, float)) or cost < 0:
                raise RegistryError(f"expert {e.name!r} needs a non-negative cost, got {cost!r}")
        self._experts = list(experts)
        self._index = {n: i for i, n in enumerate(names)}
        self._modalities = modalities
        self._providers = (
            [None] * len(names) if providers is None else [check_provider(p, n) for p, n in zip(providers, names)]
        )

    @classmethod
    def from_specs(cls, specs: Sequence[ComponentSpec | Mapping[str, Any]]) -> ExpertRegistry:
        experts, providers = [], []
        for raw in specs:
            spec = ComponentSpec.coerce(raw)
            experts.append(build(spec, name=spec.name))
            providers.append(spec.provider)
        return cls(experts, providers)

    @classmethod
    def from_preset(cls, name_or_path: str | Path) -> ExpertRegistry:
        data = load_preset(name_or_path, "experts")
        specs = data.get("experts") if isinstance(data, dict) else data
        if not isinstance(specs, list):
            raise RegistryError(f"expert preset {name_or_path!r} must be a list of specs or {{'experts': [...]}}")
        return cls.from_specs(specs)

    @classmethod
    def from_names(cls, names: Sequence[str], preset: str | Path = "synthetic") -> ExpertRegistry:
        """The experts of ``preset`` named in ``names``, in that order (the action order).

        Unknown or repeated names are refused by name, with the preset's names listed.
        """
        data = load_preset(preset, "experts")
        specs = data.get("experts") if isinstance(data, dict) else data
        if not isinstance(specs, list):
            raise RegistryError(f"expert preset {preset!r} must be a list of specs or {{'experts': [...]}}")
        by_name = {ComponentSpec.coerce(s).name: s for s in specs}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise RegistryError(
                f"unknown expert name(s) {unknown} in experts=; the {preset!r} registry has: {', '.join(by_name)}"
            )
        dupes = sorted({n for n in names if list(names).count(n) > 1})
        if dupes:
            raise RegistryError(f"expert name(s) {dupes} repeated in experts=: each expert is one action, name it once")
        return cls.from_specs([by_name[n] for n in names])

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._experts]

    @property
    def modalities(self) -> list[str]:
        """Each expert's ``modality`` (``t2i`` or ``i2i``), in action order (read once, at construction)."""
        return list(self._modalities)

    @property
    def providers(self) -> list[str | None]:
        """Each expert's ``provider`` (None where its spec names none), in action order."""
        return list(self._providers)

    @property
    def costs(self) -> list[float]:
        return [float(e.cost) for e in self._experts]

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise RegistryError(f"unknown expert {name!r}; registered: {', '.join(self.names)}") from None

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._experts[self.index(key)]
        return self._experts[key]

    def __len__(self) -> int:
        return len(self._experts)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._experts)
