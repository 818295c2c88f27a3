"""Evaluation harness: bootstrap statistics with known answers, the harness's keys, reports, plots."""

import csv
import json
import math

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_agents.baselines import HeuristicAgent, RandomAgent
from poser_agents.evaluation import (
    EvalResult,
    bootstrap_ci,
    compare,
    evaluate,
    format_ci,
    macro_mean_ci,
    paired,
    paired_difference,
)
from poser_agents.evaluation.harness import SEED_STRIDE
from poser_agents.evaluation.plots import plot_category_accuracy, plot_expert_rewards, plot_training, rolling_mean
from poser_agents.evaluation.report import load_results, main, write_report
from poser_agents.evaluation.summary import METRICS

N_TASKS, SEEDS, RESAMPLES = 4, (0, 1), 300

# ------------------------------------------------------------------------------- statistics


def test_ci_of_a_constant_is_the_constant():
    s = bootstrap_ci([0.7] * 50)
    assert s == {"mean": pytest.approx(0.7), "ci_low": pytest.approx(0.7), "ci_high": pytest.approx(0.7), "n": 50}


def test_empty_and_single_samples_are_graceful():
    empty = bootstrap_ci([])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("mean", "ci_low", "ci_high"))
    one = bootstrap_ci([0.25])
    assert one == {"mean": 0.25, "ci_low": 0.25, "ci_high": 0.25, "n": 1}
    assert bootstrap_ci([None, 1.0, float("nan")])["n"] == 1  # None and nan are dropped
    assert format_ci(empty) == "-"
    assert format_ci({"mean": 0.8123, "ci_low": 0.791, "ci_high": 0.83, "n": 9}) == "0.812 [0.79, 0.83]"


def test_bernoulli_ci_contains_p_with_the_expected_width():
    p, n = 0.3, 2000
    x = (np.random.default_rng(1).random(n) < p).astype(float)
    s = bootstrap_ci(x, n_resamples=2000, rng=7)
    assert s["ci_low"] < p < s["ci_high"]
    expected = 2 * 1.96 * math.sqrt(p * (1 - p) / n)  # normal approximation, about 0.040
    assert s["ci_high"] - s["ci_low"] == pytest.approx(expected, rel=0.2)
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]


def test_seeded_and_generator_inputs_are_reproducible():
    x = np.random.default_rng(0).normal(size=40)
    assert bootstrap_ci(x, rng=3) == bootstrap_ci(x, rng=3)
    assert bootstrap_ci(x, rng=np.random.default_rng(3)) == bootstrap_ci(x, rng=3)
    narrow, wide = bootstrap_ci(x, confidence=0.5), bootstrap_ci(x, confidence=0.99)
    assert wide["ci_high"] - wide["ci_low"] > narrow["ci_high"] - narrow["ci_low"]
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(x, confidence=1.5)


def test_cluster_bootstrap_does_not_count_repeated_seeds_as_new_evidence():
    x = np.random.default_rng(2).random(60)
    tasks = np.arange(60)
    tripled = np.concatenate([x, x, x])  # three seeds that all gave the same outcome
    groups = np.concatenate([tasks, tasks, tasks])
    one = bootstrap_ci(x, rng=0)
    clustered = bootstrap_ci(tripled, groups=list(groups), rng=0)
    naive = bootstrap_ci(tripled, rng=0)
    width = lambda s: s["ci_high"] - s["ci_low"]  # noqa: E731
    assert width(clustered) == pytest.approx(width(one), rel=0.15)
    assert width(naive) < 0.75 * width(clustered)


