"""How much of the teacher to use now: the teacher's weight λ_t, decided once per update.

One pluggable piece (``teacher.lam_schedule``, see DESIGN.md) that composes with any gate: the
schedule gives λ_t before the update's minibatches, the gate then gates λ_t·g_aux on each
minibatch. The learner tells a schedule what it knows (:class:`Signals`) and, after the update,
the gate's mean cosine; each schedule returns λ_t and the statistics it logs under
``teacher/``, and keeps its state in ``state_dict()`` (JSON values) for an exact resume.

- ``constant``: λ_t = λ.
- ``linear`` (kickstarting, Schmitt et al. 2018): λ_t = λ · max(0, 1 − t / T).
- ``score`` (QDagger's distillation weight, Agarwal et al. 2022, as in CleanRL):
  λ_t = λ · max(0, 1 − G_student / G_teacher).
- ``agreement`` (ours, action space) and ``gradient`` (ours, parameter space): a per-rollout
  signal s, opened by the lower confidence bound of its recent mean (:func:`lcb_weight`);
  ``agreement_stop`` (ours): full λ until the upper confidence bound of ρ's recent mean falls
  below 0, then 0 for good (:class:`AgreementStop`); ``stop`` (ours): the same, stopping also
  once the student's score reaches the teacher's (:class:`Stop`).

In a multi-game run with ``teacher.per_game`` each game has a schedule of its own
(:class:`PerGame`): game k's λ_t,k comes from game k's episodes and ρ, and weights game k's KL.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rl_auxgrad.envs import VectorEnv


@dataclass(frozen=True)
class Signals:
    """What the learner knows when it decides λ_t, after collecting a rollout."""

    step: int
    """Agent steps so far, this rollout included."""
    returns: tuple[float, ...]
    """Real scores of the episodes that ended during this rollout."""
    agreement: float
    """ρ of this rollout (:func:`agreement`)."""


class TeacherWeight(ABC):
    """``decide(signals) -> (λ_t, stats)`` once per update; ``observe_update(cosine)`` after it."""

    def __init__(self, lam: float) -> None:
        self.lam = lam

    @abstractmethod
    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        """λ_t for the update about to run, and what to log under ``teacher/``."""

    def observe_update(self, cosine: float | None) -> None:
        """The update's mean per-minibatch gate cosine (None without a gate); only the
        ``gradient`` schedule uses it."""
        return None

    @property
    def finished(self) -> bool:
        """True once λ_t = 0 for the rest of the run: the learner then trains as RL alone,
        without the teacher's forward pass or the KL."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state, got keys {sorted(state)}")


class Constant(TeacherWeight):
    """λ_t = λ."""

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        return self.lam, {}


class Linear(TeacherWeight):
    """Kickstarting's decay: λ_t = λ · max(0, 1 − t / decay_steps), t the agent steps so far."""

    def __init__(self, lam: float, decay_steps: int) -> None:
        super().__init__(lam)
        self.decay_steps = decay_steps

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        return self.lam * max(0.0, 1.0 - signals.step / self.decay_steps), {}


