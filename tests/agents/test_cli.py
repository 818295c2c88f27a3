"""The command line: JSON on the last line, clear errors on bad arguments."""

import json

import pytest

from poser_agents.cli import main


def last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_calibrate_json(capsys):
    assert main(["calibrate", "--episodes", "4", "--baselines", "random,heuristic,single:counter-t2i", "--json"]) == 0
    data = last_json(capsys)
    for name in ("random", "heuristic", "single:counter-t2i"):
        for key in ("alignment", "accuracy", "cost", "steps", "per_suite"):
            assert key in data[name]
    assert data["_meta"]["split"] == "test"


def test_bench_env_json(capsys):
    assert main(["bench", "env", "--steps", "30", "--encoders", "hash", "--json"]) == 0
    data = last_json(capsys)
    assert data["steps_per_s_hash"] > 0


def test_bench_throughput_quick_json_schema(capsys):
    # Schema only: --quick budgets are far too small for the speeds to mean anything.
    assert main(["bench", "--quick", "--no-minilm", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out[-1])
    ids = ("ImagePoser-v0", "ImagePoser-Gen-v0", "ImagePoser-Edit-v0")
    run = data["runs"][0]
    for key in ("sb3_dqn_cartpole_sps", "poser_dqn_sps", "one_env_sps", "async2_sps", *(f"env[{i}]_sps" for i in ids)):
        assert run[key]["cpu"] > 0 and run[key]["wall"] > 0, key
    assert set(data["ratios_median"]) == {
        *(f"env/sb3_cartpole[{i}]" for i in ids),
        "poser_dqn/sb3_cartpole",
        "async2/one_env",
    }
    assert set(run["ratios_wall"]) == set(run["ratios"])
    # Where the async vector env's time goes (read from /proc on Linux): two workers, each busy.
    ms = run["async2_per_vector_step_ms"]
    assert ms["wall"] > 0 and ms["main_cpu"] >= 0
    assert ms["worker_cpu"] is None or (len(ms["worker_cpu"]) == 2 and all(w >= 0 for w in ms["worker_cpu"]))
    assert any(line.startswith("  async2, repeat 0: per vector step (2 env calls)") for line in out)
    assert 0 < run["async2_lockstep_bound"] <= 2
    mem = data["replay_memory"]["hash"]
    assert 0 < data["replay_gib_per_100k"]["hash"] < mem["sb3_dict_buffer_gib"]
    assert data["quick"] is True and data["repeats"] == 1


@pytest.mark.parametrize(
    "argv", [["calibrate", "--episodes", "0"], ["world", "check", "--canvas", "10"], ["calibrate", "--split", "dev"]]
)
def test_bad_arguments_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "error" in capsys.readouterr().err


def test_eval_json_has_cis(capsys):
    assert main(["eval", "--agent", "heuristic", "--episodes", "3", "--seeds", "0,1", "--json"]) == 0
    data = last_json(capsys)
    for key in ("alignment", "accuracy", "cost", "steps"):
        assert set(data[key]) >= {"mean", "ci_low", "ci_high"}
        assert data[key]["ci_low"] <= data[key]["mean"] <= data[key]["ci_high"]


def test_eval_on_a_generalisation_split_or_a_clear_line(capsys):
    """The levels with held-out splits are evaluated on them; a level without one gets one line
    naming the splits it has."""
    argv = ["eval", "--agent", "heuristic", "--episodes", "2", "--seeds", "0", "--json"]
    assert main([*argv, "--env", "ImagePoser-Hard-v0", "--split", "gen_forms"]) == 0
    assert last_json(capsys)["split"] == "gen_forms"
    assert main([*argv, "--env", "ImagePoser-v0", "--split", "gen"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown split 'gen'" in err[0] and "gen_forms" in err[0]


@pytest.mark.parametrize(
    "argv, level, levels",
    [
        (
            ["eval", "--agent", "random", "--split", "gen"],
            "ImagePoser-Gen-v0",
            "ImagePoser-Hard-v0, ImagePoser-Drift-v1",
        ),
        (
            ["calibrate", "--split", "gen_forms"],
            "ImagePoser-Gen-v0",
            "ImagePoser-v0, ImagePoser-Hard-v0, ImagePoser-Drift-v0, ImagePoser-Drift-v1",
        ),
        (["benchmark", "levels", "--split", "gen"], "ImagePoser-v0", "ImagePoser-Hard-v0, ImagePoser-Drift-v1"),
    ],
)
def test_a_level_without_the_split_is_named_with_the_levels_that_have_it(capsys, argv, level, levels):
    """A user typed a level id, not a suite mix: the line names the level and the levels that have the split."""
    split = argv[argv.index("--split") + 1]
    assert main([*argv, "--env", level, "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: {level}: unknown split '{split}'" in err[0]
    assert err[0].endswith(f"; levels with {split}: {levels}")


def test_generate_writes_strip_and_log(tmp_path, capsys):
    assert main(["generate", "Draw two red circles on a mint background.", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "episode.png").exists() and (tmp_path / "final.png").exists()
    log = json.loads((tmp_path / "steps.json").read_text())
    assert log["prompt"].startswith("Draw two red circles") and log["steps"] >= 1


def test_generate_says_what_it_did_not_understand(tmp_path, capsys):
    prompt = "Draw a red star next to a blue circle, in the ocean."
    assert main(["generate", prompt, "--agent", "oracle", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'not understood (no check): "next to"; "in the ocean"' in out
    score_line = next(line for line in out.splitlines() if line.startswith("critic score"))
    assert "on what was understood" in score_line and "2 phrases not understood" in score_line
    log = json.loads((tmp_path / "steps.json").read_text())
    assert log["not_understood"] == ["next to", "in the ocean"] and 0 < log["coverage"] < 1
    # A prompt read in full says nothing of the kind.
    assert (
        main(
            ["generate", "Draw a red star left of a blue circle.", "--agent", "oracle", "--out", str(tmp_path / "full")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "not understood" not in out and "critic score" in out


def test_generate_rejects_an_empty_prompt(tmp_path):
    assert main(["generate", "   ", "--out", str(tmp_path)]) == 2


def test_train_dqn_then_eval_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "dqn"
    assert main(["train", "dqn", "--steps", "300", "--out", str(out), "--json"]) == 0
    assert last_json(capsys)["timesteps"] == 300
    assert (out / "agent.json").exists() and (out / "logs").is_dir()
    assert main(["eval", "--agent", str(out), "--episodes", "2", "--seeds", "0", "--json"]) == 0
    assert 0.0 <= last_json(capsys)["alignment"]["mean"] <= 1.0


@pytest.mark.parametrize(
    "argv, match",
    [
        (["eval", "--agent", "smart", "--episodes", "1"], "unknown baseline 'smart'"),
        (["generate", "a red circle", "--agent", "single:dalle"], "unknown expert 'dalle'"),
    ],
)
def test_bad_agent_names_give_one_clear_line(argv, match, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "generate" else [])) == 2
    assert match in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "agent.json").write_text("{not json")
    assert main(["eval", "--agent", str(tmp_path), "--episodes", "1", "--seeds", "0"]) == 2
    assert "agent.json" in capsys.readouterr().err


def test_extract_prints_commands_checks_and_what_was_not_understood(capsys, tmp_path):
    assert main(["extract", "The yellow square rests on top of the purple hexagon, near a tree.", "--json"]) == 0
    data = last_json(capsys)
    assert data["not_understood"] == ["near a tree"] and 0 < data["coverage"] < 1
    (cmd,) = data["commands"]
    assert cmd["kind"] == "generate" and {c["category"] for c in cmd["checks"]} == {"color", "position"}
    assert main(["extract", "a red star"]) == 0
    assert "not understood (no check): nothing" in capsys.readouterr().out
    scene = tmp_path / "scene.json"
    scene.write_text(
        json.dumps(
            {
                "objects": [
                    {"shape": "circle", "color": "red", "size": "large", "x": 0.3, "y": 0.3},
                    {"shape": "circle", "color": "blue", "size": "small", "x": 0.7, "y": 0.7},
                ]
            }
        )
    )
    assert main(["extract", "Make the circles orange.", "--source", str(scene), "--json"]) == 0
    questions = {c["question"] for c in last_json(capsys)["commands"][0]["checks"]}
    assert {"Are there no red circles in the image?", "Are there no blue circles in the image?"} <= questions
    assert main(["extract", "a star", "--source", str(tmp_path / "missing.png")]) == 2


def test_eval_and_calibrate_on_a_task_file_of_ones_own(tmp_path, capsys):
    from poser_env.world.suites import load_heldout, task_line

    tasks = tmp_path / "mine.jsonl"
    picked = [t for t in load_heldout("forms.jsonl") if t.id in ("forms-gen-001", "forms-gen-080", "forms-edit-000")]
    tasks.write_text("".join(task_line(t) + "\n" for t in picked))
    out = tmp_path / "out"
    assert (
        main(["eval", "--agent", "heuristic", "--tasks", str(tasks), "--seeds", "0", "--out", str(out), "--json"]) == 0
    )
    data = last_json(capsys)
    assert data["split"] == f"tasks:{tasks}" and data["episodes"] == 3 and data["with_unread"] == 1
    records = next(iter(json.loads((out / "results.json").read_text())["agents"].values()))["records"]
    by_id = {r["task_id"]: r for r in records}
    assert by_id["forms-gen-080"]["not_understood"] and by_id["forms-gen-080"]["coverage"] < 1
    assert all({"critic_score", "alignment", "not_understood", "coverage"} <= set(r) for r in records)
    assert main(["calibrate", "--tasks", str(tasks), "--baselines", "heuristic", "--json"]) == 0
    assert last_json(capsys)["_meta"]["split"] == f"tasks:{tasks}"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    assert main(["eval", "--agent", "heuristic", "--tasks", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_poser_commands_do_not_nag_about_v0_but_gym_make_still_does():
    """v1 is registered, so Gymnasium warns that ImagePoser-v0 is out of date; v0 is the CLI's
    default on purpose (the benchmark's reference), so the commands hide that one notice."""
    import warnings

    import gymnasium as gym

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["eval", "--agent", "random", "--episodes", "1", "--seeds", "0"]) == 0
        quiet = [w for w in caught if "out of date" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym.make("ImagePoser-v0")
        told = [w for w in caught if "out of date" in str(w.message)]
    assert quiet == [] and len(told) == 1


def test_an_unknown_env_id_is_one_line(capsys):
    assert main(["eval", "--env", "ImagePoser-v9", "--agent", "random", "--episodes", "1", "--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("poser eval: error:") and "ImagePoser" in err[0]


def test_generate_edits_a_source_given_as_scene_json_or_image(tmp_path, capsys):
    import json as _json

    import numpy as np
    from PIL import Image

    scene = {
        "objects": [
            {"shape": "circle", "color": "red", "size": "large", "x": 0.3, "y": 0.5},
            {"shape": "square", "color": "green", "size": "large", "x": 0.7, "y": 0.5},
        ],
        "background": "gray",
        "style": "plain",
    }
    src = tmp_path / "scene.json"
    src.write_text(_json.dumps(scene))
    args = ["generate", "Make the red circle blue.", "--env", "ImagePoser-Edit-v1", "--out", str(tmp_path / "a")]
    assert main([*args, "--source", str(src)]) == 0
    out = capsys.readouterr().out
    assert "[recolor] Make the red circle blue." in out and "passed" in out
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(small)
    assert main([*args[:-1], str(tmp_path / "b"), "--source", str(small)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "32x32" in err[0] and "canvas" in err[0]


def test_ray_flags_without_ray_installed_are_one_line(monkeypatch, capsys, tmp_path):
    import sys as _sys

    monkeypatch.setitem(_sys.modules, "ray", None)  # `import ray` raises ImportError, as without the extra
    assert main(["eval", "--agent", "random", "--episodes", "1", "--seeds", "0", "--ray"]) == 2
    out = tmp_path / "bench"
    argv = ["benchmark", "run", "--algo", "a2c", "--env", "ImagePoser-v0", "--steps", "40", "--out", str(out), "--ray"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("poser eval: error: poser eval --ray needs Ray")
    assert lines[-1].startswith("poser benchmark: error: poser benchmark run --ray needs Ray")
    assert not out.exists()  # refused before anything was written


def test_bench_before_must_hold_minilm_figures(tmp_path, capsys):
    # Refused before any benchmark runs: a result without MiniLM figures, and a file that is not JSON.
    no_minilm = tmp_path / "no-minilm.json"
    no_minilm.write_text(json.dumps({"runs": [{"env[ImagePoser-v0]_sps": {"cpu": 900.0}}]}))
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    for path, says in ((no_minilm, "no usable 'env_minilm_sps' figures"), (garbled, "garbled.json")):
        with pytest.raises(SystemExit, match=says):
            main(["bench", "--quick", "--before", str(path)])


def test_compare_minilm_with_before_normalises_by_each_runs_hash_env():
    from poser_agents.bench import before_minilm_figures, compare_minilm_with_before

    def run(hash_sps, **minilm):
        return {"env[ImagePoser-v0]_sps": {"cpu": hash_sps}, **{k: {"cpu": v} for k, v in minilm.items()}}

    before = before_minilm_figures({"runs": [run(800.0, env_minilm_sps=160.0), run(1000.0, env_minilm_sps=200.0)]})
    now = {"runs": [run(450.0, env_minilm_sps=90.0, env_minilm_warm_sps=450.0)]}  # a run on a busier machine
    out = compare_minilm_with_before(now, before)
    assert out["before_minilm/hash"] == 0.2 and out["warm_minilm/hash"] == 1.0
    assert out["warm/before"] == 2.5 and out["warm/before_hash_normalised"] == 5.0


def test_a_programming_type_error_keeps_its_traceback(monkeypatch, capsys):
    # Bad input reads as one line; a TypeError the interpreter raised is a bug, and one line
    # ("object of type 'int' has no len()") would hide where it is.
    import poser_agents.cli as cli

    def broken(args):
        return len(5)

    monkeypatch.setattr(cli, "cmd_world_suites", broken)
    with pytest.raises(TypeError, match="has no len"):
        cli.main(["world", "suites"])


def test_a_type_error_raised_for_the_caller_is_one_line(monkeypatch, capsys):
    import poser_agents.cli as cli

    def refuses(args):
        raise TypeError("--algo 'm:f' returned int, which has no learn(); return an SB3-compatible model")

    monkeypatch.setattr(cli, "cmd_world_suites", refuses)
    assert cli.main(["world", "suites"]) == 2
    assert capsys.readouterr().err.strip() == (
        "poser world: error: --algo 'm:f' returned int, which has no learn(); return an SB3-compatible model"
    )
