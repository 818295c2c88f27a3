"""Names that moved in the shared-floor restructuring still import for one release, with a DeprecationWarning
naming the new home, and are the same objects as the new ones."""

import importlib
import sys

import gymnasium as gym
import pytest

import poser_env  # noqa: F401

OLD_MODULES = {
    "poser_agents.checkpoint": ("poser_agents.common.checkpoint", "read_metadata"),
    "poser_agents.tensorboard": ("poser_agents.common.tensorboard", "PoserTensorBoardCallback"),
    "poser_agents.checkpoint_faults": ("poser_agents.common.checkpoint_faults", "edit_agent_json"),
    "poser_agents.grpo.vocab": ("poser_agents.grpo.workflow_tokens", "WorkflowVocab"),
}


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_an_old_module_path_warns_and_reexports(old, monkeypatch):
    new, name = OLD_MODULES[old]
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_the_callbacks_moved_out_of_dqn_agent():
    from poser_agents.common import callbacks
    from poser_agents.dqn import agent

    for name in ("EpisodeLogCallback", "RolloutEvalCallback", "make_logger"):
        with pytest.warns(DeprecationWarning, match=r"poser_agents\.common\.callbacks"):
            assert getattr(agent, name) is getattr(callbacks, name)
    with pytest.raises(AttributeError):
        agent.no_such_name  # noqa: B018


def test_old_runner_and_evaluate_policy_names_delegate():
    from poser_agents.baselines import make_baseline
    from poser_agents.evaluation.harness import run_recorded_episode
    from poser_agents.grpo import pipeline
    from poser_agents.rollout import run_episode

    env = gym.make("ImagePoser-v0", split="val")
    task = env.unwrapped.tasks[0]
    kinds: list[str] = []
    new = run_episode(env, make_baseline("heuristic", env), task, 5, kinds=kinds)
    with pytest.warns(DeprecationWarning, match="run_episode"):
        old, old_kinds = run_recorded_episode(env, make_baseline("heuristic", env), task, 5)
    assert (old, old_kinds) == (new, kinds) and len(kinds) == new["steps"]
    with pytest.warns(DeprecationWarning, match="evaluate_workflow_policy"), pytest.raises(TypeError):
        pipeline.evaluate_policy()  # the alias warns, then calls the new function (which needs its arguments)