class Returns:
    """G_teacher and G_student, as QDagger measures them: G_teacher from ``teacher_return()``,
    called once, at the first update (the card's score, or a measurement: :func:`play_return`),
    and kept in the state so that a resume does not measure again; G_student the mean real score
    of the last ``window`` episodes the student finished (None until one has)."""

    def __init__(self, teacher_return: Callable[[], float], window: int) -> None:
        self._measure = teacher_return
        self.teacher_return: float | None = None
        self.returns: deque[float] = deque(maxlen=window)

    def update(self, signals: Signals) -> tuple[float, float | None]:
        """(G_teacher, G_student) after this rollout's episodes."""
        if self.teacher_return is None:
            self.teacher_return = float(self._measure())
        self.returns.extend(signals.returns)
        return self.teacher_return, float(np.mean(self.returns)) if self.returns else None

    def state_dict(self) -> dict[str, Any]:
        return {"teacher_return": self.teacher_return, "returns": list(self.returns)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.teacher_return = state["teacher_return"]
        self.returns = deque(state["returns"], maxlen=self.returns.maxlen)


class Score(TeacherWeight):
    """QDagger's distillation weight: λ_t = λ · max(0, 1 − G_student / G_teacher), with
    :class:`Returns`' G_student and G_teacher (λ_t = λ until the student has finished an
    episode). The ratio needs G_teacher > 0.
    """

    def __init__(self, lam: float, teacher_return: Callable[[], float], window: int) -> None:
        super().__init__(lam)
        self.scores = Returns(teacher_return, window)

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        teacher, student = self.scores.update(signals)
        if not teacher > 0:
            raise ValueError(f"lam_schedule=score needs the teacher's return G_teacher > 0, "
                             f"got {teacher}: use another schedule (stop compares the scores "
                             f"without a ratio)")
        stats = {"teacher/teacher_return": teacher}
        if student is None:
            return self.lam, stats
        lam = self.lam * max(0.0, 1.0 - student / teacher)
        return lam, stats | {"teacher/student_return": student}

    def state_dict(self) -> dict[str, Any]:
        return self.scores.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scores.load_state_dict(state)


def mean_bounds(values: Sequence[float]) -> tuple[float, float] | None:
    """``(mean(s) − 2 · std(s) / √n, mean(s) + 2 · std(s) / √n)``: about the 95% confidence
    bounds of the mean of the ``n`` values, with the sample standard deviation (n − 1); None for
    fewer than two values (no standard error).

    >>> [round(b, 6) for b in mean_bounds([0.0, 0.2])]  # mean 0.1, standard error 0.1
    [-0.1, 0.3]
    """
    n = len(values)
    if n < 2:
        return None
    mean, half = float(np.mean(values)), float(2 * np.std(values, ddof=1) / math.sqrt(n))
    return mean - half, mean + half


def lcb_weight(values: Sequence[float], scale: float) -> tuple[float, float | None]:
    """``(clip(LCB / scale, 0, 1), LCB)`` with LCB the lower of :func:`mean_bounds`: a signal
    whose mean is within two standard errors of 0 reads as no evidence (weight 0), not as a
    small random weight. Fewer than two values: no bound, weight 0.

    >>> weight, bound = lcb_weight([0.0, 0.2], scale=0.05)  # mean 0.1, standard error 0.1
    >>> weight, round(bound, 6)
    (0.0, -0.1)
    >>> lcb_weight([0.2, 0.2, 0.2], scale=0.4)
    (0.5, 0.2)
    """
    bounds = mean_bounds(values)
    if bounds is None:
        return 0.0, None
    return min(1.0, max(0.0, bounds[0] / scale)), bounds[0]


class _LowerBound(TeacherWeight):
    """λ_t = λ · clip(LCB / scale, 0, 1) over the signal of the last ``window`` rollouts."""

    signal = ""

    def __init__(self, lam: float, window: int, scale: float) -> None:
        super().__init__(lam)
        self.scale = scale
        self.values: deque[float] = deque(maxlen=window)

    def _decide(self) -> tuple[float, dict[str, float]]:
        weight, bound = lcb_weight(self.values, self.scale)
        return self.lam * weight, {} if bound is None else {f"teacher/{self.signal}_lcb": bound}

    def state_dict(self) -> dict[str, Any]:
        return {"values": list(self.values)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = deque(state["values"], maxlen=self.values.maxlen)


class Agreement(_LowerBound):
    """Agreement in action space: λ_t = λ · clip(LCB(ρ) / scale, 0, 1), where ρ is each
    rollout's :func:`agreement` and the bound runs over the last ``window`` rollouts, this one
    included. No gradient is involved: ρ comes from the advantages and the teacher's logits the
    learner already has."""

    signal = "agreement"

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        self.values.append(signals.agreement)
        return self._decide()


class Gradient(_LowerBound):
    """Agreement in parameter space: λ_t = λ · clip(LCB(c) / scale, 0, 1), where c is an
    update's mean per-minibatch gate cosine cos(r, g_KL) (``gate/cosine``: r the gate's
    reference, the RL gradient or its EMA) and the bound runs over the last ``window`` updates
    before this one. The cosine is the one the gate computes anyway (the plain sum measures it
    on the first minibatch of each epoch): no extra backward pass."""

    signal = "cosine"

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        return self._decide()

    def observe_update(self, cosine: float | None) -> None:
        if cosine is None:
            raise ValueError("lam_schedule=gradient needs the gate's cosine: use a gate, not "
                             "kl_only")
        self.values.append(cosine)


class AgreementStop(TeacherWeight):
    """Trust until evidence of harm: λ_t = λ until the first rollout at which the upper
    confidence bound of ρ's mean over the last ``window`` rollouts (:func:`mean_bounds`, this
    one included) is below 0, and λ_t = 0 for the rest of the run.

    :class:`Agreement` needs evidence that the teacher helps before it opens, so it loses the
    first rollouts, where a good teacher helps most; this rule needs evidence that it hurts
    before it closes. A harmful teacher's ρ is negative from the first rollouts and closes it
    within a few; a good teacher's ρ turns negative once the student passes it (see
    docs/RESULTS.md), which is when distillation should stop. The stop is final: the signal
    is measured on a student the teacher pulls, and once λ_t = 0 it says little about whether
    to start again.
    """

    def __init__(self, lam: float, window: int) -> None:
        super().__init__(lam)
        self.values: deque[float] = deque(maxlen=window)
        self.stopped_at: int | None = None

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        if self.stopped_at is not None:
            return 0.0, {"teacher/stopped_at": float(self.stopped_at)}
        self.values.append(signals.agreement)
        bounds = mean_bounds(self.values)
        if bounds is None:
            return self.lam, {}
        if bounds[1] < 0:
            self.stopped_at = signals.step
            return 0.0, {"teacher/agreement_ucb": bounds[1],
                         "teacher/stopped_at": float(self.stopped_at)}
        return self.lam, {"teacher/agreement_ucb": bounds[1]}

    @property
    def finished(self) -> bool:
        return self.stopped_at is not None

    def state_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "stopped_at": self.stopped_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = deque(state["values"], maxlen=self.values.maxlen)
        self.stopped_at = state["stopped_at"]


class Stop(AgreementStop):
    """Stop when the student has caught up or the teacher is shown to hurt: λ_t = λ until the
    first rollout at which either G_student ≥ G_teacher (:class:`Returns`: the mean score of the
    student's last ``score_window`` episodes against the teacher's card score, or its measured
    one) or :class:`AgreementStop`'s upper bound of ρ is below 0; 0 from then on.

    QDagger's weight λ · max(0, 1 − G_student / G_teacher) already falls with the student's
    score; it gives up part of a good teacher's help early (half of it at half the teacher's
    score), while this rule keeps it whole until the student reaches the teacher. It compares
    the scores without a ratio, so any sign of score works (a teacher that scores 0, or a game
    with negative scores). The agreement bound covers the teacher whose score says nothing
    about its advice here (a teacher of another game, or one whose card is wrong). Without
    ``teacher_return`` (a multi-game run: no one score to set against the teacher's card) only
    the bound stops it.
    """

    def __init__(self, lam: float, window: int, teacher_return: Callable[[], float] | None,
                 score_window: int) -> None:
        super().__init__(lam, window)
        self.scores = None if teacher_return is None else Returns(teacher_return, score_window)

    def decide(self, signals: Signals) -> tuple[float, dict[str, float]]:
        if self.scores is None or self.finished:
            return super().decide(signals)
        teacher, student = self.scores.update(signals)
        stats = {"teacher/teacher_return": teacher}
        if student is not None:
            stats["teacher/student_return"] = student
            if student >= teacher:
                self.stopped_at = signals.step
                return 0.0, stats | {"teacher/stopped_at": float(self.stopped_at)}
        lam, bound_stats = super().decide(signals)
        return lam, stats | bound_stats

    def state_dict(self) -> dict[str, Any]:
        scores = None if self.scores is None else self.scores.state_dict()
        return super().state_dict() | {"score": scores}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if k != "score"})
        if self.scores is not None:
            self.scores.load_state_dict(state["score"])


