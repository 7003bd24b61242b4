"""The actor-critic learner: rollouts, GAE, PPO / A2C minibatch epochs, and the teacher's KL
gated against the RL loss on the parameters they share.

One update, top to bottom (CleanRL's order): ``collect`` steps the vector env ``num_steps``
times; the teacher's logits are computed once for the whole rollout; ``learn`` computes GAE,
the teacher's weight λ_t for this update (:mod:`rl_auxgrad.teacher_weight`) and then, per
minibatch, the RL loss (main) and KL(teacher || student) (auxiliary) and calls
:func:`rl_auxgrad.gating.gated_backward` with λ_t (in a multi-game run, one (RL, KL) pair per
game; with ``teacher.per_game`` each game's KL has its own λ_t,k).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor, nn

from rl_auxgrad.agents.build import build_agent, channels_last, torso_name
from rl_auxgrad.agents.device import ObsToDevice
from rl_auxgrad.agents.losses import (
    PolicyTerms,
    a2c_terms,
    action_log_prob,
    compute_gae,
    ppo_terms,
    teacher_kl,
)
from rl_auxgrad.agents.networks import AgentOutput
from rl_auxgrad.config import ConfigError, TrainConfig, build_gate
from rl_auxgrad.envs import EnvSpec, Episode, VectorEnv
from rl_auxgrad.gating import (
    Attittud,
    GateStats,
    MainJacobian,
    MultiTask,
    gated_backward,
    per_example_jacobian,
)
from rl_auxgrad.teacher_weight import (
    Agreement,
    AgreementStop,
    Constant,
    Gradient,
    Linear,
    PerGame,
    Score,
    Signals,
    Stop,
    TeacherWeight,
    agreement,
    play_return,
)
from rl_auxgrad.teachers.native import card_score

Teacher = Callable[[Tensor, Tensor], Tensor]
"""``teacher(obs, game_ids) -> logits`` over the student's actions, computed without grad."""


def build_teacher_weight(config: TrainConfig, teacher: Teacher, device: torch.device,
                         games: Sequence[str]) -> TeacherWeight | PerGame:
    """The ``teacher.lam_schedule`` of ``config`` for a run of ``games``: one schedule, whose
    ``score`` and ``stop`` compare the student with :func:`_teacher_return` (a multi-game run
    has no one score: ``stop`` then uses its bound alone); or, with ``teacher.per_game`` and
    several games, one per game (:class:`PerGame`), whose ``score`` and ``stop`` compare the
    game's student with the card's score in that game
    (:func:`~rl_auxgrad.teachers.native.card_score`)."""
    if not config.teacher.per_game or len(games) == 1:
        return _schedule(config, _teacher_return(config, teacher, device)
                         if len(games) == 1 else None)
    scores = card_score(getattr(teacher, "card", {})).per_game
    unscored = [game for game in games if game not in scores]
    if config.teacher.lam_schedule == "score" and unscored:
        raise ConfigError(f"teacher.lam_schedule=score with teacher.per_game=true needs the "
                          f"teacher's score in every game; its card has no score.per_game for "
                          f"{', '.join(unscored)}: use stop, which stops such a game on the "
                          f"agreement bound alone, or a teacher card that scores every game")
    return PerGame({game: _schedule(config, _known(scores[game]) if game in scores else None)
                    for game in games})


def _schedule(config: TrainConfig, teacher_return: Callable[[], float] | None) -> TeacherWeight:
    """One ``teacher.lam_schedule``; ``teacher_return`` gives ``score`` and ``stop`` G_teacher
    (None: there is none, and ``stop`` uses its bound alone; :func:`rl_auxgrad.config.validate` and
    :func:`build_teacher_weight` refuse ``score`` without one)."""
    t = config.teacher
    if t.lam_schedule == "linear":
        return Linear(t.lam, t.lam_decay_steps)
    if t.lam_schedule == "agreement":
        return Agreement(t.lam, t.lcb_window, t.lcb_scale)
    if t.lam_schedule == "agreement_stop":
        return AgreementStop(t.lam, t.stop_window)
    if t.lam_schedule == "gradient":
        return Gradient(t.lam, t.lcb_window, t.lcb_scale)
    if t.lam_schedule == "score":
        assert teacher_return is not None  # refused before: see the docstring
        return Score(t.lam, teacher_return, t.score_window)
    if t.lam_schedule == "stop":
        return Stop(t.lam, t.stop_window, teacher_return, t.score_window)
    return Constant(t.lam)


