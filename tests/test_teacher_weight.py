"""The teacher's weight λ_t (rl_auxgrad/teacher_weight.py): each schedule's equation, its
bounds, exact resume, and the learner logging what it decided."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rl_auxgrad import teacher_weight
from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.checkpoint import load_state, save_state
from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.teacher_weight import (
    Agreement,
    AgreementStop,
    Constant,
    Gradient,
    Linear,
    Score,
    Signals,
    Stop,
    agreement,
    lcb_weight,
    mean_bounds,
    play_return,
)

finite = st.floats(-1e3, 1e3, allow_nan=False)
signals = st.builds(Signals, step=st.integers(0, 10**6),
                    returns=st.lists(st.floats(0, 500), max_size=4).map(tuple),
                    agreement=st.floats(-1, 1))


def at(step: int = 0, returns: tuple[float, ...] = (), rho: float = 0.0) -> Signals:
    return Signals(step, returns, rho)


def test_docstring_examples_run():
    failures, attempted = doctest.testmod(teacher_weight, extraglobs={"torch": torch})
    assert failures == 0 and attempted > 0


def test_constant_and_linear():
    assert Constant(2.0).decide(at(500))[0] == 2.0
    linear = Linear(2.0, decay_steps=1000)
    assert [linear.decide(at(t))[0] for t in (0, 250, 1000, 5000)] == [2.0, 1.5, 0.0, 0.0]


def test_score_is_qdaggers_weight():
    """λ_t = λ max(0, 1 - G_student / G_teacher): λ before any episode, λ/2 at half the
    teacher's return, 0 at or above it; G_student over the last `window` episodes."""
    score = Score(3.0, lambda: 200.0, window=2)
    assert score.decide(at())[0] == 3.0
    assert score.decide(at(returns=(100.0,)))[0] == pytest.approx(1.5)
    assert score.decide(at(returns=(300.0, 500.0)))[0] == 0.0  # mean of the last 2: 400
    lam, stats = score.decide(at(returns=(50.0,)))  # last two: 500, 50
    assert lam == 0.0  # never negative
    assert stats == {"teacher/teacher_return": 200.0, "teacher/student_return": 275.0}


def test_score_measures_the_teacher_once_and_needs_a_positive_return():
    calls = []
    score = Score(1.0, lambda: calls.append(1) or 50.0, window=5)
    for _ in range(3):
        score.decide(at(returns=(10.0,)))
    assert calls == [1] and score.decide(at())[0] == pytest.approx(1 - 10 / 50)
    with pytest.raises(ValueError, match="G_teacher > 0"):
        Score(1.0, lambda: 0.0, window=5).decide(at())


@given(lam=st.floats(0, 100), teacher=st.floats(0.1, 1e3),
       returns=st.lists(st.floats(-1e3, 1e3), max_size=30))
def test_score_is_never_negative_nor_above_lambda_for_students_not_below_zero(lam, teacher,
                                                                               returns):
    score = Score(lam, lambda: teacher, window=20)
    got = score.decide(at(returns=tuple(returns)))[0]
    assert got >= 0.0
    if all(r >= 0 for r in returns):
        assert got <= lam + 1e-12


def test_lcb_weight_reference():
    values = [0.1, 0.2, 0.15, 0.12]
    bound = np.mean(values) - 2 * np.std(values, ddof=1) / 2
    weight, got = lcb_weight(values, scale=0.1)
    assert got == pytest.approx(bound) and weight == pytest.approx(bound / 0.1)
    assert lcb_weight([0.5], scale=0.1) == (0.0, None)  # one value: no evidence
    assert lcb_weight([0.3, 0.3], scale=0.1)[0] == 1.0  # clipped at 1
    assert lcb_weight([-0.3, -0.3], scale=0.1)[0] == 0.0  # clipped at 0


@given(values=st.lists(st.floats(-1, 1), min_size=2, max_size=16),
       scale=st.floats(1e-3, 1.0))
def test_lcb_weight_is_in_0_1_and_zero_without_positive_mean(values, scale):
    weight, bound = lcb_weight(values, scale)
    assert 0.0 <= weight <= 1.0 and bound <= np.mean(values) + 1e-12
    if np.mean(values) <= 0:
        assert weight == 0.0


def test_agreement_is_pearsons_correlation():
    adv = torch.tensor([1.0, 2.0, 3.0, 4.0])
    student = torch.tensor([-0.5, -0.7, -0.2, -0.9])
    assert float(agreement(adv, student + 2 * adv, student)) == pytest.approx(1.0)
    assert float(agreement(adv, student - adv, student)) == pytest.approx(-1.0)
    assert float(agreement(adv, student, student)) == 0.0  # constant preference
    assert float(agreement(torch.zeros(4), student, student * 2)) == 0.0  # constant advantage


