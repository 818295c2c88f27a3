"""A masked DQN in plain PyTorch, CleanRL style, benchmarked on ImagePoser-Hard-v0.

    python examples/cleanrl_style_dqn.py --total-timesteps 100000 --seed 0 --out runs/bench
    poser benchmark aggregate runs/bench            # beside the published runs, if you like

No stable-baselines3: the algorithm reads top to bottom (settings, Q-network, replay buffer,
loop). The protocol is the benchmark's (docs/benchmark.md): greedy evaluation on val every
``--eval-every`` steps (the learning curve), on test at the end (and on a level with
generalisation splits, ImagePoser-Hard-v0, on ``gen`` and ``gen_forms``, each reported apart),
each against the random and oracle references measured on the same tasks and seeds, written in
the ``poser-benchmark-run`` schema under ``<out>/<env>/cleanrl_style_dqn/seed<S>/`` so that
``poser benchmark aggregate`` reads it like any other run. To compare with the published runs,
use their protocol settings (``--test-episodes 100`` on ImagePoser-Hard-v0 and -Drift-v0).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn

import poser_env  # noqa: F401  (registers the levels)
from poser_agents.benchmark.run import Protocol, final_splits, references
from poser_agents.benchmark.schema import SCHEMA, VERSION, library_versions, machine, write_run
from poser_agents.benchmark.score import score_card
from poser_agents.common.cli_args import parse_dataclass
from poser_agents.evaluation.harness import evaluate

ALGO = "cleanrl_style_dqn"


@dataclass
class Args:
    env_id: str = "ImagePoser-Hard-v0"
    """the level to train on (train split) and to evaluate on (val, test)"""
    total_timesteps: int = 100_000
    """env steps of training"""
    seed: int = 0
    """seed of python, numpy, torch and the env"""
    learning_rate: float = 5e-4
    """Adam learning rate"""
    buffer_size: int = 100_000
    """replay buffer capacity"""
    gamma: float = 0.95
    """discount factor (episodes are short)"""
    target_network_frequency: int = 1_000
    """env steps between two hard target-network updates"""
    batch_size: int = 64
    """transitions per gradient step"""
    start_e: float = 1.0
    """initial exploration probability"""
    end_e: float = 0.02
    """final exploration probability"""
    exploration_fraction: float = 0.3
    """fraction of training over which epsilon decays"""
    learning_starts: int = 2_000
    """env steps of random (allowed) actions before learning"""
    train_frequency: int = 4
    """env steps between two gradient steps"""
    eval_every: int = 10_000
    """env steps between two val evaluations"""
    val_episodes: int = 50
    """val tasks per curve point"""
    test_episodes: int = 200
    """test tasks at the end"""
    out: str = "runs/bench"
    """results folder (as `poser benchmark run --out`)"""


def flatten(obs: dict) -> np.ndarray:
    """The Dict observation as one float vector (keys in sorted order; the mask is used apart)."""
    return np.concatenate([np.asarray(obs[k], np.float32).ravel() for k in sorted(obs) if k != "action_mask"])


class QNetwork(nn.Module):
    def __init__(self, n_in: int, n_actions: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, n_actions)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.bool(), q, torch.full_like(q, -1e9)).argmax(dim=-1)


class GreedyPolicy:
    """What the evaluation harness calls: ``predict(obs) -> (action, state)``."""

    def __init__(self, q: QNetwork):
        self.q = q

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        with torch.no_grad():
            x = torch.as_tensor(flatten(obs))[None]
            m = torch.as_tensor(np.asarray(obs["action_mask"]))[None]
            return int(masked_argmax(self.q(x), m)[0]), state


def main(args: Args) -> dict:
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    proto = Protocol(eval_every=args.eval_every, val_episodes=args.val_episodes, test_episodes=args.test_episodes)
    out = Path(args.out)
    folder = out / args.env_id / ALGO / f"seed{args.seed}"
    if (folder / "result.json").exists():  # never overwrite a run: it may be hours of training
        raise SystemExit(f"{folder} already holds a run; choose another --out or --seed, or delete it")
    result = {
        "schema": SCHEMA,
        "version": VERSION,
        "status": "partial",
        "algo": ALGO,
        "env_id": args.env_id,
        "seed": args.seed,
        "steps": args.total_timesteps,
        "steps_done": 0,
        "protocol": asdict(proto) | {"eval_seeds": list(proto.eval_seeds)},
        "versions": library_versions(),
        "machine": machine(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "curve": [],
        "test": None,
        "args": asdict(args),
    }
    write_run(folder, result)
    val_env = gym.make(args.env_id, split="val")
    val_refs = references(out, args.env_id, "val", args.val_episodes, proto, print)

    def evaluate_on(env, refs, episodes) -> dict:
        records = evaluate(
            GreedyPolicy(q_network), env, episodes=episodes, seeds=proto.eval_seeds, n_resamples=1
        ).records
        return score_card(records, refs["random"], refs["oracle"], proto.cost_weight)

    env = gym.make(args.env_id, split="train")
    n_actions = int(env.action_space.n)
    obs, _ = env.reset(seed=args.seed)
    n_in = flatten(obs).size
    q_network, target_network = QNetwork(n_in, n_actions), QNetwork(n_in, n_actions)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate)

    size = min(args.buffer_size, args.total_timesteps)
    b_obs, b_next = np.zeros((size, n_in), np.float32), np.zeros((size, n_in), np.float32)
    b_act, b_rew, b_done = np.zeros(size, np.int64), np.zeros(size, np.float32), np.zeros(size, np.float32)
    b_next_mask = np.zeros((size, n_actions), np.float32)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    def curve_point(step: int) -> None:
        card = evaluate_on(val_env, val_refs, args.val_episodes)
        result["curve"].append({"step": step, "split": "val", **card})
        result["steps_done"] = step
        write_run(folder, result)
        print(f"step {step}: val normalised accuracy {card['norm_accuracy']} ({time.perf_counter() - t0:.0f} s)")

    curve_point(0)
    for step in range(1, args.total_timesteps + 1):
        epsilon = max(
            args.end_e,
            args.start_e - (args.start_e - args.end_e) * step / (args.exploration_fraction * args.total_timesteps),
        )
        mask = np.asarray(obs["action_mask"]).astype(bool)
        if step <= args.learning_starts or rng.random() < epsilon:
            action = int(rng.choice(np.flatnonzero(mask)))
        else:
            action = GreedyPolicy(q_network).predict(obs)[0]
        next_obs, reward, terminated, truncated, _ = env.step(action)
        i = (step - 1) % size
        b_obs[i], b_next[i], b_act[i], b_rew[i], b_done[i] = (
            flatten(obs),
            flatten(next_obs),
            action,
            reward,
            float(terminated),
        )
        b_next_mask[i] = np.asarray(next_obs["action_mask"], np.float32)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()

        if step > args.learning_starts and step % args.train_frequency == 0:
            idx = rng.integers(min(step, size), size=args.batch_size)
            with torch.no_grad():
                nxt = torch.as_tensor(b_next[idx])
                best = masked_argmax(q_network(nxt), torch.as_tensor(b_next_mask[idx]))  # double DQN, masked
                target_q = target_network(nxt).gather(1, best[:, None]).squeeze(1)
                td_target = torch.as_tensor(b_rew[idx]) + args.gamma * target_q * (1 - torch.as_tensor(b_done[idx]))
            q = q_network(torch.as_tensor(b_obs[idx])).gather(1, torch.as_tensor(b_act[idx])[:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, td_target)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(q_network.parameters(), 10.0)
            optimizer.step()
        if step % args.target_network_frequency == 0:
            target_network.load_state_dict(q_network.state_dict())
        if step % args.eval_every == 0:
            curve_point(step)

    if result["curve"][-1]["step"] != args.total_timesteps:
        curve_point(args.total_timesteps)
    for split in final_splits(env):  # test, and gen / gen_forms on a level that has them
        refs = references(out, args.env_id, split, args.test_episodes, proto, print)
        result[split] = evaluate_on(gym.make(args.env_id, split=split), refs, args.test_episodes)
    result.update(
        status="complete",
        steps_done=args.total_timesteps,
        seconds=round(time.perf_counter() - t0, 1),
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    write_run(folder, result)
    print(
        f"test normalised accuracy {result['test']['norm_accuracy']}, alignment {result['test']['norm_alignment']}; "
        f"written to {folder}; aggregate with: poser benchmark aggregate {out}"
    )
    return result


if __name__ == "__main__":
    main(parse_dataclass(Args, description=__doc__.split("\n\n")[0]))  # every field of Args is a flag
