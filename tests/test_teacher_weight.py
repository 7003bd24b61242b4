"""The teacher's weight λ_t (rl_auxgrad/teacher_weight.py): each schedule's equation, its
bounds, exact resume, and the learner logging what it decided."""

from __future__ import annotations

import dataclasses
import doctest
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rl_auxgrad import teacher_weight
from rl_auxgrad.agents.learner import Learner, Rollout, rollout_signals
from rl_auxgrad.agents.losses import action_log_prob
from rl_auxgrad.checkpoint import load_state, save_state
from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.envs import Episode, make_vector_env
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
    agreement,
    lcb_weight,
    mean_bounds,
    play_return,
)
from rl_auxgrad.teachers import load_native

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


# ---- one schedule per game (teacher.per_game) -----------------------------------------------

def make_per_game() -> PerGame:
    """Breakout's teacher scores 100, Ms. Pac-Man has no score: the bound alone."""
    return PerGame({"Breakout": Stop(1.5, window=3, teacher_return=lambda: 100.0, score_window=3),
                    "MsPacman": Stop(1.5, window=3, teacher_return=None, score_window=3)})


def test_per_game_decides_each_games_lambda_from_that_games_signals_alone():
    per_game = make_per_game()
    lams, stats = per_game.decide([at(16, returns=(120.0,), rho=0.3), at(16, returns=(1e6,))])
    assert lams == (0.0, 1.5)  # Breakout's student passed its teacher; Ms. Pac-Man's score
    assert stats == {"teacher/teacher_return/Breakout": 100.0,  # is not compared with it
                     "teacher/student_return/Breakout": 120.0,
                     "teacher/stopped_at/Breakout": 16.0,
                     "teacher/lam/Breakout": 0.0, "teacher/lam/MsPacman": 1.5}
    assert not per_game.finished
    lams, stats = per_game.decide([at(32, rho=0.9), at(32, rho=-0.5)])
    assert lams == (0.0, 1.5) and stats["teacher/agreement_ucb/MsPacman"] > 0
    per_game.decide([at(48), at(48, rho=-0.51)])
    assert per_game.decide([at(64), at(64, rho=-0.52)])[0] == (0.0, 0.0)  # bound below 0
    assert per_game.finished


@given(history=st.lists(st.tuples(signals, signals), min_size=2, max_size=12), data=st.data())
def test_per_game_state_round_trip_gives_identical_later_weights(history, data):
    """Restored from a JSON round trip of state_dict, every game's schedule continues with
    exactly the λ_t,k of the original."""
    split = data.draw(st.integers(1, len(history) - 1))
    original, restored = make_per_game(), make_per_game()
    for pair in history[:split]:
        original.decide(pair)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    for pair in history[split:]:
        assert original.decide(pair) == restored.decide(pair)


def test_per_game_refuses_the_state_of_one_schedule():
    one = Stop(1.5, window=3, teacher_return=None, score_window=3)
    with pytest.raises(ValueError, match=r"teacher\.per_game must match"):
        make_per_game().load_state_dict(one.state_dict())


def test_rollout_signals_give_each_game_its_episodes_and_the_agreement_of_its_envs():
    generator = torch.Generator().manual_seed(0)
    steps, n, games = 6, 3, ("Breakout", "MsPacman")
    game_ids = torch.tensor([0, 1, 0])
    actions = torch.randint(0, 4, (steps, n), generator=generator)
    logprobs = -torch.rand(steps, n, generator=generator)
    logits = torch.randn(steps, n, 4, generator=generator)
    advantages = torch.randn(steps, n, generator=generator)
    episodes = (Episode("Breakout", 3.0, 10), Episode("MsPacman", 200.0, 50),
                Episode("Breakout", 5.0, 12))
    zeros = torch.zeros(steps, n)
    rollout = Rollout(zeros, actions, logprobs, zeros, zeros, zeros, game_ids, torch.zeros(n),
                      start_step=0, teacher_logits=logits, episodes=episodes)
    whole, (breakout, pacman) = rollout_signals(rollout, advantages, 18, games)
    teacher = action_log_prob(torch.log_softmax(logits, -1), actions)

    def rho(envs: list[int]) -> float:
        return float(agreement(advantages[:, envs], teacher[:, envs], logprobs[:, envs]))

    assert (whole.step, whole.returns) == (18, (3.0, 200.0, 5.0))
    assert whole.agreement == pytest.approx(rho([0, 1, 2]))
    assert (breakout.step, breakout.returns) == (18, (3.0, 5.0))
    assert breakout.agreement == pytest.approx(rho([0, 2]))
    assert (pacman.step, pacman.returns) == (18, (200.0,))
    assert pacman.agreement == pytest.approx(rho([1]))
    assert len({whole.agreement, breakout.agreement, pacman.agreement}) == 3
    one_game = rollout_signals(dataclasses.replace(rollout, game_ids=torch.zeros(n, dtype=int)),
                               advantages, 18, ("Breakout",))
    assert one_game[1] == [one_game[0]]