def test_paired_difference_sign_and_verdict():
    rng = np.random.default_rng(4)
    b = rng.random(80)
    a = b + 0.1 + rng.normal(0, 0.05, 80)
    d = paired_difference(a, b, names=("A", "B"))
    assert d["mean"] == pytest.approx(0.1, abs=0.02) and d["ci_low"] > 0 and d["verdict"] == "A > B"
    assert d["wins"] + d["losses"] + d["ties"] == 80
    r = paired_difference(b, a, names=("B", "A"))
    assert r["ci_high"] < 0 and r["verdict"] == "B < A"
    same = paired_difference(b, b)
    assert same["mean"] == 0 and same["ties"] == 80 and same["verdict"] == "no significant difference"
    noisy = paired_difference(rng.random(10), rng.random(10))
    assert noisy["ci_low"] < 0 < noisy["ci_high"]
    assert paired_difference([1.0, None], [0.0, 0.5])["n"] == 1  # only complete pairs
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1.0], [1.0, 2.0])


def test_macro_mean_weights_categories_equally():
    s = macro_mean_ci({"big": [1.0] * 90, "small": [0.0] * 10})
    assert s["mean"] == 0.5 and s["ci_low"] == s["ci_high"] == 0.5 and s["n"] == 100
    mixed = macro_mean_ci({"a": [0, 1, 1, 0], "b": [1, 1, 1, 0]})
    # The same values seen twice per task (two seeds) with task groups: the same interval width.
    grouped = macro_mean_ci(
        {"a": [0, 1, 1, 0] * 2, "b": [1, 1, 1, 0] * 2},
        groups_by_category={"a": [1, 2, 3, 4] * 2, "b": [5, 6, 7, 8] * 2},
    )
    assert grouped["mean"] == mixed["mean"] and grouped["n"] == 16
    assert grouped["ci_high"] - grouped["ci_low"] == pytest.approx(mixed["ci_high"] - mixed["ci_low"], abs=0.13)
    assert mixed["mean"] == pytest.approx(0.625) and mixed["ci_low"] < 0.625 < mixed["ci_high"]


