"""DQN for ImagePoser: SB3's DQN with action masking, a Dict features extractor, and the agent.

- :class:`MaskedDQN` (``masked_dqn.py``): masked greedy action, masked exploration, masked max
  (or Double-DQN argmax) in the TD target.
- :class:`PoserFeaturesExtractor`, :class:`MaskedDQNPolicy` (``policies.py``).
- :class:`DQNAgent`, :class:`DQNConfig` (``agent.py``): the agent protocol, checkpoints that
  refuse a mismatched env, CSV/TensorBoard logs.

See ``docs/dqn.md``.
"""

from poser_agents.dqn.agent import (
    CheckpointError,
    DQNAgent,
    DQNConfig,
    EpisodeLogCallback,
    RolloutEvalCallback,
    describe_env,
    make_logger,
)
from poser_agents.dqn.masked_dqn import MaskedDQN
from poser_agents.dqn.policies import MaskedDQNPolicy, MaskedQNetwork, PoserFeaturesExtractor, mask_q_values

__all__ = [
    "CheckpointError",
    "DQNAgent",
    "DQNConfig",
    "EpisodeLogCallback",
    "MaskedDQN",
    "MaskedDQNPolicy",
    "MaskedQNetwork",
    "PoserFeaturesExtractor",
    "RolloutEvalCallback",
    "describe_env",
    "make_logger",
    "mask_q_values",
]
