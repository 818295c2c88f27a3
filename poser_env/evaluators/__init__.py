"""Evaluators: the benchmark's judges, kept apart from the critic the agent trains against."""