MULTI = ["env.id=Breakout+MsPacman", "env.num_envs=1", "env.threads=1", "agent.num_steps=8",
         "agent.num_minibatches=2", "agent.update_epochs=1", "total_steps=1000",
         "gate.name=multitask", "teacher.lam_schedule=stop", "teacher.per_game=true"]
"""Breakout + Ms. Pac-Man, one env each, the default schedule per game."""


@pytest.fixture
def multi_env():
    env = make_vector_env("Breakout+MsPacman", 1, seed=1, threads=1)
    yield env
    env.close()


def multi_game_learner(env, teacher_dir, overrides=(), card_score=None) -> Learner:
    """A learner of :data:`MULTI` distilling the teacher in ``teacher_dir``, whose card's
    ``score`` is replaced by ``card_score`` when given."""
    config = load_config(None, [*MULTI, *overrides])
    teacher = load_native(teacher_dir, env.spec, torch.device("cpu"))
    if card_score is not None:
        teacher.card = {**teacher.card, "score": card_score}
    torch.manual_seed(config.seed)
    return Learner(config, env.spec, torch.device("cpu"), teacher)


def test_per_game_stop_stops_the_game_whose_student_reached_the_teacher_only(multi_env,
                                                                              breakout_teacher):
    """The card scores Breakout 9: a Breakout student at 10 stops Breakout's λ; Ms. Pac-Man,
    which the card does not score, keeps full λ (its bound alone can stop it) and the teacher
    is still called for it. Each game's λ reaches that game's KL (gate/weight/<game>)."""
    learner = multi_game_learner(multi_env, breakout_teacher)
    schedules = learner.teacher_weight.schedules
    assert schedules["MsPacman"].scores is None
    schedules["Breakout"].scores.returns.append(10.0)  # as if the student had scored 10
    rollout, obs, _ = learner.collect(multi_env, multi_env.reset())
    stats = learner.learn(rollout)
    assert (stats["teacher/lam/Breakout"], stats["teacher/lam/MsPacman"]) == (0.0, 1.0)
    assert stats["lam"] == 0.5
    assert stats["teacher/stopped_at/Breakout"] == 16.0
    assert stats["teacher/teacher_return/Breakout"] == 9.0
    assert not {"teacher/stopped_at/MsPacman", "teacher/teacher_return/MsPacman"} & set(stats)
    assert stats["gate/weight/Breakout"] == 0.0  # the share of λ g_KL applied, 0 at λ = 0
    assert stats["gate/weight/MsPacman"] == pytest.approx(1.0)
    assert math.isfinite(stats["gate/cosine/Breakout"])  # still measured at λ = 0
    assert schedules["Breakout"].finished and not learner.teacher_weight.finished
    rollout, obs, _ = learner.collect(multi_env, obs)
    assert rollout.teacher_logits is not None  # Ms. Pac-Man still uses the teacher
    assert learner.learn(rollout)["teacher/lam/Breakout"] == 0.0


