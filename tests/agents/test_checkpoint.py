"""Checkpoints are files from strangers: nothing in them runs, every refusal is one line, nothing is lost.

Each test builds a real checkpoint, tampers with it the way an attacker (or a disk) would, and
checks the refusal through the CLI (``poser_agents.cli.main``, exit 2, one line on stderr) and
the API (``CheckpointError``), that a marker file the payload would create does not exist, and
that the folder is unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import zipfile

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch

import poser_env  # noqa: F401
from poser_agents.cli import main as poser
from poser_agents.common.checkpoint import CheckpointError, file_sha256
from poser_agents.common.checkpoint_faults import edit_agent_json
from poser_agents.dqn import DQNAgent, DQNConfig
from poser_agents.dqn import agent as dqn_agent
from poser_agents.grpo import agent as grpo_agent
from poser_agents.grpo.agent import GRPOAgent
from poser_agents.grpo.context import ContextFeaturizer
from poser_agents.grpo.policy import PolicyConfig, WorkflowPolicy
from poser_agents.grpo.workflow_tokens import WorkflowVocab


class MakesMarker:
    """Unpickling this creates the folder ``path``: proof that code from the file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.makedirs, (self.path,))


@pytest.fixture(scope="module")
def dqn_dir(tmp_path_factory):
    env = gym.make("ImagePoser-v0", split="val")
    agent = DQNAgent(env, DQNConfig(learning_starts=10, buffer_size=200, batch_size=8, net_arch=[16], embed_dim=8))
    agent.learn(40)
    return agent.save(tmp_path_factory.mktemp("ckpt") / "dqn")


@pytest.fixture(scope="module")
def grpo_dir(tmp_path_factory):
    env = gym.make("ImagePoser-v0", split="test")
    base = env.unwrapped
    vocab = WorkflowVocab(base.expert_names, base.config.max_attempts)
    featurizer = ContextFeaturizer("hash")
    cfg = PolicyConfig(
        hidden=8,
        n_experts=vocab.n_experts,
        attempts=vocab.attempts,
        text_dim=featurizer.text_dim,
        command_dim=featurizer.command_dim,
    )
    torch.manual_seed(0)
    agent = GRPOAgent(WorkflowPolicy(cfg), vocab, featurizer, reference=WorkflowPolicy(cfg), env=env)
    return agent.save(tmp_path_factory.mktemp("ckpt") / "grpo")


def snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


edit_meta = edit_agent_json  # the corrupted-checkpoint matrix edits agent.json the same way


def rewrite_zip(folder, data=None, extra=None):
    """Rewrite model.zip with a changed ``data`` table / extra entries, and fix agent.json's checksum."""
    path = folder / "model.zip"
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    if data is not None:
        entries["data"] = json.dumps(data(json.loads(entries["data"]))).encode()
    entries.update(extra or {})
    with zipfile.ZipFile(path, "w") as z:
        for n, b in entries.items():
            z.writestr(n, b)
    edit_meta(folder, model_sha256=file_sha256(path))


