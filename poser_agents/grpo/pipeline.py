"""The whole GRPO recipe, end to end: collect -> phase 1 -> reward ensemble -> phase 2 -> test.

Used by ``poser train grpo``, ``examples/train_grpo.py`` and :mod:`.experiments`. Every image
is counted where it is rendered: ``images_rendered_collection`` (logged data, the oracle's
search included, and the phase-1 policy samples the reward models also learn from),
``images_rendered_phase2`` (0 with the ensemble), ``images_rendered_eval`` (test episodes).

Over 500 lines on purpose (formatted): the recipe's stages, their resume points and the
evaluation that closes it are read in order, as one story; the pieces each stage calls
(collection, the trainer, the reward models, checkpoint I/O) are in their own modules.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from poser_agents.common.checkpoint import atomic_write_text
from poser_agents.common.checkpointing import Interrupted, StopRequest, stop_on_signals
from poser_agents.evaluation import evaluate
from poser_agents.evaluation.stats import bootstrap_ci
from poser_agents.grpo.agent import GRPOAgent, SamplingConfig
from poser_agents.grpo.config import GRPOConfig
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import CollectConfig, collect, context_of, read_records, run_workflows, write_records
from poser_agents.grpo.policy import WorkflowPolicy
from poser_agents.grpo.resume import check_config, load_phase1, load_phase2, save_phase1, save_phase2
from poser_agents.grpo.reward import RewardConfig, RewardEnsemble, calibration, calibration_figure
from poser_agents.grpo.sft import SFTConfig, train_sft
from poser_agents.grpo.trainer import GRPOTrainer
from poser_agents.grpo.workflow_tokens import WorkflowVocab
from poser_agents.rollout import pick_tasks
from poser_env.deprecation import ImagePoserDeprecationWarning

ENV_ID = "ImagePoser-v0"

#: ``poser train grpo --checkpoint-every``: phase-2 steps between two checkpoints of the trainer.
DEFAULT_GRPO_EVERY = 5


@dataclass
class PipelineConfig:
    """One GRPO training run and its test evaluation."""

    suite: str = "mixed"
    """Suite mix trained on (logged data and GRPO prompts come from its train split)."""
    eval_suites: tuple[str, ...] = ()
    """Suites evaluated on (test split); empty: the training suite."""
    text_encoder: str = "hash"
    """Text encoder of the env and of the policy's context features."""
    seed: int = 0
    """Seeds phase 1, the reward models, phase 2 and the sampling at evaluation."""
    collect: CollectConfig = field(default_factory=CollectConfig)
    """Logged data (ignored when a data file is given)."""
    policy_sample_tasks: int = 300
    """Train tasks on which phase-1 samples are executed and logged for the reward models (val: a third)."""
    policy_samples_per_task: int = 2
    """Phase-1 samples per such task."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Phase 1."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward-model ensemble."""
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    """Phase 2."""
    eval_episodes: int = 300
    """Test tasks per evaluated suite (spread evenly, one episode each)."""
    guidance_ws: tuple[float, ...] = (1.0,)
    """Extrapolation weights evaluated; the first is saved as the agent's default."""

    def __post_init__(self) -> None:
        if self.eval_episodes < 1 or self.policy_sample_tasks < 0 or self.policy_samples_per_task < 0:
            raise ValueError(
                "eval_episodes must be positive, policy_sample_tasks and policy_samples_per_task non-negative"
            )
        if not self.guidance_ws:
            raise ValueError("guidance_ws must name at least one weight")
        if not all(w >= 0 and np.isfinite(w) for w in self.guidance_ws):
            raise ValueError(
                f"guidance weights must be finite and >= 0 (0: phase 1, 1: GRPO, > 1: extrapolate), got {self.guidance_ws}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_env(suite: str, split: str, text_encoder: str) -> gym.Env:
    import poser_env  # noqa: F401  (registers the ids)

    return gym.make(ENV_ID, suite=suite, split=split, text_encoder=text_encoder)


def vocab_of(env: gym.Env) -> WorkflowVocab:
    return WorkflowVocab(env.unwrapped.expert_names, env.unwrapped.config.max_attempts)


def policy_samples(
    policy: WorkflowPolicy,
    featurizer: ContextFeaturizer,
    vocab: WorkflowVocab,
    env: gym.Env,
    n_tasks: int,
    per_task: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Execute ``per_task`` phase-1 samples on ``n_tasks`` tasks of the env's split; source ``policy``."""
    if n_tasks == 0 or per_task == 0:
        return []
    agent = GRPOAgent(policy, vocab, featurizer, seed=seed)
    rng = np.random.default_rng(seed + 7919)
    items = []
    for task in pick_tasks(env, n_tasks):
        _, info = env.reset(seed=0, options={"task": task})
        ctx = PlanContext.from_info(info)
        items += [(task, agent.plan(ctx), "policy", int(rng.integers(2**31))) for _ in range(per_task)]
    return run_workflows(env, items)


def evaluate_workflow_policy(
    policy: WorkflowPolicy,
    vocab: WorkflowVocab,
    featurizer: ContextFeaturizer,
    suite: str,
    episodes: int,
    seed: int,
    text_encoder: str,
    reference: WorkflowPolicy | None = None,
    w: float = 1.0,
    train_keys: set[str] | None = None,
) -> dict[str, Any]:
    """Test-split alignment of sampled workflows (harness, one seed), images, diversity and novelty.

    Named apart from SB3's ``evaluate_policy(model, env)``, which any agent here also passes."""
    env = make_env(suite, "test", text_encoder)
    agents: list[GRPOAgent] = []

    def factory(e, seed=0):
        agents.append(
            GRPOAgent(
                policy, vocab, featurizer, reference=reference, sampling=SamplingConfig(guidance_w=w), env=e, seed=seed
            )
        )
        return agents[-1]

    res = evaluate(factory, env, episodes=episodes, seeds=(seed,), name=f"grpo-w{w}")
    env.close()
    keys = [k for a in agents for _, k in a.plans]
    seen_first = {first_choices(t) for t in train_keys} if train_keys is not None else set()
    o = res.overall
    return {
        "suite": suite,
        "w": w,
        "episodes": len(res.records),
        "seed": seed,
        "alignment": o["alignment"]["mean"],
        "alignment_ci": [o["alignment"]["ci_low"], o["alignment"]["ci_high"]],
        "accuracy": o["accuracy"]["mean"],
        "cost": o["cost"]["mean"],
        "steps": o["steps"]["mean"],
        "images_rendered": int(sum(r["steps"] for r in res.records)),
        "distinct_workflows": len(set(keys)),
        "novel_fraction": float(np.mean([k not in train_keys for k in keys])) if train_keys is not None else None,
        "distinct_first_choices": len({first_choices(k) for k in keys}),
        "novel_first_choice_fraction": float(np.mean([first_choices(k) not in seen_first for k in keys]))
        if train_keys is not None
        else None,
        "per_episode_alignment": [r["alignment"] for r in res.records],
        "task_ids": [r["task_id"] for r in res.records],
    }


def evaluate_policy(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Deprecated name of :func:`evaluate_workflow_policy` (it clashed with SB3's ``evaluate_policy``); kept for one release."""
    import warnings

    warnings.warn(
        "poser_agents.grpo.pipeline.evaluate_policy is now evaluate_workflow_policy (SB3 has an evaluate_policy "
        "of its own); the old name goes in the next release",
        ImagePoserDeprecationWarning,
        stacklevel=2,
    )
    return evaluate_workflow_policy(*args, **kwargs)


def first_choices(key: str) -> str:
    """The experts that run when every command passes on its first try (a workflow's first column)."""
    return "|".join(step.split(",")[0] for step in key.split("|"))


def pooled_ci(evals: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds' evaluations with a cluster-bootstrap 95% CI (tasks resampled with all their seeds)."""
    values = [v for e in evals for v in e["per_episode_alignment"]]
    groups = [t for e in evals for t in e["task_ids"]]
    ci = bootstrap_ci(values, groups=groups)
    return {
        "mean": ci["mean"],
        "ci_low": ci["ci_low"],
        "ci_high": ci["ci_high"],
        "n": ci["n"],
        "per_seed": [e["alignment"] for e in evals],
    }


class Recipe:
    """The shared stages, so experiments can reuse data and phase 1 across reward sources."""

    def __init__(self, config: PipelineConfig, log: Callable[[str], None] = print):
        self.config, self.log = config, log
        torch.set_num_threads(1)
        self.train_env = make_env(config.suite, "train", config.text_encoder)
        self.val_env = make_env(config.suite, "val", config.text_encoder)
        self.vocab = vocab_of(self.train_env)
        self.featurizer = ContextFeaturizer(config.text_encoder)
        self.images = {"collection": 0, "phase2": 0, "eval": 0}

    def data(self, path: str | Path | None, out: Path | None) -> list[dict[str, Any]]:
        """Read a logged-data file, or collect one (written to ``out/data.jsonl``)."""
        if path is not None:
            records, header = read_records(path, self.vocab)
            if header.get("meta", {}).get("suite") not in (None, self.config.suite):
                raise ValueError(
                    f"{path} was collected on suite {header['meta']['suite']!r}, this run trains on {self.config.suite!r}"
                )
            self.log(f"read {len(records)} logged records from {path}")
        else:
            t0 = time.perf_counter()
            cc = CollectConfig(**{**asdict(self.config.collect), "suite": self.config.suite})
            records = collect(self.train_env, self.val_env, cc, self.vocab, progress=self.log)
            self.log(f"collected {len(records)} records in {time.perf_counter() - t0:.0f} s")
            if out is not None:
                write_records(
                    out / "data.jsonl", records, self.vocab, {"suite": self.config.suite, "collect": cc.to_dict()}
                )
        return self.use_records(records)

    def use_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Train on ``records`` (read, collected or a subset of either): count their images, take
        the GRPO prompts from their train tasks and the novelty reference from their workflows."""
        self.images["collection"] += sum(r["images_rendered"] for r in records)
        self.train_keys = {r["workflow"] for r in records if r["split"] == "train"}
        self.contexts = list({r["task_id"]: context_of(r) for r in records if r["split"] == "train"}.values())
        return records

    def phase1(self, records: Sequence[dict[str, Any]], sft: SFTConfig | None = None) -> WorkflowPolicy:
        t0 = time.perf_counter()
        policy = train_sft(records, self.featurizer, self.vocab, sft or self.config.sft)
        self.log(f"phase 1 ({(sft or self.config.sft).mode}) in {time.perf_counter() - t0:.0f} s")
        return policy

    def reward_models(
        self, records: list[dict[str, Any]], reference: WorkflowPolicy, out: Path | None
    ) -> tuple[RewardEnsemble, dict[str, Any], list]:
        cfg = self.config
        extra = policy_samples(
            reference,
            self.featurizer,
            self.vocab,
            self.train_env,
            cfg.policy_sample_tasks,
            cfg.policy_samples_per_task,
            cfg.seed,
        )
        extra += policy_samples(
            reference, self.featurizer, self.vocab, self.val_env, cfg.policy_sample_tasks // 3, 1, cfg.seed + 1
        )
        self.images["collection"] += sum(r["images_rendered"] for r in extra)
        t0 = time.perf_counter()
        rcfg = RewardConfig(**{**asdict(cfg.reward), "seed": cfg.seed})
        ensemble = RewardEnsemble(self.featurizer, self.vocab, rcfg).fit(records + extra)
        cal = calibration(ensemble, records + extra)
        self.log(
            f"reward ensemble ({rcfg.n_members} members) in {time.perf_counter() - t0:.0f} s: val Spearman "
            f"{cal['spearman_aggregate_evaluator']:.3f} (aggregate vs evaluator) on {cal['n_val_records']} records"
        )
        if out is not None:
            calibration_figure(cal, out / "reward_calibration.png")
        return ensemble, cal, extra

    def phase2(
        self,
        reference: WorkflowPolicy,
        ensemble: RewardEnsemble | None,
        reward: str,
        out: Path | None = None,
        resume: bool = False,
        stop: StopRequest | None = None,
        checkpoint_every: int = DEFAULT_GRPO_EVERY,
        after_step: Callable[[int, GRPOTrainer], None] | None = None,
    ) -> tuple[WorkflowPolicy, GRPOTrainer]:
        """GRPO; with ``out`` the trainer is saved every ``checkpoint_every`` steps, at the end and
        when ``stop`` is requested (then it returns early), and ``resume`` restores it first.
        ``after_step(step, trainer)`` runs after every step (the images curve evaluates there)."""
        cfg = self.config
        gcfg = GRPOConfig(**{**asdict(cfg.grpo), "reward": reward, "seed": cfg.seed})
        tasks = {t.id: t for t in self.train_env.unwrapped.tasks}
        trainer = GRPOTrainer(
            reference,
            self.featurizer,
            self.vocab,
            gcfg,
            self.contexts,
            ensemble=ensemble,
            env=self.train_env if reward == "env" else None,
            tasks=tasks,
            label=cfg.reward.label,
        )
        start = load_phase2(out, trainer) + 1 if out is not None and resume else 1
        if start > 1:
            self.log(f"resuming phase 2 after step {start - 1} of {gcfg.max_steps}")

        def step_done(step: int) -> bool:
            if after_step is not None:
                after_step(step, trainer)
            stopping = stop is not None and stop.requested
            if out is not None and (step % checkpoint_every == 0 or step == gcfg.max_steps or stopping):
                save_phase2(out, trainer, step)
            return not stopping

        t0 = time.perf_counter()
        policy = trainer.train(
            log=lambda row: self.log(
                f"  grpo[{reward}] step {row['step']}: reward {row['reward_mean']:.3f}, "
                f"kl {row['kl']:.4f}, images {row['images_rendered']}"
            ),
            start_step=start,
            after_step=step_done,
        )
        self.log(f"phase 2 ({reward}) in {time.perf_counter() - t0:.0f} s, {trainer.images_rendered} images")
        return policy, trainer

    def evaluate(
        self, policy: WorkflowPolicy, reference: WorkflowPolicy | None = None, w: float = 1.0
    ) -> dict[str, dict[str, Any]]:
        cfg = self.config
        out = {}
        for suite in cfg.eval_suites or (cfg.suite,):
            out[suite] = evaluate_workflow_policy(
                policy,
                self.vocab,
                self.featurizer,
                suite,
                cfg.eval_episodes,
                cfg.seed,
                cfg.text_encoder,
                reference=reference,
                w=w,
                train_keys=self.train_keys,
            )
            self.images["eval"] += out[suite]["images_rendered"]
        return out


def train(
    config: PipelineConfig,
    out: str | Path,
    data: str | Path | None = None,
    log: Callable[[str], None] = print,
    stop: StopRequest | None = None,
    resume: bool = False,
    checkpoint_every: int = DEFAULT_GRPO_EVERY,
) -> dict[str, Any]:
    """One run (``config.grpo.reward`` decides the reward source); saves the agent to ``out/agent``
    and ``out/results.json``; returns the results (what ``poser train grpo --json`` prints).

    Each stage's product is kept in ``out`` (:mod:`.resume`); with ``resume`` a stage already
    done is read back instead of run again. ``stop`` (from ``stop_on_signals``) ends phase 2 at
    its next step after a checkpoint; elsewhere a signal interrupts at once. Either way
    :class:`~poser_agents.common.checkpointing.Interrupted` is raised, with ``stage`` set."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stop = stop if stop is not None else StopRequest()
    stage = "setup"
    try:
        with stop.immediate():
            check_config(out, config.to_dict(), resume)
            r = Recipe(config, log)
            stage = "data collection"
            reuse = data is None and resume and (out / "data.jsonl").is_file()
            records = r.data(out / "data.jsonl" if reuse else data, None if reuse else out)
            stage = "phase 1"
            reference = load_phase1(out) if resume else None
            if reference is None:
                reference = r.phase1(records)
                save_phase1(out, GRPOAgent(reference, r.vocab, r.featurizer, seed=config.seed))
            else:
                log(f"reusing phase 1 from {out / 'stages' / 'phase1'}")
            stage = "reward models"
            ensemble, cal, _ = r.reward_models(records, reference, out)
        stage = "phase 2"
        reward = config.grpo.reward
        policy, trainer = r.phase2(
            reference,
            ensemble if reward == "ensemble" else None,
            reward,
            out=out,
            resume=resume,
            stop=stop,
            checkpoint_every=checkpoint_every,
        )
        if stop.requested:
            done = trainer.history[-1]["step"] if trainer.history else 0
            stage = f"phase 2 (saved after step {done} of {trainer.config.max_steps})"
            raise Interrupted(stop.signum)
        stage = "evaluation"
        with stop.immediate():
            return _finish(config, out, r, records, reference, policy, trainer, cal)
    except Interrupted as e:
        e.stage = stage
        raise


def _finish(
    config: PipelineConfig,
    out: Path,
    r: Recipe,
    records: list,
    reference: WorkflowPolicy,
    policy: WorkflowPolicy,
    trainer: GRPOTrainer,
    cal: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate phase 1 and GRPO, save the agent and ``results.json``."""
    reward = config.grpo.reward
    r.images["phase2"] = trainer.images_rendered
    phase1_eval = r.evaluate(reference)
    sweep = {str(w): r.evaluate(policy, reference, w) for w in config.guidance_ws}
    main_suite = (config.eval_suites or (config.suite,))[0]
    w0 = str(config.guidance_ws[0])
    results = {
        "alignment": sweep[w0][main_suite]["alignment"],
        "alignment_ci": sweep[w0][main_suite]["alignment_ci"],
        "phase1_alignment": phase1_eval[main_suite]["alignment"],
        "reward": reward,
        "seed": config.seed,
        "suite": config.suite,
        "eval_suite": main_suite,
        "reward_model_spearman": cal["spearman_aggregate_evaluator"],
        "images_rendered_collection": r.images["collection"],
        "images_rendered_phase2": r.images["phase2"],
        "images_rendered_eval": r.images["eval"],
        "images_rendered_training": r.images["collection"] + r.images["phase2"],
        "images_rendered_total": r.images["collection"] + r.images["phase2"] + r.images["eval"],
        "phase1": without_per_episode(phase1_eval),
        "guidance": {w: without_per_episode(v) for w, v in sweep.items()},
        "reward_calibration": {k: v for k, v in cal.items() if k != "_arrays"},
        "grpo_history": trainer.history,
        "config": config.to_dict(),
        "out": str(out),
    }
    agent = GRPOAgent(
        policy,
        r.vocab,
        r.featurizer,
        reference=reference,
        sampling=SamplingConfig(guidance_w=config.guidance_ws[0]),
        seed=config.seed,
        meta={
            "grpo_config": trainer.config.to_dict(),
            "env_kwargs": {"suite": config.suite, "text_encoder": config.text_encoder},
            "training": {
                k: results[k]
                for k in (
                    "alignment",
                    "phase1_alignment",
                    "reward_model_spearman",
                    "images_rendered_collection",
                    "images_rendered_phase2",
                )
            },
        },
    )
    agent.save(out / "agent")  # atomic
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    return results


def without_per_episode(evals: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Evaluations without their per-episode lists (what the results files keep)."""
    return {s: {k: v for k, v in e.items() if k not in ("per_episode_alignment", "task_ids")} for s, e in evals.items()}


def quick_config(**overrides: Any) -> PipelineConfig:
    """A tiny run (about 15 s): for smoke tests, not for results."""
    cfg = PipelineConfig(
        collect=CollectConfig(
            train_tasks=40, val_tasks=20, random_per_task=2, oracle_train_tasks=3, oracle_val_tasks=2
        ),
        policy_sample_tasks=15,
        sft=SFTConfig(epochs=3),
        reward=RewardConfig(n_members=2, epochs=3),
        grpo=GRPOConfig(max_steps=4, prompts_per_step=4, num_generations=4),
        eval_episodes=20,
    )
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


def train_from_args(args: Any) -> int:
    """``poser train grpo``: the last printed line is the JSON results summary with ``--json``."""
    try:
        ws = tuple(float(w) for w in str(args.w).split(",") if w.strip())
    except ValueError:
        raise ValueError(f"--w must be comma-separated guidance weights such as 1,1.5,2; got {args.w!r}") from None
    eval_suites = (args.eval_suite,) if args.eval_suite else ()
    base = quick_config() if args.quick else PipelineConfig()
    cfg = replace_config(
        base,
        suite=args.suite,
        eval_suites=eval_suites,
        text_encoder=args.text_encoder,
        seed=args.seed,
        eval_episodes=args.episodes or base.eval_episodes,
        guidance_ws=ws,
    )
    cfg.grpo = GRPOConfig(
        **{**asdict(cfg.grpo), "reward": args.reward, **({"max_steps": args.grpo_steps} if args.grpo_steps else {})}
    )
    cfg.sft = SFTConfig(**{**asdict(cfg.sft), "seed": args.seed})
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else print
    from poser_agents.common.run_folder import claim_run_folder

    with claim_run_folder(
        args.out, command=f"poser train grpo --out {args.out}", resume=args.resume, overwrite=args.overwrite
    ):
        with stop_on_signals() as stop:
            try:
                results = train(
                    cfg,
                    args.out,
                    data=args.data,
                    log=log,
                    stop=stop,
                    resume=args.resume,
                    checkpoint_every=args.checkpoint_every or DEFAULT_GRPO_EVERY,
                )
            except Interrupted as e:
                print(
                    f"poser train grpo: stopped by {e} during {getattr(e, 'stage', '?')}; the stages done are kept in "
                    f"{args.out}; go on with the same flags and --resume",
                    file=sys.stderr,
                )
                if args.json:
                    print(json.dumps({"out": str(args.out), "interrupted": str(e), "stage": getattr(e, "stage", None)}))
                return e.exit_code
    print(
        f"test alignment {results['alignment']:.3f} (phase 1: {results['phase1_alignment']:.3f}); reward-model Spearman "
        f"{results['reward_model_spearman']:.3f}; images: collection {results['images_rendered_collection']}, phase 2 "
        f"{results['images_rendered_phase2']}, eval {results['images_rendered_eval']}"
    )
    print(
        f"saved the agent to {Path(args.out) / 'agent'}; evaluate it with: poser eval --agent {Path(args.out) / 'agent'}"
    )
    if args.json:
        keys = (
            "alignment",
            "alignment_ci",
            "phase1_alignment",
            "reward",
            "seed",
            "suite",
            "eval_suite",
            "reward_model_spearman",
            "images_rendered_collection",
            "images_rendered_phase2",
            "images_rendered_eval",
            "images_rendered_training",
            "images_rendered_total",
            "out",
        )
        print(json.dumps({k: results[k] for k in keys}, sort_keys=True))
    return 0


def replace_config(cfg: PipelineConfig, **changes: Any) -> PipelineConfig:
    for k, v in changes.items():
        setattr(cfg, k, v)
    cfg.__post_init__()
    return cfg
