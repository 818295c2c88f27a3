"""The shared floor of the agents (as SB3's ``common/``): what the DQN and GRPO agents, the CLI
and the evaluation tools all build on. Each module has one job:

- :mod:`~poser_agents.common.checkpoint`: checkpoint files: one ``CheckpointError``, the
  ``agent.json`` schema and metadata reader, file hashes, atomic writes, safe tensor reads.
- :mod:`~poser_agents.common.env_description`: the env as plain data (``describe_env``) and the
  check that a checkpoint fits an env (``compare_env``).
- :mod:`~poser_agents.common.callbacks`: training logs (SB3's logger, ``episodes.csv``,
  periodic evaluation); :mod:`~poser_agents.common.tensorboard`: the TensorBoard callback.
- :mod:`~poser_agents.common.checkpointing`: periodic checkpoints and a clean stop on signals.
- :mod:`~poser_agents.common.run_folder`: output folders locked to one process.
- :mod:`~poser_agents.common.checkpoint_faults`: the corrupted-checkpoint matrix (a tool).

This package's ``__init__`` imports nothing, so importing one module loads only what it needs.
"""
