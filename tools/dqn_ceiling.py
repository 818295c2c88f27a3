"""How fast the masked DQN could train if ImagePoser cost nothing (docs/performance.md).

``poser bench`` reports ``poser_dqn/sb3_cartpole``: the masked DQN training on ImagePoser-v0
against SB3's DQN training on CartPole-v1 (the same head, ``train_freq``, batch and schedule),
process CPU time. This script measures that ratio three ways in each repeat, in the bench's
regime (``DQNConfig`` defaults, 6,000 steps, ``learning_starts=1000``, one torch thread):

- ``live``: on ImagePoser-v0 itself, as ``poser bench`` does;
- ``free_env``: on :class:`Replay`, ImagePoser-v0's recorded random-play transitions played back
  whatever the action (its spaces, observations, infos and episode lengths, at almost no cost):
  the most the masked DQN could reach with an env that costs nothing;
- ``parts``: one gradient update and one greedy ``predict`` of each learner, timed alone after a
  short ``learn`` (where the agent's own time goes).

    PYTHONPATH=$PWD python tools/dqn_ceiling.py                 # 3 repeats
    PYTHONPATH=$PWD python tools/dqn_ceiling.py --repeats 1 --steps 1200 --starts 200 --json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import gymnasium as gym
import numpy as np


class Replay(gym.Wrapper):
    """Plays back recorded episodes of the wrapped env in turn, ignoring the actions; the
    wrapped env lends its spaces and attributes and is never stepped."""

    def __init__(self, env: gym.Env, episodes: list[tuple[Any, list[Any]]]):
        super().__init__(env)
        self.episodes, self.i, self.j = episodes, -1, 0

    def reset(self, **kwargs: Any) -> Any:
        self.i, self.j = (self.i + 1) % len(self.episodes), 0
        return self.episodes[self.i][0]

    def step(self, action: Any) -> Any:
        out = self.episodes[self.i][1][self.j]
        self.j += 1
        return out


def record(env_id: str, steps: int, seed: int) -> list[tuple[Any, list[Any]]]:
    """Complete episodes of random allowed actions: ((obs, info) at reset, [step outputs])."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    episodes: list[tuple[Any, list[Any]]] = []
    start = env.reset(seed=seed)
    outs: list[Any] = []
    obs = start[0]
    for _ in range(steps):
        out = env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
        outs.append(out)
        obs = out[0]
        if out[2] or out[3]:
            episodes.append((start, outs))
            start, outs = env.reset(), []
            obs = start[0]
    env.close()
    return episodes


def _rate(agent: Any, steps: int) -> float:
    t = time.process_time()
    agent.learn(steps)
    return steps / (time.process_time() - t)


def _parts(seed: int, updates: int = 300) -> dict[str, Any]:
    """Update and predict CPU ms of each learner, after a short learn fills its buffer."""
    from stable_baselines3 import DQN

    from poser_agents.dqn.agent import DQNAgent, DQNConfig

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
    out: dict[str, Any] = {"update_ms": {}, "predict_ms": {}, "q_net_parameters": {}, "features": {}}
    for name, model, env_id in (("sb3_cartpole", sb3, "CartPole-v1"), ("masked_dqn", agent.model, "ImagePoser-v0")):
        model.train(gradient_steps=1, batch_size=c.batch_size)
        t = time.process_time()
        for _ in range(updates):
            model.train(gradient_steps=1, batch_size=c.batch_size)
        out["update_ms"][name] = round(1000 * (time.process_time() - t) / updates, 3)
        obs, _ = gym.make(env_id).reset(seed=0)
        t = time.process_time()
        for _ in range(2 * updates):
            model.predict(obs, deterministic=True)
        out["predict_ms"][name] = round(1000 * (time.process_time() - t) / (2 * updates), 3)
        out["q_net_parameters"][name] = sum(p.numel() for p in model.q_net.parameters())
        out["features"][name] = int(model.q_net.features_dim)
    return out


def measure(steps: int, starts: int, seed: int, episodes: list[tuple[Any, list[Any]]]) -> dict[str, Any]:
    """One repeat: SB3 on CartPole, the masked DQN live and on the replay, then the parts."""
    from poser_agents.bench import _poser_dqn_sps, _sb3_cartpole_sps
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    sb3 = _sb3_cartpole_sps(steps, starts, seed)["cpu"]
    live = _poser_dqn_sps("ImagePoser-v0", steps, starts, seed)["cpu"]
    free = _rate(
        DQNAgent(Replay(gym.make("ImagePoser-v0"), episodes), DQNConfig(learning_starts=starts, seed=seed)), steps
    )
    return {
        "cpu_sps": {"sb3_cartpole": round(sb3, 1), "live": round(live, 1), "free_env": round(free, 1)},
        "live/sb3_cartpole": round(live / sb3, 3),
        "free_env/sb3_cartpole": round(free / sb3, 3),
        "parts": _parts(seed),
    }


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--steps", type=_positive_int, default=6000, help="training steps per run (default 6000, as poser bench)"
    )
    p.add_argument("--starts", type=int, default=1000, help="learning_starts (default 1000, as poser bench)")
    p.add_argument("--repeats", type=_positive_int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the lines")
    args = p.parse_args(argv)
    if not 0 <= args.starts < args.steps:
        p.error(f"--starts must lie in [0, --steps), got {args.starts} with --steps {args.steps}")
    warnings.filterwarnings("ignore", module="gymnasium")
    import torch

    import poser_env  # noqa: F401  (registers the ids)

    torch.set_num_threads(1)
    load = [round(x, 2) for x in os.getloadavg()]
    episodes = record("ImagePoser-v0", 3000, args.seed + 1000)
    runs = [measure(args.steps, args.starts, args.seed + r, episodes) for r in range(args.repeats)]
    out = {"steps": args.steps, "learning_starts": args.starts, "seed": args.seed, "load_average_start": load}
    out.update(load_average_end=[round(x, 2) for x in os.getloadavg()], repeats=runs)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    for i, r in enumerate(runs):
        u, pr = r["parts"]["update_ms"], r["parts"]["predict_ms"]
        print(
            f"repeat {i}: masked DQN / SB3 on CartPole, CPU: live {r['live/sb3_cartpole']}, free env "
            f"{r['free_env/sb3_cartpole']}; update {u['masked_dqn']} / {u['sb3_cartpole']} ms, predict "
            f"{pr['masked_dqn']} / {pr['sb3_cartpole']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
