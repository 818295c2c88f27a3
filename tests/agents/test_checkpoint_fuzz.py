"""Hypothesis fuzzing of the checkpoint and logged-data readers: any input is read or refused
with the reader's own error (CheckpointError / DataFileError), never another exception."""

from __future__ import annotations

import json
import os

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poser_env  # noqa: F401
from poser_agents.common.checkpoint import CheckpointError, read_metadata
from poser_agents.dqn import DQNAgent, DQNConfig
from poser_agents.grpo.data import DataFileError, read_records

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
#: Examples per test; POSER_FUZZ_EXAMPLES=2000 for the longer run quoted in docs/security.md.
FUZZ = settings(
    max_examples=int(os.environ.get("POSER_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    agent = DQNAgent(
        gym.make("ImagePoser-v0", split="val"), DQNConfig(learning_starts=10, buffer_size=50, net_arch=[8], embed_dim=8)
    )
    folder = agent.save(tmp_path_factory.mktemp("fuzz") / "dqn")
    return folder, json.loads((folder / "agent.json").read_text())


def read_or_refuse(folder, meta, raw: bytes) -> None:
    """``agent.json`` = ``raw``: read, or refused with CheckpointError (any other exception fails); then restored."""
    (folder / "agent.json").write_bytes(raw)
    try:
        read_metadata(folder)
    except CheckpointError:
        pass
    finally:
        (folder / "agent.json").write_text(json.dumps(meta))


@FUZZ
@given(
    field=st.sampled_from(
        [
            "format",
            "format_version",
            "config",
            "observation_space",
            "action_space",
            "action_names",
            "text_encoder",
            "env_id",
            "env_kwargs",
            "env_entry_point",
            "model_file",
            "model_sha256",
            "num_timesteps",
            "env_config",
            "env_rebuildable",
        ]
    ),
    value=JSON,
    drop=st.booleans(),
)
def test_agent_json_fields_are_read_or_refused_by_name(saved, field, value, drop):
    folder, meta = saved
    changed = dict(meta)
    if drop:
        changed.pop(field, None)
    else:
        changed[field] = value
    read_or_refuse(folder, meta, json.dumps(changed).encode())


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_agent_json_bytes_are_read_or_refused(saved, raw):
    folder, meta = saved
    read_or_refuse(folder, meta, raw)


@FUZZ
@given(lines=st.lists(st.text(max_size=60) | JSON.map(json.dumps), max_size=5), header=st.booleans())
def test_any_logged_data_is_read_or_refused(tmp_path, lines, header):
    head = json.dumps({"format": "imageposer-grpo-logs", "version": 1, "experts": ["a", "b"], "attempts": 1})
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(([head] if header else []) + lines) + "\n")
    try:
        read_records(path)
    except DataFileError:
        pass
