"""Networks, the learner's loss functions against hand computations, and ObsToDevice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rl_auxgrad.agents.device import ObsToDevice
from rl_auxgrad.agents.losses import a2c_terms, compute_gae, ppo_terms, teacher_kl
from rl_auxgrad.agents.networks import ActorCritic, make_torso


def test_gae_on_a_one_step_episode_is_the_td_error():
    """SB3's test_gae idea: an episode that ends after one step has A = r - V(s)."""
    rewards, values = torch.tensor([[1.0]]), torch.tensor([[0.3]])
    adv, ret = compute_gae(rewards, values, torch.tensor([[True]]), torch.tensor([5.0]),
                           gamma=0.99, gae_lambda=0.95)
    assert adv.item() == pytest.approx(0.7) and ret.item() == pytest.approx(1.0)


def test_gae_by_hand_with_a_boundary():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    dones = torch.tensor([[False], [True], [False]])
    gamma, lam, next_value = 0.9, 0.8, torch.tensor([2.0])
    adv, _ = compute_gae(rewards, values, dones, next_value, gamma, lam)
    d2 = 3.0 + gamma * 2.0 - 1.5
    d1 = 2.0 - 1.0  # episode ends at t = 1: no bootstrap
    d0 = 1.0 + gamma * 1.0 - 0.5
    expected = [d0 + gamma * lam * d1, d1, d2]
    torch.testing.assert_close(adv.squeeze(1), torch.tensor(expected))


def test_gae_lambda_one_is_the_discounted_return_minus_value():
    torch.manual_seed(0)
    rewards, values = torch.randn(6, 3), torch.randn(6, 3)
    dones = torch.zeros(6, 3, dtype=torch.bool)
    next_value, gamma = torch.randn(3), 0.97
    _, returns = compute_gae(rewards, values, dones, next_value, gamma, 1.0)
    discounted = next_value.clone()
    for t in reversed(range(6)):
        discounted = rewards[t] + gamma * discounted
        torch.testing.assert_close(returns[t], discounted)


def test_ppo_policy_term_is_minus_advantage_at_ratio_one_and_clips():
    logits = torch.tensor([[0.0, 0.0]])
    actions = torch.tensor([0])
    logp = torch.log(torch.tensor([0.5]))
    adv, v, r = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([1.0])
    terms = ppo_terms(logits, actions, logp, adv, v, v, r, clip_coef=0.1)
    assert terms.policy.item() == pytest.approx(-2.0)
    assert terms.value.item() == pytest.approx(0.5) and terms.approx_kl.item() == 0.0
    # pi(a) = 0.9 vs old 0.5: ratio 1.8, clipped at 1.1 for a positive advantage
    high = torch.log(torch.tensor([[0.9, 0.1]]))
    clipped = ppo_terms(high, actions, logp, adv, v, v, r, clip_coef=0.1)
    assert clipped.policy.item() == pytest.approx(-2.0 * 1.1)
    assert clipped.clipfrac.item() == 1.0


def test_ppo_value_clipping_takes_the_larger_error():
    logits, actions, logp = torch.zeros(1, 2), torch.tensor([0]), torch.log(torch.tensor([0.5]))
    terms = ppo_terms(logits, actions, logp, torch.zeros(1), value=torch.tensor([1.0]),
                      old_value=torch.tensor([0.0]), returns=torch.tensor([1.0]), clip_coef=0.2)
    assert terms.value.item() == pytest.approx(0.5 * 0.8**2)


def test_a2c_terms():
    logits = torch.log(torch.tensor([[0.25, 0.75]]))
    terms = a2c_terms(logits, torch.tensor([1]), torch.tensor([2.0]), torch.tensor([1.0]),
                      torch.tensor([3.0]))
    assert terms.policy.item() == pytest.approx(-2.0 * torch.log(torch.tensor(0.75)).item())
    assert terms.value.item() == pytest.approx(2.0)


def test_teacher_kl_is_the_kl_of_the_softened_policies_per_sample():
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 4), torch.randn(5, 4)
    kl = teacher_kl(student, teacher, temperature=2.0)
    p, q = F.softmax(teacher / 2, -1), F.softmax(student / 2, -1)
    torch.testing.assert_close(kl, (p * (p.log() - q.log())).sum(-1))
    assert kl.shape == (5,) and bool((kl > 0).all())
    assert teacher_kl(teacher, teacher).abs().max() < 1e-6


@pytest.mark.parametrize(("name", "shape", "out"), [
    ("nature", (4, 84, 84), 512), ("impala", (4, 84, 84), 256), ("mlp", (4,), 64)])
def test_torso_output(name, shape, out):
    torso = make_torso(name, shape)
    dtype = torch.uint8 if len(shape) == 3 else torch.float32
    obs = torch.zeros(3, *shape, dtype=dtype)
    assert torso(obs).shape == (3, out) and torso.out_dim == out


def test_torso_rejects_the_wrong_observation_shape():
    with pytest.raises(ValueError, match=r"use agent\.torso=mlp"):
        make_torso("nature", (4,))
    with pytest.raises(ValueError, match="flat observations"):
        make_torso("mlp", (4, 84, 84))


def test_each_game_uses_its_own_heads():
    torch.manual_seed(0)
    agent = ActorCritic(make_torso("mlp", (3,)), num_actions=5, num_games=2,
                        separate_distill_head=True)
    obs, games = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    out = agent(obs, games)
    features = agent.torso(obs)
    for i, g in enumerate(games.tolist()):
        torch.testing.assert_close(out.logits[i], agent.policy_heads[g](features[i]))
        torch.testing.assert_close(out.value[i], agent.value_heads[g](features[i])[0])
        torch.testing.assert_close(out.distill_logits[i], agent.distill_heads[g](features[i]))
    with pytest.raises(ValueError, match="game id"):
        agent(obs)


def test_without_a_separate_head_the_kl_is_on_the_policy_logits():
    agent = ActorCritic(make_torso("mlp", (3,)), num_actions=2)
    out = agent(torch.randn(2, 3))
    assert out.distill_logits is out.logits and out.value.shape == (2,)


# ---------------------------------------------------------------------------- ObsToDevice
@pytest.mark.parametrize("channels_last", [False, True])
def test_obs_to_device_uint8_frames(channels_last: bool) -> None:
    obs = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    to_device = ObsToDevice("cpu", channels_last=channels_last)
    out = to_device(obs)
    assert out.device.type == "cpu" and out.dtype == torch.uint8 and out.shape == obs.shape
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    np.testing.assert_array_equal(out.numpy(), obs)
    obs[:] = 0
    second = to_device(obs)
    assert out.sum() > 0 and second.sum() == 0  # each call returns its own copy


def test_obs_to_device_float_vectors() -> None:
    obs = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = ObsToDevice(torch.device("cpu"))(obs)
    assert out.dtype == torch.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out.numpy(), obs)
    with pytest.raises(ValueError, match="channels_last needs 4-D"):
        ObsToDevice("cpu", channels_last=True)(obs)
