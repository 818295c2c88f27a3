"""Checkpoint I/O shared by the DQN and GRPO agents: one schema check, safe reads, atomic writes.

A checkpoint folder is something people share, so everything in it is input from a stranger
(``docs/security.md``):

- :func:`read_metadata` validates the whole ``agent.json`` in one place and raises one
  :class:`CheckpointError` naming the field; file names must stay inside the folder; the env
  settings must be plain data unless the caller passes ``allow_entry_points=True``
  (:mod:`poser_env.trust`).
- :func:`load_tensors` reads torch files with ``weights_only=True`` (no pickled code runs) and
  never repeats torch's advice to retry without it; :func:`check_finite` refuses NaN/inf weights.
- :func:`write_checkpoint` writes every file to a temporary name in the same folder, fsyncs,
  renames, and writes ``agent.json`` last, so a kill at any moment leaves the previous
  checkpoint or the new one, never a mix that loads (see :func:`read_metadata` for the one
  window between the renames).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

META_FILE = "agent.json"
PENDING_META = ".agent.json.pending"
#: Each agent's format name -> (class name, weights-file field, checksum field, newest version read).
FORMATS: dict[str, tuple[str, str, str, int]] = {
    "imageposer-dqn": ("DQNAgent", "model_file", "model_sha256", 2),
    "imageposer-grpo": ("GRPOAgent", "weights_file", "weights_sha256", 1),
}
_SHA = re.compile(r"^[0-9a-f]{64}$")
MAX_META_BYTES = 16 << 20


class CheckpointError(ValueError):
    """An agent checkpoint is missing, corrupt, unsafe, or made for another env (the message says which and what to do)."""


# ----------------------------------------------------------------------------------------
# Files


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks: the checksum a checkpoint records for its weights."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (same folder, so ``os.replace`` is atomic); keeps the suffix."""
    return path.with_name(f".{path.stem}.tmp-{secrets.token_hex(4)}{path.suffix}")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: temporary file in the same folder, fsync, ``os.replace``, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_checkpoint(
    folder: str | Path,
    writers: Mapping[str, Callable[[Path], None]],
    make_meta: Callable[[dict[str, str]], dict[str, Any]],
) -> Path:
    """Write a checkpoint so that a kill at any moment never destroys the previous one.

    ``writers`` maps each weights file name to a function that writes it to a given path;
    ``make_meta`` gets ``{file name: sha256}`` and returns ``agent.json``'s content. Order:
    every file to a temporary name (fsync), the new metadata to ``.agent.json.pending``
    (fsync), then the renames, ``agent.json`` last, then fsync of the folder. Temporaries
    left by a killed save are removed at the next save, and a pending ``agent.json`` left by a
    save killed between its renames is first put in place (its weights are already there), so
    that this save, killed in turn, still leaves a loadable checkpoint behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    pending = folder / PENDING_META
    if pending.is_file():  # left by a killed save: finish it if its weights were renamed, else drop it,
        if _recover(folder, pending) is not None:  # before this save overwrites the pending file
            os.replace(pending, folder / META_FILE)
        else:
            pending.unlink()
        fsync_dir(folder)
    temps: dict[str, Path] = {}
    try:
        for name, write in writers.items():
            tmp = temp_path(folder / name)
            temps[name] = tmp
            write(tmp)
            _fsync_file(tmp)
        meta = make_meta({name: file_sha256(tmp) for name, tmp in temps.items()})
        with open(pending, "w") as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(folder)
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
        os.replace(pending, folder / META_FILE)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    return folder


def inside(folder: Path, name: Any, field: str, where: Path) -> Path:
    """``folder / name`` for a file name read from ``where``; refuses anything that leaves the folder."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise CheckpointError(
            f"{where}: field {field!r} must be a file name inside the checkpoint folder, got {name!r}"
        )
    if "/" in name or "\\" in name or os.path.isabs(name) or ":" in name:
        raise CheckpointError(
            f"{where}: field {field!r} is {name!r}, a path; a checkpoint may only name files in its own "
            f"folder (a plain file name such as 'model.zip'): refused"
        )
    path = folder / name
    real = path.resolve()
    if real.parent != folder.resolve():
        raise CheckpointError(
            f"{where}: {field} {name!r} is a link to {str(real)!r}, outside the checkpoint folder: refused"
        )
    return path


# ----------------------------------------------------------------------------------------
# agent.json