def refused_everywhere(folder, capsys, tmp_path, match, marker=None, grpo=False):
    """The CLI commands that read a checkpoint exit 2 with one line; the API raises; nothing ran or changed."""
    before = snapshot(folder)
    commands = [
        ["eval", "--agent", str(folder), "--episodes", "1", "--seeds", "0"],
        ["generate", "a red circle", "--agent", str(folder), "--out", str(tmp_path / "gen")],
    ]
    if not grpo:
        commands.append(
            ["train", "dqn", "--resume", str(folder), "--steps", "5", "--out", str(tmp_path / "resumed"), "--json"]
        )
    for argv in commands:
        capsys.readouterr()
        assert poser(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert re.search(match, err), (argv, err)
        assert "weights_only=False" not in err
    env = gym.make("ImagePoser-v0", split="val")
    with pytest.raises(CheckpointError, match=match):
        (GRPOAgent if grpo else DQNAgent).load(folder, env=env)
    if marker is not None:
        assert not marker.exists(), "code from the checkpoint ran"
    assert snapshot(folder) == before
    assert not (tmp_path / "resumed").exists() and not (tmp_path / "gen").exists()


def test_the_old_error_names_are_the_shared_class():
    assert dqn_agent.CheckpointError is grpo_agent.CheckpointError is CheckpointError
    assert issubclass(CheckpointError, ValueError)


# -- item 1: model.zip never unpickles ------------------------------------------------------


def test_a_pickled_object_in_model_zip_never_runs(dqn_dir, tmp_path, capsys):
    marker = tmp_path / "pwned"
    payload = {
        ":type:": "<class 'x'>",
        ":serialized:": base64.b64encode(cloudpickle.dumps(MakesMarker(marker))).decode(),
    }
    bad = copy(dqn_dir, tmp_path / "bad")
    rewrite_zip(bad, data=lambda d: {**d, "evil": payload})

    # The payload is real: SB3's own loader runs it (docs/security.md says so).
    from stable_baselines3 import DQN

    probe = copy(bad, tmp_path / "probe")
    with contextlib.suppress(Exception):  # whatever else happens, the blob has run by then
        DQN.load(probe / "model.zip")
    assert marker.exists()
    shutil.rmtree(marker)

    refused_everywhere(
        bad, capsys, tmp_path, r"pickled Python objects .*evil.*refused \(nothing was unpickled\)", marker
    )

    # A pickle hidden under a name SB3 uses is never decoded either: the model is rebuilt from agent.json.
    hidden = copy(dqn_dir, tmp_path / "hidden")
    rewrite_zip(
        hidden, data=lambda d: {**d, "policy_class": payload, "policy_kwargs": payload, "exploration_schedule": payload}
    )
    agent = DQNAgent.load(hidden)
    assert not marker.exists()
    obs, _ = agent.env.reset(seed=0)
    assert int(agent.predict(obs)[0]) == int(DQNAgent.load(dqn_dir).predict(obs)[0])


def test_pickled_weights_and_unknown_entries_are_refused(dqn_dir, tmp_path, capsys):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"q_net.q_net.0.weight": MakesMarker(marker)}, buf)
    bad = copy(dqn_dir, tmp_path / "bad")
    rewrite_zip(bad, extra={"policy.pth": buf.getvalue()})
    refused_everywhere(bad, capsys, tmp_path, r"holds Python objects, not only tensors.*refused", marker)

    other = copy(dqn_dir, tmp_path / "other")
    rewrite_zip(other, extra={"exploit.pkl": b"x"})
    with pytest.raises(CheckpointError, match=r"unexpected entries \['exploit.pkl'\]"):
        DQNAgent.load(other)


