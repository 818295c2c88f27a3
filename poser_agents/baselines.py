"""Baseline agents: random, single expert, command-type heuristic (with and without episode
memory), and a search oracle.

They make the testbed's scale: a learnt agent should beat the best single expert and the
heuristic, and approach the oracle. All but the oracle read only the observation, like a
learnt agent; the oracle searches with a copy of the env (the episode's seed included), which
no real agent could do, so it is an upper bound. ``heuristic_memory`` is the heuristic plus
what it remembers of the episode so far, a scripted reference for what memory is worth on
ImagePoser-Drift-v0 (docs/benchmark.md, "Levels").
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

#: The heuristic's choice per command kind for ``experts="synthetic_drift"`` (ImagePoser-Drift-v0):
#: the specialist, then its replica (same skills, flakier; poser_env/data/experts/synthetic_drift.json).
SYNTHETIC_DRIFT_HEURISTIC: dict[str, list[str]] = {
    kind: [name, name.replace("-t2i", "-b-t2i").replace("-i2i", "-b-i2i")]
    for kind, (name,) in SYNTHETIC_HEURISTIC.items()
}

#: The heuristic's choice per command kind for ``experts="synthetic_providers"``: the specialist
#: served by the first provider, then the same from the second (poser_env/data/experts/
#: synthetic_providers.json). With the first provider down it wastes an attempt per command.
SYNTHETIC_PROVIDERS_HEURISTIC: dict[str, list[str]] = {
    kind: [f"north-{name}", f"south-{name}"] for kind, (name,) in SYNTHETIC_HEURISTIC.items()
}

#: Heuristic preferences per named expert set (the env's ``experts`` option); any other set gets
#: :data:`SYNTHETIC_HEURISTIC`.
HEURISTIC_PREFERENCES: dict[str, dict[str, list[str]]] = {
    "synthetic_drift": SYNTHETIC_DRIFT_HEURISTIC,
    "synthetic_providers": SYNTHETIC_PROVIDERS_HEURISTIC,
}


def default_preferences(env: gym.Env | Sequence[str]) -> dict[str, list[str]]:
    """The heuristic's preferences for ``env``'s expert set (:data:`HEURISTIC_PREFERENCES`)."""
    base = getattr(env, "unwrapped", env)
    experts = getattr(getattr(base, "config", None), "experts", None)
    return HEURISTIC_PREFERENCES.get(experts, SYNTHETIC_HEURISTIC) if isinstance(experts, str) else SYNTHETIC_HEURISTIC


def _providers(env: gym.Env | Sequence[str], n: int) -> list[str | None]:
    """Each action's provider (None: none declared, or ``env`` is a list of names)."""
    base = getattr(env, "unwrapped", env)
    providers = getattr(base, "providers", None)
    if not isinstance(providers, list):
        return [None] * n
    return (list(providers) + [None] * n)[:n]  # STOP / DEFER have no provider


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
        prefs = dict(default_preferences(env) if preferences is None else preferences)
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


