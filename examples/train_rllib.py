"""Train PPO (with action masking) or DQN with RLlib on ImagePoser-v0, with several env runners.

    python examples/train_rllib.py                                 # PPO, 2 env runners, 20 iterations
    python examples/train_rllib.py --algo dqn --iterations 10
    python examples/train_rllib.py --address auto --env-runners 16 # a running Ray cluster

Needs ``ray[rllib]``, which pins gymnasium 1.2.2: run it in its own environment (``make
test`` builds one, ``.venv-rllib``; docs/scaling.md says how to make one by hand). The env is
registered with ``tune.register_env`` and built in every env runner from plain data. PPO uses
RLlib's action-masking RLModule, so with ``--defer`` (a DEFER action that is masked once used)
masked actions are never sampled; RLlib's DQN module has no masking, so DQN runs on the default
action set, where every action is always allowed.

Read top to bottom: settings, Ray, the algorithm, training, a greedy evaluation on val with the
project's harness next to the heuristic baseline, the checkpoint. Ray's dashboard and usage
reporting are off; without ``--address`` only a local Ray instance is started.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

import poser_env  # noqa: F401  (registers the env ids)
from poser_agents.distributed import init_ray
from poser_agents.distributed.rllib import RLlibAgent, dqn_config, ppo_config
from poser_agents.evaluation import evaluate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", choices=["ppo", "dqn"], default="ppo")
    p.add_argument("--iterations", type=int, default=20, help="training iterations (algo.train() calls)")
    p.add_argument("--env-runners", type=int, default=2, help="RLlib env runners (one CPU each)")
    p.add_argument(
        "--batch", type=int, default=1024, help="PPO: env steps per iteration; DQN: env steps sampled per iteration"
    )
    p.add_argument("--defer", action="store_true", help="enable the DEFER action (masked once used): PPO only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=60, help="val tasks for the greedy evaluation (0: none)")
    p.add_argument(
        "--address", default=None, help="a Ray cluster to join (auto or HOST:PORT); default: a local instance"
    )
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local instance (default: all)")
    p.add_argument("--out", default="runs/rllib", help="checkpoint and results folder")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    # --- 1. Ray and the algorithm ------------------------------------------------------
    init_ray(address=args.address, num_cpus=args.num_cpus)
    env_config = {"split": "train", "text_encoder": "hash", "enable_defer": args.defer}
    if args.algo == "ppo":
        config = ppo_config(
            env_config,
            num_env_runners=args.env_runners,
            seed=args.seed,
            train_batch_size=args.batch,
            minibatch_size=min(128, args.batch),
        )
    else:
        config = dqn_config(
            env_config,
            num_env_runners=args.env_runners,
            seed=args.seed,
            learning_starts=min(500, args.batch),
            steps_per_iteration=args.batch,
        )
    algo = config.build_algo()
    try:
        # --- 2. Training -----------------------------------------------------------------
        t0 = time.perf_counter()
        curve = []
        for i in range(args.iterations):
            result = algo.train()
            runners = result["env_runners"]
            row = {
                "iteration": i + 1,
                "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
                "episodes": int(runners.get("num_episodes_lifetime", 0)),
                "return_mean": runners.get("episode_return_mean"),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            curve.append(row)
            print(json.dumps(row), flush=True)
        healthy = algo.env_runner_group.num_healthy_remote_workers()
        # --- 3. Greedy evaluation on val, next to the heuristic ---------------------------
        results = {}
        if args.eval_episodes:
            env = gym.make("ImagePoser-v0", split="val", text_encoder="hash", enable_defer=args.defer)
            agent = RLlibAgent(algo.get_module(), env, masked=args.algo == "ppo", name=f"rllib-{args.algo}")
            for name, who in ((agent.name, agent), ("heuristic", "heuristic")):
                r = evaluate(who, env, episodes=args.eval_episodes, seeds=[args.seed], name=name)
                results[name] = {k: round(r.overall[k]["mean"], 4) for k in ("alignment", "accuracy", "cost", "steps")}
                print(f"{name:<12} " + "  ".join(f"{k} {v:.3f}" for k, v in results[name].items()), flush=True)
            env.close()
        # --- 4. Checkpoint ----------------------------------------------------------------
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        checkpoint = algo.save_to_path(str((out / "checkpoint").resolve()))
        summary = {
            "algo": args.algo,
            "env_runners": healthy,
            "curve": curve,
            "val": results,
            "checkpoint": str(checkpoint),
        }
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        tmp.replace(out / "results.json")
        print(f"wrote {out / 'results.json'} and the checkpoint {checkpoint}")
        return summary
    finally:
        algo.stop()


if __name__ == "__main__":
    main()
