"""What the masked DQN's own work costs against SB3's DQN on CartPole (docs/performance.md).

``poser bench`` compares the masked DQN training on ImagePoser-v0 with SB3's DQN training on
CartPole-v1 (same head, ``train_freq``, batch and schedule). This script takes the env out of
that comparison: it times, in one process, a gradient update (``train(gradient_steps=1)``)
and a greedy ``predict`` of each, after a short ``learn`` fills their replay buffers, and
derives the agent's own CPU per env step, ``predict + update / train_freq`` (the replay add
and the loop are left out; they are small beside these). Their quotient is the most the
masked DQN could reach against SB3 on CartPole **with an env that costs nothing**:
``agent_only_ceiling``.

    PYTHONPATH=$PWD python tools/dqn_update_cost.py              # 2 repeats of 300 updates
    PYTHONPATH=$PWD python tools/dqn_update_cost.py --updates 100 --json

Process CPU time, torch on one thread (as ``poser bench`` and ``DQNConfig`` run it).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any

import gymnasium as gym


def _per_update_ms(model: Any, batch_size: int, updates: int) -> float:
    model.train(gradient_steps=1, batch_size=batch_size)  # first call allocates
    t = time.process_time()
    for _ in range(updates):
        model.train(gradient_steps=1, batch_size=batch_size)
    return 1000.0 * (time.process_time() - t) / updates


def _predict_ms(model: Any, env: gym.Env, calls: int) -> float:
    obs, _ = env.reset(seed=0)
    model.predict(obs, deterministic=True)
    t = time.process_time()
    for _ in range(calls):
        model.predict(obs, deterministic=True)
    return 1000.0 * (time.process_time() - t) / calls


def measure(updates: int, seed: int) -> dict[str, Any]:
    """One repeat: both learners built and warmed, then timed update by update and predict by predict."""
    import torch
    from stable_baselines3 import DQN

    import poser_env  # noqa: F401  (registers the ids)
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    torch.set_num_threads(1)
    c = DQNConfig(learning_starts=200, seed=seed)
    sb3 = DQN(
        "MlpPolicy", gym.make("CartPole-v1"), learning_rate=c.learning_rate, buffer_size=c.buffer_size,
        learning_starts=c.learning_starts, batch_size=c.batch_size, gamma=c.gamma, train_freq=c.train_freq,
        gradient_steps=c.gradient_steps, target_update_interval=c.target_update_interval,
        policy_kwargs={"net_arch": list(c.net_arch)}, seed=seed, device="cpu",
    )  # fmt: skip
    sb3.learn(1000)
    agent = DQNAgent(gym.make("ImagePoser-v0"), c)
    agent.learn(1000)
    ours = agent.model
    out: dict[str, Any] = {
        "update_ms": {
            "sb3_cartpole": round(_per_update_ms(sb3, c.batch_size, updates), 3),
            "masked_dqn": round(_per_update_ms(ours, c.batch_size, updates), 3),
        },
        "predict_ms": {
            "sb3_cartpole": round(_predict_ms(sb3, gym.make("CartPole-v1"), 2 * updates), 3),
            "masked_dqn": round(_predict_ms(ours, gym.make("ImagePoser-v0"), 2 * updates), 3),
        },
        "q_net_parameters": {
            "sb3_cartpole": sum(p.numel() for p in sb3.q_net.parameters()),
            "masked_dqn": sum(p.numel() for p in ours.q_net.parameters()),
        },
        "features": {"sb3_cartpole": int(sb3.q_net.features_dim), "masked_dqn": int(ours.q_net.features_dim)},
        "double_q": c.double_q,
        "train_freq": c.train_freq,
    }
    agent_ms = {k: out["predict_ms"][k] + out["update_ms"][k] / c.train_freq for k in ("sb3_cartpole", "masked_dqn")}
    out["agent_ms_per_step"] = {k: round(v, 3) for k, v in agent_ms.items()}
    out["agent_only_ceiling"] = round(agent_ms["sb3_cartpole"] / agent_ms["masked_dqn"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--updates", type=int, default=300, help="timed updates per learner and repeat (default 300)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the lines")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", module="gymnasium")
    runs = [measure(args.updates, args.seed + r) for r in range(args.repeats)]
    if args.json:
        print(json.dumps({"updates": args.updates, "seed": args.seed, "repeats": runs}, indent=1))
        return 0
    for i, r in enumerate(runs):
        u, pr, a = r["update_ms"], r["predict_ms"], r["agent_ms_per_step"]
        print(
            f"repeat {i}: update {u['masked_dqn']} ms against SB3 on CartPole {u['sb3_cartpole']} ms; predict "
            f"{pr['masked_dqn']} against {pr['sb3_cartpole']} ms; agent per env step {a['masked_dqn']} against "
            f"{a['sb3_cartpole']} ms; ceiling with a free env {r['agent_only_ceiling']} x SB3"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
