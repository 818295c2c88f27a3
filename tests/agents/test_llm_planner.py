"""``poser experts --preset``, ``poser bench env --preset`` and the LLM planner baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poser_agents.baselines import make_baseline
from poser_agents.cli import main
from poser_agents.llm_planner import LLMPlannerAgent
from poser_agents.rollout import run_episode
from poser_env.presets import make_env

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")


def test_poser_experts_lists_components_and_reachability(tiny_preset, tmp_path, capsys):
    assert main(["experts", "--preset", str(tiny_preset), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    comps = out["components"]
    assert [c["name"] for c in comps if c["component"] == "expert"] == [
        "tiny-t2i",
        "tiny-img2img",
        "tiny-ip2p",
        "tiny-inpaint",
    ]
    assert {c["component"] for c in comps} == {"expert", "critic", "evaluator", "extractor"}
    assert all(c["reachable"] and c["where"].startswith("local folder") for c in comps)
    bad = tmp_path / "bad.toml"
    bad.write_text(tiny_preset.read_text().replace('type = "t2i"\nmodel = "', 'type = "t2i"\nmodel = "/nonexistent'))
    assert main(["experts", "--preset", str(bad)]) == 0
    assert "NOT reachable" in capsys.readouterr().out
    assert main(["experts", "--preset", "real12", "--json"]) == 0  # hub ids: not cached, offline
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len([c for c in out["components"] if c["component"] == "expert"]) == 12
    # offline here: every hub id is "not asked", never reported as missing from the hub
    assert {c["status"] for c in out["components"]} <= {"not-cached-offline", "hub-unreachable"}
    assert main(["experts", "--preset", str(tmp_path / "none.toml")]) == 2
    assert "built-in presets" in capsys.readouterr().err


def test_poser_bench_env_preset_reports_env_overhead(tiny_preset, capsys):
    assert main(["bench", "env", "--preset", str(tiny_preset), "--steps", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] == 6 and out["errors"] == 0
    assert 0 < out["env_ms_per_step"] < out["total_ms_per_step"]
    assert out["model_ms_per_step"] > out["env_ms_per_step"]


def test_llm_planner_picks_allowed_experts_and_runs_episodes(tiny_preset, tiny):
    env = make_env(tiny_preset, enable_stop=True, max_steps=3)
    agent = make_baseline(f"llm:{tiny['llm']}", env)
    assert isinstance(agent, LLMPlannerAgent)
    obs, _ = env.reset(seed=0, options={"prompt": "Draw a red circle. Make it watercolour style."})
    action, _ = agent.predict(obs)
    assert 0 <= int(action) < env.action_space.n
    assert set(agent.last_scores) == set(env.action_names)
    msgs = agent.messages(env.episode_context(), env.action_names)
    assert "Draw a red circle" in msgs[1]["content"] and "tiny-inpaint" in msgs[1]["content"]
    mask = np.zeros(env.action_space.n, np.int8)
    mask[2] = 1
    assert int(agent.predict({**obs, "action_mask": mask})[0]) == 2  # constrained to the mask
    summary = run_episode(env, agent, seed=1)
    assert summary["steps"] >= 1 and summary["evaluator"]["judged"]
    with pytest.raises(ValueError, match="unvectorised"):
        agent.predict({"action_mask": np.ones((2, env.action_space.n), np.int8)})


def test_evaluation_harness_runs_the_planner_on_the_real_env(tiny_preset, tiny):
    from poser_agents.evaluation import evaluate

    env = make_env(tiny_preset, max_steps=2, split="test")
    result = evaluate(
        lambda e, seed=0: make_baseline(f"llm:{tiny['llm']}", e, seed=seed),
        env,
        episodes=2,
        seeds=[0],
        name="llm-planner",
        n_resamples=50,
    )
    assert len(result.records) == 2 and all(r["judged"] for r in result.records)
    assert 0 <= result.overall["alignment"]["mean"] <= 1 and result.overall["fidelity"]["n"] == 2
