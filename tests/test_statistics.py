"""``aggregate.compare``: A against B by the bootstrap CI of the difference of their IQMs and a
stated margin, with rliable's probability of improvement and the per-seed failures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import trim_mean

from scripts.experiments import aggregate

REPS = 200
scores = st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=10).map(np.array)
slow = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_reference_difference_means_probability_and_margin():
    a, b = np.array([1.0, 2, 3, 4, 5, 6, 7, 8]), np.array([0.0, 1, 2, 3])
    c = aggregate.compare(a, b, share=0.1, reps=REPS)
    assert c.difference.point == pytest.approx(4.5 - 1.5)  # IQMs: mean of 3..6, of 1..2
    assert c.mean_difference.point == pytest.approx(4.5 - 1.5)
    # pairs (a_i, b_j) with a_i > b_j, ties 1/2: 8 x 4 pairs, b = 0..3 against a = 1..8
    wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    assert c.probability == pytest.approx(wins / 32)
    assert c.margin == pytest.approx(0.1 * 1.5)
    assert c.difference.low <= c.difference.point <= c.difference.high
    assert aggregate.compare(a, b, 0.1, reps=REPS).difference == c.difference  # reproducible


def test_several_tasks_are_stratified_and_pooled_as_rliable_does():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + np.array([0, 10, 100])
    c = aggregate.compare(a, b, 0.0, reps=REPS)
    assert c.difference.point == pytest.approx(trim_mean(a, 0.25, axis=None)
                                               - trim_mean(b, 0.25, axis=None))
    with pytest.raises(ValueError, match="same tasks"):
        aggregate.compare(a, b[:, :2], 0.0)


@pytest.mark.parametrize(("a", "b", "share", "message"), [
    (np.array([]), np.array([1.0]), 0.0, "a must be"),
    (np.array([1.0]), np.array([np.inf]), 0.0, "b must be"),
    (np.ones((2, 2, 2)), np.array([1.0]), 0.0, "a must be"),
    (np.array([1.0]), np.array([1.0]), -0.1, "share must be >= 0, got -0.1"),
])
def test_bad_input_names_the_argument(a, b, share, message):
    with pytest.raises(ValueError, match=message):
        aggregate.compare(a, b, share)


@slow
@given(scores)
def test_identical_samples_contain_zero_and_are_a_coin_flip(x):
    c = aggregate.compare(x, x, 0.05, reps=REPS)
    assert c.difference.low <= 0 <= c.difference.high
    assert c.probability == 0.5 and c.verdict != "better"


@slow
@given(scores, scores, st.floats(-50, 50))
def test_shifting_a_shifts_the_difference_and_its_ci(a, b, shift):
    before = aggregate.compare(a, b, 0.0, reps=REPS)
    after = aggregate.compare(a + shift, b, 0.0, reps=REPS)  # same resamples (seeded)
    for end in ("point", "low", "high"):
        assert getattr(after.difference, end) == pytest.approx(
            getattr(before.difference, end) + shift, abs=1e-6)


@slow
@given(scores, st.floats(0.0, 0.2), st.floats(1.0, 10.0))
def test_a_clearly_worse_method_is_never_non_inferior(b, share, gap):
    """A's every run below B's every run by more than δ + gap: never ``holds``."""
    b = b + 200  # positive scores, so that δ = share · IQM(B) is a fraction of B
    a = b.min() - share * np.abs(b).max() - gap - np.arange(len(b))
    c = aggregate.compare(a, b, share, reps=REPS)
    assert not c.holds and c.verdict == "inferior" and c.probability == 0


@slow
@given(scores, st.floats(1.0, 10.0))
def test_a_clearly_better_method_is_better(b, gap):
    c = aggregate.compare(b.max() + gap + np.arange(len(b)), b, 0.02, reps=REPS)
    assert c.verdict == "better" and c.holds and c.probability == 1


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.1, 2.0, "better"), (-0.5, 2.0, "non-inferior"), (-0.9, -0.1, "non-inferior"),
    (-3.0, -1.5, "inferior"), (-3.0, -0.5, "worse"), (-3.0, 1.0, "inconclusive"),
])
def test_verdict_rules_at_margin_one(low, high, verdict):
    c = aggregate.Comparison(np.zeros((1, 1)), np.zeros((1, 1)), 1.0,
                             aggregate.Estimate((low + high) / 2, low, high),
                             aggregate.Estimate(0, 0, 0), 0.5)
    assert c.verdict == verdict and c.holds == (verdict in ("better", "non-inferior"))


def test_a_run_without_data_leaves_the_claim_inconclusive():
    c = aggregate.compare(np.array([1.0, np.nan]), np.array([0.0, 0.5]), 0.05, reps=REPS)
    assert np.isnan(c.difference.point) and c.verdict == "inconclusive" and not c.holds


def test_two_failed_seeds_of_ten_show_in_the_failures_and_the_mean():
    b = np.linspace(95.0, 105.0, 10)
    a = b.copy()
    a[[2, 7]] = 0.0  # two seeds collapse
    c = aggregate.compare(a, b, 0.02, reps=REPS)
    assert c.failed == 2
    assert c.mean_difference.point == pytest.approx(a.mean() - b.mean())
    assert c.mean_difference.point < -c.margin < c.difference.point  # the IQM trims them away
