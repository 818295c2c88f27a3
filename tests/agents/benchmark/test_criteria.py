"""``poser benchmark criteria``: the five level criteria from a test card and runs, and bad input.

The runs are the published Drift-v1 result files, copied and given chosen test scores, so each
criterion's outcome is known in advance."""

import json
import shutil
from pathlib import Path

import pytest

from poser_agents.benchmark.criteria import level_criteria, read_card
from poser_agents.cli import main

ROOT = Path(__file__).resolve().parents[3]
LEVEL = "ImagePoser-Drift-v1"
PUBLISHED = ROOT / "docs" / "results" / "benchmark" / LEVEL
CARD = ROOT / "docs" / "results" / "levels" / f"{LEVEL}-test-100.json"


def _runs(out: Path, algo: str, steps: int, scores: list[float]) -> None:
    """One run per score: a published run of ``algo`` with its steps and test score replaced."""
    for seed, score in enumerate(scores):
        dst = out / LEVEL / algo / f"seed{seed}"
        shutil.copytree(PUBLISHED / algo / f"seed{seed % 3}", dst)
        run = json.loads((dst / "result.json").read_text())
        run["seed"], run["steps"], run["steps_done"] = seed, steps, steps
        run["test"]["norm_accuracy"] = score
        (dst / "result.json").write_text(json.dumps(run))


def _card(**changes):
    return json.loads(CARD.read_text()) | changes


def _by_name(report, level=LEVEL):
    return {c.name: c for c in report.levels[level]}


def test_each_criterion_follows_its_rule(tmp_path):
    short, longer = tmp_path / "100k", tmp_path / "1m"
    _runs(short, "ppo", 100_000, [0.10, 0.20, 0.30])
    _runs(short, "recurrent_ppo", 100_000, [0.40, 0.50, 0.60])  # every recurrent run above every ppo run
    _runs(longer, "ppo", 1_000_000, [0.70, 0.80, 0.90])
    found = _by_name(level_criteria([read_card(CARD)], [short, longer], reps=100))
    assert found["solvable"].met and found["not trivial"].met  # the committed card's
    assert found["headroom"].met and "recurrent_ppo 0.500" in found["headroom"].measured
    assert found["learnable"].met and "P(ppo@1,000,000 > ppo@100,000) = 1.000" in found["learnable"].measured
    # aggregate stores the pair as P(ppo > recurrent_ppo) = 0: read the other way round here.
    assert found["memory"].met and "100,000 steps: 1.000 [1.000, 1.000]" in found["memory"].measured


def test_unmet_and_unmeasured_are_never_met(tmp_path):
    short, mid = tmp_path / "100k", tmp_path / "300k"
    _runs(short, "ppo", 100_000, [0.80, 0.85, 0.90])  # above the headroom limit
    _runs(short, "recurrent_ppo", 100_000, [0.80, 0.85, 0.90])  # ties ppo: P = 0.5
    _runs(mid, "ppo", 300_000, [0.95, 0.96, 0.97])  # beats 100k, but 300k is not the criterion's 1M
    _runs(mid, "recurrent_ppo", 300_000, [0.99, 0.99])  # only two runs: not counted
    found = _by_name(level_criteria([], [short, mid], levels=[LEVEL], reps=100))
    assert found["solvable"].met is None and found["not trivial"].met is None  # no card
    assert found["headroom"].met is False
    assert (
        found["learnable"].met is None
        and "shorter: P(ppo@300,000 > ppo@100,000) = 1.000" in found["learnable"].measured
    )
    assert found["memory"].met is False and "300,000" not in found["memory"].measured


def test_levels_without_drift_have_no_memory_criterion(tmp_path):
    found = level_criteria([], [], levels=["ImagePoser-Hard-v0"]).levels["ImagePoser-Hard-v0"]
    assert [c.name for c in found] == ["solvable", "not trivial", "headroom", "learnable"]
    assert all(c.met is None for c in found)


