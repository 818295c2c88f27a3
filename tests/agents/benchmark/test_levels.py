"""``poser benchmark levels``: a level's card, with ``--env-kwargs`` overriding its registered kwargs."""

import json

import pytest

from poser_agents.benchmark.levels import check_env_kwargs, level_card
from poser_agents.cli import main

# Per-expert drift (drift_unit="expert") on ImagePoser-v0's twelve experts: with drift_p=1 every one is down.
LEVEL = "ImagePoser-v0"
TINY = ["benchmark", "levels", "--env", LEVEL, "--split", "val", "--episodes", "3", "--no-singles", "--json"]


def _card(capsys, *extra: str) -> dict:
    assert main([*TINY, *extra]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_env_kwargs_override_the_registered_setting(capsys):
    registered = _card(capsys)
    assert registered["env_kwargs"] == {} and registered["baselines"]["oracle"]["accuracy"] > 0
    # Every expert degraded and every degraded call failing: nothing can pass, whoever plays.
    broken = _card(capsys, "--env-kwargs", '{"drift_p": 1.0, "drift_fail": 1.0, "drift_modality": "all"}')
    assert broken["env_kwargs"] == {"drift_p": 1.0, "drift_fail": 1.0, "drift_modality": "all"}
    assert all(b["accuracy"] == 0.0 for b in broken["baselines"].values())
    assert broken["baselines"]["oracle"]["norm_accuracy"] is None  # oracle == random on every task
    assert not broken["criteria"]["solvable"]


def test_card_reports_heuristic_memory_and_the_memory_gain(capsys):
    """Beside the heuristic, the card has ``heuristic_memory`` and their difference on normalised accuracy."""
    setting = '{"experts": "synthetic_drift", "drift_modality": "i2i", "drift_p": 0.5}'
    assert main([*TINY[:-1], "--env-kwargs", setting]) == 0
    printed = capsys.readouterr().out
    assert "| heuristic_memory |" in printed and "memory gain (heuristic_memory - heuristic" in printed
    card = _card(capsys, "--env-kwargs", setting)
    b = card["baselines"]
    assert card["memory_gain"] == pytest.approx(
        b["heuristic_memory"]["norm_accuracy"] - b["heuristic"]["norm_accuracy"]
    )
    assert f"memory gain (heuristic_memory - heuristic, norm. accuracy): {card['memory_gain']:+.3f}" in printed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ('{"split": "test"}', "may not set ['split']"),
        ('{"drift_p": 2}', "drift_p must be a probability"),
        ('{"nope": 1}', "unknown ImagePoser option(s) ['nope']"),
    ],
)
def test_bad_env_kwargs_one_line(capsys, kwargs, message):
    assert main([*TINY, "--env-kwargs", kwargs]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_env_kwargs_must_be_a_json_object(capsys):
    with pytest.raises(SystemExit) as e:
        main([*TINY, "--env-kwargs", "[1, 2]"])
    assert e.value.code == 2 and "expected a JSON object" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not plain JSON data"):
        check_env_kwargs({"experts": object()})


def test_level_card_with_cached_references_equals_a_fresh_one(tmp_path, capsys):
    LEVEL = "ImagePoser-Gen-v0"
    fresh = level_card(LEVEL, split="val", episodes=3, singles=False, verbose=False)
    assert (
        main(
            ["benchmark", "levels", "--env", LEVEL, "--episodes", "3", "--no-singles"]
            + ["--references", str(tmp_path), "--json"]
        )
        == 0
    )
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (cached,) = list((tmp_path / "references" / LEVEL).iterdir())
    assert cached.name == "val-e3-s0-hash.json"
    # A second card reads the cache (the oracle is not played again) and gives the same scores.
    second = level_card(LEVEL, split="val", episodes=3, singles=False, verbose=False, references=tmp_path)
    for card in (first, second):
        for name in ("random", "oracle", "heuristic"):
            drop = lambda c: {k: v for k, v in c.items() if k != "seconds"}  # noqa: E731
            assert drop(card["baselines"][name]) == drop(fresh["baselines"][name])
        assert card["criteria"] == fresh["criteria"]


def test_references_cannot_be_combined_with_env_kwargs(tmp_path, capsys):
    assert main([*TINY, "--references", str(tmp_path), "--env-kwargs", '{"drift_p": 0.5}']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cached references are the registered level's" in err[0]


def test_references_must_be_a_folder(tmp_path, capsys):
    afile = tmp_path / "refs.json"
    afile.write_text("{}")
    for bad in ("", str(afile)):
        assert main([*TINY, "--references", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--references must name a folder" in err[0], err


def test_references_file_with_nan_is_refused(tmp_path):
    from poser_agents.benchmark.run import Protocol, ResultSchemaError, references

    refs = tmp_path / "references" / "ImagePoser-Gen-v0"
    refs.mkdir(parents=True)
    (refs / "val-e2-s0-hash.json").write_text('{"schema": "poser-benchmark-references", "records": NaN}')
    with pytest.raises(ResultSchemaError, match="NaN is not a number"):
        references(tmp_path, "ImagePoser-Gen-v0", "val", 2, Protocol(), log=lambda _: None)


def test_card_on_the_prompt_forms_split(capsys):
    """``--split gen_forms`` (ImagePoser-Hard-v0's held-out prompt forms) is a split a card is measured on;
    a level whose suite mix lacks it (ImagePoser-Gen-v0) is refused in one line."""
    argv = ["benchmark", "levels", "--env", "ImagePoser-Hard-v0", "--split", "gen_forms", "--episodes", "1"]
    assert main([*argv, "--no-singles", "--json"]) == 0
    card = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert card["split"] == "gen_forms" and card["baselines"]["oracle"]["n_tasks"] == 1
    assert main(["benchmark", "levels", "--env", "ImagePoser-Gen-v0", "--split", "gen_forms", "--episodes", "1"]) == 2
    assert "exists for suite hard" in capsys.readouterr().err
