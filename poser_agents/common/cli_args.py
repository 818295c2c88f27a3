"""Command-line text to checked values, in one place: ``poser``, ``poser benchmark`` and the examples.

- :func:`positive_int`, :func:`positive_float`, :func:`seed_list`: ``argparse`` types that
  refuse bad text with one line naming what was expected; :func:`json_object` a JSON object
  (``poser benchmark levels --env-kwargs``).
- :func:`check_level_split`: ``--env`` and ``--split`` together: a level without the split is
  one line naming the level, its splits and the levels that have it.
- :func:`add_dataclass_flags` / :func:`dataclass_from_flags` / :func:`parse_dataclass`: every
  field of a config dataclass becomes a flag (``total_timesteps`` -> ``--total-timesteps``),
  with the field's docstring as its help, as CleanRL's ``tyro`` does, without a dependency.
  Values are read from the field's type: ``--double-q false``, ``--net-arch 512,512``,
  ``--total-timesteps 1e5``, ``--seed none`` (where the field allows None).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def quiet_v0_upgrade_notice() -> None:
    """Hide Gymnasium's "ImagePoser-v0 is out of date, consider v1" notice in our commands.

    Gymnasium warns on ``gym.make`` of any id with a newer version registered. ImagePoser's v1
    is not a fix of v0 but another task distribution (v0 plus the prompt forms of the v1
    suites, docs/env.md), and v0 stays the benchmark's reference that the published results
    use; so the ``poser`` commands and the examples, whose default is v0 on purpose, do not
    print it. Only that notice is hidden; code that calls ``gym.make`` itself still gets it.
    """
    import warnings

    import gymnasium.logger  # noqa: F401  (it adds its own "show once" filter at import: ours must go in front)

    warnings.filterwarnings(
        "ignore", message=r".*The environment ImagePoser-(\w+-)?v0 is out of date", category=DeprecationWarning
    )


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def seed_list(text: str) -> list[int]:
    """An ``argparse`` type: comma-separated integers (at least one), e.g. ``0,1,2``."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("name at least one seed, e.g. --seeds 0,1,2")
    return seeds


def json_object(text: str) -> dict[str, Any]:
    """An ``argparse`` type: a JSON object, e.g. ``'{"drift_p": 0.5}'`` (its values are checked by their user)."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(
            f"expected a JSON object such as '{{\"key\": 1}}', got {text!r} ({e})"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"key\": 1}}', got {text!r}")
    return value


# ----------------------------------------------------------------------------------------
# Config dataclasses as flags


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (the string literal that follows it), by name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _kind(f: dataclasses.Field[Any]) -> str:
    """``bool``, ``int``, ``float``, ``list`` or ``str``: how the field's text is read."""
    annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    default = _default(f)
    for kind in ("bool", "list", "float", "int"):
        if annotation.startswith(kind) or isinstance(
            default, {"bool": bool, "list": list, "float": float, "int": int}[kind]
        ):
            if kind == "int" and isinstance(default, bool):
                continue
            return kind
    return "str"


def convert(f: dataclasses.Field[Any], text: str) -> Any:
    """The value of field ``f`` written as ``text`` on a command line; ``ValueError`` naming the flag if it is not one."""
    flag = "--" + f.name.replace("_", "-")
    annotation = f.type if isinstance(f.type, str) else str(f.type)
    if text.strip().lower() == "none" and ("None" in annotation or _default(f) is None):
        return None
    kind = _kind(f)
    try:
        if kind == "bool":
            if text.strip().lower() in _TRUE:
                return True
            if text.strip().lower() in _FALSE:
                return False
            raise ValueError
        if kind == "list":
            return [int(x) for x in text.split(",") if x.strip()]
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                number = float(text)  # 1e5
                if not number.is_integer():
                    raise
                return int(number)
        if kind == "float":
            return float(text)
    except ValueError:
        wanted = {
            "bool": "true or false",
            "list": "comma-separated integers such as 256,256",
            "int": "an integer",
            "float": "a number",
        }[kind]
        raise ValueError(f"{flag} expects {wanted}, got {text!r}") from None
    return text


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "", skip: Sequence[str] = ()) -> None:
    """One flag per field of ``cls`` (dest ``prefix + name``, default None: "not given")."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        doc = docs.get(f.name, "")
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=prefix + f.name,
            metavar=_kind(f).upper(),
            default=None,
            help=f"{doc} (default {_default(f)!r})".strip().replace("%", "%%"),
        )


def dataclass_from_flags(cls: type[T], namespace: argparse.Namespace, prefix: str = "", **overrides: Any) -> T:
    """``cls`` built from its defaults, the flags given in ``namespace`` and then ``overrides``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = {
        name[len(prefix) :]: text
        for name, text in vars(namespace).items()
        if name.startswith(prefix) and text is not None and name[len(prefix) :] in fields
    }
    values = {name: convert(fields[name], text) for name, text in given.items()}
    return cls(**{**values, **overrides})


def parse_dataclass(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None) -> T:
    """Parse ``argv`` (default ``sys.argv[1:]``) into ``cls``: every field a flag, bad values one error line."""
    parser = argparse.ArgumentParser(description=description)
    add_dataclass_flags(parser, cls)
    namespace = parser.parse_args(argv)
    try:
        return dataclass_from_flags(cls, namespace)
    except ValueError as e:
        parser.error(str(e))
        raise  # parser.error exits; this line is for the type checker


def check_level_split(env_id: str, split: str, suite: Any = None) -> None:
    """ValueError when level ``env_id`` (its suite mix, or ``suite`` where a saved agent or
    ``--env-kwargs`` names another) has no split ``split``: the env's own line (which speaks of
    suite mixes, which a user who typed a level id never named), prefixed with the level and
    followed by the registered levels that have the split. Anything else (an unknown id, a
    preset env) is left to the env to refuse."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)
    from poser_env.config import SUITE_MIXES, check_split, mix_splits

    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return
    suite = suite if suite is not None else spec.kwargs.get("suite")
    if not isinstance(suite, str) or suite not in SUITE_MIXES:
        return
    try:
        check_split(suite, split)
    except ValueError as e:
        having = [
            k
            for k, s in gym.registry.items()
            if k.startswith("ImagePoser")
            and s.kwargs.get("suite") in SUITE_MIXES
            and split in mix_splits(s.kwargs["suite"])
        ]
        levels = f"; levels with {split}: {', '.join(having)}" if having else ""
        raise ValueError(f"{env_id}: {e}{levels}") from None