def test_resume_from_a_safe_load_keeps_counters_and_optimizer(dqn_dir, tmp_path, capsys):
    agent = DQNAgent.load(dqn_dir)
    assert agent.num_timesteps >= 40 and agent.model._episode_num > 0
    saved = torch.load(
        io.BytesIO(zipfile.ZipFile(dqn_dir / "model.zip").read("policy.optimizer.pth")), weights_only=True
    )
    state = agent.model.policy.optimizer.state_dict()
    assert set(state["state"]) == set(saved["state"]) and state["state"]
    for k, v in saved["state"].items():
        assert torch.equal(state["state"][k]["exp_avg"], v["exp_avg"])
    out = tmp_path / "resumed"
    total = str(agent.num_timesteps + 8)  # --steps is the run's total (docs/dqn.md)
    assert poser(["train", "dqn", "--resume", str(dqn_dir), "--steps", total, "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["timesteps"] == agent.num_timesteps + 8


# -- item 11 (second half): weights from another expert order --------------------------------


def test_model_zip_from_another_expert_order_is_detected(dqn_dir, tmp_path):
    from poser_env.registry import load_preset

    specs = load_preset("synthetic", "experts")["experts"]
    swapped_env = gym.make("ImagePoser-v0", split="val", experts=[specs[1], specs[0], *specs[2:]])
    other = DQNAgent(swapped_env, DQNConfig(learning_starts=10, buffer_size=200, net_arch=[16], embed_dim=8)).save(
        tmp_path / "other"
    )
    mixed = copy(dqn_dir, tmp_path / "mixed")
    shutil.copy(other / "model.zip", mixed / "model.zip")
    edit_meta(mixed, model_sha256=file_sha256(mixed / "model.zip"))  # whoever edits one file edits both
    with pytest.raises(
        CheckpointError, match=r"trained for the actions \['layout-t2i', 'sketchy-t2i'.*another checkpoint"
    ):
        DQNAgent.load(mixed)


def test_policy_pt_from_another_expert_order_is_detected(grpo_dir, tmp_path):
    mixed = copy(grpo_dir, tmp_path / "mixed")
    meta = json.loads((mixed / "agent.json").read_text())
    experts = meta["vocab"]["experts"]
    edit_meta(mixed, vocab={**meta["vocab"], "experts": [experts[1], experts[0], *experts[2:]]})
    with pytest.raises(
        CheckpointError, match=r"policy.pt was trained for the experts .*the weights come from another checkpoint"
    ):
        GRPOAgent.load(mixed)


def test_version_1_checkpoints_still_load_and_version_2_needs_its_action_names(dqn_dir, tmp_path):
    old = copy(dqn_dir, tmp_path / "old")
    with zipfile.ZipFile(old / "model.zip") as z:
        entries = {n: z.read(n) for n in z.namelist() if n != "imageposer_actions.json"}
    with zipfile.ZipFile(old / "model.zip", "w") as z:
        for n, b in entries.items():
            z.writestr(n, b)
    edit_meta(old, model_sha256=file_sha256(old / "model.zip"))
    with pytest.raises(CheckpointError, match="has no action names"):
        DQNAgent.load(old)
    edit_meta(old, format_version=1)  # what the code before this change wrote
    obs, _ = gym.make("ImagePoser-v0", split="val").reset(seed=3)
    assert int(DQNAgent.load(old).predict(obs)[0]) == int(DQNAgent.load(dqn_dir).predict(obs)[0])


# -- item 2: env settings that name code -----------------------------------------------------


@pytest.mark.parametrize("grpo", [False, True], ids=["dqn", "grpo"])
def test_env_kwargs_naming_code_are_refused_without_the_flag(dqn_dir, grpo_dir, tmp_path, capsys, grpo):
    marker = tmp_path / "made-by-critic"
    bad = copy(grpo_dir if grpo else dqn_dir, tmp_path / "bad")
    edit_meta(bad, env_kwargs={"critic": {"name": "x", "entry_point": "os:makedirs", "kwargs": {"name": str(marker)}}})
    refused_everywhere(
        bad, capsys, tmp_path, r"env setting 'critic' is a component spec.*--allow-entry-points", marker, grpo=grpo
    )

    # With the caller's flag the (harmless, non-default) component is built.
    ok = copy(grpo_dir if grpo else dqn_dir, tmp_path / "ok")
    spec = {"name": "pixel-2", "entry_point": "poser_env.critics.synthetic:PixelCritic"}
    edit_meta(ok, env_kwargs={"critic": spec})
    assert poser(["eval", "--agent", str(ok), "--episodes", "1", "--seeds", "0"]) == 2
    assert poser(["eval", "--agent", str(ok), "--episodes", "1", "--seeds", "0", "--allow-entry-points"]) == 0
    for kw in (
        {"experts": str(tmp_path / "experts.json")},
        {"experts": [{"name": "a", "entry_point": "os:getcwd"}]},
        {"text_encoder": "os:abort"},
        {"allow_entry_points": True},
        {"trust_remote_code": True},
    ):
        edit_meta(ok, env_kwargs=kw)
        with pytest.raises(CheckpointError, match="allow-entry-points|caller's"):
            (GRPOAgent if grpo else DQNAgent).read_metadata(ok)


def test_env_id_and_entry_point_naming_code_are_refused(dqn_dir, tmp_path):
    bad = copy(dqn_dir, tmp_path / "bad")
    edit_meta(bad, env_id="os:ImagePoser-v0")
    with pytest.raises(CheckpointError, match="env_id 'os:ImagePoser-v0' makes Gymnasium import the module 'os'"):
        DQNAgent.load(bad)
    edit_meta(bad, env_id=None, env_entry_point="os:abort")
    with pytest.raises(CheckpointError, match="env_entry_point 'os:abort' is not ImagePoser's env"):
        DQNAgent.load(bad)


def test_a_direct_env_checkpoint_writes_plain_kwargs(tmp_path):
    from poser_env.env import ImagePoserEnv

    agent = DQNAgent(
        ImagePoserEnv(split="val"), DQNConfig(learning_starts=10, buffer_size=100, net_arch=[8], embed_dim=8)
    )
    folder = agent.save(tmp_path / "direct")
    meta = json.loads((folder / "agent.json").read_text())
    assert not {"critic", "extractor", "evaluator"} & set(meta["env_kwargs"])
    assert meta["env_entry_point"] == "poser_env.env:ImagePoserEnv"
    assert DQNAgent.load(folder).env.unwrapped.config.split == "val"


# -- item 3: a GRPO checkpoint's text encoder ------------------------------------------------


def test_grpo_text_encoder_naming_code_needs_the_flag(grpo_dir, tmp_path, capsys):
    bad = copy(grpo_dir, tmp_path / "bad")
    edit_meta(bad, text_encoder={"name": "os:abort", "dim": 128})  # would kill the process if called
    refused_everywhere(bad, capsys, tmp_path, r"text_encoder.name'.*'os:abort'.*--allow-entry-points", grpo=True)


# -- item 5: file names that leave the folder ------------------------------------------------


@pytest.mark.parametrize("grpo", [False, True], ids=["dqn", "grpo"])
def test_weights_file_outside_the_folder_is_refused(dqn_dir, grpo_dir, tmp_path, capsys, grpo):
    src = grpo_dir if grpo else dqn_dir
    field, name = ("weights_file", "policy.pt") if grpo else ("model_file", "model.zip")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(src / name, outside / name)
    bad = copy(src, tmp_path / "bad")
    for value, match in ((str(outside / name), "a path"), (f"../elsewhere/{name}", "a path")):
        edit_meta(bad, **{field: value})
        with pytest.raises(CheckpointError, match=f"field '{field}' is .*{match}"):
            (GRPOAgent if grpo else DQNAgent).load(bad, env=gym.make("ImagePoser-v0", split="test"))
    edit_meta(bad, **{field: "link"})
    (bad / "link").symlink_to(outside / name)
    refused_everywhere(bad, capsys, tmp_path, r"is a link to .*outside the checkpoint folder", grpo=grpo)


# -- item 11: one schema check, one error naming the field -----------------------------------


@pytest.mark.parametrize(
    "change, match",
    [
        ({"action_space": "Discrete(12)"}, "field 'action_space' must be a space summary"),
        ({"action_space": None}, "field 'action_space' must be a space summary"),
        ({"env_kwargs": None}, "field 'env_kwargs' must be a table"),
        ({"env_kwargs": ["split", "val"]}, "field 'env_kwargs' must be a table"),
        ({"format_version": "x"}, "field 'format_version' must be a positive integer, got 'x'"),
        ({"config": KeyError}, "field 'config' must be a table"),
        ({"action_names": "abc"}, "field 'action_names' must be a list"),
        ({"model_file": None}, "field 'model_file' must be a file name"),
    ],
)
def test_dqn_schema_errors_name_the_field(dqn_dir, tmp_path, capsys, change, match):
    bad = copy(dqn_dir, tmp_path / "bad")
    edit_meta(bad, **change)
    refused_everywhere(bad, capsys, tmp_path, match)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"vocab": None}, "field 'vocab' must be a table"),
        ({"vocab": {"experts": "a", "attempts": 3}}, "field 'vocab.experts' must be"),
        ({"text_encoder": {}}, "field 'text_encoder' must be a table with the encoder's 'name'"),
        ({"policy_config": {"hidden": "8"}}, r"field 'policy_config.hidden' must be a positive integer"),
        ({"sampling": {"guidance_w": "high"}}, "field 'sampling.guidance_w' must be a finite number"),
        ({"weights_sha256": None}, "field 'weights_sha256' must be the SHA-256"),
        ({"format_version": 99}, "format version 99; this code reads up to 1"),
    ],
)
def test_grpo_schema_errors_name_the_field(grpo_dir, tmp_path, capsys, change, match):
    bad = copy(grpo_dir, tmp_path / "bad")
    edit_meta(bad, **change)
    refused_everywhere(bad, capsys, tmp_path, match, grpo=True)