def test_rolling_mean():
    assert np.allclose(rolling_mean([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5])
    assert np.allclose(rolling_mean([3, 1], 1), [3, 1])


# ---------------------------------------------------------------------------------- harness


@pytest.fixture(scope="module")
def results():
    env = gym.make("ImagePoser-v0", split="test")
    out = {
        "random": evaluate(
            lambda e, seed: RandomAgent(seed), env, episodes=N_TASKS, seeds=SEEDS, n_resamples=RESAMPLES, name="random"
        ),
        "heuristic": evaluate(HeuristicAgent, env, episodes=N_TASKS, seeds=SEEDS, n_resamples=RESAMPLES),
    }
    env.close()
    return out


def test_harness_records_and_documented_keys(results):
    r = results["heuristic"]
    assert isinstance(r, EvalResult) and r.agent == "heuristic"
    assert len(r.records) == N_TASKS * len(SEEDS)
    assert [x["episode_seed"] for x in r.records] == [s * SEED_STRIDE + i for s in SEEDS for i in range(N_TASKS)]
    assert {
        "task_id",
        "category",
        "suite",
        "seed",
        "alignment",
        "accuracy",
        "fidelity",
        "cost",
        "steps",
        "return",
        "log",
    } <= set(r.records[0])
    s = r.summary
    assert set(s) >= {
        "overall",
        "geneval_score",
        "per_seed",
        "per_category",
        "per_suite",
        "per_check_category",
        "experts",
        "unjudged",
    }
    for m in METRICS:
        assert set(s["overall"][m]) == {"mean", "ci_low", "ci_high", "n"}
    assert s["overall"]["episodes"] == N_TASKS * len(SEEDS)
    assert set(s["per_seed"]) == {str(x) for x in SEEDS}
    assert set(s["per_category"]) == {x["category"] for x in r.records}
    assert set(s["per_suite"]) == {x["suite"] for x in r.records}
    for cat, table in s["per_category"].items():
        assert table["episodes"] == sum(x["category"] == cat for x in r.records)
        assert 0.0 <= table["accuracy"]["mean"] <= 1.0
    calls = sum(e["calls"] for e in s["experts"].values())
    assert calls == sum(len(x["log"]) for x in r.records)
    for e in s["experts"].values():
        assert 0.0 <= e["pass_rate"] <= 1.0 and set(e["mean_reward"]) == {"mean", "ci_low", "ci_high", "n"}


def test_same_tasks_for_every_agent_and_paired_comparison(results):
    ids = lambda r: [(x["task_id"], x["episode_seed"]) for x in r.records]  # noqa: E731
    assert ids(results["random"]) == ids(results["heuristic"])
    d = paired(results["heuristic"], results["random"], "alignment", n_resamples=RESAMPLES)
    assert d["n"] == N_TASKS * len(SEEDS) and d["a"] == "heuristic"
    cmp = compare(results, n_resamples=RESAMPLES)
    assert set(cmp["agents"]) == {"random", "heuristic"}
    assert {p["metric"] for p in cmp["paired"]} == {"alignment", "accuracy"}
    assert set(cmp["per_category_accuracy"]) == set(cmp["categories"])


def test_paired_averages_a_pooled_learner_per_episode_and_is_symmetric():
    # A learner pooled over two training seeds has two episodes per (task, reset seed); the
    # baseline one. The pooled side counts once per key, with the mean of its episodes.
    def rec(task, seed, alignment):
        return {"task_id": task, "episode_seed": 7, "seed": seed, "alignment": alignment}

    pooled = EvalResult("dqn", {}, [rec("a", 0, 1.0), rec("a", 1, 0.5), rec("b", 0, 0.0), rec("b", 1, 1.0)], {})
    base = EvalResult("base", {}, [rec("a", 0, 0.25), rec("b", 0, 0.5)], {})
    d = paired(pooled, base, "alignment", n_resamples=200)
    assert d["n"] == 2 and d["mean"] == pytest.approx(((0.75 - 0.25) + (0.5 - 0.5)) / 2)
    assert paired(base, pooled, "alignment", n_resamples=200)["mean"] == pytest.approx(-d["mean"])


def test_harness_is_deterministic_and_accepts_specs_and_objects():
    a = evaluate("heuristic", split="val", episodes=2, seeds=(3,), n_resamples=50)
    env = gym.make("ImagePoser-v0", split="val")
    b = evaluate(HeuristicAgent(env), env, episodes=2, seeds=(3,), n_resamples=50)
    assert [x["alignment"] for x in a.records] == [x["alignment"] for x in b.records]
    with pytest.raises(TypeError, match="predict"):
        evaluate(42, env, episodes=1, seeds=(0,))
    with pytest.raises(ValueError, match="episodes"):
        evaluate("random", env, episodes=0)


# ----------------------------------------------------------------------------- report/plots


def _is_image(path, min_bytes=8000):
    import matplotlib.image

    assert path.exists() and path.stat().st_size > min_bytes
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
    assert img[..., :3].std() > 0.05  # not a blank canvas


def _write_logs(
    folder, progress=True, episodes=True, episode_columns=("timesteps", "reward", "alignment", "cost", "steps")
):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if progress:
        with open(folder / "progress.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["rollout/ep_rew_mean", "time/total_timesteps", "train/loss"])
            w.writerow([0.1, 100, ""])  # SB3 writes rows before the first update with no loss
            for i in range(2, 40):
                w.writerow([0.1 + i / 100, i * 100, 1 / i + rng.random() * 0.01])
    if episodes:
        with open(folder / "episodes.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(episode_columns))
            w.writeheader()
            for i in range(1, 120):
                row = {
                    "timesteps": i * 30,
                    "reward": rng.normal(0.3 + i / 300, 0.2),
                    "return": rng.normal(0.3, 0.1),
                    "alignment": rng.random(),
                    "cost": rng.uniform(2, 10),
                    "steps": int(rng.integers(1, 8)),
                }
                w.writerow({k: row[k] for k in episode_columns})
    return folder


def test_report_files(results, tmp_path):
    logs = _write_logs(tmp_path / "run")
    paths = write_report(results, tmp_path / "out", training_log=logs, n_resamples=RESAMPLES)
    assert set(paths) == {"category_accuracy", "expert_rewards", "training", "json", "markdown"}
    doc = json.loads(paths["json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert set(doc["agents"]) == {"random", "heuristic"} and doc["notes"] == []
    assert "warnings" not in doc and "same_as_critic" not in doc["agents"]["random"]["records"][0]  # synthetic: no flag
    assert len(doc["agents"]["random"]["records"]) == N_TASKS * len(SEEDS)
    md = paths["markdown"].read_text()
    assert "| agent | alignment | accuracy | fidelity | cost | steps |" in md
    assert "## Per-category accuracy" in md and "| heuristic |" in md and "| random |" in md
    assert "![category_accuracy](category_accuracy.png)" in md and "self-evaluation" not in md
    for key in ("category_accuracy", "expert_rewards", "training"):
        _is_image(paths[key])
    back = load_results(paths["json"])
    assert back["heuristic"].overall["alignment"]["mean"] == pytest.approx(
        results["heuristic"].overall["alignment"]["mean"]
    )


def _self_judged_result(agent, flags):
    """An EvalResult from synthetic env-style summaries; ``flags`` is each episode's same_as_critic (None: absent)."""
    from poser_agents.evaluation.summary import record_from_summary, summarize

    records = []
    for i, flag in enumerate(flags):
        ev = {
            "judged": True,
            "judge": "org/vlm-small",
            "alignment": 0.5,
            "accuracy": float(i % 2),
            "fidelity": 1.0,
            "n_checks": 2,
            "per_category": {"color": 0.5},
            "passed": [True, False],
        }
        if flag is not None:
            ev["same_as_critic"] = flag
        summary = {
            "task_id": f"t{i}",
            "category": "colors",
            "suite": "geneval",
            "evaluator": ev,
            "critic_score": 0.75,
            "cost": 1.0,
            "steps": 1,
            "return": 0.2,
            "log": [{"expert": "e", "reward": 0.2, "cost": 1.0, "command_passed": True}],
        }
        records.append(record_from_summary(summary, seed=0, episode_seed=i))
    config = {
        "env_id": "ImagePoser-Diffusers-v0",
        "split": "test",
        "episodes": len(flags),
        "seeds": [0],
        "n_resamples": 50,
    }
    return EvalResult(agent, config, records, summarize(records, n_resamples=50))


def test_reports_warn_when_the_evaluator_is_the_critics_model(tmp_path):
    from poser_agents.evaluation.report import self_evaluation_warning, to_markdown

    clean = _self_judged_result("clean", [False, None, False, None])
    assert all("same_as_critic" not in r for r in clean.records) and "same_as_critic" not in clean.summary
    assert self_evaluation_warning({"clean": clean}) is None
    assert "self-evaluation" not in to_markdown({"clean": clean})

    biased = _self_judged_result("biased", [True, True, False, True])
    assert [r.get("same_as_critic", False) for r in biased.records] == [True, True, False, True]
    assert biased.records[0]["judge"] == "org/vlm-small" and biased.summary["same_as_critic"] == 3
    results = {"clean": clean, "biased": biased}
    warning = self_evaluation_warning(results)
    assert "self-evaluation bias" in warning and "3 of 8 episodes" in warning and "biased (3/4)" in warning
    assert "org/vlm-small" in warning and "clean" not in warning
    md = to_markdown(results)
    assert md.index(warning) < md.index("## Overall")  # a warning line above the tables
    paths = write_report(results, tmp_path / "out", n_resamples=50)
    doc = json.loads(paths["json"].read_text())
    assert doc["warnings"] == [warning] and doc["agents"]["biased"]["summary"]["same_as_critic"] == 3
    assert load_results(paths["json"])["biased"].records[1]["same_as_critic"] is True
    assert self_evaluation_warning(load_results(paths["json"])) == warning  # the saved records carry it


def test_plots_each(results, tmp_path):
    _is_image(plot_category_accuracy(results, tmp_path / "c.png"))
    _is_image(plot_expert_rewards(results, tmp_path / "e.png"))
    logs = _write_logs(tmp_path / "aliases", episode_columns=("timesteps", "return", "alignment", "cost"))
    _is_image(plot_training(logs, tmp_path / "t.png"))  # DQN's episodes.csv names it "return"


def test_missing_training_logs_give_clear_messages(results, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="progress.csv.*episodes.csv"):
        plot_training(empty, tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_training(tmp_path / "nowhere", tmp_path / "x.png")
    only_episodes = _write_logs(tmp_path / "eps", progress=False)
    with pytest.warns(UserWarning, match="no progress.csv"):
        _is_image(plot_training(only_episodes, tmp_path / "eps.png"))
    no_alignment = _write_logs(tmp_path / "cols", episode_columns=("timesteps", "reward", "cost"))
    with pytest.warns(UserWarning, match="no column 'alignment'"):
        plot_training(no_alignment, tmp_path / "cols.png")
    paths = write_report(results, tmp_path / "out", training_log=empty, n_resamples=RESAMPLES)
    assert "training" not in paths
    assert any("no training plot" in n for n in json.loads(paths["json"].read_text())["notes"])


def test_cli_main(tmp_path, capsys):
    assert (
        main(
            [
                "--agents",
                "random,heuristic",
                "--episodes",
                "3",
                "--seeds",
                "0",
                "--resamples",
                "100",
                "--split",
                "val",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| heuristic |" in out and (tmp_path / "results.json").exists()
    with pytest.raises(SystemExit):
        main(["--agents", "random", "--seeds", "a,b", "--out", str(tmp_path)])


def test_cli_main_takes_the_generalisation_splits(tmp_path, capsys):
    """``--split gen`` / ``gen_forms`` as ``poser eval`` takes them; a level without the split
    is one line and exit status 2 before any agent runs."""
    common = ["--agents", "random", "--episodes", "1", "--seeds", "0", "--resamples", "10", "--quiet"]
    out = tmp_path / "gen"
    assert main([*common, "--env", "ImagePoser-Hard-v0", "--split", "gen_forms", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())
    capsys.readouterr()
    assert main([*common, "--env", "ImagePoser-Gen-v0", "--split", "gen", "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown split 'gen'" in err[0] and not (tmp_path / "no").exists()


def test_harness_summarises_episodes_cut_short_by_a_wrapper():
    import gymnasium as gym

    from poser_agents.evaluation import evaluate

    limited = gym.make("ImagePoser-Gen-v0", split="val", max_episode_steps=1)
    res = evaluate("random", limited, episodes=3, seeds=(0,))
    assert [r["steps"] for r in res.records] == [1, 1, 1]
    assert all(r["alignment"] is not None for r in res.records)


def test_report_notes_ignore_resource_warnings_of_other_objects(results, tmp_path, monkeypatch):
    """A file some other object left open, closed by the garbage collector while the training
    plot is drawn, is not a note on this report (it used to fail test_report_files under xdist)."""
    import gc

    import poser_agents.evaluation.report as report_module

    logs = _write_logs(tmp_path / "run")
    leaked = [open(logs / "progress.csv")]  # noqa: SIM115 - left open on purpose
    real_plot = report_module.plot_training

    def plot_and_collect(*args, **kwargs):
        leaked.clear()  # the open file is garbage now
        gc.collect()
        return real_plot(*args, **kwargs)

    monkeypatch.setattr(report_module, "plot_training", plot_and_collect)
    paths = write_report(results, tmp_path / "out", training_log=logs, n_resamples=RESAMPLES)
    assert json.loads(paths["json"].read_text())["notes"] == []
