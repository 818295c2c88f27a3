"""Build any agent from the one string a user types: a baseline name or a saved agent's folder.

The CLI (``poser eval``, ``poser generate``), the evaluation harness and the Ray evaluation
workers all go through :func:`load_agent`, so a folder is read the same way everywhere: its
``agent.json`` says which format it is (DQN or GRPO), and nothing in it runs code unless the
caller passes ``allow_entry_points`` (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_agent(spec: str, env: Any, seed: int = 0, allow_entry_points: bool = False) -> Any:
    """A baseline (``random``, ``heuristic``, ``oracle``, ``single:<expert>``, ``llm:<model>``)
    or a saved DQN / GRPO agent's folder, acting in ``env``.

    ``seed`` seeds a baseline's or a GRPO policy's own generator. Raises ``ValueError`` (a
    ``CheckpointError`` for a bad folder) naming the problem."""
    from poser_agents.baselines import make_baseline

    path = Path(spec)
    if path.exists():
        from poser_agents.grpo.agent import GRPOAgent, is_grpo_checkpoint

        if is_grpo_checkpoint(path):  # agent.json says format imageposer-grpo
            return GRPOAgent.load(path, env=env, seed=seed, allow_entry_points=allow_entry_points)
        from poser_agents.dqn.agent import DQNAgent

        return DQNAgent.load(path, env=env, allow_entry_points=allow_entry_points)
    return make_baseline(spec, env, seed=seed)