class HeuristicMemoryAgent(HeuristicAgent):
    """The heuristic, skipping experts that failed silently earlier in this episode.

    A call *failed silently* when the next observation shows the canvas unchanged (the same
    image features) and the command not passed (not advanced, or dropped as failed): what a
    degraded expert on ImagePoser-Drift-v0 does every time, and what a healthy one does on a
    miss (the env keeps the better canvas, so a failed edit also leaves it unchanged). Such an
    expert is *suspect* until a call of it passes a command. Among the kind's preferences it
    picks the first untried one that is not suspect, else the first not suspect (a retry of
    one that works), else the one with the fewest silent failures this episode, ties going to
    the later preference (the first is the more reliable when healthy, so its failure is the
    stronger sign of degradation). The observation's ``tried`` covers only the current
    command; this memory is the agent's own, reset when an observation shows step 0 (or
    ``episode_start`` says so), so it plays in the evaluation harness, which calls
    ``predict(obs)`` alone, one episode after another.

    When the experts declare providers (``env.unwrapped.providers``, e.g. ``synthetic_providers``
    on ImagePoser-Drift-v0, where a provider's experts are degraded together), it learns per
    provider instead: a silent failure makes the expert's provider suspect, so on later commands,
    of any kind, it prefers the other provider's expert; a provider that passed a command this
    episode is serving, so its later silent failures are taken for ordinary misses (not suspect).
    Where the observation has an ``error`` key (``drift_visible``, ImagePoser-Drift-v1), a call
    is taken for a failure of its provider exactly when the next observation shows an error.
    """

    name = "heuristic_memory"

    def __init__(self, env: gym.Env | Sequence[str], preferences: Mapping[str, Sequence[str]] | None = None):
        super().__init__(env, preferences)
        # The unit memory learns about, per action: its provider where one is declared, else itself.
        providers = _providers(env, len(self.names))
        self.unit: list[Any] = [a if p is None else p for a, p in enumerate(providers)]
        # Per env row: the last observation's (image, progress) and the action taken; the
        # suspects; the silent failures per expert this episode.
        self._last: list[tuple[np.ndarray, np.ndarray, int] | None] = []
        self._suspect: list[set[Any]] = []  # units (experts, or providers)
        self._fails: list[dict[Any, int]] = []
        self._proven: list[set[str]] = []  # providers that passed a command this episode

    def suspects(self, row: int = 0) -> list[str]:
        """The experts env row ``row`` currently skips (for tests and traces)."""
        if row >= len(self._suspect):
            return []
        return sorted(n for a, n in enumerate(self.names) if self.unit[a] in self._suspect[row])

    def _remember(self, row: int, image: np.ndarray, progress: np.ndarray, start: bool, error: bool | None) -> None:
        while len(self._last) <= row:
            self._last.append(None)
            self._suspect.append(set())
            self._fails.append({})
            self._proven.append(set())
        # A new episode (forget the last one): nothing done yet, no step, command or attempt
        # (the step entry reads 0 throughout on a level with observe_step_count=False).
        if start or not progress[:3].any():
            self._last[row], self._suspect[row], self._fails[row], self._proven[row] = None, set(), {}, set()
            return
        last = self._last[row]
        if last is None:
            return
        image0, progress0, action = last
        # progress: [step, command index, attempts, commands left, commands failed] (fractions).
        passed = progress[3] < progress0[3] and progress[4] == progress0[4]
        unit = self.unit[action] if action < len(self.unit) else action
        if passed:
            self._suspect[row].discard(unit)
            if isinstance(unit, str):
                self._proven[row].add(unit)
        elif error is not None:  # a level that shows errors (drift_visible): only an error is a sign
            if error:
                self._suspect[row].add(unit)
                self._fails[row][unit] = self._fails[row].get(unit, 0) + 1
        elif np.array_equal(image, image0) and unit not in self._proven[row]:
            self._suspect[row].add(unit)
            self._fails[row][unit] = self._fails[row].get(unit, 0) + 1

    def _choose(self, row: int, command: np.ndarray, tried: np.ndarray, mask: np.ndarray) -> int:
        kinds = command[: len(COMMAND_KINDS)]
        kind = COMMAND_KINDS[int(np.argmax(kinds))] if kinds.max() > 0 else "generate"
        prefs = [a for a in self.order.get(kind, []) if mask[a]]
        suspect, unit = self._suspect[row], self.unit
        fresh = [a for a in prefs if unit[a] not in suspect]
        untried = [a for a in fresh if tried[a] < 0.5]
        if untried:
            return untried[0]
        if fresh:
            return fresh[0]
        if prefs:  # every preference failed silently: the fewest failures, ties to the later one
            fails = self._fails[row]
            return min(reversed(prefs), key=lambda a: fails.get(unit[a], 0))
        return self._one(command, tried, mask)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        mask, batched = batch_mask(observation)
        n = len(mask)
        command = np.asarray(observation["command"]).reshape(n, -1)
        tried = np.asarray(observation["tried"]).reshape(n, -1)
        image = np.asarray(observation["image"]).reshape(n, -1)
        progress = np.asarray(observation["progress"]).reshape(n, -1)
        starts = np.zeros(n, bool) if episode_start is None else np.asarray(episode_start, bool).reshape(n)
        errors = np.asarray(observation["error"]).reshape(n) > 0.5 if "error" in observation else None
        actions = []
        for i in range(n):
            self._remember(i, image[i], progress[i], bool(starts[i]), None if errors is None else bool(errors[i]))
            a = self._choose(i, command[i], tried[i], mask[i])
            self._last[i] = (image[i].copy(), progress[i].copy(), a)
            actions.append(a)
        out = np.array(actions)
        return (out if batched else out[0]), state


class _HeuristicKnowingDrift(HeuristicAgent):
    """The oracle's default rollout policy: the heuristic, skipping the kind's preferred experts
    that the episode degrades (Drift's hidden draw: ground truth, which the oracle may read). With
    nothing degraded, or no healthy preference for the kind, it is the heuristic exactly."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.env = env

    def _one(self, command: np.ndarray, tried: np.ndarray, mask: np.ndarray) -> int:
        degraded = getattr(getattr(self.env.unwrapped, "_ep", None), "degraded", ())
        if any(degraded):
            kinds = command[: len(COMMAND_KINDS)]
            kind = COMMAND_KINDS[int(np.argmax(kinds))] if kinds.max() > 0 else "generate"
            healthy = np.asarray(mask, bool).copy()
            healthy[: len(degraded)] &= ~np.asarray(degraded, bool)
            if any(healthy[a] for a in self.order.get(kind, [])):
                return super()._one(command, tried, healthy)
        return super()._one(command, tried, mask)


class OracleAgent(BaselineAgent):
    """Search with the ground truth: an upper bound no real agent can reach.

    At each step it tries every allowed action on the live env (snapshot, step, restore:
    same seed and generator state, hence exactly the outcome the real step would have),
    completes each branch with a rollout policy (by default the heuristic, skipping the experts
    the episode degrades, which the oracle knows: :class:`_HeuristicKnowingDrift`) and keeps the
    action whose branch ends with the best *evaluator* alignment, then fidelity, then lowest
    cost. Because the rollout policy's own action is among the candidates and outcomes are
    reproduced exactly, the oracle never does worse than its rollout policy on an episode.
    It needs the live, unvectorised env it acts in.
    """

    name = "oracle"

    def __init__(self, env: gym.Env, rollout: BaselineAgent | None = None):
        self.env = env
        self.rollout = rollout if rollout is not None else _HeuristicKnowingDrift(env)

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
    """``random``, ``heuristic``, ``heuristic_memory``, ``oracle``, ``single:<expert>`` or
    ``llm:<chat model>`` (the LLM planner)."""
    if spec == "random":
        return RandomAgent(seed)
    if spec == "heuristic":
        return HeuristicAgent(env)
    if spec == "heuristic_memory":
        return HeuristicMemoryAgent(env)
    if spec == "oracle":
        return OracleAgent(env)
    if spec.startswith("single:"):
        return SingleExpertAgent(env, spec.split(":", 1)[1])
    if spec.startswith("llm:"):
        from poser_agents.llm_planner import LLMPlannerAgent

        return LLMPlannerAgent(env, model=spec.split(":", 1)[1])
    raise ValueError(
        f"unknown baseline {spec!r}; allowed: random, heuristic, heuristic_memory, oracle, single:<expert>, llm:<chat model>"
    )
