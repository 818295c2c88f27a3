"""The world check: critic/evaluator agreement is measured, reported, and high."""

import json

import numpy as np
import pytest

from poser_env.world import vocab
from poser_env.world.detect import PROTOTYPES
from poser_env.world.world_check import fit_prototypes, format_report, main, world_check


@pytest.fixture(scope="module")
def result():
    return world_check(scenes_per_style=20, seed=3)


def test_result_keys_and_types(result):
    for key in (
        "agreement",
        "critiques_per_s",
        "canvas",
        "by_category",
        "confusion",
        "checks",
        "scenes",
        "free_relation_agreement",
    ):
        assert key in result
    assert set(result["agreement"]) == set(vocab.STYLES)
    assert result["canvas"] == 128 and result["critiques_per_s"] > 0
    for style in vocab.STYLES:
        c = result["confusion"][style]
        assert c["agree"] + c["miss"] + c["false_alarm"] == result["checks"][style] > 0
        assert 0.3 < c["true"] / result["checks"][style] < 0.95  # true and false checks both
        assert 0.0 <= result["agreement"][style] <= 1.0
    json.dumps(result)  # plain data


def test_agreement_is_high(result):
    assert result["agreement"]["plain"] >= 0.99
    for style in vocab.STYLES:
        assert result["agreement"][style] >= 0.95, (style, result["disagreements"])


def test_checks_are_a_mix_of_true_and_false(result):
    # Perturbed targets make misses and false alarms both possible: the check set is not all
    # "yes" (the world check would then only count misses).
    assert all(result["checks"][s] > 20 * 5 for s in vocab.STYLES)


def test_report_is_a_readable_table(result):
    text = format_report(result)
    for style in vocab.STYLES:
        assert style in text
    assert "critiques/s" in text and "position" in text


def test_deterministic_agreement():
    a, b = world_check(3, seed=9), world_check(3, seed=9)
    assert a["agreement"] == b["agreement"] and a["checks"] == b["checks"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="scenes_per_style"):
        world_check(0)
    with pytest.raises(ValueError, match="canvas"):
        world_check(1, canvas=20)


def test_fitted_prototypes_match_the_table():
    fitted = fit_prototypes(scenes_per_style=6, seed=1)
    for style in vocab.STYLES:
        assert fitted[style].shape == PROTOTYPES[style].shape
        # Means of a small sample stay near the stored table (aspect, fill, offset columns).
        assert np.abs(fitted[style][:, :3] - PROTOTYPES[style][:, :3]).max() < 0.08


def test_main_prints_the_report(capsys):
    assert main(["--scenes", "1", "--seed", "2"]) == 0
    assert "agree" in capsys.readouterr().out


def test_old_module_path_warns_and_reexports():
    import importlib
    import sys
    import warnings

    from poser_env.world import world_check as new

    sys.modules.pop("poser_env.world.agreement", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("poser_env.world.agreement")
    assert any(issubclass(w.category, DeprecationWarning) and "world_check" in str(w.message) for w in caught)
    assert old.world_check is new.world_check and old.main is new.main
