"""Baseline agents: random, single expert, command-type heuristic, and a search oracle.

They make the testbed's scale: a learnt agent should beat the best single expert and the
heuristic, and approach the oracle. All but the oracle read only the observation, like a
learnt agent; the oracle searches with a copy of the env (the episode's seed included), which
no real agent could do, so it is an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from poser_agents.base import BaselineAgent, batch_mask
from poser_env.types import COMMAND_KINDS

#: The heuristic's choice per command kind, for the synthetic preset: the specialist named
#: for that kind of work (a list: on a retry it moves to the next untried one, if any). It
#: reads the kind, never the command's content, which is what a learnt agent can add.
SYNTHETIC_HEURISTIC: dict[str, list[str]] = {
    "generate": ["layout-t2i"],
    "add": ["inpaint-i2i"],
    "remove": ["remove-i2i"],
    "recolor": ["recolor-i2i"],
    "move": ["relayout-i2i"],
    "background": ["background-i2i"],
    "style": ["stylize-i2i"],
    "refine": ["refine-i2i"],
    "edit": ["frontier-t2i"],
}


def _names(env: gym.Env | Sequence[str]) -> list[str]:
    if isinstance(env, (list, tuple)):
        return list(env)
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    if hasattr(base, "action_names"):
        return list(base.action_names)
    # A vector env: ask the first sub-env.
    return list(env.get_attr("action_names")[0])


class RandomAgent(BaselineAgent):
    """Uniform over the allowed actions, from its own seeded generator."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        mask, batched = batch_mask(observation)
        actions = np.array([self.rng.choice(np.flatnonzero(m)) for m in mask])
        return (actions if batched else actions[0]), state


class SingleExpertAgent(BaselineAgent):
    """Always the same expert."""

    def __init__(self, env: gym.Env | Sequence[str], expert: str):
        names = _names(env)
        if expert not in names:
            raise ValueError(f"unknown expert {expert!r}; available: {', '.join(names)}")
        self.expert = expert
        self.action = names.index(expert)
        self.name = f"single:{expert}"

    def config(self) -> dict[str, Any]:
        return {"expert": self.expert}

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        mask, batched = batch_mask(observation)
        actions = np.full(len(mask), self.action)
        return (actions if batched else actions[0]), state


class HeuristicAgent(BaselineAgent):
    """Pick the specialist for the current command's kind; on a retry, the next one untried.

    Reads the command kind and the experts tried from the observation, nothing else.
    """

    name = "heuristic"

    def __init__(self, env: gym.Env | Sequence[str], preferences: Mapping[str, Sequence[str]] | None = None):
        names = _names(env)
        prefs = dict(SYNTHETIC_HEURISTIC if preferences is None else preferences)
        unknown = {e for v in prefs.values() for e in v} - set(names)
        if unknown:
            raise ValueError(
                f"heuristic preferences name unknown expert(s) {sorted(unknown)}; available: {', '.join(names)}"
            )
        self.names = names
        self.preferences = prefs
        self.order = {k: [names.index(e) for e in prefs.get(k, [])] for k in COMMAND_KINDS}

    def config(self) -> dict[str, Any]:
        return {"preferences": self.preferences}

    def _one(self, command: np.ndarray, tried: np.ndarray, mask: np.ndarray) -> int:
        kinds = command[: len(COMMAND_KINDS)]
        kind = COMMAND_KINDS[int(np.argmax(kinds))] if kinds.max() > 0 else "generate"
        prefs = [a for a in self.order.get(kind, []) if mask[a]] or [int(np.flatnonzero(mask)[0])]
        untried = [a for a in prefs if tried[a] < 0.5]
        return untried[0] if untried else prefs[0]

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        mask, batched = batch_mask(observation)
        command = np.asarray(observation["command"]).reshape(len(mask), -1)
        tried = np.asarray(observation["tried"]).reshape(len(mask), -1)
        actions = np.array([self._one(c, t, m) for c, t, m in zip(command, tried, mask)])
        return (actions if batched else actions[0]), state


class OracleAgent(BaselineAgent):
    """Search with the ground truth: an upper bound no real agent can reach.

    At each step it tries every allowed action on the live env (snapshot, step, restore:
    same seed and generator state, hence exactly the outcome the real step would have),
    completes each branch with a rollout policy (the heuristic by default) and keeps the
    action whose branch ends with the best *evaluator* alignment, then fidelity, then lowest
    cost. Because the rollout policy's own action is among the candidates and outcomes are
    reproduced exactly, the oracle never does worse than its rollout policy on an episode.
    It needs the live, unvectorised env it acts in.
    """

    name = "oracle"

    def __init__(self, env: gym.Env, rollout: BaselineAgent | None = None):
        self.env = env
        self.rollout = rollout if rollout is not None else HeuristicAgent(env)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.int64(self.best_action()), state

    def _branch_value(self, base, action: int) -> tuple[float, float, float]:
        obs, _, terminated, truncated, info = base.step(action)
        while not (terminated or truncated):
            a, _ = self.rollout.predict(obs)
            obs, _, terminated, truncated, info = base.step(int(a))
        summary = info["episode_summary"]
        metrics = summary["evaluator"]
        if metrics.get("judged"):
            return (round(metrics["alignment"], 6), metrics["fidelity"], -summary["cost"])
        return (round(summary["critic_score"], 6), 0.0, -summary["cost"])

    def best_action(self) -> int:
        base = self.env.unwrapped
        snap = base.snapshot()
        best, best_key = 0, None
        try:
            for a in np.flatnonzero(base.action_mask()):
                key = self._branch_value(base, int(a))
                base.restore(snap)
                if best_key is None or key > best_key:
                    best, best_key = int(a), key
        finally:
            base.restore(snap)
        return best


def make_baseline(spec: str, env: gym.Env, seed: int = 0) -> BaselineAgent:
    """``random``, ``heuristic``, ``oracle``, ``single:<expert>`` or ``llm:<chat model>`` (the LLM planner)."""
    if spec == "random":
        return RandomAgent(seed)
    if spec == "heuristic":
        return HeuristicAgent(env)
    if spec == "oracle":
        return OracleAgent(env)
    if spec.startswith("single:"):
        return SingleExpertAgent(env, spec.split(":", 1)[1])
    if spec.startswith("llm:"):
        from poser_agents.llm_planner import LLMPlannerAgent

        return LLMPlannerAgent(env, model=spec.split(":", 1)[1])
    raise ValueError(
        f"unknown baseline {spec!r}; allowed: random, heuristic, oracle, single:<expert>, llm:<chat model>"
    )
