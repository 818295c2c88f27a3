"""The per-process caches: bounded, keyed by pixels, and invisible in results."""

import gymnasium as gym
import numpy as np

import poser_env  # noqa: F401
from poser_env.memo import LRU, pixel_key
from poser_env.world.render import render
from poser_env.world.scene import Scene, SceneObject


def test_lru_bounds_items_and_bytes_and_counts():
    c = LRU(3)
    for k in range(5):
        c.put(k, k)
    assert len(c) == 3 and c.get(0) is None and c.get(4) == 4
    assert (c.hits, c.misses) == (1, 1)
    b = LRU(100, max_bytes=10, size_of=len)
    b.put("a", "x" * 6)
    b.put("b", "y" * 6)  # evicts "a": 12 bytes > 10
    b.put("c", "z" * 11)  # larger than the bound: not kept
    assert b.get("a") is None and b.get("b") == "y" * 6 and b.get("c") is None


def test_lru_and_envs_pickle_and_deepcopy():
    import copy
    import pickle

    c = LRU(3)
    c.put("a", 1)
    assert len(pickle.loads(pickle.dumps(c))) == 0 and copy.deepcopy(c).get("a") is None
    env = gym.make("ImagePoser-v0").unwrapped
    obs, _ = env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.step(0)[1] == copy.deepcopy(env).step(0)[1] == env.step(0)[1]


def test_pixel_key_sees_every_pixel_dtype_and_shape():
    a = np.zeros((64, 64, 3), np.uint8)
    b = a.copy()
    b[63, 63, 2] = 1
    assert pixel_key(a) != pixel_key(b)
    assert pixel_key(a) == pixel_key(a.copy())
    assert pixel_key(a) != pixel_key(a.reshape(32, 128, 3))
    assert pixel_key(a) != pixel_key(a.astype(np.float32))
    assert pixel_key("not an image") is None and pixel_key(a.astype(bool)) is None


def test_render_returns_fresh_writable_arrays_from_its_cache():
    scene = Scene((SceneObject("circle", "red", "large", 0.5, 0.5),), noise=0.05, speckles=3, artifact_seed=7)
    first = render(scene, 64)
    first[:] = 0  # the caller's copy: the cache is untouched
    second = render(scene, 64)
    assert second.flags.writeable and second.any()
    assert np.array_equal(second, render(Scene(scene.objects, noise=0.05, speckles=3, artifact_seed=7), 64))


class _CountingExtractor:
    """The grammar extractor, counting calls; ``pure`` says whether the env may cache it."""

    def __init__(self, pure):
        from poser_env.extractors.grammar import GrammarExtractor

        self.inner, self.pure, self.calls = GrammarExtractor(), pure, 0

    def extract(self, prompt, source=None):
        self.calls += 1
        return self.inner.extract(prompt, source=source)


def test_env_caches_only_pure_extractors_by_prompt_and_pixels():
    for pure, expected in ((True, 2), (False, 4)):
        env = gym.make("ImagePoser-v0").unwrapped
        env.extractor = _CountingExtractor(pure)
        task = next(t for t in env.tasks if t.source is not None)  # an edit: the source has pixels
        commands = [env.reset(options={"task_id": task.id})[1]["commands"] for _ in range(2)]
        assert commands[0] == commands[1]
        env.reset(options={"prompt": task.prompt})  # same prompt, blank canvas: another key
        env.reset(options={"prompt": task.prompt})
        assert env.extractor.calls == expected


def test_pixel_key_of_an_array_changed_in_place_is_its_new_digest():
    # pixel_key remembers the last arrays it digested; a change made in place since (pixels,
    # shape) must give the digest of the new content, as a fresh copy of it gets.
    a = np.zeros((32, 32, 3), np.uint8)
    first = pixel_key(a)
    assert pixel_key(a) == first
    a[5, 7, 1] = 1
    assert pixel_key(a) == pixel_key(a.copy()) != first
    a.shape = (32 * 32, 3)
    assert pixel_key(a) == pixel_key(a.copy()) != pixel_key(a.reshape(32, 32, 3).copy())
    f = np.zeros((16, 16, 3))
    zero = pixel_key(f)
    f[0, 0, 0] = -0.0  # equal as a number, not as bytes
    assert pixel_key(f) == pixel_key(f.copy()) != zero


def test_a_rendered_copy_is_keyed_by_its_pixels_even_when_changed():
    # render() hands pixel_key the digest of each copy it returns (remember_key); a copy
    # changed afterwards must be keyed by its new pixels.
    from poser_env.memo import digest

    scene = Scene((SceneObject("star", "blue", "large", 0.4, 0.6),))
    out = render(scene, 64)
    assert pixel_key(out) == digest(out) == digest(out.copy())
    out[10:20, 10:20] = 255
    assert pixel_key(out) == digest(out.copy()) != digest(render(scene, 64))
