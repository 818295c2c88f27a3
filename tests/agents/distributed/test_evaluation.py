"""``poser eval --ray``: episodes as Ray tasks give the serial run's records, exactly."""

from __future__ import annotations

import json

import pytest

from poser_agents.cli import main
from poser_agents.distributed.evaluation import episode_independent, evaluate_on_ray, plan_shards
from poser_agents.evaluation import evaluate

pytestmark = pytest.mark.ray


def test_shards_cover_every_episode_once_and_keep_stateful_agents_whole():
    shards = plan_shards(10, [0, 1], independent=True, workers=2)
    assert len(shards) > 2
    assert sorted((s, i) for s, idx in shards for i in idx) == [(s, i) for s in (0, 1) for i in range(10)]
    assert plan_shards(10, [0, 1], independent=False, workers=2) == [(0, list(range(10))), (1, list(range(10)))]
    assert episode_independent("heuristic") and episode_independent("single:layout-t2i")
    assert not episode_independent("random")  # its generator runs on from one episode to the next


@pytest.mark.parametrize("agent", ["heuristic", "random"])
def test_ray_records_equal_serial(ray_local, agent):
    serial = evaluate(agent, "ImagePoser-v0", split="test", episodes=5, seeds=[0, 3], n_resamples=200)
    sharded = evaluate_on_ray(agent, "ImagePoser-v0", split="test", episodes=5, seeds=[0, 3], n_resamples=200)
    assert sharded.extra["ray"]["shards"] == 2 if agent == "random" else sharded.extra["ray"]["shards"] > 2
    assert sharded.records == serial.records
    assert sharded.summary == serial.summary
    assert sharded.config == serial.config


def test_cli_eval_ray_prints_the_serial_json(ray_local, capsys):
    argv = ["eval", "--agent", "single:layout-t2i", "--episodes", "4", "--seeds", "1,2", "--json"]
    assert main(argv) == 0
    serial = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(argv + ["--ray"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == serial


def test_address_without_ray_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--agent", "heuristic", "--address", "auto"])
    assert e.value.code == 2
    assert "--address needs --ray" in capsys.readouterr().err


def test_saved_dqn_on_ray_equals_serial(ray_local, tmp_path, capsys):
    out = tmp_path / "dqn"
    assert main(["train", "dqn", "--steps", "200", "--out", str(out), "--json"]) == 0
    assert episode_independent(str(out))  # greedy DQN: cut finer than per seed
    argv = ["eval", "--agent", str(out), "--episodes", "2", "--seeds", "0,1", "--json"]
    assert main(argv) == 0
    serial = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(argv + ["--ray"]) == 0  # every worker loads the checkpoint and its env settings
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == serial