def test_once_every_games_schedule_has_stopped_the_teacher_is_not_called(multi_env,
                                                                         breakout_teacher):
    """RL alone from there: the same weights as a learner without a teacher."""
    learner = multi_game_learner(multi_env, breakout_teacher)
    calls, teacher = [], learner.teacher

    def counting_teacher(obs: torch.Tensor, games: torch.Tensor) -> torch.Tensor:
        calls.append(obs.shape[0])
        return teacher(obs, games)

    learner.teacher = counting_teacher
    for schedule in learner.teacher_weight.schedules.values():
        schedule.stopped_at = 0  # as if both had stopped before this update
    torch.manual_seed(learner.config.seed)
    alone = Learner(learner.config, multi_env.spec, torch.device("cpu"))
    for who in (learner, alone):
        obs, stats = multi_env.reset(1), []
        for _ in range(2):
            rollout, obs, _ = who.collect(multi_env, obs)
            stats.append(who.learn(rollout))
        if who is learner:
            assert calls == [] and all(s["lam"] == 0.0 and "losses/teacher_kl" not in s
                                       for s in stats)
    for a, b in zip(learner.agent.parameters(), alone.agent.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_per_game_state_resumes_exactly_through_a_checkpoint(multi_env, breakout_teacher,
                                                             tmp_path):
    learner = multi_game_learner(multi_env, breakout_teacher)
    learner.teacher_weight.schedules["Breakout"].scores.returns.append(4.0)
    rollout, _, _ = learner.collect(multi_env, multi_env.reset())
    learner.learn(rollout)
    save_state(tmp_path / "state.safetensors", learner.state_dict())
    resumed = multi_game_learner(multi_env, breakout_teacher)
    resumed.load_state_dict(load_state(tmp_path / "state.safetensors"))
    assert resumed.teacher_weight.state_dict() == learner.teacher_weight.state_dict()
    assert len(resumed.teacher_weight.state_dict()["MsPacman"]["values"]) == 1
    later = [at(32, returns=(8.0,), rho=-0.2), at(32, returns=(300.0,), rho=-0.3)]
    assert resumed.teacher_weight.decide(later) == learner.teacher_weight.decide(later)


def test_per_game_score_takes_each_games_card_score_and_refuses_a_game_without(
        multi_env, breakout_teacher):
    with pytest.raises(ConfigError, match=r"no score\.per_game for MsPacman: use stop"):
        multi_game_learner(multi_env, breakout_teacher, ["teacher.lam_schedule=score"])
    learner = multi_game_learner(multi_env, breakout_teacher, ["teacher.lam_schedule=score"],
                                 {"mean": 104.5, "per_game": {"Breakout": 9.0,
                                                              "MsPacman": 200.0}})
    lams, stats = learner.teacher_weight.decide([at(16, returns=(4.5,)), at(16)])
    assert lams == (0.5, 1.0) and stats["teacher/teacher_return/MsPacman"] == 200.0


def test_per_game_stop_reads_a_one_game_teachers_mean_as_its_games_score(multi_env,
                                                                          breakout_teacher):
    """The harmful Breakout teacher's card has score.mean 0 and no score.per_game."""
    learner = multi_game_learner(multi_env, breakout_teacher, card_score={"mean": 0.0})
    lams, stats = learner.teacher_weight.decide([at(16, returns=(1.0,)), at(16)])
    assert lams == (0.0, 1.0) and stats["teacher/teacher_return/Breakout"] == 0.0
    assert learner.teacher_weight.schedules["MsPacman"].scores is None


def test_per_game_is_the_one_schedule_in_a_one_game_run():
    config = load_config(None, [*BASE, "teacher.lam_schedule=stop", "teacher.per_game=true"])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"), teacher)
    env.close()
    assert isinstance(learner.teacher_weight, Stop)


def test_score_in_a_multi_game_run_needs_per_game():
    with pytest.raises(ConfigError, match=r"add teacher\.per_game=true"):
        load_config(None, ["teacher.lam_schedule=score", "env.id=Breakout+MsPacman"])
    config = load_config(None, ["teacher.lam_schedule=score", "env.id=Breakout+MsPacman",
                                "teacher.per_game=true"])
    assert config.teacher.per_game
