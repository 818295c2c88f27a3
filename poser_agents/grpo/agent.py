"""``GRPOAgent``: the workflow policy behind the agent protocol (plans once, emits step by step).

At an episode's first step the agent reads the prompt and its extracted commands from the env
it acts in (``env.unwrapped.episode_context()``: ``predict`` sees only the observation, which
holds embeddings, not the command list), samples a whole workflow (guided by ``guidance_w``
between the phase-1 reference and the GRPO policy), and then at each step emits the token the
env's accept/retry selects: command ``command_index``, slot ``attempts``. It therefore needs
the live, unvectorised env (as the oracle does): pass a factory to the evaluation harness,
``evaluate(lambda env, seed: GRPOAgent.load(path, env=env, seed=seed), ...)``; ``poser eval
--agent DIR`` does so.

A checkpoint is a folder: ``agent.json`` (format ``imageposer-grpo``, vocabulary, configs,
text encoder, env kwargs, training results, SHA-256 of the weights) and ``policy.pt`` (the
GRPO policy's and the reference's state dicts, read back with ``weights_only=True``).
:meth:`GRPOAgent.load` refuses a missing, corrupt, truncated, unsafe or mismatched one with
:class:`~poser_agents.common.checkpoint.CheckpointError` and never half-loads; a text encoder or env
setting that names Python code needs ``allow_entry_points=True`` (docs/security.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poser_agents.common.checkpoint import (
    CheckpointError,
    check_finite,
    load_tensors,
    read_metadata,
    verify_file,
    write_checkpoint,
)
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.policy import PolicyConfig, WorkflowPolicy, sample
from poser_agents.grpo.workflow_tokens import Workflow, WorkflowVocab

FORMAT = "imageposer-grpo"
FORMAT_VERSION = 1
META_FILE = "agent.json"
WEIGHTS_FILE = "policy.pt"


@dataclass
class SamplingConfig:
    """How the agent draws its workflow."""

    guidance_w: float = 1.0
    """Extrapolation weight w in ``l_ref + w (l_grpo - l_ref)`` (1: the GRPO policy; 0: phase 1)."""
    temperature: float = 1.0
    """Sampling temperature (> 0)."""
    greedy: bool = False
    """Take the most likely expert at each token instead of sampling."""

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not (self.guidance_w >= 0 and math.isfinite(self.guidance_w)):
            raise ValueError(
                f"guidance_w must be a finite number >= 0 (0: phase 1, 1: GRPO, > 1: extrapolate), got {self.guidance_w}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GRPOAgent:
    """Plans a workflow at episode start and executes it open-loop through ``predict``."""

    name = "grpo"

    def __init__(
        self,
        policy: WorkflowPolicy,
        vocab: WorkflowVocab,
        featurizer: ContextFeaturizer,
        reference: WorkflowPolicy | None = None,
        sampling: SamplingConfig | None = None,
        env: Any = None,
        seed: int = 0,
        meta: dict[str, Any] | None = None,
    ):
        self.policy, self.reference, self.vocab, self.featurizer = (
            policy.eval(),
            (reference.eval() if reference else None),
            vocab,
            featurizer,
        )
        self.sampling = sampling or SamplingConfig()
        self.meta = meta or {}
        self.plans: list[tuple[str, str]] = []
        self.env = None
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._plan: Workflow | None = None
        if env is not None:
            self.bind(env)

    def bind(self, env: Any) -> GRPOAgent:
        """Act in ``env`` (checks it has this agent's experts and attempts)."""
        base = env.unwrapped
        names = list(base.expert_names)
        if names != self.vocab.experts:
            raise CheckpointError(
                f"this GRPO agent's workflow vocabulary has experts {self.vocab.experts}, the env has {names}: "
                "build the env with the agent's expert registry, or retrain"
            )
        if base.config.max_attempts != self.vocab.attempts:
            raise CheckpointError(
                f"this GRPO agent plans {self.vocab.attempts} attempts per command, the env allows "
                f"{base.config.max_attempts}: build the env with max_attempts={self.vocab.attempts}, or retrain"
            )
        self.env = env
        self._actions = {n: base.action_names.index(n) for n in names}
        return self

    def plan(self, ctx: PlanContext) -> Workflow:
        batch = self.featurizer.batch([ctx])
        s = self.sampling
        ids, _ = sample(
            self.policy,
            batch,
            self.generator,
            temperature=s.temperature,
            greedy=s.greedy,
            reference=self.reference,
            w=s.guidance_w,
        )
        return self.vocab.from_expert_ids(ids[0].tolist(), ctx.n_commands)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        if self.env is None:
            raise RuntimeError(
                "GRPOAgent plans from the env's episode_context(): bind it to the env it acts in (agent.bind(env)), "
                "or give the harness a factory: lambda env, seed: GRPOAgent.load(path, env=env, seed=seed)"
            )
        if np.asarray(observation["action_mask"]).ndim > 1:
            raise ValueError("GRPOAgent acts in one unvectorised env (it reads that env's episode context)")
        ctx = self.env.unwrapped.episode_context()
        if ctx["step"] == 0 or self._plan is None:
            self._plan = self.plan(PlanContext.from_info(ctx))
            self.plans.append((ctx["task_id"], self._plan.key()))
        name = self._plan.steps[ctx["command_index"]][ctx["attempts"]]
        return np.int64(self._actions[name]), state

    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> GRPOAgent:
        """GRPO with the env as reward source on the bound env's tasks, until ``total_timesteps``
        expert calls (images) are spent. The current policy goes on from where it is; the
        reference (for the KL and guidance) stays the phase-1 policy."""
        from poser_agents.grpo.config import GRPOConfig
        from poser_agents.grpo.trainer import GRPOTrainer

        if self.env is None:
            raise RuntimeError("bind the agent to a training env first (agent.bind(env))")
        base = self.env.unwrapped
        tasks = {t.id: t for t in base.tasks}
        contexts = []
        for t in list(tasks.values())[:500]:
            _, info = self.env.reset(seed=0, options={"task": t})
            contexts.append(PlanContext.from_info(info))
        cfg = GRPOConfig(**{**self.meta.get("grpo_config", {}), "reward": "env", "max_steps": 10**9})
        trainer = GRPOTrainer(
            self.reference or self.policy, self.featurizer, self.vocab, cfg, contexts, env=self.env, tasks=tasks
        )
        trainer.policy.load_state_dict(self.policy.state_dict())
        self.policy = trainer.train(max_images=int(total_timesteps))
        self.meta.setdefault("learn_images", 0)
        self.meta["learn_images"] += trainer.images_rendered
        return self

    # -- checkpoints ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint folder atomically (weights first, ``agent.json`` last); NaN/inf weights are refused."""
        folder = Path(path)
        state = {"policy": self.policy.state_dict()}
        if self.reference is not None:
            state["reference"] = self.reference.state_dict()
        check_finite(
            state,
            "cannot save the GRPO policy",
            "training diverged; nothing was saved (the previous checkpoint is kept)",
        )
        state["experts"] = list(self.vocab.experts)  # what the outputs mean, with the weights (not only in agent.json)
        state["attempts"] = int(self.vocab.attempts)
        env_kwargs = {}
        if self.env is not None:
            from poser_env.trust import plain_components

            spec = getattr(self.env, "spec", None)
            env_kwargs = plain_components(
                {k: v for k, v in dict(getattr(spec, "kwargs", {}) or {}).items() if k != "split"}
            )

        def make_meta(digests: dict[str, str]) -> dict[str, Any]:
            return {
                **{k: v for k, v in self.meta.items() if not k.startswith("_")},
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "agent": self.name,
                "vocab": self.vocab.to_dict(),
                "policy_config": self.policy.config.to_dict(),
                "sampling": self.sampling.to_dict(),
                "text_encoder": self.featurizer.describe(),
                "has_reference": self.reference is not None,
                "env_kwargs": self.meta.get("env_kwargs", env_kwargs),
                "weights_file": WEIGHTS_FILE,
                "weights_sha256": digests[WEIGHTS_FILE],
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }

        return write_checkpoint(folder, {WEIGHTS_FILE: lambda tmp: torch.save(state, tmp)}, make_meta)

    @staticmethod
    def read_metadata(path: str | Path, allow_entry_points: bool = False) -> dict[str, Any]:
        """``agent.json``, every field validated; a code-naming text encoder or env setting needs ``allow_entry_points``."""
        return read_metadata(path, FORMAT, allow_entry_points=allow_entry_points)

    @classmethod
    def load(
        cls, path: str | Path, env: Any = None, seed: int = 0, allow_entry_points: bool = False, **sampling: Any
    ) -> GRPOAgent:
        """Load a checkpoint folder (``sampling`` overrides e.g. ``guidance_w=2.0``); binds to ``env`` if given."""
        meta = cls.read_metadata(path, allow_entry_points=allow_entry_points)
        folder = Path(meta["_folder"])
        where = f"checkpoint {str(folder)!r}"
        weights = verify_file(meta, "weights_file", "weights_sha256")
        try:
            vocab = WorkflowVocab.from_dict(meta["vocab"])
            pcfg = PolicyConfig(**meta["policy_config"])
            scfg = SamplingConfig(**{**meta["sampling"], **sampling})
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{where} has an invalid config: {e}") from None
        if pcfg.n_experts != vocab.n_experts or pcfg.attempts != vocab.attempts:
            raise CheckpointError(
                f"{where}: policy_config ({pcfg.n_experts} experts x {pcfg.attempts}) disagrees with vocab "
                f"({vocab.n_experts} x {vocab.attempts}); the files do not belong together"
            )
        featurizer = ContextFeaturizer(meta["text_encoder"]["name"])
        if featurizer.text_dim != pcfg.text_dim or featurizer.command_dim != pcfg.command_dim:
            raise CheckpointError(
                f"{where} was trained with {pcfg.text_dim}-dim text features, the text encoder "
                f"{meta['text_encoder']['name']!r} gives {featurizer.text_dim}: use the checkpoint's encoder"
            )
        state = load_tensors(weights, str(weights))
        if (
            not isinstance(state, dict)
            or "policy" not in state
            or (meta.get("has_reference") and "reference" not in state)
        ):
            raise CheckpointError(f"cannot read {weights}: it must hold the 'policy' (and 'reference') state dicts")
        check_finite({k: v for k, v in state.items() if k in ("policy", "reference")}, str(weights))
        if "experts" in state and (state["experts"] != vocab.experts or state.get("attempts") != vocab.attempts):
            raise CheckpointError(
                f"{weights} was trained for the experts {list(state['experts'])[:4]}... x {state.get('attempts')} "
                f"attempts, but {META_FILE} lists {vocab.experts[:4]}... x {vocab.attempts}: the weights come "
                "from another checkpoint; use the policy.pt and agent.json saved together"
            )
        try:
            policy = WorkflowPolicy(pcfg)
            policy.load_state_dict(state["policy"])
            reference = None
            if meta.get("has_reference"):
                reference = WorkflowPolicy(pcfg)
                reference.load_state_dict(state["reference"])
        except (RuntimeError, TypeError, ValueError, KeyError) as e:  # shape and key errors
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"cannot read {weights}: its weights do not fit the policy {META_FILE} describes ({first[:200]})"
            ) from None
        return cls(policy, vocab, featurizer, reference=reference, sampling=scfg, env=env, seed=seed, meta=meta)


def is_grpo_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a folder whose ``agent.json`` says format ``imageposer-grpo`` (nothing validated yet)."""
    from poser_agents.common.checkpoint import checkpoint_format

    return checkpoint_format(path) == FORMAT