def _fail(where: Path, field: str, problem: str) -> CheckpointError:
    return CheckpointError(
        f"{where}: field {field!r} {problem}; re-save the checkpoint with this version of imageposer"
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_names(where: Path, meta: dict[str, Any], field: str, required: bool) -> None:
    v = meta.get(field)
    if v is None and not required:
        return
    if not isinstance(v, list) or not all(isinstance(n, str) for n in v):
        raise _fail(where, field, f"must be a list of names, got {type(v).__name__}")


def _check_space(where: Path, meta: dict[str, Any], field: str) -> None:
    v = meta.get(field)
    if not isinstance(v, dict) or not isinstance(v.get("type"), str):
        raise _fail(where, field, f"must be a space summary such as {{'type': 'Discrete', 'n': 12}}, got {v!r}"[:300])


def _check_text_encoder(where: Path, meta: dict[str, Any], required: bool) -> None:
    v = meta.get("text_encoder")
    if v is None and not required:
        return
    if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"].strip():
        raise _fail(
            where,
            "text_encoder",
            f"must be a table with the encoder's 'name' (e.g. {{'name': 'hash', 'dim': 128}}), got {v!r}",
        )
    if "dim" in v and not (_is_int(v["dim"]) and v["dim"] >= 0):
        raise _fail(where, "text_encoder.dim", f"must be a non-negative integer, got {v['dim']!r}")


def _check_record(where: Path, meta: dict[str, Any], owner: str) -> None:
    """The fields kept for the record (never used to load) still have their types."""
    agent = {"DQNAgent": "dqn", "GRPOAgent": "grpo"}[owner]
    if "agent" in meta and meta["agent"] != agent:
        raise _fail(where, "agent", f"must be {agent!r} in a {owner} checkpoint, got {meta['agent']!r}")
    for field in ("algorithm", "saved_at"):
        if field in meta and not isinstance(meta[field], str):
            raise _fail(where, field, f"must be a string, got {type(meta[field]).__name__}")
    versions = meta.get("versions", {})
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise _fail(where, "versions", "must be a table of library versions (strings)")


def _check_dqn(where: Path, meta: dict[str, Any]) -> None:
    if not isinstance(meta.get("config"), dict):
        raise _fail(where, "config", f"must be a table of DQNConfig fields, got {type(meta.get('config')).__name__}")
    _check_space(where, meta, "observation_space")
    _check_space(where, meta, "action_space")
    act = meta["action_space"]
    if act.get("type") != "Discrete" or not (_is_int(act.get("n")) and act["n"] >= 1):
        raise _fail(where, "action_space", f"must be {{'type': 'Discrete', 'n': <actions>}}, got {act!r}")
    _check_names(where, meta, "action_names", required=meta["format_version"] >= 2)
    if (meta.get("action_names") or meta["format_version"] >= 2) and len(meta["action_names"]) != act["n"]:
        raise _fail(where, "action_names", f"lists {len(meta['action_names'])} actions but action_space has {act['n']}")
    _check_names(where, meta, "expert_names", required=False)
    _check_text_encoder(where, meta, required=False)
    if "num_timesteps" in meta and not (_is_int(meta["num_timesteps"]) and meta["num_timesteps"] >= 0):
        raise _fail(where, "num_timesteps", f"must be a non-negative integer, got {meta['num_timesteps']!r}")
    for field in ("env_rebuildable",):
        if field in meta and not isinstance(meta[field], bool):
            raise _fail(where, field, f"must be true or false, got {meta[field]!r}")
    if meta.get("env_config") is not None and not isinstance(meta["env_config"], dict):
        raise _fail(where, "env_config", f"must be a table or null, got {type(meta['env_config']).__name__}")


def _check_grpo(where: Path, meta: dict[str, Any]) -> None:
    vocab = meta.get("vocab")
    if not isinstance(vocab, dict):
        raise _fail(where, "vocab", f"must be a table with 'experts' and 'attempts', got {vocab!r}")
    if (
        not isinstance(vocab.get("experts"), list)
        or not vocab["experts"]
        or not all(isinstance(n, str) for n in vocab["experts"])
    ):
        raise _fail(where, "vocab.experts", f"must be a non-empty list of expert names, got {vocab.get('experts')!r}")
    if not (_is_int(vocab.get("attempts")) and vocab["attempts"] >= 1):
        raise _fail(where, "vocab.attempts", f"must be a positive integer, got {vocab.get('attempts')!r}")
    for field in ("policy_config", "sampling"):
        if not isinstance(meta.get(field), dict):
            raise _fail(where, field, f"must be a table, got {type(meta.get(field)).__name__}")
    for key, v in meta["policy_config"].items():
        if not (_is_int(v) and v >= 1):
            raise _fail(where, f"policy_config.{key}", f"must be a positive integer, got {v!r}")
    for key, v in meta["sampling"].items():
        if not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            raise _fail(where, f"sampling.{key}", f"must be a finite number or a boolean, got {v!r}")
    _check_text_encoder(where, meta, required=True)
    if not isinstance(meta.get("has_reference"), bool):
        raise _fail(where, "has_reference", f"must be true or false, got {meta.get('has_reference')!r}")


def _check_env(where: Path, meta: dict[str, Any], allow_entry_points: bool) -> None:
    from poser_env.trust import (
        UntrustedFileError,
        check_env_entry_point,
        check_env_id,
        check_plain_env_kwargs,
        check_text_encoder,
    )

    kwargs = meta.get("env_kwargs", {})
    if not isinstance(kwargs, dict):
        raise _fail(where, "env_kwargs", f"must be a table of env settings, got {type(kwargs).__name__}")
    try:
        meta["env_kwargs"] = check_plain_env_kwargs(kwargs, allow_entry_points=allow_entry_points, source=str(where))
        check_env_id(meta.get("env_id"), allow_entry_points=allow_entry_points, source=f"{where}: field 'env_id'")
        if "env_entry_point" in meta:
            check_env_entry_point(
                meta["env_entry_point"],
                allow_entry_points=allow_entry_points,
                source=f"{where}: field 'env_entry_point'",
            )
        if meta["format"] == "imageposer-grpo":  # the GRPO agent builds its own encoder from this name
            check_text_encoder(
                meta["text_encoder"]["name"],
                allow_entry_points=allow_entry_points,
                source=f"{where}: field 'text_encoder.name'",
            )
    except UntrustedFileError as e:
        raise CheckpointError(str(e)) from None


def _parse(path: Path) -> Any:
    if path.stat().st_size > MAX_META_BYTES:
        raise CheckpointError(
            f"{path} is {path.stat().st_size} bytes; an agent.json is a few KiB: not a checkpoint file"
        )
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is corrupt (not valid JSON: {e})") from None
    except RecursionError:
        raise CheckpointError(f"{path} is corrupt (not valid JSON: nested too deeply)") from None
    except ValueError as e:
        raise CheckpointError(f"{path} is corrupt ({e})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_metadata(path: str | Path, fmt: str | None = None, *, allow_entry_points: bool = False) -> dict[str, Any]:
    """A checkpoint's ``agent.json``, validated in full before any weight is read.

    ``fmt`` is the expected format (``imageposer-dqn`` / ``imageposer-grpo``; None: either).
    Raises one :class:`CheckpointError` naming the file and the field. ``_folder`` is added.
    If a save was killed between renaming its weights and renaming ``agent.json``, the
    pending metadata whose checksums match the files on disk is the checkpoint's.
    """
    folder = Path(path)
    if folder.name == "model.zip" or folder.suffix == ".zip":
        folder = folder.parent
    if not folder.exists():
        raise CheckpointError(f"no agent checkpoint at {str(folder)!r}: the folder does not exist")
    if not folder.is_dir():
        raise CheckpointError(
            f"{str(folder)!r} is a file; an agent checkpoint is a folder (with {META_FILE} and the weights)"
        )
    meta_path = folder / META_FILE
    pending = folder / PENDING_META
    # A save killed between renaming its weights and renaming agent.json: the pending metadata
    # whose checksum matches the weights on disk is the checkpoint's.
    recovered = _recover(folder, pending) if pending.is_file() else None
    if not meta_path.is_file() and recovered is None:
        found = ", ".join(sorted(p.name for p in folder.iterdir() if p.suffix in (".zip", ".pt", ".pth"))[:4])
        raise CheckpointError(
            f"{str(folder)!r} is not an ImagePoser agent checkpoint: {META_FILE} is missing (DQNAgent.save and GRPOAgent.save "
            "write it)" + (f"; the folder has {found} but without {META_FILE} nothing says what it is" if found else "")
        )
    meta = recovered if recovered is not None else _parse(meta_path)
    where = meta_path
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{where} is not an agent checkpoint (a JSON table is expected, got {type(meta).__name__})"
        )
    declared = meta.get("format")
    if not isinstance(declared, str) or declared not in FORMATS or (fmt is not None and declared != fmt):
        wanted = FORMATS[fmt][0] if fmt else "ImagePoser agent"
        raise CheckpointError(
            f"{where} is not a {wanted} checkpoint (format {declared!r}, expected "
            f"{fmt or ' or '.join(map(repr, FORMATS))})"
        )
    owner, file_field, sha_field, newest = FORMATS[declared]
    version = meta.get("format_version", 1)
    if not _is_int(version) or version < 1:
        raise _fail(where, "format_version", f"must be a positive integer, got {version!r}")
    if version > newest:
        raise CheckpointError(
            f"{where} has format version {version}; this code reads up to {newest}: upgrade imageposer"
        )
    meta["format_version"] = version
    inside(folder, meta.get(file_field), file_field, where)
    digest = meta.get(sha_field)
    if not (isinstance(digest, str) and _SHA.match(digest)) and not (
        digest is None and declared == "imageposer-dqn" and version == 1
    ):
        raise _fail(where, sha_field, f"must be the SHA-256 (64 hex digits) of {meta.get(file_field)}, got {digest!r}")
    _check_record(where, meta, owner)
    (_check_dqn if declared == "imageposer-dqn" else _check_grpo)(where, meta)
    _check_env(where, meta, allow_entry_points)
    meta["_folder"] = str(folder)
    return meta


def _recover(folder: Path, pending: Path) -> Any:
    """The pending metadata if the killed save had already committed its weights, else None."""
    try:
        new = json.loads(pending.read_text())
        fmt = FORMATS[new["format"]]
        name, digest = new[fmt[1]], new[fmt[2]]
        if isinstance(name, str) and "/" not in name and "\\" not in name and file_sha256(folder / name) == digest:
            return new
    except Exception:  # a half-written pending file, or weights not renamed yet: the save did not get that far
        pass
    return None


def checkpoint_format(path: str | Path) -> str | None:
    """The ``format`` an ``agent.json`` in ``path`` declares (no validation), or None."""
    meta = Path(path) / META_FILE
    if not meta.is_file():  # a first save killed between its renames
        meta = Path(path) / PENDING_META
    try:
        data = json.loads(meta.read_text()) if meta.is_file() and meta.stat().st_size <= MAX_META_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    return data.get("format") if isinstance(data, dict) and isinstance(data.get("format"), str) else None


def verify_file(meta: dict[str, Any], file_field: str, sha_field: str) -> Path:
    """The weights file of a validated checkpoint, checked present and matching its recorded SHA-256."""
    folder = Path(meta["_folder"])
    path = inside(folder, meta[file_field], file_field, folder / META_FILE)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(folder)!r} is incomplete: {meta[file_field]} is missing")
    digest = meta.get(sha_field)
    if digest and file_sha256(path) != digest:
        raise CheckpointError(
            f"{path} is corrupt or truncated: its SHA-256 differs from the one recorded in {META_FILE} "
            f"({path.stat().st_size} bytes now)"
        )
    return path


