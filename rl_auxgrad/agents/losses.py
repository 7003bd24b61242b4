"""The learner's math as functions: GAE, the PPO / A2C terms, and the teacher's KL.

Every loss returns per-sample values; the caller reduces (mean), so a loss never grows with
the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def compute_gae(rewards: Tensor, values: Tensor, dones: Tensor, next_value: Tensor,
                gamma: float, gae_lambda: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016, Eq. 16) over a rollout.

    ``rewards``, ``values``, ``dones`` are ``(T, N)``: ``dones[t]`` is True when the step at
    ``t`` ended the episode (then nothing is bootstrapped from ``t + 1``); ``next_value`` is
    ``V(s_T)``. ``delta_t = r_t + gamma V(s_{t+1}) (1 - d_t) - V(s_t)`` and
    ``A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}``. Returns ``(advantages, returns)`` with
    ``returns = advantages + values``.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    not_done = 1.0 - dones.float()
    for t in reversed(range(steps)):
        following = next_value if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * not_done[t] - values[t]
        last = delta + gamma * gae_lambda * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


@dataclass(frozen=True)
class PolicyTerms:
    """Per-sample terms of an actor-critic loss, and PPO's diagnostics."""

    policy: Tensor
    value: Tensor
    entropy: Tensor
    approx_kl: Tensor
    clipfrac: Tensor


def ppo_terms(logits: Tensor, actions: Tensor, old_logprob: Tensor, advantages: Tensor,
              value: Tensor, old_value: Tensor, returns: Tensor, clip_coef: float,
              clip_vloss: bool = True) -> PolicyTerms:
    """PPO's clipped surrogate (Schulman et al., 2017, Eq. 7) and value loss, per sample.

    ``policy = max(-A r, -A clip(r, 1 - eps, 1 + eps))`` with ``r = pi(a|s) / pi_old(a|s)``;
    ``value = 0.5 (V - R)^2``, or with ``clip_vloss`` the max of that and the clipped-value
    error (as in CleanRL / baselines). ``approx_kl`` is ``(r - 1) - log r`` (Schulman's k3).
    """
    logp_all = F.log_softmax(logits, dim=-1)
    logprob = action_log_prob(logp_all, actions)
    log_ratio = logprob - old_logprob
    ratio = log_ratio.exp()
    policy = torch.max(-advantages * ratio,
                       -advantages * ratio.clamp(1 - clip_coef, 1 + clip_coef))
    value_error = (value - returns).pow(2)
    if clip_vloss:
        clipped = old_value + (value - old_value).clamp(-clip_coef, clip_coef)
        value_error = torch.max(value_error, (clipped - returns).pow(2))
    with torch.no_grad():
        approx_kl = (ratio - 1) - log_ratio
        clipfrac = ((ratio - 1).abs() > clip_coef).float()
    return PolicyTerms(policy, 0.5 * value_error, entropy(logp_all), approx_kl, clipfrac)


def a2c_terms(logits: Tensor, actions: Tensor, advantages: Tensor, value: Tensor,
              returns: Tensor) -> PolicyTerms:
    """A2C (Mnih et al., 2016): ``policy = -A log pi(a|s)``, ``value = 0.5 (V - R)^2``."""
    logp_all = F.log_softmax(logits, dim=-1)
    logprob = action_log_prob(logp_all, actions)
    zero = torch.zeros_like(logprob).detach()
    return PolicyTerms(-advantages * logprob, 0.5 * (value - returns).pow(2), entropy(logp_all),
                       zero, zero)


def action_log_prob(logp_all: Tensor, actions: Tensor) -> Tensor:
    """``log pi(a|s)`` per sample, from the log-probabilities of all actions."""
    return logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def entropy(logp_all: Tensor) -> Tensor:
    """``H(pi) = -sum_a pi(a) log pi(a)`` per sample, from log-probabilities."""
    return -(logp_all.exp() * logp_all).sum(-1)


def teacher_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0
               ) -> Tensor:
    """``KL(teacher || student)`` per sample, both distributions softened by ``temperature``.

    ``sum_a p_T(a) (log p_T(a) - log p_S(a))`` with ``p = softmax(logits / temperature)``
    (policy distillation, Rusu et al. 2016; Hinton et al. 2015). Not scaled by
    ``temperature^2``: lambda sets the scale. Zero iff the two policies agree.
    """
    teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    student = F.log_softmax(student_logits / temperature, dim=-1)
    return (teacher.exp() * (teacher - student)).sum(-1)