def _teacher_return(config: TrainConfig, teacher: Teacher, device: torch.device
                    ) -> Callable[[], float]:
    """G_teacher, called once at the first update: the mean score on the teacher's card, or its
    mean over ``score_episodes`` episodes of a fresh copy of the training env."""
    mean = card_score(getattr(teacher, "card", {})).mean
    if mean is not None:
        return _known(mean)

    def measure() -> float:
        env = config.env.make(config.seed, num_envs=config.teacher.score_episodes,
                              life_loss_terminal=False)
        try:
            return play_return(teacher, env, config.seed, device)
        finally:
            env.close()

    return measure


def _known(value: float) -> Callable[[], float]:
    """A G_teacher that needs no measurement."""
    return lambda: value


@dataclass
class Rollout:
    """One rollout, ``(T, N, ...)`` tensors on the learner's device."""

    obs: Tensor
    actions: Tensor
    logprobs: Tensor
    values: Tensor
    rewards: Tensor
    dones: Tensor
    game_ids: Tensor  # (N,)
    next_value: Tensor  # (N,)
    start_step: int
    """The learner's global step before this rollout (agent steps summed over envs)."""
    teacher_logits: Tensor | None = None
    episodes: tuple[Episode, ...] = ()
    """The real episodes that ended during the rollout."""


def rollout_signals(rollout: Rollout, advantages: Tensor, step: int, games: Sequence[str]
                    ) -> tuple[Signals, list[Signals]]:
    """What a schedule knows after ``rollout`` (:class:`Signals`, at agent step ``step``): of
    the whole rollout (every episode that ended, ρ over every sample), and of each game g of
    ``games`` (the episodes of game g, ρ over the envs with ``rollout.game_ids == g``; in a
    one-game run, the whole rollout's). ``advantages``: the rollout's GAE, ``(T, N)``."""
    if rollout.teacher_logits is None:
        raise ValueError("the rollout has no teacher logits: the agreement ρ needs them")
    teacher_logprob = action_log_prob(torch.log_softmax(rollout.teacher_logits, -1),
                                      rollout.actions)
    whole = Signals(step, tuple(e.score for e in rollout.episodes),
                    float(agreement(advantages, teacher_logprob, rollout.logprobs)))
    if len(games) == 1:
        return whole, [whole]
    per_game = []
    for g, game in enumerate(games):
        envs = rollout.game_ids == g
        rho = agreement(advantages[:, envs], teacher_logprob[:, envs], rollout.logprobs[:, envs])
        per_game.append(Signals(step, tuple(e.score for e in rollout.episodes if e.game == game),
                                float(rho)))
    return whole, per_game


@dataclass(frozen=True)
class Batch:
    """Samples of a rollout, one row each: the whole rollout flattened, or a minibatch of it."""

    obs: Tensor
    games: Tensor
    actions: Tensor
    logprobs: Tensor
    """``log pi_old(a|s)`` of the policy that acted."""
    values: Tensor
    """``V_old(s)`` of the policy that acted."""
    advantages: Tensor
    """GAE, before any normalisation."""
    returns: Tensor
    teacher: Tensor | None = None
    """The teacher's logits; None without a teacher."""

    def take_rows(self, index: Tensor) -> Batch:
        """The samples at ``index`` (1-D, on the batch's device), field by field with
        :func:`take_rows`."""
        rows = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{name: None if value is None else take_rows(value, index)
                        for name, value in rows.items()})