@given(adv=st.lists(finite, min_size=3, max_size=20), data=st.data(),
       shift=finite, factor=st.floats(0.01, 100))
def test_agreement_matches_numpy_and_ignores_the_advantages_scale(adv, data, shift, factor):
    n = len(adv)
    teacher = data.draw(st.lists(st.floats(-10, 0), min_size=n, max_size=n))
    student = data.draw(st.lists(st.floats(-10, 0), min_size=n, max_size=n))
    a, t, s = (torch.tensor(v, dtype=torch.float64) for v in (adv, teacher, student))
    rho = float(agreement(a, t, s))
    assert -1.0 <= rho <= 1.0
    pref = (t - s).numpy()
    if np.std(adv) > 1e-6 * (1 + np.abs(adv).max()) and np.std(pref) > 1e-6:
        assert rho == pytest.approx(np.corrcoef(adv, pref)[0, 1], abs=1e-5)
        assert float(agreement(a * factor + shift, t, s)) == pytest.approx(rho, abs=1e-4)


def test_agreement_schedule_opens_on_the_lower_bound_of_this_and_recent_rollouts():
    schedule = Agreement(2.0, window=3, scale=0.1)
    lam, stats = schedule.decide(at(rho=0.3))
    assert lam == 0.0 and stats == {}  # one rollout: no bound yet
    for rho in (0.2, 0.25, 0.2):
        lam, stats = schedule.decide(at(rho=rho))
    window = [0.2, 0.25, 0.2]
    expected, bound = lcb_weight(window, 0.1)
    assert lam == pytest.approx(2.0 * expected) and stats["teacher/agreement_lcb"] == bound


def test_gradient_schedule_uses_the_previous_updates_cosines():
    schedule = Gradient(1.0, window=4, scale=0.05)
    assert schedule.decide(at())[0] == 0.0
    for cosine in (0.1, 0.12, 0.11):
        schedule.observe_update(cosine)
    lam, stats = schedule.decide(at())
    assert lam == pytest.approx(lcb_weight([0.1, 0.12, 0.11], 0.05)[0])
    assert "teacher/cosine_lcb" in stats
    with pytest.raises(ValueError, match="needs the gate's cosine"):
        schedule.observe_update(None)


def test_agreement_stop_reference():
    """λ while the upper bound of ρ's mean over the last 3 rollouts is ≥ 0; 0 from the first
    rollout where it is below 0, whatever ρ does afterwards."""
    schedule = AgreementStop(2.0, window=3)
    assert schedule.decide(at(10, rho=-0.5)) == (2.0, {})  # one rollout: no bound, trusted
    lam, stats = schedule.decide(at(20, rho=0.1))  # mean -0.2, upper bound 0.4
    assert lam == 2.0 and stats["teacher/agreement_ucb"] == pytest.approx(0.4)
    lam, stats = schedule.decide(at(30, rho=-0.1))  # [-0.5, 0.1, -0.1]: bound about +0.15
    assert lam == 2.0 and stats["teacher/agreement_ucb"] == pytest.approx(
        mean_bounds([-0.5, 0.1, -0.1])[1])
    lam, stats = schedule.decide(at(40, rho=-0.3))  # [0.1, -0.1, -0.3]: -0.1 + 0.2 = 0.1
    assert lam == 2.0
    lam, stats = schedule.decide(at(50, rho=-0.31))  # [-0.1, -0.3, -0.31]: below 0
    assert lam == 0.0 and stats["teacher/stopped_at"] == 50.0
    assert schedule.decide(at(60, rho=0.9)) == (0.0, {"teacher/stopped_at": 50.0})


@given(rhos=st.lists(st.floats(-1, 1), min_size=1, max_size=40), window=st.integers(2, 8))
def test_agreement_stop_is_lam_then_zero_and_stops_only_on_a_negative_upper_bound(rhos, window):
    schedule = AgreementStop(1.5, window=window)
    lams = [schedule.decide(at(i, rho=rho))[0] for i, rho in enumerate(rhos)]
    assert set(lams) <= {0.0, 1.5}
    stop = lams.index(0.0) if 0.0 in lams else len(lams)
    assert all(lam == 0.0 for lam in lams[stop:])  # final
    if stop < len(lams):
        upper = mean_bounds(rhos[max(0, stop + 1 - window):stop + 1])[1]
        assert upper < 0 and np.mean(rhos[max(0, stop + 1 - window):stop + 1]) < 0
    for i in range(1, stop):  # every earlier window's bound was ≥ 0
        assert mean_bounds(rhos[max(0, i + 1 - window):i + 1])[1] >= 0


def test_mean_bounds_reference():
    lower, upper = mean_bounds([1.0, 2.0, 3.0, 6.0])  # mean 3, sample std √(14/3)
    half = 2 * math.sqrt(14 / 3) / 2
    assert (lower, upper) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert mean_bounds([0.5]) is None


