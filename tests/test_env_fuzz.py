"""Hypothesis fuzzing of the env's entry points: ``gym.make`` keyword arguments, ``reset(seed,
options)`` and ``step(action)`` with arbitrary values (wrong types, NaN, huge numbers, nesting,
unicode, arrays of any shape and dtype). Every call either succeeds, with finite rewards and
observations inside the observation space, or raises a ``TypeError`` / ``ValueError`` (the
project's own errors derive from them) with a message; never another exception, never a hang.

The suite runs a few examples per test; ``POSER_FUZZ_EXAMPLES=2000`` runs the longer sweep
quoted in docs/security.md ("Reliability figures").
"""

from __future__ import annotations

import os
import signal
import warnings
from contextlib import contextmanager
from dataclasses import fields

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import poser_env  # noqa: F401
from poser_env.config import EnvConfig

FUZZ = settings(
    max_examples=int(os.environ.get("POSER_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HANG_S = 60  # one call (make, reset or a few steps) taking longer than this is a hang

ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int64, np.float32, np.float64, np.bool_, np.complex64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
) | hnp.arrays(dtype=np.uint8, shape=st.sampled_from([(64, 64, 3), (64, 64), (64, 64, 4), (3, 64, 64), (32, 32, 3)]))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=16)
    | st.binary(max_size=8)
    | st.sampled_from(
        [
            1e308,
            -1e308,
            2**63,
            -(2**63) - 1,
            float("nan"),
            float("inf"),
            "",
            " ",
            "\x00",
            "é😀",
            "os:system",
            "synthetic",
            "hash",
            "sketchy-t2i",
            "mixed",
            "train",
            "val",
        ]
    )
)
ANY = st.recursive(
    SCALARS | ARRAYS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [f.name for f in fields(EnvConfig)]
NEAR = (
    st.integers(-2, 40)
    | st.floats(-1.0, 200.0)
    | st.booleans()
    | st.sampled_from(
        [
            "mixed",
            "generation",
            "editing",
            "val",
            "test",
            "hash",
            "synthetic",
            ["sketchy-t2i", "inpaint"],
            ["sketchy-t2i", "nope"],
        ]
    )
)
#: Up to three settings, each set to a value of about the right kind (so some envs get built and
#: stepped) or to anything at all.
EDGE_FLOATS = st.floats(0.0, 100.0) | st.sampled_from(
    [0, 100, 100.0001, -0.0, 1e-300, float("nan"), float("inf"), 1e308]
)
PLAUSIBLE = {
    "suite": st.sampled_from(["mixed", "generation", "geneval", "longform", "editing"]),
    "split": st.sampled_from(["train", "val", "test"]),
    "canvas_size": st.sampled_from([64, 128, 200, 1, 10**6]),
    "experts": st.sampled_from(["synthetic", ["sketchy-t2i"], ["inpaint-i2i", "sketchy-t2i", "refine-i2i"], []]),
    "max_steps": st.integers(0, 40),
    "max_attempts": st.integers(0, 6),
    "keep_best": st.booleans(),
    "enable_stop": st.booleans(),
    "enable_defer": st.booleans(),
    "cost_weight": EDGE_FLOATS,
    "step_penalty": EDGE_FLOATS,
    "invalid_action_penalty": EDGE_FLOATS,
}
KWARGS = st.dictionaries(
    st.sampled_from(FIELDS + ["nope", "allow_entry_points"]), NEAR | ANY, max_size=3
) | st.fixed_dictionaries({}, optional=PLAUSIBLE)
PROMPTS = st.sampled_from(
    [
        "two red circles",
        "a blue square left of a green triangle",
        "make the circle red",
        "a " * 300,
        "three small yellow stars above a purple hexagon",
    ]
) | st.text(max_size=80)
SOURCES = st.none() | ARRAYS | hnp.arrays(np.uint8, (128, 128, 3)) | hnp.arrays(np.float64, (128, 128, 3))
ACTIONS = st.integers(-1, 13) | st.integers(0, 11).map(np.int64) | st.integers(0, 11).map(lambda a: np.array([a])) | ANY


class Hang(Exception):
    pass


@contextmanager
def no_hang(seconds: int = HANG_S):
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def clean_refusal(e: BaseException) -> None:
    """A refusal must be a TypeError/ValueError with a message; anything else fails the test."""
    if not isinstance(e, (TypeError, ValueError)) or not str(e).strip():
        raise AssertionError(f"not a clean refusal: {type(e).__name__}: {e!r:.300}") from e
    event(f"refused: {type(e).__name__}")  # counts in --hypothesis-show-statistics


def check_observation(env: gym.Env, obs: dict) -> None:
    for key, value in obs.items():
        arr = np.asarray(value)
        assert arr.dtype.kind not in "fc" or np.isfinite(arr).all(), f"non-finite observation {key!r}"
    assert env.observation_space.contains(obs), "observation outside the observation space"


def play(env: gym.Env, obs: dict, steps: int = 3) -> None:
    """A few valid steps: rewards and observations finite."""
    for _ in range(steps):
        action = int(np.flatnonzero(obs["action_mask"])[0])
        obs, reward, terminated, truncated, _ = env.step(action)
        assert np.isfinite(reward), f"non-finite reward {reward!r}"
        check_observation(env, obs)
        if terminated or truncated:
            return


def make(**kwargs) -> gym.Env:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make("ImagePoser-v0", **kwargs)


@pytest.fixture(scope="module")
def env():
    e = make(split="val")
    e.reset(seed=0)  # a first reset that succeeds: Gymnasium's passive checker breaks after a refused one (docs/env.md)
    return e


@FUZZ
@given(kwargs=KWARGS)
def test_make_with_arbitrary_kwargs_builds_a_sane_env_or_refuses_cleanly(kwargs):
    with no_hang():
        try:
            e = make(**kwargs)
            obs, _ = e.reset(seed=0)
        except Exception as err:  # noqa: BLE001  (the test is about which exceptions come out)
            clean_refusal(err)
            return
        event("built")
        check_observation(e, obs)
        play(e, obs)


@FUZZ
@given(
    seed=st.integers(0, 2**64) | SCALARS,
    options=st.none()
    | ANY
    | st.fixed_dictionaries({"prompt": PROMPTS}, optional={"source": SOURCES | ANY})
    | st.fixed_dictionaries(
        {}, optional={"prompt": PROMPTS | ANY, "source": SOURCES | ANY, "task_id": ANY, "task": ANY}
    ),
)
def test_reset_with_arbitrary_seed_and_options_succeeds_or_refuses_cleanly(env, seed, options):
    with no_hang():
        try:
            obs, _ = env.reset(seed=seed, options=options)
        except Exception as err:  # noqa: BLE001
            clean_refusal(err)
            return
        event("reset")
        check_observation(env, obs)
        play(env, obs)


@FUZZ
@given(actions=st.lists(ACTIONS, min_size=1, max_size=6))
def test_step_with_arbitrary_actions_succeeds_or_refuses_cleanly(env, actions):
    obs, _ = env.reset(seed=0)
    with no_hang():
        for action in actions:
            try:
                obs, reward, terminated, truncated, _ = env.step(action)
            except Exception as err:  # noqa: BLE001
                clean_refusal(err)
                continue
            event("stepped")
            assert np.isfinite(reward), f"non-finite reward {reward!r} for action {action!r:.80}"
            check_observation(env, obs)
            if terminated or truncated:
                obs, _ = env.reset(seed=0)
