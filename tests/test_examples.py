"""The example scripts run end to end at the smallest budgets (they are documentation that must not rot)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_train_dqn_example(tmp_path):
    out = tmp_path / "dqn"
    printed = run(
        "train_dqn.py",
        "--total-timesteps",
        "600",
        "--learning-starts",
        "200",
        "--eval-freq",
        "300",
        "--curve-tasks",
        "3",
        "--eval-tasks",
        "4",
        "--baselines",
        "random",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    results = json.loads((out / "results.json").read_text())
    assert results["split"] == "val" and set(results["results"]) == {"dqn", "random"}
    assert (out / "agent" / "model.zip").exists() and (out / "eval.csv").exists() and "| dqn |" in printed


@pytest.mark.slow
def test_train_grpo_example(tmp_path):
    out = tmp_path / "grpo"
    run(
        "train_grpo.py",
        "--train-tasks",
        "16",
        "--val-tasks",
        "8",
        "--members",
        "2",
        "--grpo-steps",
        "2",
        "--test-tasks",
        "4",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    results = json.loads((out / "results.json").read_text())
    # Phase 2 against the ensemble renders nothing; collection and evaluation did render, and are counted.
    assert results["images"]["phase2"] == 0 and results["images"]["collection"] > 0 and results["images"]["eval"] > 0
    assert 0.0 <= results["grpo"]["alignment"] <= 1.0
    assert (out / "agent" / "agent.json").exists()


@pytest.mark.slow
def test_compare_agents_example(tmp_path):
    out = tmp_path / "compare"
    printed = run(
        "compare_agents.py",
        "--algos",
        "dqn,ppo,maskable_ppo",
        "--budget",
        "300",
        "--train-seeds",
        "0",
        "--eval-tasks",
        "4",
        "--baselines",
        "random",
        "--heldout",
        "false",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    summary = json.loads(printed.strip().splitlines()[-1])
    assert set(summary["alignment"]["test"]) == {"dqn", "ppo", "maskable_ppo", "random"}
    assert all(0.0 <= v <= 1.0 for v in summary["alignment"]["test"].values())
    assert (out / "results.md").exists() and (out / "summary.md").exists() and (out / "category_accuracy.png").exists()
    assert (out / "models" / "ppo-seed0.zip").exists() and (out / "models" / "maskable_ppo-seed0.zip").exists()


def test_compare_agents_refuses_bad_settings_before_training(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "compare_agents.py"), "--algos", "dqn,sac", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "unknown algorithm(s) ['sac']" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "models").exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_cleanrl_style_dqn_example_reports_through_aggregate(tmp_path):
    out = tmp_path / "bench"
    run(
        "cleanrl_style_dqn.py",
        "--env-id",
        "ImagePoser-Gen-v0",
        "--total-timesteps",
        "120",
        "--learning-starts",
        "40",
        "--batch-size",
        "16",
        "--eval-every",
        "60",
        "--val-episodes",
        "2",
        "--test-episodes",
        "2",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    result = json.loads((out / "ImagePoser-Gen-v0" / "cleanrl_style_dqn" / "seed0" / "result.json").read_text())
    assert result["status"] == "complete" and [p["step"] for p in result["curve"]] == [0, 60, 120]
    done = subprocess.run(
        [sys.executable, "-m", "poser_agents.cli", "benchmark", "aggregate", str(out), "--json", "--reps", "100"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout.strip().splitlines()[-1])["levels"]["ImagePoser-Gen-v0"]["cleanrl_style_dqn"]["n_runs"]
        == 1
    )


def _example(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_examples_read_their_flags_through_one_helper(capsys):
    """Every field of an example's config dataclasses is a flag, read from the field's type; a bad value is one error line."""
    train_dqn = _example("train_dqn")
    args, config = train_dqn.parse_args(
        [
            "--total-timesteps",
            "1e3",
            "--net-arch",
            "512,512",
            "--double-q",
            "false",
            "--seed",
            "none",
            "--out",
            "runs/x",
        ]
    )
    assert (args.total_timesteps, config.net_arch, config.double_q, config.seed, config.log_dir) == (
        1000,
        [512, 512],
        False,
        None,
        "runs/x",
    )
    compare = _example("compare_agents")
    assert compare.parse_args(["--heldout", "false", "--budget", "300"]).heldout is False
    assert compare.parse_args([]) == compare.Args()
    for bad, named in (
        (["--double-q", "maybe"], "--double-q"),
        (["--total-timesteps", "1.5"], "--total-timesteps"),
        (["--gamma", "2"], "DQNConfig.gamma"),
    ):
        with pytest.raises(SystemExit) as exc:
            train_dqn.parse_args(bad)
        assert exc.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert "error:" in last and named in last
    grpo = _example("train_grpo")
    assert grpo.parse_args(["--grpo-steps", "7", "--guidance-w", "2"]).guidance_w == 2.0