def test_cli_prints_the_table_and_json(tmp_path, capsys):
    _runs(tmp_path, "ppo", 100_000, [0.10, 0.20, 0.30])
    assert main(["benchmark", "criteria", str(tmp_path), "--card", str(CARD), "--reps", "50"]) == 0
    assert f"| {LEVEL} | headroom |" in capsys.readouterr().out
    assert main(["benchmark", "criteria", str(tmp_path), "--card", str(CARD), "--reps", "50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["levels"][LEVEL]
    assert {r["name"]: r["met"] for r in rows}["headroom"] is True


@pytest.mark.parametrize(
    "make, argv, message",
    [
        (None, [], "name a level"),
        (lambda p: p.write_text("not json"), ["--card", "{f}"], "is not a level card"),
        (lambda p: p.write_text('{"env_id": "x"}'), ["--card", "{f}"], "split should be a split name"),
        (lambda p: p.write_bytes(b"\xff\xfe{}"), ["--card", "{f}"], "not UTF-8 text"),
        (lambda p: p.write_text(json.dumps(_card(baselines={}))), ["--card", "{f}"], "baselines.oracle should be"),
        (lambda p: p.write_text(json.dumps(_card(env_id=None))), ["--card", "{f}"], "env_id should be a level id"),
        (lambda p: p.write_text(json.dumps(_card(episodes="100"))), ["--card", "{f}"], "episodes should be"),
        (
            lambda p: p.write_text(
                json.dumps(_card(baselines=_card()["baselines"] | {"oracle": {"accuracy": "high"}}))
            ),
            ["--card", "{f}"],
            "baselines.oracle should be a score card",
        ),
        (lambda p: p.write_text("[1, 2]"), ["--card", "{f}"], "the whole file should be a JSON object"),
        (
            lambda p: p.write_text(CARD.read_text().replace('"accuracy": 0.97', '"accuracy": NaN', 1)),
            ["--card", "{f}"],
            "(a finite number or null)",
        ),
        (None, ["--card", str(CARD), "--card", str(CARD)], "two test cards of ImagePoser-Drift-v1"),
        (None, ["--card", str(CARD), "--reps", "5"], "reps must be an int >= 10"),
        (None, ["{f}", "--env", LEVEL], "is a file, not a folder"),
        (
            lambda p: p.write_text(CARD.read_text().replace('"split": "test"', '"split": "val"')),
            ["--card", "{f}"],
            "measured on test",
        ),
        (None, ["--env", "ImagePoser-Nope-v0"], "unknown level 'ImagePoser-Nope-v0'"),
        (None, ["--card", "{f}"], "cannot read the level card"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, make, argv, message):
    f = tmp_path / "card.json"
    if make is not None:
        make(f)
    elif "{f}" in argv and "--card" not in argv:
        f.write_text("{}")
    assert main(["benchmark", "criteria", *[a.replace("{f}", str(f)) for a in argv]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_card_of_a_tried_setting_is_refused(tmp_path):
    card = read_card(CARD) | {"env_kwargs": {"step_slack": 4}}
    with pytest.raises(ValueError, match="describes that setting, not the registered level"):
        level_criteria([card], [])


def test_the_card_is_judged_by_its_figures_not_its_stored_verdicts():
    card = _card()
    card["baselines"]["oracle"]["accuracy"] = 0.5  # the stored "solvable": true left as it was
    found = _by_name(level_criteria([card], [], levels=[]))
    assert found["solvable"].met is False and "0.500" in found["solvable"].measured
    # No single experts on the card (`levels --no-singles`): a heuristic above 0.6 still fails it.
    card = _card(baselines={n: c for n, c in _card()["baselines"].items() if not n.startswith("single:")})
    card["baselines"]["heuristic"]["norm_accuracy"] = 0.9
    assert _by_name(level_criteria([card], []))["not trivial"].met is False
    card["baselines"]["heuristic"]["norm_accuracy"] = 0.4
    assert _by_name(level_criteria([card], []))["not trivial"].met is None  # half of it unmeasured


def test_a_run_is_counted_once(tmp_path):
    from poser_agents.benchmark.aggregate import aggregate

    _runs(tmp_path / "a", "ppo", 100_000, [0.1, 0.2])
    _runs(tmp_path / "a", "recurrent_ppo", 100_000, [0.5, 0.6])
    # A folder given twice, or inside another one given: the same files, read once.
    agg = aggregate([tmp_path / "a", tmp_path / "a", tmp_path], reps=50)
    assert agg["levels"][LEVEL]["ppo"]["n_runs"] == 2
    assert _by_name(level_criteria([], [tmp_path / "a", tmp_path], levels=[LEVEL], reps=50))["memory"].met is None
    # A copied run folder: the same run twice, refused with both paths.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with pytest.raises(ValueError, match="are the same run .* counting both would count one seed twice"):
        aggregate([tmp_path / "a", tmp_path / "b"], reps=50)


def test_runs_scored_under_other_protocols_are_not_judged(tmp_path):
    _runs(tmp_path, "ppo", 100_000, [0.1, 0.2, 0.3])
    run_file = tmp_path / LEVEL / "ppo" / "seed2" / "result.json"
    run = json.loads(run_file.read_text())
    run["protocol"]["test_episodes"] = 200
    run_file.write_text(json.dumps(run))
    found = _by_name(level_criteria([], [tmp_path], levels=[LEVEL], reps=50))
    assert found["headroom"].met is None and "not judged" in found["headroom"].measured


def test_what_is_left_out_is_said(tmp_path):
    _runs(tmp_path, "ppo", 100_000, [0.1, 0.2, 0.3])
    _runs(tmp_path, "masked_dqn", 100_000, [0.96, 0.97])  # above the limit, but two runs only
    partial = tmp_path / LEVEL / "masked_dqn" / "seed1" / "result.json"
    run = json.loads(partial.read_text())
    run.update(status="partial", steps_done=50_000, test=None, finished=None)
    partial.write_text(json.dumps(run))
    report = level_criteria([], [tmp_path], levels=[LEVEL], reps=50)
    assert "fewer than 3 runs, not counted: masked_dqn (1)" in _by_name(report)["headroom"].measured
    assert any(w.startswith("partial run not counted") and "masked_dqn" in w for w in report.warnings)
