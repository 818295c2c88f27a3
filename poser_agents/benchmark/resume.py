"""Resumable ``poser benchmark run``: the learner's training state at each curve point.

A 1M-step run takes hours of CPU; a kill (out of memory, a reboot, the end of a session) must
not lose it. At each val curve point the runner saves the training state under
``<seed folder>/checkpoint/``; running the same command again finds the partial result and its
checkpoint and goes on from that step (:func:`load_state`).

Layout: each save is a new folder ``checkpoint/step-<N>/`` (``state.json``, ``policy.pt`` and,
for off-policy learners, ``buffer.npz``), fsynced, then ``checkpoint/latest.json`` is replaced
atomically to name it, then older folders are removed: a kill at any moment leaves
``latest.json`` naming a complete folder.

A checkpoint folder is input like any other file (``docs/security.md``): nothing in it is
executed. ``policy.pt`` holds the ``state_dict`` of the policy and of its optimizer
(SB3's ``_get_torch_save_params``), read with ``torch.load(weights_only=True)``;
``buffer.npz`` the replay buffer's arrays, read with ``allow_pickle=False``; ``state.json``
the counters SB3 keeps (``num_timesteps``, ``_n_updates``, ``_n_calls``, ``_episode_num``),
the run's identity and the SHA-256 of the two other files, which are checked before use.

A resumed run is **not** bit-identical to one that was never interrupted: the RNGs and the
training env are reseeded from ``(seed, step)`` (so the env does not replay the tasks of step
0), the env starts a new episode, and an on-policy rollout in progress at the checkpoint is
collected again. It is deterministic given the step it resumed from, and ``result.json``
records each resume (``resumed``: ``[{"step", "at"}]``).

Resumable learners: the SB3 / sb3-contrib algorithms and the masked DQN. GRPO and a user's
``module:callable`` are not; their partial run starts again from step 0.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Collection
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from poser_agents.common.checkpoint import (
    CheckpointError,
    atomic_write_text,
    check_finite,
    file_sha256,
    fsync_dir,
    inside,
    load_tensors,
)

CHECKPOINT_DIR = "checkpoint"
LATEST = "latest.json"
SCHEMA = "poser-benchmark-checkpoint"
VERSION = 1
#: The counters of an SB3 algorithm that a resume restores (those absent on a learner are skipped).
COUNTERS: tuple[str, ...] = ("num_timesteps", "_n_updates", "_n_calls", "_episode_num")
#: Identity fields of the run that must match the command that resumes it.
IDENTITY: tuple[str, ...] = ("algo", "env_id", "seed", "steps", "protocol")
#: The flag of ``poser benchmark run`` that sets each protocol field (``cost_weight`` has none).
PROTOCOL_FLAGS: dict[str, str] = {
    "eval_every": "--eval-every",
    "val_episodes": "--val-episodes",
    "test_episodes": "--test-episodes",
    "eval_seeds": "--eval-seeds",
    "text_encoder": "--text-encoder",
}


def identity_differences(recorded: dict[str, Any], identity: dict[str, Any]) -> str:
    """The identity fields a recorded run (a result or a checkpoint's identity) and a command
    disagree on; the protocol one field at a time with its flag (``protocol.test_episodes
    (--test-episodes): 5 there, 100 asked``), not as two whole dicts in different key orders."""
    shown = []
    for key in IDENTITY:
        there, asked = recorded.get(key), identity.get(key)
        if there == asked:
            continue
        if key == "protocol" and isinstance(there, dict) and isinstance(asked, dict):
            for k in sorted(set(there) | set(asked)):
                if there.get(k) != asked.get(k):
                    flag = f" ({PROTOCOL_FLAGS[k]})" if k in PROTOCOL_FLAGS else ""
                    shown.append(f"protocol.{k}{flag}: {there.get(k)!r} there, {asked.get(k)!r} asked")
        else:
            shown.append(f"{key}: {there!r} there, {asked!r} asked")
    return "; ".join(shown)


def run_differences(recorded: dict[str, Any], identity: dict[str, Any]) -> str:
    """The identity fields ``recorded`` (a result or checkpoint) and this command disagree on,
    and the learner settings (:func:`~poser_agents.benchmark.algos.settings_of`: a file written
    before 2026-12-01 has none, and is today's learner unless that learner changed since): a run
    made with other settings (``recurrent_ppo``'s 256-unit LSTMs before then) is another run."""
    from poser_agents.benchmark.algos import CHANGED_SETTINGS, learner_settings, settings_of

    diff = identity_differences(recorded, identity)
    if "settings" not in recorded and identity["algo"] not in CHANGED_SETTINGS:
        return diff
    now = json.loads(json.dumps(learner_settings(identity["algo"], identity["steps"])))
    there = settings_of(recorded | {"algo": identity["algo"], "steps": identity["steps"]})
    changed = _flat_differences(there, now, "settings")
    return "; ".join(x for x in (diff, *changed) if x)


_ABSENT = object()


def _flat_differences(there: Any, asked: Any, path: str) -> list[str]:
    if isinstance(there, dict) and isinstance(asked, dict):
        return [
            d
            for k in sorted(set(there) | set(asked))
            for d in _flat_differences(there.get(k, _ABSENT), asked.get(k, _ABSENT), f"{path}.{k}")
        ]
    if there == asked:
        return []
    show = lambda v: "absent" if v is _ABSENT else repr(v)  # noqa: E731
    return [f"{path}: {show(there)} there, {show(asked)} asked"]


#: The replay buffer's scalars that are its state; the others are settings a checkpoint must match.
BUFFER_STATE: tuple[str, ...] = ("pos", "full", "n_rows", "compact_at")


def sb3_model(model: Any) -> Any:
    """The SB3 algorithm behind a learner (the masked DQN wraps one), or None if it is not SB3's."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    inner = getattr(model, "model", model)
    return inner if isinstance(inner, BaseAlgorithm) else None


def resumable(algo: str) -> bool:
    """Whether ``algo``'s runs save a training state (the SB3 / sb3-contrib learners and the masked DQN)."""
    from poser_agents.benchmark.algos import SB3_ALGOS

    return algo in SB3_ALGOS or algo == "masked_dqn"


def _write_file(path: Path, write: Any) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _buffer_state(buffer: Any) -> tuple[dict[str, np.ndarray], dict[str, int | float | bool]]:
    """The replay buffer's arrays (``attr`` or ``attr/key`` for dicts of arrays) and scalars."""
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, int | float | bool] = {}
    for name, value in vars(buffer).items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            arrays.update({f"{name}/{k}": v for k, v in value.items()})
        elif isinstance(value, (bool, np.bool_)):
            scalars[name] = bool(value)
        elif isinstance(value, (int, np.integer)):
            scalars[name] = int(value)
        elif isinstance(value, (float, np.floating)):
            scalars[name] = float(value)
    return arrays, scalars


def save_state(folder: Path, model: Any, identity: dict[str, Any], step: int, seconds: float) -> Path:
    """Save ``model``'s training state at ``step`` under ``folder/checkpoint``; returns the new slot.

    :raises ValueError: ``model`` is not an SB3 learner (see :func:`resumable`).
    :raises OSError: the files could not be written (a full disk, a read-only folder); the new
        slot is removed and ``latest.json`` still names the previous checkpoint.
    """
    import torch

    sb3 = sb3_model(model)
    if sb3 is None:
        raise ValueError(f"{type(model).__name__} is not an SB3 learner: its training state cannot be saved")
    root = folder / CHECKPOINT_DIR
    slot = root / f"step-{int(step)}"
    names, _ = sb3._get_torch_save_params()
    policy = io.BytesIO()  # serialised in memory: a write that fails is then an OSError, not torch's RuntimeError
    torch.save({name: attrgetter(name)(sb3).state_dict() for name in names}, policy)
    try:
        return _save_slot(root, slot, sb3, policy.getvalue(), identity, step, seconds)
    except OSError:
        shutil.rmtree(slot, ignore_errors=True)  # the pointer still names the previous, complete slot
        raise


def _save_slot(
    root: Path, slot: Path, sb3: Any, policy: bytes, identity: dict[str, Any], step: int, seconds: float
) -> Path:
    if slot.is_symlink() or slot.is_file():
        slot.unlink()
    elif slot.exists():
        shutil.rmtree(slot)
    slot.mkdir(parents=True)
    _write_file(slot / "policy.pt", lambda f: f.write(policy))
    files = {"policy": "policy.pt"}
    scalars: dict[str, Any] = {}
    buffer = getattr(sb3, "replay_buffer", None)
    if buffer is not None:
        arrays, scalars = _buffer_state(buffer)
        _write_file(slot / "buffer.npz", lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
        files["buffer"] = "buffer.npz"
    state = {
        "schema": SCHEMA,
        "version": VERSION,
        "identity": identity,
        "step": int(step),
        "seconds": round(float(seconds), 1),
        "counters": {k: int(getattr(sb3, k)) for k in COUNTERS if hasattr(sb3, k)},
        "buffer_scalars": scalars,
        "files": files,
        "sha256": {k: file_sha256(slot / v) for k, v in files.items()},
    }
    _write_file(slot / "state.json", lambda f: f.write((json.dumps(state, indent=1) + "\n").encode()))
    fsync_dir(slot)
    atomic_write_text(root / LATEST, json.dumps({"schema": SCHEMA, "version": VERSION, "slot": slot.name}) + "\n")
    for old in root.iterdir():  # the older slots (and any left by a kill during a save)
        if old.is_dir() and old.name != slot.name:
            shutil.rmtree(old, ignore_errors=True)
    return slot


def clear_checkpoint(folder: Path) -> bool:
    """Remove ``folder``'s checkpoint (a run starting at step 0 must not leave an earlier run's
    checkpoint for a later resume to find); returns whether there was one."""
    root = folder / CHECKPOINT_DIR
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    else:
        return False
    return True


def drop_buffer(folder: Path) -> None:
    """After a complete run: delete the replay buffer (large), keep the final weights and state."""
    slot = _latest_slot(folder)
    if slot is not None:
        (slot / "buffer.npz").unlink(missing_ok=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise CheckpointError(f"cannot read {path} ({e})") from None


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _latest_slot(folder: Path) -> Path | None:
    root = folder / CHECKPOINT_DIR
    if not (root / LATEST).exists():
        return None
    pointer = _read_json(root / LATEST)
    if not isinstance(pointer, dict) or pointer.get("schema") != SCHEMA:
        raise CheckpointError(f"{root / LATEST} is not a poser benchmark checkpoint pointer")
    slot = inside(root, pointer.get("slot"), "slot", root / LATEST)
    if not slot.is_dir():
        raise CheckpointError(f"{root / LATEST} names {slot.name!r}, which is not a folder there")
    return slot


def read_state(folder: Path) -> dict[str, Any] | None:
    """The validated ``state.json`` of ``folder``'s latest checkpoint (None if there is none).

    :raises CheckpointError: the checkpoint is unreadable, of another schema, or a file's
        checksum does not match (the message names the file).
    """
    slot = _latest_slot(folder)
    if slot is None:
        return None
    where = slot / "state.json"
    state = _read_json(where)
    if not isinstance(state, dict) or state.get("schema") != SCHEMA:
        raise CheckpointError(f"{where}: not a poser benchmark checkpoint")
    if not isinstance(state.get("version"), int) or not 1 <= state["version"] <= VERSION:
        raise CheckpointError(f"{where}: version {state.get('version')!r} is not supported (reads 1..{VERSION})")
    for key, kind in (("identity", dict), ("step", int), ("counters", dict), ("files", dict), ("sha256", dict)):
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise CheckpointError(f"{where}: field {key!r} must be {kind.__name__}")
    if not isinstance(state.get("buffer_scalars", {}), dict):
        raise CheckpointError(f"{where}: field 'buffer_scalars' must be dict")
    seconds = state.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e9:
        raise CheckpointError(f"{where}: field 'seconds' must be a number of seconds (0 to 1e9), got {seconds!r}")
    paths = {}
    for kind, name in state["files"].items():
        path = inside(slot, name, f"files.{kind}", where)
        if not path.is_file():
            raise CheckpointError(f"{where}: its {kind} file {name!r} is missing")
        if file_sha256(path) != state["sha256"].get(kind):
            raise CheckpointError(f"{path}: its SHA-256 does not match {where} (the file was changed or damaged)")
        paths[kind] = path
    state["paths"] = paths
    return state


def check_identity(state: dict[str, Any], identity: dict[str, Any], where: Path, measured: Collection[int]) -> None:
    """Refuse to resume a checkpoint of another run: algorithm, level, seed, steps or protocol
    differ, or its step is not one of ``measured`` (the partial result's curve steps)."""
    shown = identity_differences(state["identity"], identity)
    if shown:
        raise ValueError(
            f"{where} holds the checkpoint of another run ({shown}); rerun with the same arguments to "
            f"resume it, or choose another --out (nothing was changed)"
        )
    # The runner writes a curve point before it saves the checkpoint of that step, so a checkpoint
    # of this partial run is at one of its points. Any other step (past the budget, left by an
    # earlier run in this folder), or a step counter other than the step, would make a run
    # "complete" without having trained its steps, or give its curve a gap.
    step = state["step"]
    if step <= 0 or step not in measured:
        raise CheckpointError(
            f"{where}: its step {step!r} is not a point of the partial run's curve {sorted(measured)}: it is not "
            f"this run's checkpoint"
        )
    done = state["counters"].get("num_timesteps", step)
    if done != step:
        raise CheckpointError(f"{where}: its step counter num_timesteps = {done!r} differs from its step {step}")


def load_state(state: dict[str, Any], model: Any, total_timesteps: int | None = None) -> None:
    """Load a :func:`read_state` checkpoint into a freshly built ``model`` of the same algorithm.

    ``total_timesteps`` (the run's budget) sets a DQN's exploration rate to its schedule's value at
    the checkpoint's step; SB3 updates it only after each env step, so the first action after a
    resume would otherwise use a fresh model's rate (0.0: greedy).

    :raises CheckpointError: a tensor or array does not fit the model (shape, dtype, key).
    """
    sb3 = sb3_model(model)
    where = state["paths"]["policy"]
    states = load_tensors(str(where), str(where))
    names, _ = sb3._get_torch_save_params()
    if not isinstance(states, dict) or sorted(states) != sorted(names):
        raise CheckpointError(
            f"{where}: holds {sorted(states) if isinstance(states, dict) else type(states).__name__}, expected {sorted(names)}"
        )
    check_finite(states, str(where), "the checkpoint is unusable: delete its folder to start this run again")
    for name in names:
        try:
            attrgetter(name)(sb3).load_state_dict(states[name])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{where}: {name} does not fit this model ({str(e).splitlines()[0]})") from None
    for key, value in state["counters"].items():
        if key not in COUNTERS or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{where.parent / 'state.json'}: counter {key!r} = {value!r} is not allowed")
        setattr(sb3, key, value)
    schedule = getattr(sb3, "exploration_schedule", None)
    if total_timesteps and callable(schedule):
        sb3._current_progress_remaining = max(0.0, 1.0 - sb3.num_timesteps / total_timesteps)
        sb3.exploration_rate = float(schedule(sb3._current_progress_remaining))
    buffer = getattr(sb3, "replay_buffer", None)
    if buffer is not None:
        if "buffer" not in state["paths"]:
            raise CheckpointError(f"{where.parent}: no buffer.npz, but this learner has a replay buffer")
        _load_buffer(buffer, state["paths"]["buffer"], state.get("buffer_scalars", {}))


def _load_buffer(buffer: Any, path: Path, scalars: dict[str, Any]) -> None:
    fresh, fresh_scalars = _buffer_state(buffer)
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # damaged, truncated, object arrays
        raise CheckpointError(f"cannot read {path} ({e}); nothing was run from it") from None
    if sorted(saved) != sorted(fresh):
        raise CheckpointError(f"{path}: holds arrays {sorted(saved)}, this learner's buffer has {sorted(fresh)}")
    size = int(buffer.buffer_size)
    for key, value in saved.items():
        want = fresh[key]
        fixed = want.shape[:1] == (size,)  # per-transition arrays; others (a de-duplicated table) may grow
        grows = not fixed and value.ndim > 0 and value.shape[0] < 1  # (an empty table could never grow)
        if (
            value.dtype != want.dtype
            or value.shape[1:] != want.shape[1:]
            or (fixed and value.shape != want.shape)
            or grows
        ):
            raise CheckpointError(
                f"{path}: array {key!r} is {value.dtype}{value.shape}, the buffer needs {want.dtype}{want.shape}"
            )
    for key, value in scalars.items():
        if key not in fresh_scalars or type(value) is not type(fresh_scalars[key]):
            raise CheckpointError(
                f"{path.parent / 'state.json'}: buffer field {key!r} = {value!r} does not fit this buffer"
            )
    for key, value in scalars.items():  # settings (buffer_size, n_envs, ...) are the fresh buffer's
        if key not in BUFFER_STATE and value != fresh_scalars[key]:
            raise CheckpointError(f"{path}: the buffer's {key} is {value!r}, this run's is {fresh_scalars[key]!r}")
    # SB3 wraps ``pos`` to 0 when it reaches ``buffer_size``: the next add would write past the end.
    if not 0 <= int(scalars.get("pos", 0)) < max(size, 1):
        raise CheckpointError(f"{path}: the buffer position {scalars.get('pos')!r} is outside 0..{size - 1}")
    if int(scalars.get("compact_at", fresh_scalars.get("compact_at", 0))) < int(fresh_scalars.get("compact_at", 0)):
        raise CheckpointError(f"{path}: the buffer's compact_at {scalars['compact_at']!r} is below its minimum")
    _check_values(buffer, saved, path)
    for key, value in saved.items():
        name, _, sub = key.partition("/")
        if sub:
            getattr(buffer, name)[sub] = value
        else:
            setattr(buffer, name, value)
    for key, value in scalars.items():
        setattr(buffer, key, value)
    rebuild = getattr(buffer, "rebuild_index", None)
    if callable(rebuild):
        try:
            rebuild()
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}") from None


def _check_values(buffer: Any, saved: dict[str, np.ndarray], path: Path) -> None:
    """Stored actions inside the action space and finite floats: a bad value would fail deep in a
    gradient step (an index out of range) or poison every update (NaN), minutes after the resume."""
    from gymnasium import spaces

    for key, value in saved.items():
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            raise CheckpointError(f"{path}: array {key!r} holds NaN or infinite values")
    space = getattr(buffer, "action_space", None)
    actions = saved.get("actions")
    if isinstance(space, spaces.Discrete) and actions is not None and actions.size:
        low, high = int(space.start), int(space.start + space.n)
        if actions.min() < low or actions.max() >= high:
            raise CheckpointError(f"{path}: a stored action is outside the action space {low}..{high - 1}")
