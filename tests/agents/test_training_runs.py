"""Training runs as a user runs them: real processes, real signals, a locked output folder.

``poser train dqn`` in a subprocess is stopped with SIGINT and SIGTERM mid-run: it must save
the steps it did, print one line (no traceback), exit 130 / 143, and ``--resume`` must go on
from there. A second process on the same ``--out`` is refused, naming the holder's pid.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poser_agents.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _poser(*argv: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "poser_agents.cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {path.name} appeared: {proc.communicate()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"{path} did not appear in {timeout} s")
        time.sleep(0.2)


def _last_logged_step(out: Path) -> int:
    rows = list(csv.DictReader(open(out / "logs" / "episodes.csv")))
    return max(int(r["timesteps"]) for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_the_work_done_and_resume_goes_on(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = _poser("train", "dqn", "--steps", "100000", "--out", str(out), "--checkpoint-every", "100", "--json")
    _wait_for(out / "agent.json", proc)  # the first periodic checkpoint
    if sig == signal.SIGINT:
        # A second process on the same folder is refused while the first holds it.
        other = _poser("eval", "--agent", "random", "--episodes", "1", "--seeds", "0", "--out", str(out))
        o_out, o_err = other.communicate(timeout=120)
        assert other.returncode == 2, o_err
        assert f"in use by another process (pid {proc.pid}" in o_err and "Traceback" not in o_err
    time.sleep(1.0)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("poser train dqn:")]
    assert len(lines) == 1 and f"stopped by {signal.Signals(sig).name}" in lines[0] and "--resume" in lines[0]
    result = json.loads(stdout.strip().splitlines()[-1])
    meta = json.loads((out / "agent.json").read_text())
    assert result["interrupted"] == signal.Signals(sig).name and result["timesteps"] == meta["num_timesteps"]
    # Every step logged is in the checkpoint: nothing done before the signal was lost.
    assert meta["num_timesteps"] >= _last_logged_step(out) > 100
    done = meta["num_timesteps"]
    if sig == signal.SIGTERM:
        return  # the resume below is the same after either signal

    # Resume in place (settings from run.json), up to 60 steps more in total.
    assert main(["train", "dqn", "--out", str(out), "--resume", "--steps", str(done + 60), "--json"]) == 0
    meta = json.loads((out / "agent.json").read_text())
    assert meta["num_timesteps"] >= done + 60
    rows = list(csv.DictReader(open(out / "logs" / "episodes.csv")))
    episodes = [int(r["episode"]) for r in rows]
    assert episodes == sorted(set(episodes))  # one log, no duplicated episode numbers


def test_the_output_folder_is_refused_unless_resume_or_overwrite_says_what_to_do(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", "dqn", "--steps", "50", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds files (notes.txt)" in err and "--resume" in err and "--overwrite" in err
    assert main(["train", "dqn", "--steps", "50", "--out", str(out), "--overwrite"]) == 2  # not a poser folder
    assert "poser did not write" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"

    run = tmp_path / "dqn"
    assert main(["train", "dqn", "--steps", "60", "--out", str(run), "--json"]) == 0
    capsys.readouterr()
    assert main(["train", "dqn", "--steps", "60", "--out", str(run)]) == 2
    assert "--resume" in capsys.readouterr().err
    done = json.loads((run / "agent.json").read_text())["num_timesteps"]
    assert main(["train", "dqn", "--out", str(run), "--resume"]) == 0  # all 60 steps done: nothing to train
    assert f"at {done} of 60 steps" in capsys.readouterr().out
    assert json.loads((run / "agent.json").read_text())["num_timesteps"] == done
    nxt = tmp_path / "next"  # --resume SRC: from another run's checkpoint into a fresh folder
    assert main(["train", "dqn", "--resume", str(run), "--out", str(nxt), "--steps", str(done + 30)]) == 0
    assert json.loads((nxt / "agent.json").read_text())["num_timesteps"] >= done + 30
    assert json.loads((run / "agent.json").read_text())["num_timesteps"] == done  # the source is left alone
    capsys.readouterr()
    (tmp_path / "victim.csv").write_text("precious")
    (run / "logs" / "episodes.csv").rename(run / "logs" / "kept.csv")
    (run / "logs" / "episodes.csv").symlink_to(tmp_path / "victim.csv")  # appending would write through it
    assert main(["train", "dqn", "--out", str(run), "--resume", "--steps", "100"]) == 2
    assert "symbolic links (logs/episodes.csv)" in capsys.readouterr().err
    assert (tmp_path / "victim.csv").read_text() == "precious"
    assert main(["train", "dqn", "--steps", "40", "--out", str(run), "--overwrite", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["timesteps"] >= 40
    assert json.loads((run / "agent.json").read_text())["num_timesteps"] < 60  # started over

    empty = tmp_path / "empty"
    assert main(["train", "dqn", "--out", str(empty), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["eval", "--agent", "random", "--episodes", "1", "--seeds", "0", "--out", str(run)]) == 2
    assert "already holds files" in capsys.readouterr().err


@pytest.mark.slow
def test_grpo_run_stopped_in_phase_2_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "grpo"
    flags = ["train", "grpo", "--quick", "--out", str(out), "--grpo-steps", "400", "--checkpoint-every", "20", "--json"]
    proc = _poser(*flags)
    _wait_for(out / "stages" / "phase2.json", proc, timeout=240)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("poser train grpo:")]
    assert (
        len(lines) == 1 and "stopped by SIGTERM during phase 2 (saved after step" in lines[0] and "--resume" in lines[0]
    )
    saved = json.loads((out / "stages" / "phase2.json").read_text())
    assert 20 <= saved["step"] < 400 and [r["step"] for r in saved["history"]] == list(range(1, saved["step"] + 1))
    assert [p.name for p in (out / "stages").glob("phase2*.pt")] == [saved["tensors_file"]]  # the pair, nothing older
    assert not (out / "results.json").exists()

    # Other settings are refused; the same flags with --resume skip collection and phase 1.
    assert main([*flags[:-1], "--seed", "1", "--resume"]) == 2
    import contextlib
    import io

    log, buf = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(log):
        assert main([*flags, "--resume"]) == 0
    text = log.getvalue()
    assert (
        "read " in text and "reusing phase 1" in text and f"resuming phase 2 after step {saved['step']} of 400" in text
    )
    results = json.loads((out / "results.json").read_text())
    steps = [r["step"] for r in results["grpo_history"]]
    assert steps == list(range(1, 401))  # every step once: none lost, none redone
    assert results["grpo_history"][: saved["step"]] == saved["history"]


def test_a_held_folder_is_refused_to_a_second_process_naming_the_holder(tmp_path):
    """Two real processes: one holds the folder (API), the other is ``poser eval --out`` (CLI)."""
    out = tmp_path / "report"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from poser_agents.common.run_folder import claim_run_folder\n"
                f"f = claim_run_folder({str(out)!r}, command='the holder')\n"
                "print('held', flush=True); time.sleep(60)"
            ),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        from poser_agents.common.run_folder import RunFolderError, claim_run_folder

        with pytest.raises(RunFolderError, match=f"in use by another process \\(pid {holder.pid}: the holder\\)"):
            claim_run_folder(out, command="me")
        other = _poser("eval", "--agent", "random", "--episodes", "1", "--seeds", "0", "--out", str(out))
        _, err = other.communicate(timeout=120)
        assert other.returncode == 2 and f"pid {holder.pid}" in err and "Traceback" not in err
        assert sorted(p.name for p in out.iterdir()) == [".poser.lock"]  # the refused run wrote nothing
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the lock with the process (kill -9): the folder is free again.
    with claim_run_folder(out, command="me") as run:
        assert run.path == out
    # A lock file that is a symlink (a shared folder pointing it at a file of yours) is never written through.
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / ".poser.lock").symlink_to(victim)
    with pytest.raises(RunFolderError, match="lock file"):
        claim_run_folder(trap, command="me")
    assert victim.read_text() == "precious"


def test_periodic_checkpoint_and_stop_request_through_the_api(tmp_path):
    """The SB3 callback saves every N steps (agent.save, atomic) and stops learn() when a
    stop was requested; trim_logs drops rows logged after the checkpoint and a torn row."""
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.common.checkpointing import PeriodicCheckpoint, StopRequest, trim_logs
    from poser_agents.dqn import DQNAgent, DQNConfig

    out = tmp_path / "ckpt"
    agent = DQNAgent(
        gym.make("ImagePoser-v0", split="train"),
        DQNConfig(
            net_arch=[16],
            embed_dim=8,
            buffer_size=500,
            learning_starts=20,
            batch_size=8,
            seed=0,
            log_dir=str(out / "logs"),
        ),
    )
    stop = StopRequest()
    steps_at_save: list[int] = []

    def save():
        agent.save(out)
        steps_at_save.append(agent.num_timesteps)
        if len(steps_at_save) == 2:
            stop.signum = signal.SIGTERM  # as the handler of stop_on_signals does

    every = PeriodicCheckpoint(save, every_steps=30, every_seconds=None, stop=stop)
    agent.learn(10_000, callback=every)
    assert steps_at_save == [30, 60] and agent.num_timesteps == 61  # stopped at the next step
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".poser.lock"]  # no temporaries
    assert DQNAgent.load(out, env=gym.make("ImagePoser-v0", split="train")).num_timesteps == 60
    with open(out / "logs" / "episodes.csv", "a") as f:
        f.write("999,99999,0.5,3")  # a row torn by a kill
    dropped = trim_logs(out / "logs", 60)
    rows = list(csv.DictReader(open(out / "logs" / "episodes.csv")))
    assert dropped["episodes.csv"] >= 1 and all(int(r["timesteps"]) <= 60 for r in rows)
    # Resumed, the log goes on above its last episode number, even where SB3 counted one fewer
    # (a stop on the step an episode ended: SB3 counts it after the callbacks).
    top = max(int(r["episode"]) for r in rows) + 3
    with open(out / "logs" / "episodes.csv", "a") as f:
        f.write(f"{top},60,0.1,1" + "," * 13 + "\n")
    resumed = DQNAgent.load(out, env=gym.make("ImagePoser-v0", split="train"))
    resumed.learn(20)
    numbers = [int(r["episode"]) for r in csv.DictReader(open(out / "logs" / "episodes.csv"))]
    assert numbers == sorted(set(numbers)) and numbers[-1] > top
    with pytest.raises(ValueError, match="every_steps"):
        PeriodicCheckpoint(save, every_steps=0)
