"""A killed ``poser benchmark run`` resumes from its last checkpoint; checkpoints are input from strangers."""

import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import threading

import numpy as np
import pytest
import torch

from poser_agents.benchmark.resume import load_state, read_state, save_state
from poser_agents.benchmark.run import Protocol, run_one
from poser_agents.common.checkpoint import CheckpointError

LEVEL = "ImagePoser-Gen-v0"
PROTO = Protocol(eval_every=20, val_episodes=2, test_episodes=2)


def _kill_after(step):
    """A log that interrupts the run (as Ctrl-C or a kill would) right after the curve point at ``step``."""

    def log(line):
        if f"step {step} " in line:
            raise KeyboardInterrupt

    return log


def _killed(tmp_path, algo, steps=60, at=40):
    with pytest.raises(KeyboardInterrupt):
        run_one(algo, LEVEL, steps, 0, tmp_path, PROTO, log=_kill_after(at))
    return tmp_path / LEVEL / algo / "seed0"


@pytest.mark.parametrize("algo", ["masked_dqn", "a2c"])
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, algo):
    folder = _killed(tmp_path, algo)
    partial = json.loads((folder / "result.json").read_text())
    assert partial["status"] == "partial" and [p["step"] for p in partial["curve"]] == [0, 20, 40]
    assert json.loads((folder / "checkpoint" / "latest.json").read_text())["slot"] == "step-40"
    assert (folder / "checkpoint" / "step-40" / "buffer.npz").exists() == (algo == "masked_dqn")

    lines = []
    result = run_one(algo, LEVEL, 60, 0, tmp_path, PROTO, log=lines.append)
    assert any("resuming the partial run from its checkpoint at step 40" in line for line in lines)
    assert result["status"] == "complete" and result["steps_done"] == 60
    assert [p["step"] for p in result["curve"]] == [0, 20, 40, 60]
    assert [r["step"] for r in result["resumed"]] == [40]
    assert result["started"] == partial["started"] and result["test"] is not None
    # The machine: the first process's at the top, the resuming one's in its resume entry.
    assert result["machine"] == partial["machine"] == result["resumed"][0]["machine"]
    assert set(result["machine"]) == {"cpu", "torch_cpu_capability"} and all(result["machine"].values())
    # Complete: the final weights stay, the replay buffer (large) goes.
    slot = folder / "checkpoint" / "step-60"
    assert (slot / "policy.pt").exists() and not (slot / "buffer.npz").exists()