def make_schedules():
    return [Constant(1.5), Linear(1.5, 1000), Score(1.5, lambda: 100.0, window=3),
            Agreement(1.5, window=4, scale=0.05), AgreementStop(1.5, window=3),
            Stop(1.5, window=3, teacher_return=lambda: 100.0, score_window=3),
            Gradient(1.5, window=4, scale=0.05)]


@given(history=st.lists(st.tuples(signals, st.floats(-1, 1)), min_size=2, max_size=12),
       data=st.data())
def test_state_dict_round_trip_gives_identical_later_weights(history, data):
    """Restored from a JSON round trip of state_dict (as in a checkpoint), every schedule
    continues with exactly the λ_t of the original."""
    split = data.draw(st.integers(1, len(history) - 1))
    for original, restored in zip(make_schedules(), make_schedules(), strict=True):
        for signal, cosine in history[:split]:
            original.decide(signal)
            original.observe_update(cosine)
        restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
        for signal, cosine in history[split:]:
            assert original.decide(signal) == restored.decide(signal)
            original.observe_update(cosine)
            restored.observe_update(cosine)


def test_play_return_is_reproducible_and_scores_one_episode_per_env():
    def policy(obs, game_ids):
        return torch.zeros(obs.shape[0], 2)

    scores = []
    for _ in range(2):
        env = make_vector_env("CartPole-v1", 4, seed=0, life_loss_terminal=False)
        scores.append(play_return(policy, env, seed=3, device=torch.device("cpu")))
        env.close()
    assert scores[0] == scores[1] and 8 <= scores[0] <= 100  # a uniform policy on CartPole


# ---- the learner ---------------------------------------------------------------------------

BASE = ["env.id=CartPole-v1", "env.num_envs=2", "agent.num_steps=32", "total_steps=10000",
        "agent.update_epochs=2", "agent.num_minibatches=2"]


def teacher(obs: torch.Tensor, games: torch.Tensor) -> torch.Tensor:
    """Pushes the cart towards the pole's lean: a decent CartPole policy."""
    return torch.stack([-obs[:, 2], obs[:, 2]], -1) * 20


def updates(overrides: list[str], count: int) -> tuple[Learner, list[dict[str, float]]]:
    config = load_config(None, [*BASE, *overrides])
    torch.manual_seed(config.seed)
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"), teacher)
    obs, stats = env.reset(), []
    for _ in range(count):
        rollout, obs, _ = learner.collect(env, obs)
        stats.append(learner.learn(rollout))
    env.close()
    return learner, stats


@pytest.mark.parametrize(("schedule", "extra"), [
    ("constant", "teacher/agreement"), ("linear", "teacher/agreement"),
    ("score", "teacher/teacher_return"), ("agreement", "teacher/agreement_lcb"),
    ("agreement_stop", "teacher/agreement_ucb"), ("stop", "teacher/teacher_return"),
    ("gradient", "teacher/cosine_lcb")])
def test_learner_logs_lambda_and_agreement_for_every_schedule(schedule, extra):
    _, stats = updates([f"teacher.lam_schedule={schedule}", "teacher.lam_decay_steps=500",
                        "teacher.score_episodes=2", "gate.name=cosine"], 3)
    for s in stats:
        assert 0.0 <= s["lam"] <= 1.0 and -1.0 <= s["teacher/agreement"] <= 1.0
        assert all(math.isfinite(v) for v in s.values())
    assert extra in stats[-1]
    if schedule == "linear":
        assert [s["lam"] for s in stats] == pytest.approx([1 - 64 / 500, 1 - 128 / 500,
                                                          1 - 192 / 500])


def test_learner_state_holds_the_schedule_and_resumes_it_exactly(tmp_path):
    overrides = ["teacher.lam_schedule=agreement", "gate.name=multitask"]
    learner, _ = updates(overrides, 3)
    state = learner.state_dict()
    assert len(state["teacher_weight"]["values"]) == 3
    save_state(tmp_path / "state.safetensors", state)
    config = load_config(None, [*BASE, *overrides])
    resumed = Learner(config, learner.spec, torch.device("cpu"), teacher)
    resumed.load_state_dict(load_state(tmp_path / "state.safetensors"))
    signal = Signals(0, (), 0.2)
    assert learner.teacher_weight.decide(signal) == resumed.teacher_weight.decide(signal)


def test_cosine_shuffled_trains_and_applies_a_weight_it_has_seen():
    _, stats = updates(["gate.name=cosine_shuffled"], 2)
    assert all(0.0 <= s["gate/weight"] <= 1.0 and math.isfinite(s["gate/cosine"])
               for s in stats)


