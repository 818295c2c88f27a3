"""GRPO workflow policy (policy-optimised pipeline design, Gadot et al. 2025, after ComfyGen).

- :mod:`.workflow_tokens`: expert tokens, special tokens, the workflow grammar (one retry list per command).
- :mod:`.context`: the prompt and its commands as tensors (the env's text encoder).
- :mod:`.policy`: the autoregressive :class:`WorkflowPolicy`, sampling, log-probs, guidance.
- :mod:`.data`: the collector of logged workflows (random, heuristic, oracle, policy) and its JSONL files.
- :mod:`.sft`: phase 1 (score-conditioned or best-only).
- :mod:`.reward`: the reward-model ensemble (pessimistic aggregate), Spearman, calibration.
- :mod:`.config`: :class:`GRPOConfig`, phase 2's settings with TRL's names; :mod:`.maths`,
  :mod:`.trainer`: phase 2, GRPO.
- :mod:`.agent`: :class:`GRPOAgent` (the agent protocol; checkpoints).
- :mod:`.pipeline`: the recipe end to end (``poser train grpo``); :mod:`.experiments`: docs/grpo.md's tables.

See docs/grpo.md.
"""

from poser_agents.grpo.agent import CheckpointError, GRPOAgent, SamplingConfig, is_grpo_checkpoint
from poser_agents.grpo.config import GRPOConfig
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import CollectConfig, DataFileError, collect, read_records, write_records
from poser_agents.grpo.policy import PolicyConfig, WorkflowPolicy, guided_logits, log_probs, sample
from poser_agents.grpo.reward import RewardConfig, RewardEnsemble, spearman
from poser_agents.grpo.sft import SFTConfig, train_sft
from poser_agents.grpo.trainer import GRPOTrainer
from poser_agents.grpo.workflow_tokens import Workflow, WorkflowError, WorkflowVocab

__all__ = [
    "CheckpointError",
    "CollectConfig",
    "ContextFeaturizer",
    "DataFileError",
    "GRPOAgent",
    "GRPOConfig",
    "GRPOTrainer",
    "PlanContext",
    "PolicyConfig",
    "RewardConfig",
    "RewardEnsemble",
    "SFTConfig",
    "SamplingConfig",
    "Workflow",
    "WorkflowError",
    "WorkflowPolicy",
    "WorkflowVocab",
    "collect",
    "guided_logits",
    "is_grpo_checkpoint",
    "log_probs",
    "read_records",
    "sample",
    "spearman",
    "train_sft",
    "write_records",
]