class Learner:
    """PPO / A2C on a vector env, with an optional teacher gated on the shared parameters."""

    def __init__(self, config: TrainConfig, spec: EnvSpec, device: torch.device,
                 teacher: Teacher | None = None) -> None:
        self.config, self.spec, self.device, self.teacher = config, spec, device, teacher
        self.torso_name = torso_name(config.agent, spec)
        self.channels_last = channels_last(self.torso_name)
        self.agent = build_agent(config, spec, device)
        a = config.agent
        self.clip_coef = a.clip_coef
        """PPO's clip range for this update (agent.clip_coef, decayed with agent.anneal_clip)."""
        if a.optimizer == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                self.agent.parameters(), lr=a.learning_rate, eps=1e-5, foreach=True)
        else:
            self.optimizer = torch.optim.RMSprop(self.agent.parameters(), lr=a.learning_rate,
                                                 alpha=0.99, eps=1e-5, foreach=True)
        self.gate = build_gate(config.gate, config.seed) if teacher is not None else None
        self.teacher_weight = (build_teacher_weight(config, teacher, device, spec.games)
                               if teacher is not None else None)
        self.scope = (list(self.agent.torso.parameters()) if config.gate.scope == "torso"
                      else None)
        self.to_device = ObsToDevice(device, channels_last=self.channels_last)
        self.game_ids = torch.tensor(spec.game_ids, device=device)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.global_step = 0

    # ----------------------------------------------------------------------------- rollout
    @torch.no_grad()
    def collect(self, env: VectorEnv, obs: np.ndarray) -> tuple[Rollout, np.ndarray,
                                                                list[Episode]]:
        """Steps ``env`` for ``num_steps``; returns the rollout, the next obs, and the real
        episodes that ended."""
        steps, n = self.config.agent.num_steps, self.spec.num_envs
        start_step = self.global_step
        observations, actions, logprobs, values, rewards, dones = [], [], [], [], [], []
        episodes: list[Episode] = []
        for _ in range(steps):
            obs_t = self.to_device(obs)
            out = self.agent(obs_t, self.game_ids)
            action = _sample(out.logits, self.generator)
            step = env.step(action.cpu().numpy())
            observations.append(obs_t)
            actions.append(action)
            logprobs.append(action_log_prob(torch.log_softmax(out.logits, -1), action))
            values.append(out.value)
            rewards.append(torch.as_tensor(step.reward, device=self.device))
            dones.append(torch.as_tensor(step.done, device=self.device))
            episodes += step.episodes
            obs = step.obs
            self.global_step += n
        next_value = self.agent(self.to_device(obs), self.game_ids).value
        rollout = Rollout(torch.stack(observations), torch.stack(actions),
                          torch.stack(logprobs), torch.stack(values), torch.stack(rewards),
                          torch.stack(dones), self.game_ids, next_value, start_step,
                          episodes=tuple(episodes))
        if self.teacher is not None and not self._teacher_finished():
            flat = rollout.obs.flatten(0, 1)
            rollout.teacher_logits = self.teacher(flat, self.game_ids.repeat(steps)).view(
                steps, n, -1)
        return rollout, obs, episodes

    # ------------------------------------------------------------------------------ update
    def learn(self, rollout: Rollout) -> dict[str, float]:
        """GAE, then ``update_epochs`` passes of minibatch updates. Returns mean statistics.

        With agent.anneal_lr the learning rate is ``lr (1 - s / total_steps)`` for the rollout
        that started at step ``s`` (CleanRL's ``1 - (i - 1) / num_iterations`` for update i):
        the first update runs at ``lr``, the last of U at ``lr / U``; agent.anneal_clip decays
        the clip range by the same factor."""
        a = self.config.agent
        frac = max(0.0, 1.0 - rollout.start_step / self.config.total_steps)
        if a.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = frac * a.learning_rate
        self.clip_coef = frac * a.clip_coef if a.anneal_clip else a.clip_coef
        rewards = rollout.rewards.sign() if a.clip_rewards else rollout.rewards
        advantages, returns = compute_gae(rewards.float(), rollout.values, rollout.dones,
                                          rollout.next_value, a.gamma, a.gae_lambda)
        obs = rollout.obs.flatten(0, 1)
        flat = Batch(
            obs=obs.contiguous(memory_format=torch.channels_last) if obs.dim() == 4 else obs,
            games=rollout.game_ids.repeat(rollout.obs.shape[0]),
            actions=rollout.actions.flatten(0, 1), logprobs=rollout.logprobs.flatten(0, 1),
            values=rollout.values.flatten(0, 1), advantages=advantages.flatten(0, 1),
            returns=returns.flatten(0, 1),
            teacher=(None if rollout.teacher_logits is None
                     else rollout.teacher_logits.flatten(0, 1)))
        batch = flat.obs.shape[0]
        size = batch // a.num_minibatches
        stats: list[dict[str, Tensor]] = []
        lams, teacher_stats = self._decide_lam(rollout, advantages)
        for _ in range(a.update_epochs):
            order = torch.randperm(batch, generator=self.generator).to(self.device)
            for i, index in enumerate(order.split(size)):
                stats.append(self._minibatch(flat.take_rows(index), lams,
                                             measure=self._measures(i)))
        keys = list(dict.fromkeys(key for s in stats for key in s))  # gate stats: measured only
        means = dict(zip(keys, torch.stack([torch.stack([s[k] for s in stats if k in s]).mean()
                                            for k in keys]).tolist(), strict=True))
        if isinstance(self.teacher_weight, PerGame):
            self.teacher_weight.observe_update([means.get(f"gate/cosine/{game}")
                                                for game in self.spec.games])
        elif self.teacher_weight is not None:
            self.teacher_weight.observe_update(means.get("gate/cosine"))
        return means | teacher_stats | {"lr": self.optimizer.param_groups[0]["lr"],
                                        "clip_range": self.clip_coef}

    def _decide_lam(self, rollout: Rollout, advantages: Tensor
                    ) -> tuple[tuple[float, ...], dict[str, float]]:
        """λ_t of each game's KL for this update, from the teacher-weight schedule (one λ_t for
        all games, or with ``teacher.per_game`` one per game), and what to log: ``lam``
        (teacher/lam, the mean over games), ``teacher/agreement`` (this rollout's ρ, whatever
        the schedule; in a multi-game run also each game's, ``teacher/agreement/<game>``, over
        that game's envs) and the schedule's own statistics. Without a teacher: the
        configured λ, unused."""
        games = len(self.spec.games)
        if self.teacher_weight is None:
            return (self.config.teacher.lam,) * games, {}
        if rollout.teacher_logits is None:  # every schedule has finished: RL alone from here
            return (0.0,) * games, {"lam": 0.0}
        whole, per_game = rollout_signals(rollout, advantages, self.global_step,
                                          self.spec.games)
        if isinstance(self.teacher_weight, PerGame):
            lams, stats = self.teacher_weight.decide(per_game)
        else:
            lam, stats = self.teacher_weight.decide(whole)
            lams = (lam,) * games
        if games > 1:
            stats |= {f"teacher/agreement/{game}": signals.agreement
                      for game, signals in zip(self.spec.games, per_game, strict=True)}
        return lams, stats | {"lam": sum(lams) / games, "teacher/agreement": whole.agreement}

    def _teacher_finished(self) -> bool:
        """Whether the teacher-weight schedule has set λ_t = 0 for good (``stop``,
        ``agreement_stop``; with ``teacher.per_game``, every game's schedule): the rollout then
        skips the teacher's forward pass and the update is RL alone's."""
        return self.teacher_weight is not None and self.teacher_weight.finished

    @staticmethod
    def _measures(minibatch: int) -> bool:
        """Whether a gate that needs no separate gradients (the plain sum) still measures its
        statistics on this minibatch of an epoch: the first one."""
        return minibatch == 0

    def _minibatch(self, mb: Batch, lams: Sequence[float], measure: bool = True
                   ) -> dict[str, Tensor]:
        """One optimizer step on ``mb``; ``lams`` weight the games' KLs, one per game."""
        a = self.config.agent
        out = self.agent(mb.obs, mb.games)
        advantages = mb.advantages
        if a.norm_adv and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy, value, terms = self._rl_loss(out, mb.actions, mb.logprobs, advantages,
                                             mb.values, mb.returns)
        self.optimizer.zero_grad(set_to_none=True)
        stats = {"losses/policy": terms.policy.mean().detach(),
                 "losses/value": terms.value.mean().detach(),
                 "losses/entropy": terms.entropy.mean().detach(),
                 "losses/approx_kl": terms.approx_kl.mean(),
                 "losses/clipfrac": terms.clipfrac.mean()}
        if mb.teacher is None:
            (policy.mean() + value.mean()).backward()
        else:
            kl = teacher_kl(out.distill_logits, mb.teacher, self.config.teacher.temperature)
            stats |= self._teacher_backward(policy, value, kl, mb, advantages, lams, measure)
        nn.utils.clip_grad_norm_(self.agent.parameters(), a.max_grad_norm)
        self.optimizer.step()
        return stats

    def _rl_loss(self, out: AgentOutput, actions: Tensor, logprobs: Tensor, advantages: Tensor,
                 values: Tensor, returns: Tensor) -> tuple[Tensor, Tensor, PolicyTerms]:
        """The RL (main) loss per sample in its two parts, ``policy = L_pi - c_ent H`` and
        ``value = c_v L_V``, and the terms they are made of. ``L_pi`` and ``L_V`` are PPO's
        clipped surrogate and value loss against the acting policy's ``logprobs`` and
        ``values``, or A2C's; ``c_ent`` is agent.ent_coef and ``c_v`` agent.vf_coef."""
        a = self.config.agent
        if a.algo == "ppo":
            terms = ppo_terms(out.logits, actions, logprobs, advantages, out.value, values,
                              returns, self.clip_coef, a.clip_vloss)
        else:
            terms = a2c_terms(out.logits, actions, advantages, out.value, returns)
        return terms.policy - a.ent_coef * terms.entropy, a.vf_coef * terms.value, terms

    def _teacher_backward(self, policy: Tensor, value: Tensor, kl: Tensor, mb: Batch,
                          advantages: Tensor, lams: Sequence[float], measure: bool = True
                          ) -> dict[str, Tensor]:
        """Backpropagates RL + KL through the gate: one (RL loss, KL) pair per game k, each
        game's losses averaged over its samples and weighted 1/games, so that with one game (or
        balanced games) the pairs add up to the batch means; game k's KL has weight
        ``lams[k]`` (:func:`rl_auxgrad.gating.gated_backward`: g = sum_k u_k, u_k the gate's
        update of (g_RL,k, g_KL,k) at λ_k). The plain sum (multitask) needs no separate
        gradients: unless ``measure``, its update is one backward pass of
        sum_k (RL_k + lams[k] KL_k), the same gradient as the gated path without its
        statistics. kl_only: the value loss plus each sample's KL weighted by its game's λ."""
        stats = {"losses/teacher_kl": kl.mean().detach()}
        if self.gate is None:  # kl_only: pure distillation, the value head still learns
            (value.mean() + (kl.new_tensor(lams)[mb.games] * kl).mean()).backward()
            return stats
        games_count = len(self.spec.games)
        masks = [mb.games == g for g in range(games_count)]
        auxes = [kl[m].mean() / games_count for m in masks]
        policies = [policy[m].mean() / games_count for m in masks]
        values = [value[m].mean() / games_count for m in masks]
        if isinstance(self.gate, MultiTask) and not measure:
            (sum(policies) + sum(values)
             + sum(lam * aux for lam, aux in zip(lams, auxes, strict=True))).backward()
            return stats
        if self.config.gate.reference == "full":  # the papers' literal L_main
            mains, ungated = [p + v for p, v in zip(policies, values, strict=True)], None
        else:  # compare with the policy part only; the value gradient is added ungated
            mains, ungated = policies, values
        jacobians = ([self._main_jacobian(mb, advantages, m) for m in masks]
                     if isinstance(self.gate, Attittud) else None)
        gate_stats: GateStats = gated_backward(mains, auxes, self.agent.parameters(), self.gate,
                                               lams, scope=self.scope,
                                               main_jacobian=jacobians, ungated=ungated)
        stats["gate/cosine"] = gate_stats.cosine.mean()
        stats["gate/cosine_full"] = gate_stats.total_cosine.mean()
        stats["gate/weight"] = gate_stats.weight.mean()
        stats["gate/main_norm"] = gate_stats.main_norm.mean()
        stats["gate/aux_norm"] = gate_stats.aux_norm.mean()
        stats["gate/applied_norm"] = gate_stats.applied_norm.mean()
        if games_count > 1:
            for g, game in enumerate(self.spec.games):
                stats[f"losses/teacher_kl/{game}"] = auxes[g].detach() * games_count
                stats[f"gate/cosine/{game}"] = gate_stats.cosine[g]
                stats[f"gate/weight/{game}"] = gate_stats.weight[g]
        return stats

    def _main_jacobian(self, mb: Batch, advantages: Tensor, rows: Tensor) -> MainJacobian:
        """Per-example gradients of the main loss (as the gate reference defines it) for
        ATTITTUD, over the minibatch samples in ``rows`` (a mask), with the minibatch's
        (normalised) ``advantages``."""
        full = self.config.gate.reference == "full"

        def example_loss(model: Callable[..., AgentOutput], obs: Tensor, games: Tensor,
                         actions: Tensor, logprobs: Tensor, advantages: Tensor, values: Tensor,
                         returns: Tensor) -> Tensor:
            policy, value, _ = self._rl_loss(model(obs, games), actions, logprobs, advantages,
                                             values, returns)
            return (policy + value if full else policy).mean()

        return per_example_jacobian(self.agent, example_loss, mb.obs[rows], mb.games[rows],
                                    mb.actions[rows], mb.logprobs[rows], advantages[rows],
                                    mb.values[rows], mb.returns[rows])

    # ----------------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        """Everything an exact resume needs: weights, optimizer, gate and teacher-weight
        state, RNG, step."""
        return {"agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
                "gate": {} if self.gate is None else self.gate.state_dict(),
                "teacher_weight": ({} if self.teacher_weight is None
                                   else self.teacher_weight.state_dict()),
                "generator": self.generator.get_state(), "global_step": self.global_step}

    def load_state_dict(self, state: dict) -> None:
        self.agent.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.gate is not None:
            self.gate.load_state_dict(state["gate"])
        if self.teacher_weight is not None:
            self.teacher_weight.load_state_dict(state.get("teacher_weight", {}))  # older runs
        self.generator.set_state(state["generator"])
        self.global_step = state["global_step"]


def _sample(logits: Tensor, generator: torch.Generator) -> Tensor:
    """Samples actions from categorical ``logits`` with the learner's own generator (Gumbel-max,
    so the draw is reproducible and independent of other users of the global RNG)."""
    uniform = torch.rand(logits.shape, generator=generator).to(logits.device)
    return (logits - torch.log(-torch.log(uniform.clamp_min(1e-20)))).argmax(-1)



def take_rows(tensor: Tensor, index: Tensor) -> Tensor:
    """``tensor[index]`` along dim 0, as one row copy per sample: 15x faster on CPU than
    advanced indexing for a minibatch of channels-last uint8 frames, and the result stays
    channels-last (what the convolutions want)."""
    if tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last):
        n, c, h, w = tensor.shape
        rows = tensor.permute(0, 2, 3, 1).reshape(n, -1)  # a view: NHWC is the storage order
        return rows.index_select(0, index).view(-1, h, w, c).permute(0, 3, 1, 2)
    return tensor.index_select(0, index)
