"""ImagePoser agents: DQN, GRPO workflow policy, baselines, evaluation harness and the CLI."""

__version__ = "0.1.0"
