"""``poser benchmark run`` and ``aggregate`` end to end at a tiny budget, and their bad input."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from poser_agents.cli import main

ROOT = Path(__file__).resolve().parents[3]
LEVEL = "ImagePoser-Gen-v0"
TINY = ["--env", LEVEL, "--steps", "40", "--eval-every", "20", "--val-episodes", "2", "--test-episodes", "2"]
CUSTOM = "tests.agents.benchmark.custom_algo:make_a2c"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["benchmark", "run", "--algo", "a2c", "--seeds", "0,1", "--out", str(out), *TINY]) == 0
    assert (
        main(["benchmark", "run", "--algo", CUSTOM, "--allow-entry-points", "--seeds", "0", "--out", str(out), *TINY])
        == 0
    )
    other = ["ImagePoser-Edit-v0" if x == LEVEL else x for x in TINY]
    assert main(["benchmark", "run", "--algo", "a2c", "--seeds", "0,1", "--out", str(out), *other]) == 0
    return out


def test_run_writes_complete_results_and_curves(runs):
    folder = runs / LEVEL / "a2c" / "seed1"
    result = json.loads((folder / "result.json").read_text())
    assert (result["schema"], result["version"], result["status"]) == ("poser-benchmark-run", 1, "complete")
    assert result["steps_done"] >= 40 and result["finished"]
    assert result["settings"] == {"policy": "MultiInputPolicy"}  # a2c with its library's defaults
    steps = [p["step"] for p in result["curve"]]
    assert steps[0] == 0 and 20 in steps and steps[-1] == result["steps_done"]
    assert all(p["split"] == "val" for p in result["curve"])
    test = result["test"]
    assert test["episodes"] == 2 and test["n_tasks"] == 2 and test["cost"] > 0
    assert 0.0 <= test["accuracy"] <= 1.0 and test["cost_oracle"] > 0
    rows = list(csv.DictReader((folder / "curve.csv").open()))
    assert [int(r["step"]) for r in rows] == steps
    # The references were measured once per split and shared by both seeds and algorithms.
    refs = sorted(p.name for p in (runs / "references" / LEVEL).iterdir())
    assert refs == ["test-e2-s0-hash.json", "val-e2-s0-hash.json"]


def test_aggregate_json_per_level_and_algorithm(runs, capsys):
    capsys.readouterr()
    assert main(["benchmark", "aggregate", str(runs), "--json", "--reps", "200"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    level = out["levels"][LEVEL]
    assert level["a2c"]["n_runs"] == 2 and level[CUSTOM]["n_runs"] == 1
    lo, hi = level["a2c"]["iqm_ci"]
    assert lo <= level["a2c"]["iqm"] <= hi
    (pair,) = out["probability_of_improvement"][LEVEL]
    assert 0.0 <= pair["p_x_better"] <= 1.0
    assert out["partial"] == [] and out["runs"] == 5
    # a2c ran 2 seeds on both levels: aggregated as runs x levels; the custom learner ran on one level only.
    assert out["levels"]["all"]["a2c"]["n_runs"] == 2 and CUSTOM not in out["levels"]["all"]
    assert out["levels"]["ImagePoser-Edit-v0"]["a2c"]["n_runs"] == 2
    # These levels have no generalisation split: aggregating gen scores nothing and says why.
    assert main(["benchmark", "aggregate", str(runs), "--json", "--reps", "200", "--split", "gen"]) == 0
    gen = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert gen["levels"] == {} and {u["reason"] for u in gen["unscored"]} == {"no gen evaluation in this run"}


def test_killed_run_is_partial_and_not_averaged(runs, tmp_path, capsys):
    out = tmp_path / "mixed"
    shutil.copytree(runs, out)
    # Ctrl-C in the middle of training: poser prints one line and exits 130 (cli.main)
    assert (
        main(
            [
                "benchmark",
                "run",
                "--algo",
                "tests.agents.benchmark.custom_algo:make_killed",
                "--allow-entry-points",
                "--out",
                str(out),
                *TINY,
            ]
        )
        == 130
    )
    killed = json.loads(
        (out / LEVEL / "tests.agents.benchmark.custom_algo__make_killed" / "seed0" / "result.json").read_text()
    )
    assert killed["status"] == "partial" and killed["test"] is None and killed["curve"]
    capsys.readouterr()
    assert (
        main(["benchmark", "aggregate", str(out), "--json", "--reps", "200", "--plots", str(tmp_path / "plots")]) == 0
    )
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert [p["algo"] for p in result["partial"]] == ["tests.agents.benchmark.custom_algo:make_killed"]
    assert "tests.agents.benchmark.custom_algo:make_killed" not in result["levels"][LEVEL]
    assert "partial run not averaged" in captured.err
    assert sorted(p.split("/")[-1] for p in result["plots"]) == sorted(
        f"{level}-{kind}.png" for level in (LEVEL, "ImagePoser-Edit-v0") for kind in ("curve", "profile")
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algo", "sac"], "unknown algorithm 'sac'"),
        (["--algo", "os:system"], "pass --allow-entry-points"),
        (["--algo", "ppo", "--env", "ImagePoser-Nope-v0"], "unknown level 'ImagePoser-Nope-v0'"),
    ],
)
def test_run_bad_input_one_line(tmp_path, capsys, argv, message):
    base = {"--algo": "a2c", "--env": LEVEL}
    for k, v in zip(argv[::2], argv[1::2]):
        base[k] = v
    args = [x for kv in base.items() for x in kv]
    assert main(["benchmark", "run", *args, "--steps", "10", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algo", "tests.agents.benchmark.custom_algo:make_a2cc"], "has no attribute 'make_a2cc'"),
        (["--algo", "tests.agents.benchmark.no_such_module:make_a2c"], "cannot import"),
        (["--env", "CartPole-v1"], "'CartPole-v1' is not an ImagePoser level"),
        (["--algo", "tests.agents.benchmark.custom_algo:make_without_seed"], "called as factory(env, seed=seed)"),
    ],
)
def test_run_refuses_typos_before_any_file_is_written(tmp_path, capsys, argv, message):
    """A mistyped entry point or a foreign env id: one line, and no folder, reference or partial
    result.json left for ``aggregate`` to list as a partial run."""
    base = {"--algo": "a2c", "--env": LEVEL}
    for k, v in zip(argv[::2], argv[1::2]):
        base[k] = v
    args = [x for kv in base.items() for x in kv]
    out = tmp_path / "out"
    assert main(["benchmark", "run", *args, "--allow-entry-points", "--steps", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


@pytest.mark.parametrize("ray", [False, True])
def test_run_into_a_file_is_one_line(tmp_path, capsys, ray):
    """Serial or on Ray (refused before Ray starts), the file is left as it was."""
    (tmp_path / "runs").write_text("not a folder")
    extra = ["--ray", "--seeds", "0,1"] if ray else []
    assert main(["benchmark", "run", "--algo", "a2c", "--out", str(tmp_path / "runs"), *TINY, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out must be a folder you can write to" in err[0]
    assert (tmp_path / "runs").read_text() == "not a folder"


@pytest.mark.parametrize("ray", [False, True])
def test_an_out_whose_references_cannot_be_written_is_one_line(tmp_path, capsys, ray):
    """A results folder where the references cannot be cached (here a file in their place; a
    read-only folder alike): one line before any reference is measured, no traceback after."""
    (tmp_path / "references").write_text("not a folder")
    extra = ["--ray", "--seeds", "0,1"] if ray else []
    assert main(["benchmark", "run", "--algo", "a2c", "--out", str(tmp_path), *TINY, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot make {tmp_path / 'references' / LEVEL}, its references folder" in err[0]
    assert "--out must be a folder you can write to" in err[0] and not list(tmp_path.rglob("result.json"))


@pytest.mark.parametrize("ray", [False, True])
def test_an_empty_out_is_one_line(tmp_path, capsys, monkeypatch, ray):
    """``--out "$UNSET"``: refused (before Ray starts), not a run written into the current folder."""
    monkeypatch.chdir(tmp_path)
    extra = ["--ray", "--seeds", "0,1"] if ray else []
    assert main(["benchmark", "run", "--algo", "a2c", "--out", "", *TINY, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out is empty: name the results folder" in err[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "settings, message",
    [
        ([], "field 'settings' must be an object, got []"),
        (None, "field 'settings' must be an object, got None"),
        ({}, "settings.policy: absent there, 'MultiInputPolicy' asked"),
        ({"policy": "MultiInputPolicy", "x": {"y": None}}, "settings.x: {'y': None} there, absent asked"),
    ],
)
def test_a_hand_edited_settings_field_is_named(runs, tmp_path, capsys, settings, message):
    """A result whose ``settings`` was edited by hand: the field is named (not "a file of another
    kind"), and the file is left as it was."""
    folder = tmp_path / LEVEL / "a2c" / "seed0"
    shutil.copytree(runs / LEVEL / "a2c" / "seed0", folder)
    edited = json.loads((folder / "result.json").read_text()) | {"settings": settings}
    (folder / "result.json").write_text(json.dumps(edited))
    capsys.readouterr()
    assert main(["benchmark", "run", "--algo", "a2c", "--out", str(tmp_path), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "nothing was overwritten" in err[0]
    assert json.loads((folder / "result.json").read_text()) == edited


@pytest.mark.parametrize("machine", [[], "AMD EPYC", {"cpu": 3}])
def test_a_hand_edited_machine_field_is_named_by_aggregate(runs, tmp_path, capsys, machine):
    """``machine`` must be an object of strings; another value is named in one line."""
    folder = tmp_path / LEVEL / "a2c" / "seed0"
    shutil.copytree(runs / LEVEL / "a2c" / "seed0", folder)
    result = json.loads((folder / "result.json").read_text())
    assert set(result["machine"]) == {"cpu", "torch_cpu_capability"}  # written by the run
    (folder / "result.json").write_text(json.dumps(result | {"machine": machine}))
    capsys.readouterr()
    assert main(["benchmark", "aggregate", str(tmp_path)]) == 2
    assert "field 'machine' must be an object of strings" in capsys.readouterr().err


def test_a_learner_that_cannot_be_built_leaves_no_partial_run(tmp_path, capsys):
    """The factory runs after the val references are measured: its error is one line, and the
    folder holds no result.json for ``aggregate`` to list as a partial run."""
    algo = "tests.agents.benchmark.custom_algo:make_nothing"
    args = ["benchmark", "run", "--algo", algo, "--allow-entry-points", "--out", str(tmp_path), *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()  # the references' progress, then the error
    assert err[-1].startswith("poser benchmark: error:") and "returned NoneType, which has no learn()" in err[-1]
    assert not any("Traceback" in line for line in err)
    # The references are announced before they are measured (minutes on Hard), then timed.
    assert f"measuring the random and oracle references on {LEVEL} val" in err[0] and "reference oracle" in err[2]
    assert (tmp_path / "references" / LEVEL).is_dir() and not list(tmp_path.rglob("result.json"))


def test_aggregate_bad_input_one_line(tmp_path, capsys):
    other = tmp_path / "other" / "x"
    other.mkdir(parents=True)
    (other / "result.json").write_text(json.dumps({"schema": "something-else", "version": 1}))
    assert main(["benchmark", "aggregate", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a poser benchmark result" in err[0]
    (tmp_path / "empty").mkdir()
    assert main(["benchmark", "aggregate", str(tmp_path / "empty")]) == 2
    assert "no result.json under" in capsys.readouterr().err
    bad = tmp_path / "bad" / "r"
    bad.mkdir(parents=True)
    (bad / "result.json").write_text(
        json.dumps(
            {
                "schema": "poser-benchmark-run",
                "version": 1,
                "status": "complete",
                "algo": "a2c",
                "env_id": LEVEL,
                "seed": 0,
                "steps": 1,
                "steps_done": 1,
                "protocol": {},
                "curve": [],
                "test": {"norm_accuracy": float("nan")},
            }
        )
    )
    assert main(["benchmark", "aggregate", str(tmp_path / "bad")]) == 2
    assert "test.norm_accuracy" in capsys.readouterr().err


def test_references_of_a_changed_level_are_not_reused(runs, tmp_path, monkeypatch):
    """The cache key holds the level's registered kwargs: a changed setting must not reuse references."""
    import gymnasium as gym

    from poser_agents.benchmark.run import Protocol, ResultSchemaError, references

    out = tmp_path / "runs"
    shutil.copytree(runs / "references", out / "references")
    proto = Protocol(eval_every=20, val_episodes=2, test_episodes=2)
    assert set(references(out, LEVEL, "val", 2, proto, log=lambda _: None)) == {"random", "oracle"}
    monkeypatch.setitem(gym.spec(LEVEL).kwargs, "max_attempts", 2)
    with pytest.raises(ResultSchemaError, match="not the references of"):
        references(out, LEVEL, "val", 2, proto, log=lambda _: None)


def test_runs_at_other_budgets_are_not_averaged_together(runs, tmp_path):
    """Same level and algorithm at two budgets: two entries ``algo@steps``, never one mean."""
    from poser_agents.benchmark.aggregate import aggregate

    longer = tmp_path / "longer"
    for seed in (0, 1):
        src = runs / LEVEL / "a2c" / f"seed{seed}"
        dst = longer / LEVEL / "a2c" / f"seed{seed}"
        shutil.copytree(src, dst)
        result = json.loads((dst / "result.json").read_text())
        result["steps"] = 80
        (dst / "result.json").write_text(json.dumps(result))
    out = aggregate([runs, longer], reps=100)
    level = out["levels"][LEVEL]
    assert level["a2c@40"]["n_runs"] == 2 and level["a2c@80"]["n_runs"] == 2 and "a2c" not in level
    pairs = {(p["x"], p["y"]) for p in out["probability_of_improvement"][LEVEL]}
    # The longer budget first: the pair reads "does training longer help" (by number, not text:
    # ppo@1000000 before ppo@100000, ahead of other algorithms' names as usual).
    assert ("a2c@80", "a2c@40") in pairs and ("a2c@40", "a2c@80") not in pairs
    from poser_agents.benchmark.aggregate import _budget_order

    names = ["ppo@100000", "masked_dqn", "ppo@1000000", "ppo@300000"]
    assert sorted(names, key=_budget_order) == ["masked_dqn", "ppo@1000000", "ppo@300000", "ppo@100000"]
    # One budget only: the plain name, as before.
    assert "a2c" in aggregate([runs], reps=100)["levels"][LEVEL]


def test_runs_scored_under_other_protocol_settings_are_flagged(runs, tmp_path, capsys):
    """A newcomer's runs on other test tasks (``--test-episodes``) beside published ones: the
    aggregate says so, per level, in the table, on stderr and in --json."""
    mine = tmp_path / "mine"
    dst = mine / LEVEL / "a2c" / "seed5"
    shutil.copytree(runs / LEVEL / "a2c" / "seed0", dst)
    result = json.loads((dst / "result.json").read_text())
    result["seed"], result["protocol"]["test_episodes"] = 5, 3
    (dst / "result.json").write_text(json.dumps(result))
    capsys.readouterr()
    assert main(["benchmark", "aggregate", str(runs), str(mine), "--reps", "100"]) == 0
    captured = capsys.readouterr()
    line = f"WARNING {LEVEL}: runs scored under different protocol settings"
    assert line in captured.out and line in captured.err
    assert "test_episodes=2, text_encoder=hash: a2c x2, " in captured.out and "test_episodes=3" in captured.out
    assert "ImagePoser-Edit-v0: runs scored" not in captured.out  # that level's runs agree
    assert main(["benchmark", "aggregate", str(runs), str(mine), "--reps", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    groups = out["protocol_mismatch"][LEVEL]
    assert [g["protocol"]["test_episodes"] for g in groups] == [2, 3] and groups[1]["runs"] == {"a2c": 1}
    assert list(out["protocol_mismatch"]) == [LEVEL]


def test_published_runs_share_their_protocol_settings():
    """The committed runs of each level were scored on the same tasks (a newcomer aggregates beside them)."""
    from pathlib import Path

    from poser_agents.benchmark.aggregate import aggregate

    results = Path(__file__).resolve().parents[3] / "docs" / "results"
    dirs = [results / "benchmark", results / "benchmark-300k", results / "benchmark-1m"]
    assert aggregate(dirs, reps=10)["protocol_mismatch"] == {}
    assert main(["benchmark", "aggregate", *map(str, dirs), "--reps", "10"]) == 0


def test_sample_efficiency_curves_keep_each_algorithm_at_its_own_steps():
    """A short run (points every 1,000 steps) beside 100k-step ones (every 10,000) share step 0
    alone: each curve is drawn at the steps its own runs share, not cut to step 0."""
    from poser_agents.benchmark.aggregate import curve_estimates

    curves = {
        "mine": [{0: 0.0, 1000: 0.2, 2000: 0.4}, {0: 0.0, 1000: 0.4, 2000: 0.6}],
        "ppo": [{0: 0.1, 10000: 0.3, 20000: 0.5}, {0: 0.1, 10000: 0.5, 20000: 0.7, 20352: 0.8}],
    }
    drawn = curve_estimates(curves, reps=50, seed=0)
    assert drawn["mine"][0] == [0, 1000, 2000] and drawn["ppo"][0] == [0, 10000, 20000]
    assert list(drawn["mine"][1]) == pytest.approx([0.0, 0.3, 0.5]) and drawn["ppo"][1][0] == pytest.approx(0.1)
    low, high = drawn["ppo"][2]
    assert all(lo <= v <= hi for lo, v, hi in zip(low, drawn["ppo"][1], high))


def test_aggregate_is_the_same_whatever_numpy_drew_before(runs):
    """rliable's bootstrap partly draws from numpy's global generator: aggregate seeds and restores it."""
    import numpy as np

    from poser_agents.benchmark.aggregate import aggregate

    results = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        results.append(aggregate([runs], reps=200))
        assert np.random.get_state()[1][0] == np.random.RandomState(global_seed).get_state()[1][0]
    assert results[0] == results[1]


def test_performance_profiles_are_the_same_whatever_numpy_drew_before():
    """rliable's profiles take no generator: they are bootstrapped from numpy's global one, seeded."""
    import numpy as np

    from poser_agents.benchmark.aggregate import performance_profiles

    scores = {"a": np.linspace(0.1, 0.9, 12).reshape(-1, 1), "b": np.linspace(0.3, 0.7, 12).reshape(-1, 1)}
    taus = np.linspace(0.0, 1.0, 21)
    drawn = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        _, cis = performance_profiles(scores, taus, reps=300, seed=0)
        assert np.random.get_state()[1][0] == np.random.RandomState(global_seed).get_state()[1][0]
        drawn.append(cis)
    assert all(np.array_equal(drawn[0][k], drawn[1][k]) for k in scores)
    assert not np.array_equal(performance_profiles(scores, taus, reps=300, seed=1)[1]["a"], drawn[0]["a"])


def test_an_entry_s_figures_do_not_depend_on_the_other_entries():
    """Adding an algorithm to the published folders leaves the published CIs as they were:
    each algorithm and each pair is bootstrapped alone from the seed (rliable would draw them
    in turn from one generator)."""
    from poser_agents.benchmark.aggregate import aggregate

    published = ROOT / "docs" / "results" / "benchmark" / "ImagePoser-Drift-v1"
    fewer = aggregate([published / "ppo", published / "recurrent_ppo"], reps=300)
    more = aggregate([published], reps=300)  # masked_dqn too, sorted first
    level = "ImagePoser-Drift-v1"
    for algo in ("ppo", "recurrent_ppo"):
        assert fewer["levels"][level][algo] == more["levels"][level][algo]

    def pair(r):
        return next(p for p in r["probability_of_improvement"][level] if (p["x"], p["y"]) == ("ppo", "recurrent_ppo"))

    assert pair(fewer) == pair(more)


def test_last_curve_point_scores_the_trained_policy(tmp_path):
    """SB3 updates after each rollout, so a point taken inside the last rollout would be stale."""
    from poser_agents.benchmark.run import Protocol, run_one
    from tests.agents.benchmark import custom_algo

    custom_algo.SEEN.clear()
    proto = Protocol(eval_every=20, val_episodes=2, test_episodes=2)
    algo = "tests.agents.benchmark.custom_algo:make_recording_dqn"
    result = run_one(algo, LEVEL, 40, 0, tmp_path, proto, allow_entry_points=True, log=lambda _: None)
    assert [p["step"] for p in result["curve"]] == [0, 20, 40]
    final = max(u for _, u in custom_algo.SEEN)
    assert final == 10  # 40 steps, one update every 4 from the start
    # Every predict at the last step (the last val point, then test) saw every update.
    assert {u for t, u in custom_algo.SEEN if t == 40} == {final}


def test_aggregate_names_levels_without_the_split_once(runs, capsys):
    capsys.readouterr()
    main(["benchmark", "aggregate", str(runs), "--split", "gen", "--reps", "200"])
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("UNSCORED")]
    assert sorted(lines) == [
        "UNSCORED (not averaged): ImagePoser-Edit-v0: no gen evaluation in 2 runs (a2c seed 0, a2c seed 1)",
        f"UNSCORED (not averaged): {LEVEL}: no gen evaluation in 3 runs (a2c seed 0, a2c seed 1, {CUSTOM} seed 0)",
    ]


HARD = "ImagePoser-Hard-v0"
PUBLISHED_HARD = "docs/results/benchmark/ImagePoser-Hard-v0/ppo"


def test_hard_final_evaluation_holds_both_generalisation_splits(tmp_path):
    """A run on ImagePoser-Hard-v0 ends with test, gen and gen_forms, each its own card and references."""
    from poser_agents.benchmark.schema import FINAL_SPLITS
    from poser_env.config import GEN_SPLITS

    assert ("test", *GEN_SPLITS) == FINAL_SPLITS
    tiny = ["--steps", "8", "--eval-every", "8", "--val-episodes", "1", "--test-episodes", "1"]
    assert main(["benchmark", "run", "--algo", "a2c", "--env", HARD, "--out", str(tmp_path), *tiny]) == 0
    result = json.loads((tmp_path / HARD / "a2c" / "seed0" / "result.json").read_text())
    assert all(result[split]["n_tasks"] == 1 for split in FINAL_SPLITS)
    refs = sorted(p.name.split("-")[0] for p in (tmp_path / "references" / HARD).iterdir())
    assert refs == ["gen", "gen_forms", "test", "val"]


def test_gen_forms_is_aggregated_apart_and_older_files_are_unscored(tmp_path, capsys):
    """A run written before gen_forms existed lacks the key and is listed as unscored; a run with
    a gen_forms card is aggregated on it, and its gen score is read as before (the published Hard
    PPO files, seed 2's with its gen_forms card removed as in a file of before 2026-12-01)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    for seed in (0, 1, 2):
        dst = tmp_path / HARD / "ppo" / f"seed{seed}"
        dst.mkdir(parents=True)
        result = json.loads((root / PUBLISHED_HARD / f"seed{seed}" / "result.json").read_text())
        if seed < 2:
            result["gen_forms"] = dict(result["gen"], norm_accuracy=0.1 * (seed + 1))
        else:
            result.pop("gen_forms", None)
        (dst / "result.json").write_text(json.dumps(result))

    def agg(*extra: str) -> dict:
        assert main(["benchmark", "aggregate", str(tmp_path), "--json", "--reps", "100", *extra]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    forms = agg("--split", "gen_forms")
    assert forms["levels"][HARD]["ppo"]["n_runs"] == 2
    assert forms["levels"][HARD]["ppo"]["mean"] == pytest.approx(0.15)
    assert [(u["seed"], u["reason"]) for u in forms["unscored"]] == [(2, "no gen_forms evaluation in this run")]
    assert agg("--split", "gen")["levels"][HARD]["ppo"]["n_runs"] == 3
    # A gen_forms card is validated as the others are.
    bad = json.loads((tmp_path / HARD / "ppo" / "seed0" / "result.json").read_text())
    bad["gen_forms"]["norm_accuracy"] = "high"
    (tmp_path / HARD / "ppo" / "seed0" / "result.json").write_text(json.dumps(bad))
    assert main(["benchmark", "aggregate", str(tmp_path)]) == 2
    assert "gen_forms.norm_accuracy" in capsys.readouterr().err


def test_unscored_runs_are_named_by_their_budget(tmp_path, capsys):
    """The published Hard masked DQN runs at 100k and 1M steps, the 100k ones with their gen_forms
    card removed (as in files of before 2026-12-01): under --split gen_forms the unscored ones are
    named ``masked_dqn@100000``, not confused with the scored 1M entry."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "docs" / "results"
    for folder, strip in (("benchmark", True), ("benchmark-1m", False)):
        for seed in (0, 1, 2):
            result = json.loads((root / folder / HARD / "masked_dqn" / f"seed{seed}" / "result.json").read_text())
            assert "gen_forms" in result  # every published Hard run is scored on it
            if strip:
                del result["gen_forms"]
            dst = tmp_path / folder / HARD / "masked_dqn" / f"seed{seed}"
            dst.mkdir(parents=True)
            (dst / "result.json").write_text(json.dumps(result))
    args = ["benchmark", "aggregate", str(tmp_path / "benchmark"), str(tmp_path / "benchmark-1m"), "--reps", "100"]
    assert main([*args, "--split", "gen_forms", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "masked_dqn@1000000" in result["levels"][HARD]
    hard = {(u["entry"], u["seed"]) for u in result["unscored"] if u["env_id"] == HARD and u["algo"] == "masked_dqn"}
    assert hard == {("masked_dqn@100000", s) for s in (0, 1, 2)}
    assert main([*args, "--split", "gen_forms"]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith(f"UNSCORED (not averaged): {HARD}"))
    assert "masked_dqn@100000 seed 0" in line and "masked_dqn seed" not in line


def test_a_run_made_with_other_learner_settings_is_another_run(tmp_path, capsys):
    """A folder whose result records other settings (here a2c's policy) is refused by name,
    complete or partial; an a2c file without settings (written before they were recorded, when
    a2c was built as today) is kept as before."""
    argv = ["benchmark", "run", "--algo", "a2c", "--out", str(tmp_path), *TINY]
    assert main(argv) == 0
    path = tmp_path / LEVEL / "a2c" / "seed0" / "result.json"
    result = json.loads(path.read_text())
    for status in ("complete", "partial"):
        path.write_text(json.dumps(result | {"status": status, "settings": {"policy": "MlpPolicy"}}))
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "settings.policy: 'MlpPolicy' there, 'MultiInputPolicy' asked" in err
        assert json.loads(path.read_text())["settings"] == {"policy": "MlpPolicy"}  # nothing changed
    path.write_text(json.dumps({k: v for k, v in result.items() if k != "settings"}))
    assert main(argv) == 0 and "already complete" in capsys.readouterr().err


def test_runs_of_one_entry_built_with_other_settings_are_flagged(runs, tmp_path, capsys):
    """A newcomer's recurrent_ppo runs (today's 64-unit LSTM) aggregated beside the published
    ones (the 256-unit pair, written before settings were recorded): the aggregate says so per
    entry, in the table, on stderr and in --json. Files without settings of a learner that never
    changed (a2c here) are not flagged."""
    mine = tmp_path / "mine"
    today = json.loads((runs / LEVEL / "a2c" / "seed0" / "result.json").read_text())
    for seed, algo, settings in [
        (0, "recurrent_ppo", None),  # written before 2026-12-01: not recorded
        (1, "recurrent_ppo", {"policy": "MultiInputLstmPolicy", "policy_kwargs": {"lstm_hidden_size": 64}}),
        (2, "a2c", None),
    ]:
        result = {k: v for k, v in today.items() if k != "settings"} | {"algo": algo, "seed": seed}
        if settings is not None:
            result["settings"] = settings
        (mine / LEVEL / algo / f"seed{seed}").mkdir(parents=True)
        (mine / LEVEL / algo / f"seed{seed}" / "result.json").write_text(json.dumps(result))
    capsys.readouterr()
    assert main(["benchmark", "aggregate", str(runs), str(mine), "--reps", "100"]) == 0
    captured = capsys.readouterr()
    line = f"WARNING {LEVEL} recurrent_ppo: runs whose learners were built with different settings"
    assert line in captured.out and line in captured.err
    assert "[not recorded (recurrent_ppo was built otherwise before 2026-12-01): seeds 0]" in captured.out
    assert "policy_kwargs={'lstm_hidden_size': 64}: seeds 1]" in captured.out
    assert f"WARNING {LEVEL} a2c" not in captured.out  # an a2c file without settings is today's a2c
    assert main(["benchmark", "aggregate", str(runs), str(mine), "--reps", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(out["settings_mismatch"]) == [LEVEL] and list(out["settings_mismatch"][LEVEL]) == ["recurrent_ppo"]
    assert [g["seeds"] for g in out["settings_mismatch"][LEVEL]["recurrent_ppo"]] == [[0], [1]]


def test_a_recurrent_ppo_run_written_before_settings_were_recorded_is_another_run(tmp_path, capsys):
    """recurrent_ppo's learner changed on 2026-12-01 (256-unit LSTMs before): a folder holding
    its result without settings is refused by name, nothing changed, not kept as today's run."""
    argv = ["benchmark", "run", "--algo", "recurrent_ppo", "--out", str(tmp_path), *TINY]
    assert main(argv) == 0
    path = tmp_path / LEVEL / "recurrent_ppo" / "seed0" / "result.json"
    old = {k: v for k, v in json.loads(path.read_text()).items() if k != "settings"}
    path.write_text(json.dumps(old))
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "settings: 'not recorded (recurrent_ppo was built otherwise before 2026-12-01)' there" in err
    assert json.loads(path.read_text()) == old
    # Partial: no "rerun with the same arguments to resume it" (they are the same: the learner is not).
    path.write_text(json.dumps(old | {"status": "partial"}))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "a learner built with other settings than this code builds" in err and "same arguments" not in err
