"""The agent protocol, shared by every agent and baseline.

It is stable-baselines3's, so ``stable_baselines3.common.evaluation.evaluate_policy`` works
on any of them: ``predict(obs, state=None, episode_start=None, deterministic=True) ->
(action, state)``, ``learn(total_timesteps, callback=None, progress_bar=False)``,
``save(path)`` and ``load(path, env=None)``. Observations may be single or batched (a
vectorised env), as in SB3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True) -> tuple[np.ndarray, Any]: ...

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> "Agent": ...

    def save(self, path: str | Path) -> None: ...


def batch_mask(observation: dict[str, np.ndarray]) -> tuple[np.ndarray, bool]:
    """The action mask as a 2-D (n_envs, n_actions) bool array, and whether the input was batched."""
    mask = np.asarray(observation["action_mask"]).astype(bool)
    if mask.ndim == 1:
        return mask[None, :], False
    return mask, True


class BaselineAgent:
    """Common plumbing of the non-learning agents: nothing to learn, a small JSON to save."""

    name = "baseline"

    def learn(self, total_timesteps: int = 0, callback: Any = None, progress_bar: bool = False) -> "BaselineAgent":
        return self

    def config(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"agent": self.name, "config": self.config()}, indent=2))


def read_checkpoint_metadata(folder: Path, meta_file: str, fmt: str, version: int, required: tuple[str, ...],
                             owner: str, error: type[ValueError]) -> dict[str, Any]:
    """A learned agent's ``agent.json``, validated before any weight is read.

    Shared by the DQN and GRPO checkpoints so both refuse the same way: a missing or non-JSON
    file, another agent's format, a newer format version or a missing key raises ``error``
    with a message naming the file and the fix. ``_folder`` is added to the result.
    """
    meta_path = folder / meta_file
    if not meta_path.is_file():
        raise error(f"{str(folder)!r} is not a {owner} checkpoint: {meta_file} is missing ({owner}.save writes it)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{meta_path} is corrupt (not valid JSON: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise error(f"{meta_path} is not a {owner} checkpoint (format {found!r}, expected {fmt!r})")
    if meta.get("format_version", 0) > version:
        raise error(f"{meta_path} has format version {meta['format_version']}; this code reads up to {version}: upgrade imageposer")
    for key in required:
        if key not in meta:
            raise error(f"{meta_path} is incomplete: no {key!r}")
    meta["_folder"] = str(folder)
    return meta


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks: the checksum a checkpoint records for its weights."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
