"""Evaluators: the benchmark's judges, kept apart from the critic the agent trains against.

The contract is :class:`~poser_env.evaluators.base.Evaluator`; ``ground_truth`` judges the synthetic
world's scene graph, ``model_judge`` real images with a second model."""