@pytest.mark.parametrize(("overrides", "message"), [
    (["teacher.lam_schedule=qdagger"], "teacher.lam_schedule='qdagger' is unknown"),
    (["teacher.lcb_window=-1"], "teacher.lcb_window must be >= 2"),
    (["teacher.lcb_scale=-0.1"], "teacher.lcb_scale must be > 0"),
    (["teacher.stop_window=1"], "teacher.stop_window must be >= 2"),
    (["teacher.score_window=0"], "teacher.score_window must be >= 1"),
    (["teacher.score_episodes=0"], "teacher.score_episodes must be >= 1"),
    (["teacher.lam_schedule=gradient", "gate.name=kl_only"], "needs the gate's cosine"),
    (["teacher.lam_schedule=score", "env.id=Breakout+MsPacman"], "in one game"),
])
def test_bad_schedule_settings_raise_one_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_stop_stops_once_the_student_reaches_the_teacher_or_the_bound_says_harm():
    caught_up = Stop(2.0, window=3, teacher_return=lambda: 100.0, score_window=2)
    assert caught_up.decide(at(10, returns=(20.0,), rho=0.2))[0] == 2.0  # full λ, not 1.6
    lam, stats = caught_up.decide(at(20, returns=(90.0, 120.0), rho=0.2))  # mean 105 >= 100
    assert lam == 0.0 and stats["teacher/stopped_at"] == 20.0
    assert caught_up.decide(at(30, returns=(10.0, 10.0), rho=0.5))[0] == 0.0  # final
    harmed = Stop(2.0, window=3, teacher_return=lambda: 100.0, score_window=2)
    lams = [harmed.decide(at(i, returns=(10.0,), rho=rho))[0]
            for i, rho in enumerate((-0.1, 0.1, -0.3, -0.31, -0.32, 0.9))]
    assert lams == [2.0] * 4 + [0.0] * 2  # [-0.3, -0.31, -0.32]: upper bound below 0


@pytest.mark.parametrize("teacher", [0.0, -15.0])
def test_stop_compares_scores_of_any_sign_where_score_needs_a_positive_teacher(teacher):
    """A teacher that scores 0 (a harmful one) or a game with negative scores (Pong): stop
    compares G_student >= G_teacher, score's ratio G_student / G_teacher has no meaning."""
    schedule = Stop(2.0, window=3, teacher_return=lambda: teacher, score_window=2)
    assert schedule.decide(at(10))[0] == 2.0  # no episode yet
    assert schedule.decide(at(20, returns=(teacher - 1.0,)))[0] == 2.0
    lam, stats = schedule.decide(at(30, returns=(teacher + 3.0,)))  # mean teacher + 1
    assert lam == 0.0 and stats["teacher/stopped_at"] == 30.0
    with pytest.raises(ValueError, match="needs the teacher's return G_teacher > 0"):
        Score(2.0, lambda: teacher, window=2).decide(at(10))


def test_after_the_stop_the_learner_trains_as_rl_alone_without_calling_the_teacher():
    """Once a stop schedule has finished, a rollout skips the teacher's forward pass and the
    update is RL alone's: the same weights as a learner without a teacher, from the same
    start."""
    calls = []

    def counting_teacher(obs: torch.Tensor, games: torch.Tensor) -> torch.Tensor:
        calls.append(obs.shape[0])
        return teacher(obs, games)

    learners = []
    for overrides, who in ((["teacher.lam_schedule=agreement_stop", "gate.name=multitask"],
                            counting_teacher), ([], None)):
        config = load_config(None, [*BASE, *overrides])
        torch.manual_seed(config.seed)
        env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
        learner = Learner(config, env.spec, torch.device("cpu"), who)
        if who is not None:
            learner.teacher_weight.stopped_at = 0  # as if it had stopped before this update
        obs, stats = env.reset(), []
        for _ in range(2):
            rollout, obs, _ = learner.collect(env, obs)
            stats.append(learner.learn(rollout))
        env.close()
        learners.append((learner, stats))
    (stopped, stopped_stats), (alone, _) = learners
    assert calls == [] and all(s["lam"] == 0.0 and "losses/teacher_kl" not in s
                               for s in stopped_stats)
    for a, b in zip(stopped.agent.parameters(), alone.agent.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_stop_without_a_teacher_return_stops_on_the_bound_alone():
    """A multi-game run has no one score to set against the teacher's card."""
    schedule = Stop(2.0, window=3, teacher_return=None, score_window=2)
    lams = [schedule.decide(at(i, returns=(1e6,), rho=rho))[0]
            for i, rho in enumerate((0.1, 0.2, -0.3, -0.31, -0.32))]
    assert lams == [2.0] * 4 + [0.0]
    restored = Stop(2.0, window=3, teacher_return=None, score_window=2)
    restored.load_state_dict(json.loads(json.dumps(schedule.state_dict())))
    assert restored.finished
