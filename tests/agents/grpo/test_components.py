"""Vocabulary grammar, config refusal, policy sampling and log-probs, reward ensemble basics."""

import numpy as np
import pytest
import torch

from poser_agents.grpo.context import ContextFeaturizer, PlanContext
from poser_agents.grpo.policy import log_probs, sample
from poser_agents.grpo.reward import RewardConfig, rankdata, spearman
from poser_agents.grpo.sft import SFTConfig, new_policy
from poser_agents.grpo.trainer import GRPOConfig
from poser_agents.grpo.workflow_tokens import BOS, EOS, SEP, Workflow, WorkflowError, WorkflowVocab

EXPERTS = ["a-t2i", "b-i2i", "c-i2i"]


def test_vocab_round_trip_and_grammar():
    v = WorkflowVocab(EXPERTS, attempts=2)
    wf = Workflow((("a-t2i", "a-t2i"), ("b-i2i", "c-i2i")))
    ids = v.encode(wf)
    assert ids[0] == BOS and ids[-1] == EOS and ids.count(SEP) == 1 and len(ids) == 2 + 4 + 1
    assert v.decode(ids) == wf
    assert Workflow.from_key(wf.key()) == wf
    assert v.from_expert_ids(v.expert_ids(wf), 2) == wf


@pytest.mark.parametrize(
    "ids, match",
    [
        ([4, 4, 3], "start with <bos>"),
        ([1, 4, 2, 5, 3], "exactly 2"),
        ([1, 4, 1, 3], "special token <bos>"),
        ([1, 4, 99, 3], "out of range"),
    ],
)
def test_vocab_rejects_malformed_sequences(ids, match):
    with pytest.raises(WorkflowError, match=match):
        WorkflowVocab(EXPERTS, attempts=2).decode(ids)


def test_vocab_rejects_bad_workflows_and_vocabularies():
    v = WorkflowVocab(EXPERTS, attempts=2)
    with pytest.raises(WorkflowError, match="unknown expert 'z'"):
        v.validate(Workflow((("z", "a-t2i"),)))
    with pytest.raises(WorkflowError, match="3 commands"):
        v.validate(Workflow((("a-t2i", "a-t2i"),)), n_commands=3)
    with pytest.raises(WorkflowError, match="unique"):
        WorkflowVocab(["a", "a"])
    with pytest.raises(WorkflowError, match="clash"):
        WorkflowVocab(["<eos>"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_generations": 1}, "num_generations must be an int >= 2"),
        ({"temperature": -0.5}, "temperature must be > 0"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"scale_rewards": "std"}, "scale_rewards"),
        ({"loss_type": "ppo"}, "loss_type"),
        ({"reward": "critic"}, "reward must be one of"),
        ({"beta": -1.0}, "beta"),
    ],
)
def test_grpo_config_refuses_impossible_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GRPOConfig(**kwargs)


def test_reward_and_sft_configs_refuse():
    with pytest.raises(ValueError, match="n_members must be an int >= 1"):
        RewardConfig(n_members=0)
    with pytest.raises(ValueError, match="pessimism"):
        RewardConfig(pessimism=-1)
    with pytest.raises(ValueError, match="SFT mode"):
        SFTConfig(mode="all")


def _ctx(n):
    return PlanContext("a prompt", tuple((f"command {i}", "add" if i else "generate") for i in range(n)), f"t{n}")


def test_sampling_is_seeded_and_log_probs_match():
    feat = ContextFeaturizer("hash")
    vocab = WorkflowVocab(EXPERTS, attempts=2)
    policy = new_policy(feat, vocab, hidden=16, seed=0)
    batch = feat.batch([_ctx(1), _ctx(3)])
    ids1, lp1 = sample(policy, batch, torch.Generator().manual_seed(3), temperature=0.7)
    ids2, _ = sample(policy, batch, torch.Generator().manual_seed(3), temperature=0.7)
    assert torch.equal(ids1, ids2)
    assert (ids1[0, 2:] == -1).all() and (ids1[1] >= 0).all()
    assert torch.allclose(lp1, log_probs(policy, batch, ids1, temperature=0.7), atol=1e-5)
    # guidance w=1 samples exactly the policy; w=0 exactly the reference
    ref = new_policy(feat, vocab, hidden=16, seed=1)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(sample(policy, batch, g(), reference=ref, w=1.0)[0], sample(policy, batch, g())[0])
    ids0, lp0 = sample(policy, batch, g(), reference=ref, w=0.0)
    assert torch.equal(ids0, sample(ref, batch, g())[0])
    assert torch.allclose(lp0, log_probs(ref, batch, ids0), atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        sample(policy, batch, g(), temperature=0.0)


def test_spearman_and_ranks():
    assert rankdata(np.array([3.0, 1.0, 3.0])).tolist() == [2.5, 1.0, 2.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("w", [-1.0, float("nan"), float("inf")])
def test_guidance_weight_must_be_finite_and_non_negative(w):
    from poser_agents.grpo.agent import SamplingConfig
    from poser_agents.grpo.pipeline import PipelineConfig

    with pytest.raises(ValueError, match="guidance_w"):
        SamplingConfig(guidance_w=w)
    with pytest.raises(ValueError, match="guidance weights"):
        PipelineConfig(guidance_ws=(1.0, w))
