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
    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]: ...

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> Agent: ...

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

    def learn(self, total_timesteps: int = 0, callback: Any = None, progress_bar: bool = False) -> BaselineAgent:
        return self

    def config(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"agent": self.name, "config": self.config()}, indent=2))


# Moved to poser_agents.common.checkpoint (the one place for checkpoint I/O); kept importable here.
from poser_agents.common.checkpoint import file_sha256  # noqa: E402,F401