def test_the_saved_state_loads_back_exactly(tmp_path):
    """Weights, optimizer, counters and the de-duplicated replay buffer survive a save and a load."""
    import gymnasium as gym

    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    config = DQNConfig(seed=0, buffer_size=400, learning_starts=100, exploration_fraction=0.9)
    model = DQNAgent(gym.make(LEVEL, split="train"), config)
    model.learn(total_timesteps=400)
    identity = {"algo": "masked_dqn", "env_id": LEVEL, "seed": 0, "steps": 400, "protocol": {}}
    save_state(tmp_path, model, identity, 400, 1.0)
    fresh = DQNAgent(gym.make(LEVEL, split="train"), config)
    state = read_state(tmp_path)
    load_state(state, fresh)
    a, b = model.model, fresh.model
    for (name, x), (_, y) in zip(a.policy.state_dict().items(), b.policy.state_dict().items()):
        assert torch.equal(x, y), name
    opt_a, opt_b = a.policy.optimizer.state_dict()["state"], b.policy.optimizer.state_dict()["state"]
    assert opt_a and all(torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"]) for k in opt_a)
    assert (b.num_timesteps, b._n_updates, b._n_calls) == (a.num_timesteps, a._n_updates, a._n_calls) != (0, 0, 0)
    ra, rb = a.replay_buffer, b.replay_buffer
    assert (rb.pos, rb.full, rb.n_rows) == (ra.pos, ra.full, ra.n_rows) and ra.n_rows > 0
    assert np.array_equal(ra.table[: ra.n_rows], rb.table[: rb.n_rows]) and rb._row_of == ra._row_of
    for key in ra.observations:
        assert np.array_equal(ra.observations[key], rb.observations[key])
    np.random.seed(1)
    batch_a = ra.sample(8)
    np.random.seed(1)
    batch_b = rb.sample(8)
    for key in batch_a.observations:
        assert torch.equal(batch_a.observations[key], batch_b.observations[key])


def test_a_changed_checkpoint_file_is_refused_and_nothing_is_lost(tmp_path):
    folder = _killed(tmp_path, "a2c")
    before = (folder / "result.json").read_bytes()
    policy = folder / "checkpoint" / "step-40" / "policy.pt"
    data = bytearray(policy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    policy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 does not match"):
        run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)
    assert (folder / "result.json").read_bytes() == before


def test_a_checkpoint_holding_python_objects_is_refused_unrun(tmp_path):
    """Even with a matching checksum (whoever changed the file changed state.json too)."""
    folder = _killed(tmp_path, "a2c")
    slot = folder / "checkpoint" / "step-40"

    class Payload:
        def __reduce__(self):
            return (print, ("ran code from the checkpoint",))

    buf = io.BytesIO()
    torch.save({"policy": Payload()}, buf, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    (slot / "policy.pt").write_bytes(buf.getvalue())
    state = json.loads((slot / "state.json").read_text())
    state["sha256"]["policy"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (slot / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="holds Python objects"):
        run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)


def test_resuming_with_other_arguments_is_refused(tmp_path):
    _killed(tmp_path, "a2c")
    with pytest.raises(ValueError, match=r"another run \(steps: 60 there, 80 asked\)"):
        run_one("a2c", LEVEL, 80, 0, tmp_path, PROTO, log=lambda _: None)


def test_another_protocol_is_named_field_by_field_with_its_flag(tmp_path):
    """Rerunning with one protocol setting changed (a newcomer's ``--test-episodes``): the error
    names that field and its flag, not two whole protocol dicts to compare by eye."""
    folder = _killed(tmp_path, "a2c")
    other = Protocol(eval_every=20, val_episodes=2, test_episodes=3)
    with pytest.raises(ValueError) as partial:
        run_one("a2c", LEVEL, 60, 0, tmp_path, other, log=lambda _: None)
    assert "protocol.test_episodes (--test-episodes): 2 there, 3 asked)" in str(partial.value)
    assert "val_episodes" not in str(partial.value)
    shutil.rmtree(folder / "checkpoint")
    run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)  # from step 0, to completion
    with pytest.raises(ValueError) as complete:
        run_one("a2c", LEVEL, 60, 0, tmp_path, other, log=lambda _: None)
    assert "complete result of another run (protocol.test_episodes (--test-episodes): 2 there, 3 asked)" in str(
        complete.value
    )


def test_rerunning_a_command_of_several_seeds_keeps_the_complete_seed_and_resumes_the_other(tmp_path, capsys):
    """A kill during seed 1 of ``--seeds 0,1``: the same command again must not fail on seed 0."""
    from poser_agents.cli import main

    run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)
    done = (tmp_path / LEVEL / "a2c" / "seed0" / "result.json").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        run_one("a2c", LEVEL, 60, 1, tmp_path, PROTO, log=_kill_after(40))
    args = ["benchmark", "run", "--algo", "a2c", "--env", LEVEL, "--steps", "60", "--seeds", "0,1", "--out"]
    tiny = ["--eval-every", "20", "--val-episodes", "2", "--test-episodes", "2"]
    capsys.readouterr()
    assert main([*args, str(tmp_path), *tiny]) == 0
    err = capsys.readouterr().err
    assert "seed0: already complete (kept, not run again)" in err
    assert "seed1: resuming the partial run from its checkpoint at step 40" in err
    assert (tmp_path / LEVEL / "a2c" / "seed0" / "result.json").read_bytes() == done
    seed1 = json.loads((tmp_path / LEVEL / "a2c" / "seed1" / "result.json").read_text())
    assert seed1["status"] == "complete" and [r["step"] for r in seed1["resumed"]] == [40]
    # The resumed seed counts as complete when aggregated.
    assert main(["benchmark", "aggregate", str(tmp_path), "--json", "--reps", "100"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["levels"][LEVEL]["a2c"]["n_runs"] == 2 and summary["partial"] == []
    # A complete run asked with other arguments is still refused, nothing overwritten.
    with pytest.raises(ValueError, match=r"complete result of another run \(steps: 60 there, 80 asked\)"):
        run_one("a2c", LEVEL, 80, 0, tmp_path, PROTO, log=lambda _: None)
    assert (tmp_path / LEVEL / "a2c" / "seed0" / "result.json").read_bytes() == done


@pytest.fixture(scope="module")
def killed_dqn(tmp_path_factory):
    """A masked DQN run killed after its step-40 checkpoint (made once; each test tampers with a copy)."""
    out = tmp_path_factory.mktemp("killed_dqn")
    _killed(out, "masked_dqn")
    return out


def _resha(slot):
    """Make state.json's checksums match the changed files (whoever changed them could too)."""
    state = json.loads((slot / "state.json").read_text())
    state["sha256"] = {k: hashlib.sha256((slot / v).read_bytes()).hexdigest() for k, v in state["files"].items()}
    (slot / "state.json").write_text(json.dumps(state))


def _edit_buffer(change):
    def tamper(slot):
        with np.load(slot / "buffer.npz") as data:
            arrays = {k: data[k] for k in data.files}
        change(arrays)
        with open(slot / "buffer.npz", "wb") as f:
            np.savez(f, **arrays)
        _resha(slot)

    return tamper


def _edit_state(change):
    def tamper(slot):
        state = json.loads((slot / "state.json").read_text())
        change(state)
        (slot / "state.json").write_text(json.dumps(state))

    return tamper


def _truncate_buffer(slot):
    data = (slot / "buffer.npz").read_bytes()
    (slot / "buffer.npz").write_bytes(data[: len(data) // 2])
    _resha(slot)


def _nan_weight(slot):
    states = torch.load(slot / "policy.pt", weights_only=True)
    name = next(k for k, v in states["policy"].items() if v.is_floating_point())
    states["policy"][name][0] = float("nan")
    torch.save(states, slot / "policy.pt")
    _resha(slot)


# Each would have crashed deep inside training, poisoned it, or made a run "complete" untrained.
HOSTILE = {
    "truncated buffer": (_truncate_buffer, "cannot read .*buffer.npz"),
    "position at the end": (_edit_state(lambda s: s["buffer_scalars"].update(pos=60)), "position 60 is outside 0..59"),
    "action outside the space": (
        _edit_buffer(lambda a: a.update(actions=a["actions"] + 1000)),
        "stored action is outside the action space",
    ),
    "NaN reward": (_edit_buffer(lambda a: a.update(rewards=a["rewards"] * np.nan)), "'rewards' holds NaN"),
    "NaN weight": (_nan_weight, "holds NaN or infinite values"),
    "a buffer setting": (
        _edit_state(lambda s: s["buffer_scalars"].update(optimize_memory_usage=True)),
        "optimize_memory_usage is True, this run's is False",
    ),
    "step past the budget": (_edit_state(lambda s: s.update(step=10**9)), "not a point of the partial run's curve"),
    "counter off the step": (
        _edit_state(lambda s: s["counters"].update(num_timesteps=10**18)),
        "num_timesteps = 1000000000000000000 differs from its step 40",
    ),
    "seconds not a number": (_edit_state(lambda s: s.update(seconds="abc")), "field 'seconds' must be a number"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_damaged_or_hostile_checkpoint_is_refused_in_one_line_and_nothing_is_lost(killed_dqn, tmp_path, case):
    tamper, message = HOSTILE[case]
    shutil.copytree(killed_dqn, tmp_path, dirs_exist_ok=True)
    folder = tmp_path / LEVEL / "masked_dqn" / "seed0"
    tamper(folder / "checkpoint" / "step-40")
    before = {p.name: p.read_bytes() for p in (folder / "result.json", folder / "curve.csv")}
    with pytest.raises(CheckpointError, match=message) as e:
        run_one("masked_dqn", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)
    assert f"delete {folder / 'checkpoint'} to start this run again from step 0" in str(e.value)
    assert {p.name: p.read_bytes() for p in (folder / "result.json", folder / "curve.csv")} == before


def test_a_checkpoint_that_cannot_be_written_does_not_end_the_run(tmp_path):
    """A full disk (here: a file-size limit, so every write of policy.pt fails with EFBIG) costs the
    checkpoint, not the run: one line per failed save, and the run completes."""
    import resource

    lines = []
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # result.json and curve.csv still fit
    try:
        result = run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lines.append)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert result["status"] == "complete" and [p["step"] for p in result["curve"]] == [0, 20, 40, 60]
    failed = [line for line in lines if "could not save the checkpoint" in line]
    assert len(failed) == 3 and "File too large" in failed[0] and "training goes on" in failed[0]
    assert list((tmp_path / LEVEL / "a2c" / "seed0" / "checkpoint").iterdir()) == []  # no half-written slot


def test_a_fresh_start_removes_a_checkpoint_an_earlier_run_left(tmp_path):
    """result.json deleted to start again: the old checkpoint must not be resumed later (its curve
    points would be missing from the new result)."""
    folder = _killed(tmp_path, "a2c")
    (folder / "result.json").unlink()
    lines = []
    with pytest.raises(KeyboardInterrupt):  # killed before the new run's first checkpoint
        run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda line: (lines.append(line), _kill_after(0)(line)))
    assert any("removed the checkpoint an earlier run left there" in line for line in lines)
    assert not (folder / "checkpoint").exists()
    lines.clear()
    result = run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lines.append)
    assert any("with no checkpoint" in line and "starting it again from step 0" in line for line in lines)
    assert [p["step"] for p in result["curve"]] == [0, 20, 40, 60] and "resumed" not in result


def test_a_learner_without_a_training_state_starts_again_with_one_line(tmp_path):
    algo = "tests.agents.benchmark.custom_algo:make_killed"  # stops halfway, as a kill would
    with pytest.raises(KeyboardInterrupt):
        run_one(algo, LEVEL, 40, 0, tmp_path, PROTO, allow_entry_points=True, log=lambda _: None)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_one(algo, LEVEL, 40, 0, tmp_path, PROTO, allow_entry_points=True, log=lines.append)
    assert sum("does not save a training state, so it starts again from step 0" in line for line in lines) == 1


def test_a_resumed_dqn_explores_at_its_schedule_from_the_first_step(tmp_path):
    """Counters, target network and exploration rate go on from the checkpoint (SB3 recomputes the
    rate only after a step, so a fresh model would take its first action at rate 0.0)."""
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    import poser_env  # noqa: F401  (registers the levels)

    class StopAt(BaseCallback):
        def _on_step(self):
            return self.num_timesteps < 200

    def make():
        env = gym.make(LEVEL, split="train")
        return DQN(
            "MultiInputPolicy",
            env,
            seed=0,
            device="cpu",
            buffer_size=400,
            learning_starts=100,
            exploration_fraction=0.9,
        )

    model = make()
    model.learn(400, callback=StopAt())
    save_state(tmp_path, model, {}, 200, 1.0)
    fresh = make()
    load_state(read_state(tmp_path), fresh, total_timesteps=400)
    assert fresh.exploration_rate == pytest.approx(fresh.exploration_schedule(0.5)) and fresh.exploration_rate > 0.05
    assert (fresh.num_timesteps, fresh._n_updates) == (200, model._n_updates) and model._n_updates > 0
    for x, y in zip(model.q_net_target.state_dict().values(), fresh.q_net_target.state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.parametrize(("algo", "signum"), [("masked_dqn", signal.SIGTERM), ("a2c", signal.SIGINT)])
def test_a_signal_saves_the_step_reached_and_the_same_command_resumes_there(
    tmp_path, capsys, monkeypatch, algo, signum
):
    """SIGTERM (a scheduler's pre-emption) or Ctrl-C during training: the run checkpoints the step
    it reached (not only the last val point), exits 143 / 130 with one line, and resumes there."""
    from poser_agents.benchmark import run as run_module
    from poser_agents.cli import main

    if threading.current_thread() is not threading.main_thread():  # pragma: no cover - pytest runs tests there
        pytest.fail("signal handlers need the main thread")
    evaluate = run_module._Evaluator.__call__
    calls = []

    def evaluate_then_signal(self, model):
        card = evaluate(self, model)
        calls.append(self.split)
        if len(calls) == 2:  # the val point at step 20 is written: now the signal arrives
            os.kill(os.getpid(), signum)
        return card

    monkeypatch.setattr(run_module._Evaluator, "__call__", evaluate_then_signal)
    args = ["benchmark", "run", "--algo", algo, "--env", LEVEL, "--steps", "60", "--seeds", "0", "--out", str(tmp_path)]
    tiny = ["--eval-every", "20", "--val-episodes", "2", "--test-episodes", "2"]
    assert main([*args, *tiny]) == 128 + signum
    err = capsys.readouterr().err
    folder = tmp_path / LEVEL / algo / "seed0"
    partial = json.loads((folder / "result.json").read_text())
    step = partial["steps_done"]
    assert 20 < step < 40, step  # the step reached, between two val points
    assert f"stopped by {signal.Signals(signum).name} at step {step}, its checkpoint saved there" in err
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert partial["status"] == "partial" and [p["step"] for p in partial["curve"]] == [0, 20]
    assert [(e["step"], e["signal"]) for e in partial["interrupted"]] == [(step, signal.Signals(signum).name)]
    assert json.loads((folder / "checkpoint" / "latest.json").read_text())["slot"] == f"step-{step}"

    monkeypatch.setattr(run_module._Evaluator, "__call__", evaluate)
    assert main([*args, *tiny]) == 0
    assert f"resuming the partial run from its checkpoint at step {step}" in capsys.readouterr().err
    result = json.loads((folder / "result.json").read_text())
    # The grid goes on; the last point is after the last update, which may pass 60 by less than a
    # learner's unit of collection (train_freq, n_steps) once the run resumed off the grid.
    curve = [p["step"] for p in result["curve"]]
    assert result["status"] == "complete" and curve[:3] == [0, 20, 40] and 60 <= curve[3] == result["steps_done"] < 65
    assert [r["step"] for r in result["resumed"]] == [step] and result["interrupted"] == partial["interrupted"]


def test_a_resumed_run_whose_first_process_recorded_no_machine_does_not_invent_one(tmp_path):
    """A partial result written before ``machine`` existed: the resume records the resuming
    process's machine in its entry and leaves the first segment's unknown (no top-level key)."""
    folder = _killed(tmp_path, "a2c")
    partial = json.loads((folder / "result.json").read_text())
    del partial["machine"]
    (folder / "result.json").write_text(json.dumps(partial))
    result = run_one("a2c", LEVEL, 60, 0, tmp_path, PROTO, log=lambda _: None)
    assert "machine" not in result and "machine" not in json.loads((folder / "result.json").read_text())
    assert set(result["resumed"][0]["machine"]) == {"cpu", "torch_cpu_capability"}
