"""End to end on a tiny config: the CLI, checkpoints and data files (and their refusal)."""

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch

import poser_env  # noqa: F401
from poser_agents.cli import main as poser
from poser_agents.evaluation import evaluate
from poser_agents.grpo.agent import CheckpointError, GRPOAgent
from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.data import CollectConfig, DataFileError, collect, execute, read_records, write_records
from poser_agents.grpo.pipeline import vocab_of
from poser_agents.grpo.sft import SFTConfig, train_sft
from poser_agents.grpo.trainer import GRPOConfig, GRPOTrainer
from poser_agents.grpo.workflow_tokens import WorkflowVocab


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grpo") / "run"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert poser(["train", "grpo", "--quick", "--episodes", "12", "--out", str(out), "--json", "--w", "1,2"]) == 0
    return out, json.loads(buf.getvalue().strip().splitlines()[-1])


def test_cli_train_grpo_json_and_image_accounting(run):
    out, res = run
    for key in ("alignment", "images_rendered_phase2", "images_rendered_total", "reward_model_spearman"):
        assert key in res
    assert 0.0 <= res["alignment"] <= 1.0
    assert res["images_rendered_phase2"] == 0  # the ensemble renders nothing
    assert res["images_rendered_collection"] > 0 and res["images_rendered_eval"] > 0
    assert res["images_rendered_total"] == res["images_rendered_collection"] + res["images_rendered_eval"]
    full = json.loads((out / "results.json").read_text())
    assert set(full["guidance"]) == {"1.0", "2.0"}
    # --episodes is honoured with --quick too (it used to be ignored silently)
    assert full["config"]["eval_episodes"] == 12
    assert (out / "reward_calibration.png").is_file() and (out / "agent" / "agent.json").is_file()


