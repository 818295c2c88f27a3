"""EnvConfig.precompute_text: a split's texts embedded once per process, in batches, and
episodes unchanged (poser_env/text_precompute.py)."""

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_env.encoders.hash_text import HashTextEncoder
from poser_env.encoders.text_cache import PRELOAD_CHUNK
from tests.test_rollout_digest import ADDED_KEYS, EXPECTED, EXPECTED_FULL, rollout_digest

COUNTING = "tests.test_text_precompute:CountingEncoder"


class CountingEncoder:
    """A model-like custom encoder (so ``"auto"`` turns the precompute on) that records every
    call; its vectors are the hash encoder's."""

    def __init__(self) -> None:
        self._hash = HashTextEncoder()
        self.dim, self.name = self._hash.dim, "counting"
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return self._hash.encode(texts)


def _env(**kwargs):
    env = gym.make("ImagePoser-v0", suite="editing", split="val", **kwargs)
    env.unwrapped.encoder.text.clear()  # the encoder is shared by the process: start empty
    return env


def _split_texts(env) -> set[str]:
    base = env.unwrapped
    out = set()
    for t in base.tasks:
        canvas = base._source_canvas(t.source)
        out |= {t.prompt, *(c.text for c in base.extractor.extract(t.prompt, source=canvas))}
    return out


def test_auto_precomputes_every_split_string_once_in_batches_and_envs_share_it():
    env = _env(text_encoder=COUNTING)
    cache = env.unwrapped.encoder.text
    obs, _ = env.reset(seed=0)
    report = env.unwrapped.text_precompute
    expected = _split_texts(env)
    calls = cache.inner.calls
    embedded = [t for call in calls for t in call]
    assert set(embedded) == expected and len(embedded) == len(expected)  # each string once
    assert len(calls) == -(-len(expected) // PRELOAD_CHUNK) and all(len(c) <= PRELOAD_CHUNK for c in calls)
    assert report.strings == report.computed == len(expected) and report.commands_included and not report.reused
    assert report.tasks == len(env.unwrapped.tasks) and report.encode_calls == len(calls)
    assert cache.pinned == len(expected)
    # Playing never reaches the encoder again: every string asked for was precomputed.
    rng = np.random.default_rng(0)
    for _ in range(300):
        obs, _, term, trunc, _ = env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
        if term or trunc:
            obs, _ = env.reset()
    assert len(calls) == report.encode_calls
    # A second env of the same split in this process reuses the precompute: nothing embedded.
    other = gym.make("ImagePoser-v0", suite="editing", split="val", text_encoder=COUNTING)
    other.reset(seed=1)
    assert other.unwrapped.text_precompute.reused and len(calls) == report.encode_calls
    cache.clear()


def test_precomputed_vectors_equal_on_demand_ones():
    on, off = _env(text_encoder=COUNTING), gym.make("ImagePoser-v0", suite="editing", split="val")
    for seed in range(3):
        a, _ = on.reset(seed=seed)
        b, _ = off.reset(seed=seed)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    on.unwrapped.encoder.text.clear()


def test_auto_is_off_for_hash_and_for_custom_prompts():
    env = gym.make("ImagePoser-v0", split="val")
    env.reset(seed=0)
    assert env.unwrapped.text_precompute is None
    env = _env(text_encoder=COUNTING)
    env.reset(seed=0, options={"prompt": "a red circle"})  # a custom prompt: not the split's
    assert env.unwrapped.text_precompute is None and env.unwrapped.encoder.text.pinned == 0
    env.reset(seed=0, options={"task_id": env.unwrapped.tasks[3].id})  # a task of the split
    assert env.unwrapped.text_precompute is not None


def test_a_non_pure_extractor_is_never_called_ahead():
    class Unpure:  # what an LLM extractor looks like to the env: no `pure`
        def __init__(self, inner):
            self.inner, self.prompts = inner, []

        def extract(self, prompt, source=None):
            self.prompts.append(prompt)
            return self.inner.extract(prompt, source=source)

    wrapped = {}

    def instrument(role, component):
        if role == "extractor":
            wrapped["x"] = component = Unpure(component)
        return component

    env = gym.make("ImagePoser-v0", suite="geneval", split="val", text_encoder=COUNTING, instrument=instrument)
    env.unwrapped.encoder.text.clear()
    env.reset(seed=0)
    report = env.unwrapped.text_precompute
    assert wrapped["x"].prompts == [env.unwrapped._ep.task.prompt]  # only the episode's own extraction
    assert not report.commands_included and report.strings == len({t.prompt for t in env.unwrapped.tasks})
    env.unwrapped.encoder.text.clear()


@pytest.mark.parametrize("bad", ["yes", 1, None, "on"])
def test_bad_setting_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="precompute_text must be True, False or 'auto'"):
        gym.make("ImagePoser-v0", precompute_text=bad)


def test_seeded_rollouts_are_unchanged_with_the_precompute_on():
    key = "ImagePoser-v0+stop,defer,64,val"
    kwargs = {"enable_stop": True, "enable_defer": True, "canvas_size": 64, "split": "val", "precompute_text": True}
    cache = gym.make("ImagePoser-v0").unwrapped.encoder.text
    cache.clear()
    assert rollout_digest("ImagePoser-v0", kwargs, range(4), ADDED_KEYS) == EXPECTED[key]
    assert cache.pinned > 0  # the precompute did run
    assert rollout_digest("ImagePoser-v0", kwargs, range(4)) == EXPECTED_FULL[key]
    cache.clear()
