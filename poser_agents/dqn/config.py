"""``DQNConfig``: every setting of :class:`~poser_agents.dqn.agent.DQNAgent`, one documented field each.

Kept apart from the agent as TRL keeps its configs: a checkpoint's ``agent.json`` stores this
table (``to_dict``) and :meth:`DQNConfig.from_dict` refuses a field it does not know, so the
config is read and checked without building a model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DQNConfig:
    """Settings of :class:`DQNAgent`. Defaults are tuned on ImagePoser-v0's val split (``docs/dqn.md``)."""

    learning_rate: float = 5e-4
    """Adam learning rate (constant)."""
    buffer_size: int = 100_000
    """Replay buffer capacity, in transitions."""
    learning_starts: int = 2_000
    """Transitions collected with uniformly random (allowed) actions before the first update."""
    batch_size: int = 64
    """Transitions per gradient step."""
    gamma: float = 0.95
    """Discount factor. Episodes are short (about 4 to 6 steps, 16 at most) and the reward is
    potential-based, so a discount a little below 1 loses nothing and steadies the targets."""
    tau: float = 1.0
    """Target-network update coefficient (1 = hard copy every ``target_update_interval`` steps)."""
    train_freq: int = 4
    """Env steps between two training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    target_update_interval: int = 1_000
    """Env steps between two target-network updates."""
    exploration_fraction: float = 0.3
    """Fraction of the ``learn`` call over which epsilon decays linearly from initial to final."""
    exploration_initial_eps: float = 1.0
    """Initial probability of a random (allowed) action."""
    exploration_final_eps: float = 0.02
    """Final probability of a random (allowed) action."""
    max_grad_norm: float = 10.0
    """Gradient-norm clipping."""
    double_q: bool = True
    """Double DQN target: the online network picks the next action (masked), the target network values it."""
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layers of the Q-network head, after the features extractor."""
    embed_dim: int = 64
    """Output size of the features extractor's encoder for each large key (text embeddings, image)."""
    include_mask: bool = False
    """Feed ``action_mask`` to the network as well (masking of the Q-values happens either way)."""
    seed: int | None = 0
    """Seed of SB3 (python, numpy, torch, and the env's first reset); None for no seeding."""
    device: str = "cpu"
    """Torch device: ``cpu``, ``cuda`` or ``auto``."""
    torch_threads: int | None = 1
    """``torch.set_num_threads`` applied by ``learn()`` (process-wide). The networks are tiny: one
    thread is fastest on CPU (measured 4x faster than two on a busy 2-core machine). None: leave it."""
    log_dir: str | None = None
    """Folder for ``progress.csv``, ``episodes.csv`` (and TensorBoard files if installed); None: no files."""
    log_interval: int = 50
    """Episodes between two rows of ``progress.csv`` (and two stdout tables)."""
    verbose: int = 0
    """0: quiet; 1: SB3's table on stdout every ``log_interval`` episodes."""
    tensorboard_log: str | None = None
    """TensorBoard root folder (SB3's ``tensorboard_log``): events in ``<it>/MaskedDQN_<n>``, with the
    project's metrics and episode strips (:mod:`poser_agents.common.tensorboard`); None: none there."""
    tensorboard_strip_every: int = 200
    """Training episodes between two greedy episode strips in TensorBoard (0: none)."""

    def __post_init__(self) -> None:
        positive = (
            "learning_rate",
            "buffer_size",
            "batch_size",
            "train_freq",
            "target_update_interval",
            "embed_dim",
            "log_interval",
        )
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"DQNConfig.{name} must be positive, got {v!r}")
        for name in ("learning_starts",):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"DQNConfig.{name} must be a non-negative int, got {getattr(self, name)!r}")
        if not (isinstance(self.gradient_steps, int) and (self.gradient_steps >= 1 or self.gradient_steps == -1)):
            raise ValueError(
                f"DQNConfig.gradient_steps must be >= 1 (or -1: as many as env steps), got {self.gradient_steps!r}"
            )
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"DQNConfig.gamma must be in [0, 1], got {self.gamma!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"DQNConfig.tau must be in (0, 1], got {self.tau!r}")
        for name in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.net_arch or any(not isinstance(h, int) or h < 1 for h in self.net_arch):
            raise ValueError(f"DQNConfig.net_arch must be a non-empty list of positive ints, got {self.net_arch!r}")
        self.net_arch = list(self.net_arch)
        if (
            isinstance(self.tensorboard_strip_every, bool)
            or not isinstance(self.tensorboard_strip_every, int)
            or self.tensorboard_strip_every < 0
        ):
            raise ValueError(
                f"DQNConfig.tensorboard_strip_every must be a non-negative int (0: no strip), got {self.tensorboard_strip_every!r}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DQNConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DQNConfig field(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
