"""Train the GRPO workflow policy step by step: logged data, phase 1, reward ensemble, GRPO, test.

    python examples/train_grpo.py                         # defaults: about 3 min on 2 CPU cores
    python examples/train_grpo.py --reward env            # phase 2 executes every sample in the env
    python examples/train_grpo.py --guidance-w 2.0 --grpo-steps 100

Read top to bottom; each stage is one call into ``poser_agents.grpo``. ``poser train grpo``
runs the same recipe (``poser_agents/grpo/pipeline.py``). Images rendered are counted at each
stage: the claim that phase 2 with the ensemble renders nothing is measured here.

Outputs in ``--out`` (default ``runs/grpo-example``): ``data.jsonl`` (logged workflows, reusable
with ``poser train grpo --data``), ``reward_calibration.png``, ``results.json``, ``agent/``
(``poser eval --agent runs/grpo-example/agent``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from poser_agents.common.cli_args import parse_dataclass
from poser_agents.grpo.agent import GRPOAgent, SamplingConfig
from poser_agents.grpo.config import GRPOConfig
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import CollectConfig, collect, write_records
from poser_agents.grpo.pipeline import evaluate_workflow_policy, make_env, policy_samples, vocab_of
from poser_agents.grpo.reward import RewardConfig, RewardEnsemble, calibration, calibration_figure
from poser_agents.grpo.sft import SFTConfig, train_sft
from poser_agents.grpo.trainer import GRPOTrainer


# --- 1. Settings ------------------------------------------------------------------------
@dataclass
class Args:
    suite: str = "mixed"
    """Suite mix to train on (its train split; val for the reward models' calibration)."""
    text_encoder: str = "hash"
    """Text encoder of the env and of the policy's features."""
    train_tasks: int = 600
    """Train tasks with logged workflows."""
    val_tasks: int = 150
    """Val tasks with logged workflows (held out: the reward models' calibration)."""
    sft_mode: str = "score"
    """Phase 1: ``score`` (score-conditioned) or ``best`` (each task's best workflows only)."""
    members: int = 5
    """Reward-model ensemble size K."""
    pessimism: float = 1.0
    """k in the ensemble's ``mean - k * std``."""
    reward: str = "ensemble"
    """Phase-2 reward: ``ensemble`` (no image) or ``env``."""
    grpo_steps: int = 50
    """Phase-2 steps (16 prompts x 8 generations each)."""
    guidance_w: float = 1.0
    """Extrapolation weight at sampling (1: the GRPO policy)."""
    test_tasks: int = 300
    """Test tasks of the final evaluation."""
    seed: int = 0
    """Seeds everything."""
    out: str = "runs/grpo-example"
    """Output folder."""


def parse_args(argv: list[str] | None = None) -> Args:
    """Every field of Args is a flag (``--grpo-steps 100``)."""
    return parse_dataclass(Args, argv, description=__doc__.split("\n\n")[0])


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    torch.set_num_threads(1)
    images = {}

    # --- 2. Envs and vocabulary: train and val splits only; test is for the final table.
    train_env = make_env(args.suite, "train", args.text_encoder)
    val_env = make_env(args.suite, "val", args.text_encoder)
    vocab = vocab_of(train_env)  # 12 expert tokens + <pad> <bos> <sep> <eos>; 3 tries per command
    featurizer = ContextFeaturizer(args.text_encoder)

    # --- 3. Logged data: random, heuristic and oracle workflows executed in the env.
    cc = CollectConfig(suite=args.suite, train_tasks=args.train_tasks, val_tasks=args.val_tasks, seed=args.seed)
    records = collect(train_env, val_env, cc, vocab, progress=print)
    write_records(out / "data.jsonl", records, vocab, {"suite": args.suite, "collect": cc.to_dict()})
    images["collection"] = sum(r["images_rendered"] for r in records)

    # --- 4. Phase 1: supervised training on the logged workflows.
    reference = train_sft(
        records,
        featurizer,
        vocab,
        SFTConfig(mode=args.sft_mode, seed=args.seed),
        log=lambda row: print(f"phase 1 epoch {row['epoch']}: nll {row['nll']:.3f}"),
    )

    # --- 5. Reward ensemble: trained on logged data plus phase-1 samples; calibrated on val.
    extra = policy_samples(reference, featurizer, vocab, train_env, args.train_tasks // 2, 2, args.seed)
    extra += policy_samples(reference, featurizer, vocab, val_env, args.val_tasks * 2 // 3, 1, args.seed + 1)
    images["collection"] += sum(r["images_rendered"] for r in extra)
    ensemble = RewardEnsemble(
        featurizer, vocab, RewardConfig(n_members=args.members, pessimism=args.pessimism, seed=args.seed)
    )
    ensemble.fit(records + extra)
    cal = calibration(ensemble, records + extra)
    calibration_figure(cal, out / "reward_calibration.png")
    print(f"reward ensemble: Spearman {cal['spearman_aggregate_evaluator']:.3f} with the evaluator on val")

    # --- 6. Phase 2: GRPO against the ensemble (or the env), KL to the phase-1 reference.
    contexts = list({r["task_id"]: PlanContext.from_dict(r) for r in records if r["split"] == "train"}.values())
    gcfg = GRPOConfig(reward=args.reward, max_steps=args.grpo_steps, seed=args.seed)
    trainer = GRPOTrainer(
        reference,
        featurizer,
        vocab,
        gcfg,
        contexts,
        ensemble=ensemble,
        env=train_env,
        tasks={t.id: t for t in train_env.unwrapped.tasks},
    )
    policy = trainer.train(
        log=lambda row: print(f"grpo step {row['step']}: reward {row['reward_mean']:.3f}, kl {row['kl']:.3f}")
    )
    images["phase2"] = trainer.images_rendered

    # --- 7. Test split: phase 1 against GRPO (guided), with the images each evaluation renders.
    train_keys = {r["workflow"] for r in records if r["split"] == "train"}
    before = evaluate_workflow_policy(
        reference, vocab, featurizer, args.suite, args.test_tasks, args.seed, args.text_encoder, train_keys=train_keys
    )
    after = evaluate_workflow_policy(
        policy,
        vocab,
        featurizer,
        args.suite,
        args.test_tasks,
        args.seed,
        args.text_encoder,
        reference=reference,
        w=args.guidance_w,
        train_keys=train_keys,
    )
    images["eval"] = before["images_rendered"] + after["images_rendered"]
    print(
        f"test alignment: phase 1 {before['alignment']:.3f} -> GRPO {after['alignment']:.3f} "
        f"(distinct workflows {after['distinct_workflows']}, novel {after['novel_fraction']:.2f}); images {images}"
    )

    # --- 8. Save the agent (``poser eval --agent OUT/agent``) and the results.
    agent = GRPOAgent(
        policy,
        vocab,
        featurizer,
        reference=reference,
        sampling=SamplingConfig(guidance_w=args.guidance_w),
        seed=args.seed,
        meta={"env_kwargs": {"suite": args.suite, "text_encoder": args.text_encoder}, "grpo_config": gcfg.to_dict()},
    )
    agent.save(out / "agent")
    strip = lambda e: {k: v for k, v in e.items() if k not in ("per_episode_alignment", "task_ids")}  # noqa: E731
    (out / "results.json").write_text(
        json.dumps(
            {
                "args": dataclasses.asdict(args),
                "phase1": strip(before),
                "grpo": strip(after),
                "images": images,
                "spearman": cal["spearman_aggregate_evaluator"],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out / 'results.json'} and {out / 'agent'}")


if __name__ == "__main__":
    main()