def test_a_grpo_folder_without_agent_json_is_named_plainly(grpo_dir, tmp_path, capsys):
    bad = copy(grpo_dir, tmp_path / "bad")
    (bad / "agent.json").unlink()
    assert poser(["eval", "--agent", str(bad), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "not an ImagePoser agent checkpoint: agent.json is missing" in err and "policy.pt" in err
    assert "DQNAgent checkpoint" not in err


# -- item 12 / 14: NaN weights, torch's advice ----------------------------------------------


def test_nan_weights_are_refused_at_save_and_load(grpo_dir, dqn_dir, tmp_path, capsys):
    agent = GRPOAgent.load(grpo_dir, env=gym.make("ImagePoser-v0", split="test"))
    with torch.no_grad():
        next(agent.policy.parameters())[0] = float("nan")
    with pytest.raises(
        CheckpointError,
        match="cannot save the GRPO policy: weight .* holds NaN or infinite values; training diverged; nothing was saved",
    ):
        agent.save(tmp_path / "never")
    assert not (tmp_path / "never" / "agent.json").exists()

    bad = copy(grpo_dir, tmp_path / "bad")
    state = torch.load(bad / "policy.pt", weights_only=True)
    first = next(iter(state["policy"]))
    state["policy"][first][0] = float("inf")
    torch.save(state, bad / "policy.pt")
    edit_meta(bad, weights_sha256=file_sha256(bad / "policy.pt"))
    refused_everywhere(bad, capsys, tmp_path, f"weight '{first}' holds NaN or infinite values", grpo=True)

    dq = copy(dqn_dir, tmp_path / "dq")
    with zipfile.ZipFile(dq / "model.zip") as z:
        pol = torch.load(io.BytesIO(z.read("policy.pth")), weights_only=True)
    key = next(k for k in pol if k.endswith("weight"))
    pol[key].fill_(float("nan"))
    buf = io.BytesIO()
    torch.save(pol, buf)
    rewrite_zip(dq, extra={"policy.pth": buf.getvalue()})
    refused_everywhere(dq, capsys, tmp_path, f"weight '{key}' holds NaN")


def test_policy_pt_with_pickled_code_is_refused_without_torchs_advice(grpo_dir, tmp_path, capsys):
    marker = tmp_path / "pwned"
    bad = copy(grpo_dir, tmp_path / "bad")
    torch.save({"policy": MakesMarker(marker)}, bad / "policy.pt")
    edit_meta(bad, weights_sha256=file_sha256(bad / "policy.pt"))
    refused_everywhere(
        bad, capsys, tmp_path, r"holds Python objects, not only tensors.*refused \(nothing was run\)", marker, grpo=True
    )


# -- item 7: a kill during a save never destroys the previous checkpoint ---------------------


def test_a_failed_save_leaves_the_previous_checkpoint(dqn_dir, tmp_path, monkeypatch):
    folder = copy(dqn_dir, tmp_path / "ckpt")
    before = snapshot(folder)
    agent = DQNAgent.load(folder)

    def dies_mid_write(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(agent.model), "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        agent.save(folder)
    monkeypatch.undo()
    assert snapshot(folder) == before  # no temporary left visible, nothing replaced
    DQNAgent.load(folder)


def test_a_kill_between_the_renames_loads_the_new_checkpoint(dqn_dir, tmp_path, monkeypatch):
    from poser_agents.common import checkpoint

    folder = copy(dqn_dir, tmp_path / "ckpt")
    agent = DQNAgent.load(folder)
    agent.learn(12)
    real = os.replace

    def killed_before_metadata(src, dst):
        if str(dst).endswith("agent.json"):
            raise KeyboardInterrupt  # the process dies after the weights were renamed
        return real(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed_before_metadata)
    with pytest.raises(KeyboardInterrupt):
        agent.save(folder)
    monkeypatch.undo()
    assert json.loads((folder / "agent.json").read_text())["num_timesteps"] != agent.num_timesteps  # old metadata
    assert DQNAgent.load(folder).num_timesteps == agent.num_timesteps  # the complete new checkpoint

    recovered = agent.num_timesteps  # the next save, killed once its own pending file is written,
    agent.learn(4)  # must not lose that recovered checkpoint (found by checkpoint_faults --kill-saves)

    def killed_before_weights(src, dst):
        if str(dst).endswith("model.zip"):
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed_before_weights)
    with pytest.raises(KeyboardInterrupt):
        agent.save(folder)
    monkeypatch.undo()
    assert DQNAgent.load(folder).num_timesteps == recovered
    agent.save(folder)
    assert not list(folder.glob(".*"))

    first = tmp_path / "first"  # the very first save of a folder, killed the same way
    monkeypatch.setattr(checkpoint.os, "replace", killed_before_metadata)
    with pytest.raises(KeyboardInterrupt):
        agent.save(first)
    monkeypatch.undo()
    assert not (first / "agent.json").exists()
    assert DQNAgent.load(first).num_timesteps == agent.num_timesteps


def test_kill_9_during_saves_never_leaves_an_unloadable_checkpoint(dqn_dir, tmp_path):
    import signal
    import time

    folder = copy(dqn_dir, tmp_path / "ckpt")
    agent = DQNAgent.load(folder)
    rng = np.random.default_rng(0)
    for _ in range(4):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child saves in a loop until it is killed
            try:
                os.write(ready_w, b"1")
                while True:
                    agent.save(folder)
            finally:
                os._exit(1)
        os.read(ready_r, 1)
        os.close(ready_r), os.close(ready_w)
        time.sleep(float(rng.uniform(0.02, 0.4)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        DQNAgent.load(folder, env=agent.env)  # the previous or the new checkpoint, never a broken one
