"""``--algo grpo``: the project's GRPO workflow policy under the benchmark's env-step budget.

The recipe (docs/grpo.md) is logged data, phase 1 (supervised), a reward-model ensemble and
phase 2 (GRPO against the ensemble, which renders no image). Here ``steps`` is the budget of
env steps, and every env step the learner takes is one expert call, one image, counted where
it happens (:class:`Meter`, the search oracle's branches included):

- **logged data**: the first ``steps - round(policy_sample_fraction * steps)`` env steps. Train
  tasks in a seeded random order (the whole split, then again with new reset seeds); per task,
  as :class:`~poser_agents.grpo.data.CollectConfig` by default, one heuristic and three random
  workflows, and on every twelfth task (its 50 of 600) the search oracle too;
- **phase-1 samples** for the reward models (two per train task, as ``PipelineConfig``): the
  rest of the budget;
- phase 1, the reward ensemble and phase 2 (``GRPOConfig`` defaults, reward ``ensemble``): no
  env step (counted: phase 2's image count must stay 0).

An episode that would cross a share's end is cut there: its images count, its record is
dropped; so ``steps_done`` is exactly ``steps``. The env's own count of expert calls is checked
to equal the meter's at the end. The recipe's val-split data (only used to
report the reward models' calibration) are not collected: the val split is the curve's.

The learning curve is the benchmark's SB3 callback, told after every env step, as for SB3
learners. The policy held is the initial one (phase 1's initial weights) while data are
collected, the phase-1 policy while its samples run, and the GRPO policy after the last step:
the callback hears of the last step once phase 2 is done, since phases 1 and 2 take no env
step. Every point is a real evaluation of the policy held at that step; the curve is flat
within a phase because the policy does not change there. Evaluation is greedy (the most likely
expert at each token), as the protocol evaluates every learner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poser_agents.grpo.agent import GRPOAgent, SamplingConfig
from poser_agents.grpo.config import GRPOConfig
from poser_agents.grpo.reward import RewardConfig
from poser_agents.grpo.sft import SFTConfig
from poser_env.config import HELD_OUT_SPLITS


@dataclass
class GRPOBudgetConfig:
    """How ``--algo grpo`` spends its env steps; the recipe's defaults otherwise."""

    policy_sample_fraction: float = 0.1
    """Share of the budget for executed phase-1 samples (about 3,100 of the default recipe's 28,900 images)."""
    random_per_task: int = 3
    """Random workflows logged per train task (``CollectConfig.random_per_task``)."""
    heuristic: bool = True
    """One heuristic workflow logged per train task (``CollectConfig.heuristic``)."""
    oracle_every: int = 12
    """The search oracle on every this-many-th train task (``CollectConfig``: 50 of 600); 0: never.
    The cheap workflows come first, so a small budget is not spent on one oracle search."""
    policy_samples_per_task: int = 2
    """Phase-1 samples executed per train task (``PipelineConfig.policy_samples_per_task``)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Phase 1 (its seed is the run's)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward-model ensemble (its seed is the run's)."""
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    """Phase 2 (its seed is the run's; its reward must be ``ensemble``: ``env`` would spend env steps)."""

    def __post_init__(self) -> None:
        if not 0 <= self.policy_sample_fraction < 1:
            raise ValueError(f"policy_sample_fraction must be in [0, 1), got {self.policy_sample_fraction}")
        for name in ("random_per_task", "oracle_every", "policy_samples_per_task"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        if self.grpo.reward != "ensemble":
            raise ValueError("--algo grpo trains phase 2 on the reward ensemble (reward='ensemble')")

    def data_steps(self, steps: int) -> int:
        """Env steps of the logged data (the rest go to phase-1 samples)."""
        return steps - int(round(self.policy_sample_fraction * steps))


class BudgetSpent(Exception):
    """Raised by :class:`Meter` before a step past the current share of the budget."""


class Meter:
    """The training env's core, counting every ``step`` (the search oracle's branches too).

    It is its own ``unwrapped``, so the oracle, which steps ``env.unwrapped`` between
    ``snapshot()`` and ``restore()``, steps through it; everything else is the env's.
    """

    def __init__(self, base: Any, after_step: Callable[[], None]):
        self._base, self._after_step = base, after_step
        self.count, self.limit = 0, 0

    @property
    def unwrapped(self) -> Meter:
        return self

    def step(self, action: Any) -> Any:
        if self.count >= self.limit:
            raise BudgetSpent
        out = self._base.step(action)
        self.count += 1
        self._after_step()
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


class _Stopped(Exception):
    """The callback asked to stop (SB3: ``on_step`` returned False)."""


def check_level(env_id: str, steps: int, config: GRPOBudgetConfig | None = None) -> None:
    """Refuse, with one line, a level ``--algo grpo`` cannot run on, or a budget too small for it."""
    import gymnasium as gym

    cfg = config or GRPOBudgetConfig()
    if gym.spec(env_id).nondeterministic:
        raise ValueError(
            f"--algo grpo cannot run on {env_id}: its logged data and search oracle replay episodes from reset seeds "
            "and snapshots, which a nondeterministic (real-model) level does not reproduce; use a synthetic level"
        )
    env = gym.make(env_id, split="train")
    try:
        base: Any = env.unwrapped  # an ImagePoserEnv (gym.Env has no step_limit)
        limit = int(base.step_limit)
    finally:
        env.close()
    if cfg.data_steps(steps) < limit:
        need = math.ceil(limit / (1 - cfg.policy_sample_fraction))
        raise ValueError(
            f"--steps {steps} is too small for --algo grpo on {env_id}: its logged data get "
            f"{cfg.data_steps(steps)} env steps, less than one whole episode (up to {limit}); give --steps {need} or more"
        )


class GRPOLearner:
    """The GRPO recipe behind the benchmark's learner protocol: ``learn(total_timesteps,
    callback)`` (an SB3 callback), ``predict`` (after :meth:`bind` to the env it acts in),
    ``num_timesteps`` and ``benchmark_details`` (the image accounting per phase)."""

    def __init__(self, env: Any, seed: int = 0, config: GRPOBudgetConfig | None = None):
        import torch

        from poser_agents.grpo.context import ContextFeaturizer
        from poser_agents.grpo.sft import new_policy
        from poser_agents.grpo.workflow_tokens import WorkflowVocab

        torch.set_num_threads(1)
        self.env, self.seed = env, int(seed)
        self.config = config or GRPOBudgetConfig()
        base = env.unwrapped
        if base.config.split in HELD_OUT_SPLITS:
            raise ValueError(
                f"GRPO must never train on the {base.config.split} split (held out for evaluation); build the env with split='train'"
            )
        self.vocab = WorkflowVocab(base.expert_names, base.config.max_attempts)
        self.featurizer = ContextFeaturizer(base.config.text_encoder)
        self.sft = SFTConfig(**{**self.config.sft.to_dict(), "seed": self.seed})
        # The initial policy is phase 1's starting point (same constructor, same seed).
        self.policy = new_policy(self.featurizer, self.vocab, self.sft.hidden, self.sft.seed)
        self.num_timesteps = 0
        self.benchmark_details: dict[str, Any] = {}
        self._agent: GRPOAgent | None = None

    # -- acting ----------------------------------------------------------------------------

    def bind(self, env: Any) -> GRPOLearner:
        """Act in ``env`` with the policy held now (greedy decoding)."""
        self._agent = GRPOAgent(
            self.policy, self.vocab, self.featurizer, sampling=SamplingConfig(greedy=True), env=env, seed=self.seed
        )
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        if self._agent is None:
            raise RuntimeError("bind the learner to the env it acts in first (learner.bind(env))")
        return self._agent.predict(observation, state, episode_start, deterministic)

    # -- learning --------------------------------------------------------------------------

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> GRPOLearner:
        """The recipe within ``total_timesteps`` env steps (see the module's docstring)."""
        from poser_agents.grpo.data import context_of
        from poser_agents.grpo.reward import RewardEnsemble
        from poser_agents.grpo.sft import train_sft
        from poser_agents.grpo.trainer import GRPOTrainer

        total = int(total_timesteps)
        cfg = self.config

        def after_step() -> None:
            self.num_timesteps = meter.count
            # The last step is announced once phases 1 and 2 are done (they take no env step).
            if callback is not None and meter.count < total and callback.on_step() is False:
                raise _Stopped

        meter = Meter(self.env.unwrapped, after_step)
        calls_before = self.env.unwrapped.expert_calls  # the env's own count, to check the meter's
        if callback is not None:
            callback.init_callback(self)
            callback.on_training_start(locals(), globals())
        try:
            meter.limit = cfg.data_steps(total)
            records = self._collect(meter)
            data_steps = meter.count
            if not any(r["split"] == "train" for r in records):
                raise ValueError(
                    f"--algo grpo: the {data_steps} env steps of logged data completed no workflow; give a larger --steps"
                )
            self.policy = train_sft(records, self.featurizer, self.vocab, self.sft)
            meter.limit = total
            samples = self._policy_samples(meter)
            ensemble = RewardEnsemble(
                self.featurizer, self.vocab, RewardConfig(**{**cfg.reward.to_dict(), "seed": self.seed})
            ).fit(records + samples)
            contexts = list({r["task_id"]: context_of(r) for r in records}.values())
            trainer = GRPOTrainer(
                self.policy,
                self.featurizer,
                self.vocab,
                GRPOConfig(**{**cfg.grpo.to_dict(), "seed": self.seed}),
                contexts,
                ensemble=ensemble,
                label=cfg.reward.label,
            )
            self.policy = trainer.train()
            if trainer.images_rendered != 0:  # the ensemble renders nothing: counted, not assumed
                raise RuntimeError(f"phase 2 rendered {trainer.images_rendered} images against the ensemble")
            calls = self.env.unwrapped.expert_calls - calls_before
            if calls != meter.count:  # every expert call, search branches included, went through the meter
                raise RuntimeError(f"the env made {calls} expert calls, the budget's meter counted {meter.count}")
            self.benchmark_details = {
                "learner": "grpo",
                "env_steps_logged_data": data_steps,
                "env_steps_oracle": sum(r["images_rendered"] for r in records if r["source"] == "oracle"),
                "env_steps_policy_samples": meter.count - data_steps,
                "env_steps_phase2": trainer.images_rendered,
                "env_expert_calls": calls,
                "env_steps_cut_episodes": meter.count - sum(r["images_rendered"] for r in records + samples),
                "logged_records": len(records),
                "policy_sample_records": len(samples),
                "grpo_prompts": len(contexts),
                "grpo_steps": len(trainer.history),
            }
            if callback is not None and meter.count == total:
                callback.on_step()
        except _Stopped:
            pass
        if callback is not None:
            callback.on_training_end()
        return self

    def _tasks(self, rng: np.random.Generator) -> Iterator[Any]:
        """Train tasks in a seeded random order, the whole split again and again."""
        tasks = list(self.env.unwrapped.tasks)
        while True:
            for i in rng.permutation(len(tasks)):
                yield tasks[int(i)]

    def _collect(self, meter: Any) -> list[dict[str, Any]]:
        """Logged data until the share is spent (the episode it cuts is dropped). ``meter`` (a
        :class:`Meter`, typed ``Any``) stands for the ``gym.Env`` the data helpers step."""
        from poser_agents.grpo.context import PlanContext
        from poser_agents.grpo.data import heuristic_workflow, oracle_record, random_workflow, run_workflows

        cfg, rng, records = self.config, np.random.default_rng(self.seed), []
        try:
            for n, task in enumerate(self._tasks(rng)):
                _, info = meter.reset(seed=0, options={"task": task})
                ctx = PlanContext.from_info(info)
                flows = ([(heuristic_workflow(ctx, self.vocab), "heuristic")] if cfg.heuristic else []) + [
                    (random_workflow(ctx, self.vocab, rng), "random") for _ in range(cfg.random_per_task)
                ]
                for wf, source in flows:
                    records += run_workflows(meter, [(task, wf, source, int(rng.integers(2**31)))])
                if cfg.oracle_every and n % cfg.oracle_every == cfg.oracle_every - 1:
                    records.append(oracle_record(meter, task, int(rng.integers(2**31)), self.vocab))
                if not flows and not cfg.oracle_every:
                    raise ValueError("--algo grpo logs nothing: enable the heuristic, random or oracle workflows")
        except BudgetSpent:
            pass
        return records

    def _policy_samples(self, meter: Any) -> list[dict[str, Any]]:
        """Executed phase-1 samples (source ``policy``) until the budget is spent."""
        from poser_agents.grpo.context import PlanContext
        from poser_agents.grpo.data import run_workflows

        per_task = self.config.policy_samples_per_task
        if per_task == 0 or meter.count >= meter.limit:
            return []
        agent = GRPOAgent(self.policy, self.vocab, self.featurizer, seed=self.seed)
        rng = np.random.default_rng(self.seed + 7919)
        out: list[dict[str, Any]] = []
        try:
            for task in self._tasks(rng):
                _, info = meter.reset(seed=0, options={"task": task})
                plans = [agent.plan(PlanContext.from_info(info)) for _ in range(per_task)]
                for plan in plans:
                    out += run_workflows(meter, [(task, plan, "policy", int(rng.integers(2**31)))])
        except BudgetSpent:
            pass
        return out