# ----------------------------------------------------------------------------------------
# Weights


def _clean(message: str) -> str:
    """torch's error text without its advice to load with ``weights_only=False`` (never pass that on)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    parts = [p for p in re.split(r"(?<=[.!])\s+", first) if "weights_only" not in p and "trust the source" not in p]
    text = " ".join(parts).strip() or "unreadable"
    return text if len(text) <= 300 else text[:297] + "..."


def load_tensors(source: str | Path | bytes, where: str) -> Any:
    """``torch.load(..., weights_only=True)`` on CPU: tensors and plain containers only, no pickled code.

    A file that holds anything else is refused as unsafe; a damaged one as corrupt. The error
    never suggests ``weights_only=False``.
    """
    import pickle

    import torch

    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "Unsupported global" in text or "weights_only" in text or "GLOBAL" in text:
            raise CheckpointError(
                f"{where} holds Python objects, not only tensors: loading it would run code from the file, "
                "so it is refused (nothing was run). Use a checkpoint saved by imageposer from a source you trust"
            ) from None
        raise CheckpointError(f"cannot read {where}: the file is corrupt or truncated ({_clean(text)})") from None
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # zip, EOF and format errors
        raise CheckpointError(
            f"cannot read {where}: the file is corrupt or truncated ({type(e).__name__}: {_clean(str(e))})"
        ) from None


def check_finite(
    state: Mapping[str, Any], where: str, fix: str = "the checkpoint is unusable: retrain, or use an earlier checkpoint"
) -> None:
    """Refuse a state dict with a NaN or infinite value in a floating tensor (it would poison every prediction)."""
    import torch

    for key, value in state.items():
        if isinstance(value, Mapping):
            check_finite(value, where, fix)
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{where}: weight {key!r} holds NaN or infinite values; {fix}")