class PerGame:
    """One schedule per game of a multi-game run (``teacher.per_game``): game k's schedule
    decides λ_t,k from game k's :class:`Signals` alone (the episodes of game k that ended this
    rollout, ρ over game k's envs), and the learner weights game k's KL by λ_t,k. Schedules,
    signals and weights are in the order of the games. It has finished once every game's
    schedule has; its state is each game's schedule's state, under the game's name.
    """

    def __init__(self, schedules: dict[str, TeacherWeight]) -> None:
        self.schedules = schedules

    def decide(self, signals: Sequence[Signals]) -> tuple[tuple[float, ...], dict[str, float]]:
        """(λ_t,1, ..., λ_t,K) for the update about to run, and what to log: each game's
        ``teacher/lam/<game>`` and its schedule's statistics with a ``/<game>`` suffix."""
        lams, stats = [], {}
        for (game, schedule), game_signals in zip(self.schedules.items(), signals, strict=True):
            lam, own = schedule.decide(game_signals)
            lams.append(lam)
            stats |= {f"{key}/{game}": value for key, value in own.items()}
            stats[f"teacher/lam/{game}"] = lam
        return tuple(lams), stats

    def observe_update(self, cosines: Sequence[float | None]) -> None:
        """Each game's mean gate cosine of the update (``gate/cosine/<game>``)."""
        for schedule, cosine in zip(self.schedules.values(), cosines, strict=True):
            schedule.observe_update(cosine)

    @property
    def finished(self) -> bool:
        return all(schedule.finished for schedule in self.schedules.values())

    def state_dict(self) -> dict[str, Any]:
        return {game: schedule.state_dict() for game, schedule in self.schedules.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.keys() != self.schedules.keys():
            raise ValueError(f"a per-game schedule's state has the games {sorted(state)}, this "
                             f"run {sorted(self.schedules)} (teacher.per_game must match)")
        for game, schedule in self.schedules.items():
            schedule.load_state_dict(state[game])


SCHEDULES = ("constant", "linear", "score", "agreement", "agreement_stop", "stop", "gradient")
"""``teacher.lam_schedule`` names (built by the learner from the config)."""


def agreement(advantages: Tensor, teacher_logprob: Tensor, student_logprob: Tensor) -> Tensor:
    """ρ = corr(Â(s, a), log π_T(a|s) − log π(a|s)) over a rollout's samples (Pearson), for the
    actions a taken: positive when the actions the teacher prefers more than the student does
    earn positive advantage. 0 when either side is constant. Flattened over all dimensions.
    log π_T is floored at log 1e-6, so that an action the teacher does not have (probability 0
    in a multi-game run) cannot dominate the correlation.

    >>> agreement(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 2.0]), torch.zeros(3))
    tensor(1.)
    """
    x = advantages.flatten().double()
    y = (teacher_logprob.clamp(min=math.log(1e-6)) - student_logprob).flatten().double()
    x, y = x - x.mean(), y - y.mean()
    den = torch.sqrt((x * x).sum() * (y * y).sum())
    rho = torch.where(den > 0, (x * y).sum() / torch.where(den > 0, den, 1.0), 0.0)
    return rho.clamp(-1.0, 1.0).float()


@torch.no_grad()
def play_return(policy: Callable[[Tensor, Tensor], Tensor], env: VectorEnv, seed: int,
                device: torch.device) -> float:
    """Mean real score of the first episode of each environment of ``env`` (made with
    ``life_loss_terminal=False``, so that ``done`` is a real end), actions sampled from
    ``policy(obs, game_ids)``'s logits with a generator seeded by ``seed``: how QDagger measures
    a teacher that has no recorded score."""
    generator = torch.Generator().manual_seed(seed)
    game_ids = torch.tensor(env.spec.game_ids, device=device)
    done = np.zeros(env.spec.num_envs, dtype=bool)
    scores: list[float] = []
    obs = env.reset(seed)
    while not done.all():
        logits = policy(torch.as_tensor(obs, device=device), game_ids).cpu()
        actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        step = env.step(actions.squeeze(-1).numpy())
        for i, episode in zip(np.flatnonzero(step.done), step.episodes, strict=True):
            if not done[i]:
                scores.append(episode.score)
                done[i] = True
        obs = step.obs
    return float(np.mean(scores))
