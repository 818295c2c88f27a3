"""Build any agent from the one string a user types: a baseline name or a saved agent's folder.

This is the one place that dispatches on ``agent.json``'s ``format``. The CLI (``poser eval``,
``poser generate``), the evaluation harness (an agent given as a string) and the Ray evaluation
workers all go through :func:`load_agent` / :func:`read_agent_metadata`, so a folder is read
the same way everywhere: its ``agent.json`` says which format it is (DQN or GRPO), and nothing
in it runs code unless the caller passes ``allow_entry_points`` (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def agent_class(path: str | Path) -> Any:
    """The agent class that reads the checkpoint folder ``path``, by its ``agent.json``'s ``format``
    (nothing validated yet). A folder that declares no known format goes to the DQN reader, whose
    ``CheckpointError`` names what is wrong with it."""
    from poser_agents.common.checkpoint import checkpoint_format

    if checkpoint_format(path) == "imageposer-grpo":
        from poser_agents.grpo.agent import GRPOAgent

        return GRPOAgent
    from poser_agents.dqn.agent import DQNAgent

    return DQNAgent


def read_agent_metadata(path: str | Path, allow_entry_points: bool = False) -> dict[str, Any]:
    """A saved agent's ``agent.json``, validated by its own class before any env or weight is touched.

    Raises ``CheckpointError`` naming the folder and the field."""
    reader: Any = agent_class(path)
    return dict(reader.read_metadata(path, allow_entry_points=allow_entry_points))


def load_agent(spec: str, env: Any, seed: int = 0, allow_entry_points: bool = False) -> Any:
    """A baseline (``random``, ``heuristic``, ``heuristic_memory``, ``oracle``, ``single:<expert>``, ``llm:<model>``)
    or a saved DQN / GRPO agent's folder, acting in ``env``.

    ``seed`` seeds a baseline's or a GRPO policy's own generator. Raises ``ValueError`` (a
    ``CheckpointError`` for a bad folder) naming the problem."""
    from poser_agents.baselines import make_baseline

    path = Path(spec)
    if path.exists():
        cls: Any = agent_class(path)
        if cls.__name__ == "GRPOAgent":  # its sampling has its own generator
            return cls.load(path, env=env, seed=seed, allow_entry_points=allow_entry_points)
        return cls.load(path, env=env, allow_entry_points=allow_entry_points)
    return make_baseline(spec, env, seed=seed)
