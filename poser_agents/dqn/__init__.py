"""DQN for ImagePoser: SB3's DQN with action masking, a Dict features extractor, and the agent.

- :class:`MaskedDQN` (``masked_dqn.py``): masked greedy action, masked exploration, masked max
  (or Double-DQN argmax) in the TD target.
- :class:`PoserFeaturesExtractor`, :class:`MaskedDQNPolicy` (``policies.py``).
- :class:`DQNAgent` (``agent.py``): the agent protocol, checkpoints that refuse a mismatched
  env, CSV/TensorBoard logs; :class:`DQNConfig` (``config.py``).
- Re-exported from :mod:`poser_agents.common`: the logging callbacks, ``CheckpointError`` and
  ``describe_env``, shared with the GRPO agent.

See ``docs/dqn.md``.
"""

from poser_agents.common.callbacks import EpisodeLogCallback, RolloutEvalCallback, make_logger
from poser_agents.common.checkpoint import CheckpointError
from poser_agents.common.env_description import describe_env
from poser_agents.dqn.agent import DQNAgent
from poser_agents.dqn.config import DQNConfig
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
