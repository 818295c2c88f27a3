"""The public ways to do what code once did by setting attributes on a live env (issue 11, item 4):
``instrument``, ``before_first_reset``, ``preset`` and the ``expert_calls`` count."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_agents.baselines import OracleAgent
from poser_env.env import ImagePoserEnv


class Counting:
    """Forwards every attribute and counts the calls of one method (``__call__`` for experts)."""

    def __init__(self, inner, calls: dict[str, int], role: str):
        self._inner, self._calls, self._role = inner, calls, role

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _count(self):
        self._calls[self._role] = self._calls.get(self._role, 0) + 1

    def __call__(self, instruction, canvas, rng, reflection=""):
        self._count()
        return self._inner(instruction, canvas, rng, reflection=reflection)

    def critique(self, *args, **kwargs):
        self._count()
        return self._inner.critique(*args, **kwargs)

    def extract(self, *args, **kwargs):
        self._count()
        return self._inner.extract(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        self._count()
        return self._inner.evaluate(*args, **kwargs)


def _episode(env, seed: int = 3):
    out = [env.reset(seed=seed)[1]["prompt"]]
    for step in range(100):
        _, r, term, trunc, info = env.step((5 * step) % env.action_space.n)
        out.append((round(r, 9), info["command_index"], info["expert"]))
        if term or trunc:
            out.append(info["episode_summary"]["evaluator"])
            return out
    raise AssertionError("the episode did not end")


def test_instrument_sees_every_component_and_changes_nothing() -> None:
    calls: dict[str, int] = {}
    roles: list[str] = []

    def instrument(role, component):
        roles.append(role)
        return Counting(component, calls, role)

    plain = ImagePoserEnv()
    counted = ImagePoserEnv(instrument=instrument)
    assert roles == ["expert"] * len(plain.expert_names) + ["critic", "extractor", "evaluator"]
    assert counted.expert_names == plain.expert_names
    assert _episode(counted) == _episode(plain)  # the same episode, seed for seed
    assert calls["expert"] >= 1 and calls["critic"] == calls["expert"] + 1  # one verdict per call, and the reset's
    assert calls["extractor"] == 1 and calls["evaluator"] == 1


def test_before_first_reset_runs_until_it_succeeds() -> None:
    seen = []

    def load(env):
        seen.append(env)
        if len(seen) == 1:
            raise OSError("the model is not there yet")

    env = gym.make("ImagePoser-v0", before_first_reset=load, preset={"name": "mine"})
    with pytest.raises(OSError, match="not there yet"):
        env.reset(seed=0)
    assert env.unwrapped.before_first_reset is load  # kept: the next reset tries again
    env.reset(seed=0)
    env.reset(seed=1)
    assert seen == [env.unwrapped, env.unwrapped] and env.unwrapped.before_first_reset is None
    assert env.unwrapped.preset == {"name": "mine"} and ImagePoserEnv().preset is None


def test_expert_calls_count_search_branches_and_survive_restore() -> None:
    env = gym.make("ImagePoser-v0")
    base = env.unwrapped
    obs, _ = env.reset(seed=0)
    assert base.expert_calls == 0
    snap = base.snapshot()
    base.step(0)
    base.restore(snap)
    assert base.expert_calls == 1  # the branch happened: restore does not rewind the count
    before = base.expert_calls
    oracle = OracleAgent(env)
    done, steps = False, 0
    while not done:
        a, _ = oracle.predict(obs)
        obs, _, term, trunc, info = env.step(int(a))
        steps += 1
        done = term or trunc
    spent = base.expert_calls - before
    assert spent > steps  # the oracle's search rendered far more images than its episode shows
    assert np.isfinite(info["episode_summary"]["cost"])
