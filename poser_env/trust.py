"""The one rule for env settings that come from a file: plain data, or the caller's explicit flag.

A checkpoint's ``env_kwargs``, a preset's ``[env]`` table and a GRPO checkpoint's text encoder
are written by whoever made the file, and the file may come from anyone. Several env settings
name code: a component spec (``{"entry_point": "module:Class"}``), a ``module:callable`` text
encoder, an expert preset given as a path to a JSON file of specs, an env id written
``module:Id`` (Gymnasium imports the module). Building an env from such a setting imports and
calls that code, so a file may only use them when the *caller* passes
``allow_entry_points=True`` (CLI ``--allow-entry-points``). The flags themselves
(``allow_entry_points``, ``trust_remote_code``) are never accepted from a file.

Plain without the flag: JSON scalars, lists and tables of them; the default critic, extractor
and evaluator; an expert preset shipped with poser_env (``"synthetic"``) or a list of expert
names; the ``hash`` and ``minilm`` text encoders or a model folder (sentence-transformers imports
a folder's own classes only with ``trust_remote_code``, which is never set from a file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from poser_env.config import DEFAULT_CRITIC, DEFAULT_EVALUATOR, DEFAULT_EXTRACTOR

#: ``package.module:attr`` (the form every importer in the project accepts).
CODE_REFERENCE = re.compile(r"^\s*[A-Za-z_][\w.]*\s*:\s*[A-Za-z_][\w.]*\s*$")
#: Keys a file may never set: they are the caller's decision.
CALLER_FLAGS = ("allow_entry_points", "trust_remote_code")
DEFAULT_COMPONENTS = {"critic": DEFAULT_CRITIC, "extractor": DEFAULT_EXTRACTOR, "evaluator": DEFAULT_EVALUATOR}
#: The entry point of the env every ImagePoser checkpoint is made for.
DEFAULT_ENV_ENTRY_POINT = "poser_env.env:ImagePoserEnv"
MAX_DEPTH = 32

FLAG_HINT = "pass --allow-entry-points (API: allow_entry_points=True) only if you trust whoever wrote the file"


class UntrustedFileError(ValueError):
    """A file asks for code to be imported or run, and the caller did not allow it."""


def is_code_reference(value: Any) -> bool:
    """Whether ``value`` names Python code: a ``module:attr`` string, or a table with an ``entry_point``."""
    if isinstance(value, str):
        return bool(CODE_REFERENCE.match(value))
    if isinstance(value, Mapping):
        return "entry_point" in value
    return type(value).__name__ == "ComponentSpec"


def _builtin_expert_preset(name: str) -> bool:
    from poser_env.registry import DATA_DIR, PRESET_SUFFIXES

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return False
    return any((DATA_DIR / "experts" / f"{name}{s}").is_file() for s in PRESET_SUFFIXES)


class _Hard(str):
    """A reason no flag lifts: not plain data at all, or a caller flag inside a file."""


def _names_code(key: str, value: Any, depth: int = 0) -> str | None:
    """Why ``value`` (the setting ``key``) names code (a :class:`_Hard` reason if no flag lifts it), or None."""
    if depth > MAX_DEPTH:
        return _Hard(f"is nested more than {MAX_DEPTH} levels deep")
    if key in DEFAULT_COMPONENTS and depth == 0:
        if isinstance(value, Mapping) and dict(value) == DEFAULT_COMPONENTS[key]:
            return None
        return f"is a component spec ({_short(value)}), which imports and runs the code it names"
    if key == "experts" and depth == 0:
        if isinstance(value, str):
            return (
                None
                if _builtin_expert_preset(value)
                else (
                    f"is {value!r}, not an expert preset shipped with poser_env: a preset file lists entry points to import"
                )
            )
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return None  # expert names
        if isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
            return "is a list of expert specs, whose entry points are imported and called"
        # anything else (None, a number, a table) names no code here: EnvConfig refuses it by type, or the checks below apply
    if key == "text_encoder" and depth == 0 and isinstance(value, str) and is_code_reference(value):
        return f"is the Python callable {value.strip()!r}, which would be imported and called"
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, str):
        return f"names the Python code {value.strip()!r}" if is_code_reference(value) else None
    if isinstance(value, (list, tuple)):
        for v in value:
            why = _names_code(key, v, depth + 1)
            if why:
                return why
        return None
    if isinstance(value, Mapping):
        if "entry_point" in value:
            return f"holds an entry point ({_short(value)})"
        for k, v in value.items():
            if not isinstance(k, str):
                return _Hard(f"has a non-string key {k!r}")
            if k in CALLER_FLAGS and v:
                return _Hard(f"sets {k!r}, which only the caller may set")
            why = _names_code(k, v, depth + 1)
            if why:
                return why
        return None
    return _Hard(f"is of type {type(value).__name__}, not plain data")


def _short(value: Any) -> str:
    text = repr(dict(value) if isinstance(value, Mapping) else value)
    return text if len(text) <= 120 else text[:117] + "..."


def check_plain_env_kwargs(
    kwargs: Any, *, allow_entry_points: bool = False, source: str = "the file"
) -> dict[str, Any]:
    """``kwargs`` as a dict if every setting is plain data (or the caller allowed code); else raise.

    Raises :class:`UntrustedFileError` naming ``source``, the setting and the flag. The caller
    flags (``allow_entry_points``, ``trust_remote_code``) are refused even with the flag.
    """
    if not isinstance(kwargs, Mapping):
        raise UntrustedFileError(f"{source}: env settings must be a table of plain values, got {type(kwargs).__name__}")
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if not isinstance(key, str):
            raise UntrustedFileError(f"{source}: env setting names must be strings, got {key!r}")
        if key in CALLER_FLAGS:
            raise UntrustedFileError(
                f"{source}: sets {key!r}; that flag is the caller's, never a file's "
                f"(CLI --{key.replace('_', '-')}, API {key}=True)"
            )
        why = _names_code(key, value)
        if why is None:
            pass
        elif isinstance(why, _Hard):
            raise UntrustedFileError(f"{source}: env setting {key!r} {why}")
        elif not allow_entry_points:
            raise UntrustedFileError(f"{source}: env setting {key!r} {why}; refused: {FLAG_HINT}")
        out[key] = value
    return out


def check_text_encoder(name: Any, *, allow_entry_points: bool = False, source: str = "the file") -> str:
    """A text-encoder name from a file: refused if it names code (``module:callable``) without the flag."""
    if not isinstance(name, str) or not name.strip():
        raise UntrustedFileError(f"{source}: the text encoder must be a non-empty name such as 'hash', got {name!r}")
    if is_code_reference(name) and not allow_entry_points:
        raise UntrustedFileError(
            f"{source}: the text encoder {name.strip()!r} is a Python callable that would be imported and "
            f"called; refused: {FLAG_HINT}"
        )
    return name


def check_env_id(env_id: Any, *, allow_entry_points: bool = False, source: str = "the file") -> str | None:
    """An env id from a file: a registered id (None passes); ``module:Id`` imports ``module``, so needs the flag."""
    if env_id is None:
        return None
    if not isinstance(env_id, str) or not env_id:
        raise UntrustedFileError(
            f"{source}: env_id must be a registered env id such as 'ImagePoser-v0', got {env_id!r}"
        )
    if ":" in env_id:
        if not allow_entry_points:
            raise UntrustedFileError(
                f"{source}: env_id {env_id!r} makes Gymnasium import the module {env_id.split(':')[0]!r}; "
                f"refused: {FLAG_HINT}"
            )
        return env_id
    import gymnasium

    import poser_env  # noqa: F401  (registers the ids)

    if env_id not in gymnasium.registry:
        raise UntrustedFileError(
            f"{source}: env_id {env_id!r} is not a registered env id "
            f"(ImagePoser's: {', '.join(sorted(i for i in gymnasium.registry if i.startswith('ImagePoser')))})"
        )
    return env_id


def check_env_entry_point(entry_point: Any, *, allow_entry_points: bool = False, source: str = "the file") -> str:
    """An env entry point from a file: ImagePoser's own env passes, anything else needs the flag."""
    if entry_point is None or entry_point == DEFAULT_ENV_ENTRY_POINT:
        return DEFAULT_ENV_ENTRY_POINT
    if not isinstance(entry_point, str) or not is_code_reference(entry_point):
        raise UntrustedFileError(
            f"{source}: env_entry_point must look like 'package.module:Class', got {entry_point!r}"
        )
    if not allow_entry_points:
        raise UntrustedFileError(
            f"{source}: env_entry_point {entry_point!r} is not ImagePoser's env "
            f"({DEFAULT_ENV_ENTRY_POINT}); building it would import and call that code; refused: {FLAG_HINT}"
        )
    return entry_point


def plain_components(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint writes of an env's kwargs: without the components equal to the defaults
    (plain data) and without the caller flags (a file never carries them; the loader passes its own)."""
    return {
        k: v
        for k, v in kwargs.items()
        if k not in CALLER_FLAGS
        and not (k in DEFAULT_COMPONENTS and isinstance(v, Mapping) and dict(v) == DEFAULT_COMPONENTS[k])
    }
