"""Scaling out with Ray (the optional ``[ray]`` extra): sharded evaluation and RLlib helpers.

Nothing here is imported by ``poser_agents`` itself, and Ray is imported only when one of these
functions runs, so users without Ray see no change (see docs/scaling.md).

- :mod:`.runtime`: :func:`init_ray`, one place that starts or joins Ray with the dashboard and
  usage reporting off.
- :mod:`.evaluation`: :func:`evaluate_on_ray`, ``poser eval --ray``: episodes as Ray tasks,
  records identical to the serial :func:`poser_agents.evaluation.evaluate`.
- :mod:`.benchmark`: :func:`run_on_ray`, ``poser benchmark run --ray``: seeds as Ray tasks,
  result files identical to the serial run's.
- :mod:`.bench`: the speed-up of ``--ray`` over the serial harness, measured in one process
  (``python -m poser_agents.distributed.bench``).
- :mod:`.rllib`: ``ImagePoser-v0`` for RLlib (env creator, observation flattening, PPO/DQN
  configs, an action-masking RLModule); needs ``ray[rllib]`` (its own environment, see the docs).
"""

from poser_agents.distributed.runtime import RayUnavailableError, init_ray, require_ray

__all__ = ["RayUnavailableError", "init_ray", "require_ray"]
