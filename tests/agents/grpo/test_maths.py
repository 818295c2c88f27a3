"""GRPO maths on hand-computed tiny cases (TRL semantics)."""

import math

import pytest
import torch

from poser_agents.grpo.maths import aggregate, group_advantages, k3_kl, per_token_loss
from poser_agents.grpo.policy import guided_logits


def test_group_advantages_group_scaling():
    r = torch.tensor([[1.0, 0.0], [2.0, 2.0]])
    adv = group_advantages(r, "group")
    # group 1: mean 0.5, unbiased std sqrt(0.5); group 2: constant -> 0
    s = math.sqrt(0.5)
    assert torch.allclose(adv, torch.tensor([[0.5 / (s + 1e-4), -0.5 / (s + 1e-4)], [0.0, 0.0]]))


def test_group_advantages_batch_and_none():
    r = torch.tensor([[1.0, 0.0], [2.0, 2.0]])
    # batch std (unbiased) of [1, 0, 2, 2]: mean 1.25, sum sq dev 0.0625+1.5625+0.5625+0.5625=2.75 -> var 2.75/3
    s = math.sqrt(2.75 / 3)
    assert torch.allclose(group_advantages(r, "batch"), torch.tensor([[0.5, -0.5], [0.0, 0.0]]) / (s + 1e-4))
    assert torch.allclose(group_advantages(r, "none"), torch.tensor([[0.5, -0.5], [0.0, 0.0]]))


def test_group_advantages_refuses_bad_input():
    with pytest.raises(ValueError, match="scale_rewards"):
        group_advantages(torch.zeros(2, 2), "groups")
    with pytest.raises(ValueError, match="group_size >= 2"):
        group_advantages(torch.zeros(3, 1))


def test_k3_kl_values():
    logp = torch.tensor([math.log(0.5), math.log(0.2)])
    ref = torch.tensor([math.log(0.5), math.log(0.4)])
    kl = k3_kl(logp, ref)
    # exp(d) - d - 1 with d = ref - logp: 0 where equal; d = log 2 -> 2 - log 2 - 1
    assert kl[0].item() == pytest.approx(0.0, abs=1e-7)
    assert kl[1].item() == pytest.approx(1.0 - math.log(2.0), rel=1e-6)
    assert (k3_kl(torch.randn(100), torch.randn(100)) >= -1e-7).all()


def test_clipping_at_epsilon_and_epsilon_high():
    old = torch.zeros(1, 4)
    # ratios 1.5 (A > 0, clipped at 1 + eps_high), 0.5 (A < 0, clipped at 1 - eps), 1.1 (inside), 0.5 with A > 0 (min keeps unclipped)
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.1, 0.5]]))
    adv_pos = torch.tensor([1.0])
    loss, clipped = per_token_loss(logp, old, adv_pos, epsilon=0.2, epsilon_high=0.28)
    assert torch.allclose(loss, -torch.tensor([[1.28, 0.5, 1.1, 0.5]]))
    assert clipped.tolist() == [[True, False, False, False]]
    adv_neg = torch.tensor([-1.0])
    loss, clipped = per_token_loss(logp, old, adv_neg, epsilon=0.2, epsilon_high=0.28)
    # -min(r * A, clip(r) * A) with A = -1 is max(r, clip(r)): 1.5, 0.8, 1.1, 0.8
    assert torch.allclose(loss, torch.tensor([[1.5, 0.8, 1.1, 0.8]]))
    assert clipped.tolist() == [[False, True, False, True]]
    # epsilon_high None means symmetric clipping
    loss, _ = per_token_loss(logp, old, adv_pos, epsilon=0.2)
    assert loss[0, 0].item() == pytest.approx(-1.2)


def test_beta_adds_k3():
    logp = torch.log(torch.tensor([[0.5]]))
    ref = torch.log(torch.tensor([[0.25]]))
    loss, _ = per_token_loss(logp, logp.clone(), torch.tensor([0.0]), ref_logp=ref, beta=0.5)
    d = math.log(0.5)  # ref - logp
    assert loss.item() == pytest.approx(0.5 * (math.exp(d) - d - 1.0), rel=1e-6)
    with pytest.raises(ValueError, match="ref_logp"):
        per_token_loss(logp, logp, torch.tensor([0.0]), beta=0.1)


def test_aggregation_per_loss_type():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    assert aggregate(loss, mask, "grpo").item() == pytest.approx((2.0 + 4.0) / 2)
    assert aggregate(loss, mask, "dapo").item() == pytest.approx(10.0 / 4)
    assert aggregate(loss, mask, "dr_grpo").item() == pytest.approx(10.0 / (2 * 3))
    assert aggregate(loss, mask, "dr_grpo", max_completion_length=5).item() == pytest.approx(10.0 / (2 * 5))
    with pytest.raises(ValueError, match="loss_type"):
        aggregate(loss, mask, "ppo")


def test_guided_logits_endpoints():
    ref, pol = torch.randn(3, 12), torch.randn(3, 12)
    assert torch.equal(guided_logits(ref, pol, 1.0), pol)
    assert torch.equal(guided_logits(ref, pol, 0.0), ref)
    assert torch.allclose(guided_logits(ref, pol, 2.0), 2 * pol - ref)