def test_poser_eval_runs_a_grpo_folder(run, capsys):
    out, _ = run
    assert poser(["eval", "--agent", str(out / "agent"), "--episodes", "3", "--seeds", "0", "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["episodes"] == 3 and 0.0 <= last["alignment"]["mean"] <= 1.0


def test_save_load_round_trip_is_exact_and_deterministic(run, tmp_path):
    out, _ = run
    env = gym.make("ImagePoser-v0", split="test")
    a = GRPOAgent.load(out / "agent", env=env, seed=4)
    a.save(tmp_path / "copy")
    b = GRPOAgent.load(tmp_path / "copy", env=env, seed=4)
    for pa, pb in zip(a.policy.state_dict().values(), b.policy.state_dict().values()):
        assert torch.equal(pa, pb)
    factory = lambda path: lambda e, seed=0: GRPOAgent.load(path, env=e, seed=seed)  # noqa: E731
    r1 = evaluate(factory(out / "agent"), env, episodes=4, seeds=(0,), n_resamples=10)
    r2 = evaluate(factory(tmp_path / "copy"), env, episodes=4, seeds=(0,), n_resamples=10)
    assert [x["alignment"] for x in r1.records] == [x["alignment"] for x in r2.records]
    assert [x["log"] for x in r1.records] == [x["log"] for x in r2.records]


def test_corrupt_or_mismatched_checkpoints_are_refused(run, tmp_path):
    out, _ = run
    env = gym.make("ImagePoser-v0", split="test")
    bad = tmp_path / "bad"
    shutil.copytree(out / "agent", bad)
    data = (bad / "policy.pt").read_bytes()
    (bad / "policy.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        GRPOAgent.load(bad, env=env)
    shutil.rmtree(bad)
    shutil.copytree(out / "agent", bad)
    (bad / "agent.json").write_text((bad / "agent.json").read_text()[:50])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        GRPOAgent.load(bad)
    shutil.rmtree(bad)
    shutil.copytree(out / "agent", bad)
    meta = json.loads((bad / "agent.json").read_text())
    meta["policy_config"]["hidden"] = 7  # weights no longer fit the recorded shape
    (bad / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot read"):
        GRPOAgent.load(bad)
    with pytest.raises(CheckpointError, match="max_attempts=3"):
        GRPOAgent.load(out / "agent", env=gym.make("ImagePoser-v0", split="test", max_attempts=2))
    fewer = [
        {
            "name": "sketchy-t2i",
            "entry_point": "poser_env.experts.synthetic:ShapeWorldExpert",
            "kwargs": {"kind": "t2i", "cost": 1.0, "ops": ["draw"]},
        }
    ]
    with pytest.raises(CheckpointError, match="expert registry"):
        GRPOAgent.load(out / "agent", env=gym.make("ImagePoser-v0", split="test", experts=fewer))
    assert poser(["eval", "--agent", str(tmp_path / "nothing-here" / "x"), "--episodes", "1"]) == 2


def test_data_file_round_trip_and_refusal(run, tmp_path):
    out, _ = run
    records, header = read_records(out / "data.jsonl")
    assert records and all(r["split"] in ("train", "val") for r in records)
    assert {r["source"] for r in records} >= {"random", "heuristic", "oracle"}
    vocab = WorkflowVocab.from_dict(header)
    lines = (out / "data.jsonl").read_text().splitlines()
    cases = {
        "truncated": "\n".join(lines[:-1]) + "\n",
        "cut": "\n".join(lines)[: len("\n".join(lines)) // 2],
        "test": "\n".join([lines[0], lines[1].replace('"split": "train"', '"split": "test"'), *lines[2:]]),
        "workflow": "\n".join([lines[0], lines[1].replace('"workflow": "', '"workflow": "nope,'), *lines[2:]]),
    }
    for name, text in cases.items():
        (tmp_path / f"{name}.jsonl").write_text(text)
        with pytest.raises(DataFileError):
            read_records(tmp_path / f"{name}.jsonl")
    held_out = "\n".join([lines[0], lines[1].replace('"split": "train"', '"split": "gen_forms"'), *lines[2:]])
    (tmp_path / "gen_forms.jsonl").write_text(held_out)
    with pytest.raises(DataFileError, match="a gen_forms-split record; logged data must never include a held-out"):
        read_records(tmp_path / "gen_forms.jsonl")
    with pytest.raises(DataFileError, match="experts"):
        read_records(out / "data.jsonl", WorkflowVocab(vocab.experts[:-1], 3))
    write_records(tmp_path / "copy.jsonl", records, vocab)
    assert read_records(tmp_path / "copy.jsonl")[0] == records


def test_data_files_with_nan_infinity_bad_scores_or_deep_nesting_are_refused(run, tmp_path, capsys):
    out, _ = run
    lines = (out / "data.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    score = f'"critic_score": {json.dumps(record["critic_score"])}'
    assert score in lines[1]
    cases = {
        "nan": (lines[1].replace(score, '"critic_score": NaN'), "line 2: NaN is not a number JSON allows"),
        "inf": (lines[1].replace(score, '"critic_score": -Infinity'), "line 2: -Infinity is not a number"),
        "range": (
            lines[1].replace(score, '"critic_score": 1.5'),
            r"line 2: field 'critic_score' is 1.5, outside \[0.0, 1.0\]",
        ),
        "deep": ("[" * 100_000 + "]" * 100_000, "line 2: nested too deeply"),
    }
    for name, (line, match) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join([lines[0], line, *lines[2:]]) + "\n")
        with pytest.raises(DataFileError, match=match):
            read_records(path)
        run_out = tmp_path / f"run-{name}"
        assert poser(["train", "grpo", "--quick", "--data", str(path), "--out", str(run_out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path) in err and "line 2" in err, err
        assert not (run_out / "agent").exists()
    records, header = read_records(out / "data.jsonl")
    bad = [dict(records[0], critic_score=float("nan"))]
    with pytest.raises(DataFileError, match="NaN or an infinite number.*nothing was written"):
        write_records(tmp_path / "never.jsonl", bad, WorkflowVocab.from_dict(header))
    assert not (tmp_path / "never.jsonl").exists()


def test_collector_refuses_test_split_and_env_reward_counts_images():
    test_env = gym.make("ImagePoser-v0", split="test")
    train_env = gym.make("ImagePoser-v0", split="train")
    vocab = vocab_of(train_env)
    with pytest.raises(ValueError, match="never come from the test split"):
        collect(test_env, test_env, CollectConfig(train_tasks=2, val_tasks=0, oracle_train_tasks=0), vocab)
    recs = collect(
        train_env, train_env, CollectConfig(train_tasks=6, val_tasks=0, random_per_task=1, oracle_train_tasks=0), vocab
    )
    feat = ContextFeaturizer("hash")
    ref = train_sft(recs, feat, vocab, SFTConfig(epochs=1, hidden=16))
    contexts = list({r["task_id"]: PlanContext.from_dict(r) for r in recs}.values())
    tasks = {t.id: t for t in train_env.unwrapped.tasks}
    trainer = GRPOTrainer(
        ref,
        feat,
        vocab,
        GRPOConfig(reward="env", max_steps=2, prompts_per_step=2, num_generations=2),
        contexts,
        env=train_env,
        tasks=tasks,
    )
    trainer.train()
    assert trainer.images_rendered >= 2 * 2 * 2  # at least one expert call per executed workflow
    assert trainer.history[-1]["images_rendered"] == trainer.images_rendered
    with pytest.raises(ValueError, match="test split"):
        GRPOTrainer(ref, feat, vocab, GRPOConfig(reward="env"), contexts, env=test_env, tasks=tasks)
    # an open-loop workflow replays exactly under the same seed
    wf = vocab.from_expert_ids(np.zeros(contexts[0].n_commands * 3, int), contexts[0].n_commands)
    s1 = execute(train_env, tasks[contexts[0].task_id], 11, wf)
    s2 = execute(train_env, tasks[contexts[0].task_id], 11, wf)
    assert s1["log"] == s2["log"]


def test_agent_learn_spends_its_image_budget_in_the_env(run):
    out, _ = run
    env = gym.make("ImagePoser-v0", split="train")
    agent = GRPOAgent.load(out / "agent", env=env)
    before = [p.clone() for p in agent.policy.parameters()]
    agent.learn(20)
    assert agent.meta["learn_images"] >= 20
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters()))
    with pytest.raises(RuntimeError, match="bind it to the env"):
        GRPOAgent.load(out / "agent").predict({"action_mask": np.ones(12)})
