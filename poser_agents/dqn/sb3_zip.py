"""Reading and writing SB3's ``model.zip`` without ever unpickling anything from it.

SB3's own ``DQN.load`` rebuilds some attributes of the model from the zip's ``data`` entry,
a JSON table in which every value JSON cannot hold (the policy class, the policy kwargs with
the features-extractor class, the spaces, the schedules, the last observation, ...) is a
cloudpickle blob (``{":type:": ..., ":serialized:": base64}``) that ``cloudpickle.loads``
turns back into objects, running whatever code the blob names. A ``model.zip`` is part of a
checkpoint folder people share, so :func:`read_model_zip` never does that: the model is
rebuilt from ``agent.json``'s config and the env's spaces (exactly how it was built for
training), the weights and optimizer state are read with ``torch.load(weights_only=True)``,
and only a few plain counters (steps, episodes, updates) are taken from ``data``. A ``data``
entry that carries a pickled object this code does not rebuild is refused before anything is
decoded; so is an unknown entry in the zip.

The zip stays SB3's format (plus :data:`ACTIONS_ENTRY`, the action names, which SB3
ignores), so ``MaskedDQN.load(path)`` still works on a file *you* trust (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from pathlib import Path
from typing import Any

from poser_agents.common.checkpoint import CheckpointError, check_finite, load_tensors

#: Extra entry with the action names the weights were trained for (SB3 ignores it).
ACTIONS_ENTRY = "imageposer_actions.json"
#: ``data`` values SB3 pickles and :class:`~poser_agents.dqn.agent.DQNAgent` rebuilds itself.
REBUILT = frozenset(
    {
        "policy_class",
        "policy_kwargs",
        "observation_space",
        "action_space",
        "replay_buffer_class",
        "train_freq",
        "lr_schedule",
        "exploration_schedule",
        "_last_obs",
        "_last_episode_starts",
        "_last_original_obs",
        "ep_info_buffer",
        "ep_success_buffer",
    }
)
#: Plain counters restored from ``data`` so that training resumes where it stopped.
COUNTERS = {
    "num_timesteps": int,
    "_episode_num": int,
    "_n_updates": int,
    "_n_calls": int,
    "exploration_rate": float,
    "_current_progress_remaining": float,
}
ENTRIES = frozenset(
    {
        "data",
        "policy.pth",
        "policy.optimizer.pth",
        "pytorch_variables.pth",
        "_stable_baselines3_version",
        "system_info.txt",
        ACTIONS_ENTRY,
    }
)
MAX_DATA_BYTES = 64 << 20


def actions_fingerprint(names: list[str]) -> str:
    """SHA-256 of the action names in order: what the Q-network's outputs mean."""
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


def add_actions_entry(path: Path, names: list[str]) -> None:
    """Append :data:`ACTIONS_ENTRY` to a zip SB3 just wrote."""
    entry = {"action_names": list(names), "n_actions": len(names), "fingerprint": actions_fingerprint(list(names))}
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(ACTIONS_ENTRY, json.dumps(entry, indent=2) + "\n")


def _json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"cannot read {where}: not valid JSON ({type(e).__name__})") from None


def read_model_zip(path: Path) -> dict[str, Any]:
    """The parts of a ``model.zip`` that loading uses, with nothing unpickled.

    Returns ``{"counters": {...}, "policy": state_dict, "optimizer": state_dict or None,
    "action_names": [...] or None}``. Raises :class:`CheckpointError` naming the entry.
    """
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"cannot read {where}: the file is corrupt or truncated ({type(e).__name__}: {e})"
        ) from None
    with archive:
        names = archive.namelist()
        unknown = sorted(set(names) - ENTRIES)
        if unknown:
            raise CheckpointError(
                f"{where} has unexpected entries {unknown[:4]}; an ImagePoser model.zip holds only "
                f"{', '.join(sorted(ENTRIES))}: refused (nothing was read from it)"
            )
        for required in ("data", "policy.pth"):
            if required not in names:
                raise CheckpointError(f"{where} is incomplete: no {required!r} entry")
        try:
            if archive.getinfo("data").file_size > MAX_DATA_BYTES:
                raise CheckpointError(
                    f"{where}: the 'data' entry is {archive.getinfo('data').file_size} bytes, far more than a model's settings"
                )
            data = _json(archive.read("data"), f"{where} (entry 'data')")
            if not isinstance(data, dict):
                raise CheckpointError(f"{where}: the 'data' entry must be a JSON table")
            pickled = sorted(
                k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v and k not in REBUILT
            )
            if pickled:
                types = ", ".join(f"{k} ({str(data[k].get(':type:', '?'))[:60]})" for k in pickled[:3])
                raise CheckpointError(
                    f"{where}: the 'data' entry carries pickled Python objects that ImagePoser does not rebuild: "
                    f"{types}. Unpickling them would run code from the file, so the checkpoint is refused "
                    "(nothing was unpickled)"
                )
            counters = {}
            for key, typ in COUNTERS.items():
                v = data.get(key)
                ok = (
                    (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                    if typ is int
                    else (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
                )
                if v is not None and not ok:
                    raise CheckpointError(
                        f"{where}: 'data' field {key!r} must be a finite {'non-negative integer' if typ is int else 'number'}, got {v!r}"
                    )
                if v is not None:
                    counters[key] = typ(v)
            policy = load_tensors(archive.read("policy.pth"), f"{where} (entry policy.pth)")
            optimizer = (
                load_tensors(archive.read("policy.optimizer.pth"), f"{where} (entry policy.optimizer.pth)")
                if "policy.optimizer.pth" in names
                else None
            )
            actions = None
            if ACTIONS_ENTRY in names:
                entry = _json(archive.read(ACTIONS_ENTRY), f"{where} (entry {ACTIONS_ENTRY})")
                actions = entry.get("action_names") if isinstance(entry, dict) else None
                if (
                    not isinstance(actions, list)
                    or not all(isinstance(a, str) for a in actions)
                    or entry.get("fingerprint") != actions_fingerprint(actions)
                ):
                    raise CheckpointError(
                        f"{where}: entry {ACTIONS_ENTRY} is corrupt (its action names and fingerprint disagree)"
                    )
        except (zipfile.BadZipFile, EOFError, OSError, KeyError, RuntimeError) as e:  # CRC errors, truncated members
            raise CheckpointError(
                f"cannot read {where}: the file is corrupt or truncated ({type(e).__name__}: {e})"
            ) from None
    if not isinstance(policy, dict):
        raise CheckpointError(f"{where}: policy.pth must hold a state dict of tensors, got {type(policy).__name__}")
    check_finite(policy, f"{where} (policy.pth)")
    if optimizer is not None:
        if not isinstance(optimizer, dict):
            raise CheckpointError(
                f"{where}: policy.optimizer.pth must hold an optimizer state dict, got {type(optimizer).__name__}"
            )
        check_finite(optimizer, f"{where} (policy.optimizer.pth)")
    return {"counters": counters, "policy": policy, "optimizer": optimizer, "action_names": actions}
