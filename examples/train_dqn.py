"""Train the masked DQN agent on ImagePoser's train split, compare it with baselines on val.

    python examples/train_dqn.py                                  # defaults: 100k steps, ~10 min on 2 CPU cores
    python examples/train_dqn.py --total-timesteps 20000 --out runs/dqn-quick
    python examples/train_dqn.py --gamma 0.99 --net-arch 512,512  # any DQNConfig field is a flag
    python examples/train_dqn.py --tensorboard-log runs/tb        # then: tensorboard --logdir runs/tb

Read top to bottom: settings, envs, agent, training (with a learning curve on val), a final
comparison on val against the baselines, the checkpoint. Tune on val only: the test split is
for the final report (``poser eval``), never for choosing settings.

Outputs in ``--out`` (default ``runs/dqn``):

- ``progress.csv``  SB3's training log (``train/loss``, ``rollout/ep_rew_mean``, ...)
- ``episodes.csv``  one row per training episode (return, evaluator alignment, cost, ...)
- ``eval.csv``      the learning curve: greedy-policy alignment on val tasks every ``--eval-freq`` steps
- ``results.json``  the final table
- ``agent/``        the checkpoint (``DQNAgent.load("runs/dqn/agent")``)

With ``--tensorboard-log DIR``: TensorBoard events in ``DIR/MaskedDQN_<n>`` with the evaluator's
alignment and accuracy, cost, per-category accuracy and a greedy episode strip every
``--tensorboard-strip-every`` episodes (docs/tensorboard.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

import poser_env  # noqa: F401  (registers the env ids)
from poser_agents.baselines import make_baseline
from poser_agents.common.cli_args import add_dataclass_flags, dataclass_from_flags
from poser_agents.dqn import DQNAgent, DQNConfig, RolloutEvalCallback
from poser_agents.rollout import aggregate, pick_tasks, run_episodes


# --- 1. Settings ------------------------------------------------------------------------
@dataclass
class Args:
    env_id: str = "ImagePoser-v0"
    """Registered env id (trained on its train split, evaluated on its val split)."""
    text_encoder: str = "hash"
    """Text encoder of the observation (``hash`` or ``minilm``)."""
    total_timesteps: int = 100_000
    """Env steps of training."""
    eval_freq: int = 10_000
    """Env steps between two points of the learning curve (0: no curve)."""
    curve_tasks: int = 200
    """Val tasks per point of the learning curve."""
    eval_tasks: int = 640
    """Val tasks of the final comparison (640 = the whole val split of ImagePoser-v0)."""
    baselines: str = "random,heuristic"
    """Baselines of the final comparison (``oracle`` is an upper bound, about 3 min on 640 tasks)."""
    out: str = "runs/dqn"
    """Output folder."""
    progress_bar: bool = False
    """Show SB3's progress bar."""


def parse_args(argv: list[str] | None = None) -> tuple[Args, DQNConfig]:
    """Every field of Args and of DQNConfig is a flag (``--net-arch 256,256``, ``--double-q false``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_dataclass_flags(parser, Args, prefix="a_")
    add_dataclass_flags(parser, DQNConfig, prefix="c_", skip=("log_dir",))
    ns = parser.parse_args(argv)
    try:
        args = dataclass_from_flags(Args, ns, prefix="a_")
        return args, dataclass_from_flags(DQNConfig, ns, prefix="c_", log_dir=args.out)
    except ValueError as e:  # a bad value or a DQNConfig check: one line, nothing started
        parser.error(str(e))
        raise


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # --- 2. Envs: train on train, evaluate on val ---------------------------------------
    train_env = gym.make(args.env_id, split="train", text_encoder=args.text_encoder)
    val_env = gym.make(args.env_id, split="val", text_encoder=args.text_encoder)

    # --- 3. Agent ------------------------------------------------------------------------
    agent = DQNAgent(train_env, config)
    print(f"DQNConfig: {json.dumps(config.to_dict())}", flush=True)

    # --- 4. Training, with a learning curve on val (greedy policy, fixed tasks and seeds) -
    callbacks = []
    if args.eval_freq > 0:
        curve = RolloutEvalCallback(
            val_env, agent, n_tasks=args.curve_tasks, eval_freq=args.eval_freq, eval_path=out / "eval.csv", verbose=1
        )
        callbacks.append(curve)
    t0 = time.perf_counter()
    agent.learn(args.total_timesteps, callback=callbacks, progress_bar=args.progress_bar)
    train_s = time.perf_counter() - t0
    print(
        f"trained {agent.num_timesteps} steps in {train_s:.0f} s ({agent.num_timesteps / train_s:.0f} steps/s)",
        flush=True,
    )

    # --- 5. Final comparison on val: the same tasks and seeds for every agent ------------
    tasks = pick_tasks(val_env, args.eval_tasks)
    rows = {"dqn": aggregate(run_episodes(val_env, agent, tasks, seed=0))}
    for name in filter(None, args.baselines.split(",")):
        rows[name] = aggregate(run_episodes(val_env, make_baseline(name, val_env, seed=0), tasks, seed=0))
    suites = sorted(rows["dqn"]["per_suite"])
    print(f"\nval split, {len(tasks)} tasks ({args.env_id}, {agent.num_timesteps} training steps, {train_s:.0f} s)")
    print("| agent | alignment | accuracy | cost | steps | return | " + " | ".join(suites) + " |")
    print("|---" * (6 + len(suites)) + "|")
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["alignment"]):
        per = " | ".join(f"{r['per_suite'][s]['alignment']:.3f}" for s in suites)
        print(
            f"| {name} | {r['alignment']:.3f} | {r['accuracy']:.3f} | {r['cost']:.2f} | {r['steps']:.2f} | {r['return']:.3f} | {per} |"
        )

    # --- 6. Checkpoint and results ---------------------------------------------------------
    path = agent.save(out / "agent")
    results = {
        "env_id": args.env_id, "split": "val", "tasks": len(tasks), "timesteps": agent.num_timesteps,
        "train_seconds": round(train_s, 1), "config": config.to_dict(), "args": dataclasses.asdict(args),
        "results": rows, "curve": curve.history if args.eval_freq > 0 else [],
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nsaved the agent to {path} and the results to {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
