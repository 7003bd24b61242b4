"""Aggregates over seeds as rliable recommends (Agarwal et al., 2021, "Deep RL at the edge of the
statistical precipice"): the interquartile mean (IQM) over runs with a 95% stratified-bootstrap
confidence interval, for a point of training, an area under the curve, and whole curves; and
the comparison of two methods by the CI of their difference against a stated margin
(:func:`compare`), never by whether their own CIs overlap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from rliable import library as rly
from rliable import metrics
from scipy.stats import trim_mean

REPS = 2000
"""Bootstrap resamples (rliable's default is 50,000; 2,000 moves the CI ends by < 1%)."""


@contextmanager
def _seeded(seed: int = 0) -> Iterator[None]:
    """rliable's stratified bootstrap draws from NumPy's global RNG (its ``random_state``
    argument does not reach the draws): seed it for reproducible CIs, then restore it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def fmt(x: float) -> str:
    """Three significant digits: reads right on any return scale (CartPole's 500, MinAtar's 5)."""
    return f"{x:.3g}"


@dataclass(frozen=True)
class Estimate:
    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{fmt(self.point)} [{fmt(self.low)}, {fmt(self.high)}]"


def iqm(scores: np.ndarray, reps: int | None = None) -> Estimate:
    """IQM of one number per run, (runs,), with its 95% stratified-bootstrap CI."""
    scores = np.asarray(scores, dtype=float)[:, None]
    with _seeded():
        point, interval = rly.get_interval_estimates(
            {"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=reps or REPS)
    return Estimate(float(point["x"][0]), float(interval["x"][0, 0]),
                    float(interval["x"][1, 0]))


def iqm_curve(curves: np.ndarray, reps: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise IQM over runs of (runs, points) curves, and its 95% CI band (low, high)."""
    scores = np.asarray(curves, dtype=float)[:, None, :]
    with _seeded():
        point, interval = rly.get_interval_estimates(
            {"x": scores},
            lambda s: trim_mean(s[:, 0, :], 0.25, axis=0),  # aggregate_iqm per point, at once
            reps=reps or REPS)
    return point["x"], interval["x"][0], interval["x"][1]


VERDICTS = ("better", "non-inferior", "inferior", "worse", "inconclusive")
"""What :attr:`Comparison.verdict` can say, in the order its rules are tried."""


@dataclass(frozen=True, eq=False)
class Comparison:
    """A against B on per-seed scores, (runs, tasks) each: the difference of the aggregates
    with its 95% CI, P(A > B), and a verdict against the margin δ.

    With d = IQM(A) − IQM(B) and [L, U] its 95% CI, the first rule that applies:

    - ``better``: L > 0 (A is higher);
    - ``non-inferior``: L > −δ (A is at least as good as B up to δ: the one-sided test
      d > −δ at level 2.5%);
    - ``inferior``: U < −δ (A is lower by more than δ);
    - ``worse``: U < 0 (A is lower, but not shown to be lower by more than δ);
    - ``inconclusive``: the CI reaches both above 0 and below −δ.

    Overlapping CIs of A and B never make them "the same": only the CI of the difference
    decides, and "at least as good" needs its lower end above −δ (:attr:`holds`).
    """

    a: np.ndarray
    b: np.ndarray
    margin: float
    """δ ≥ 0, in the scores' units."""
    difference: Estimate
    """IQM(A) − IQM(B) with its 95% CI."""
    mean_difference: Estimate
    """mean(A) − mean(B) with its 95% CI (same resamples)."""
    probability: float
    """P(A > B): rliable's probability of improvement, the Mann-Whitney U statistic over
    runs_A · runs_B pairs (ties count 1/2), averaged over tasks."""

    @property
    def verdict(self) -> str:
        low, high = self.difference.low, self.difference.high
        if low > 0:
            return "better"
        if low > -self.margin:
            return "non-inferior"
        if high < -self.margin:
            return "inferior"
        return "worse" if high < 0 else "inconclusive"

    @property
    def iqm_b(self) -> float:
        """IQM(B), the reference that δ is a share of and a relative Δ is read against."""
        return float(metrics.aggregate_iqm(self.b))

    @property
    def holds(self) -> bool:
        """"A is at least as good as B" (L > −δ): ``better`` or ``non-inferior``."""
        return self.difference.low > -self.margin

    @property
    def failed(self) -> int:
        """How many of A's runs score below B's worst run (on the same task) − δ: failures
        that an IQM, which trims the lowest quarter, can hide."""
        return int((self.a < self.b.min(axis=0) - self.margin).sum())


def _runs_by_tasks(name: str, scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    scores = scores[:, None] if scores.ndim == 1 else scores
    if scores.ndim != 2 or not scores.size or np.isinf(scores).any():
        raise ValueError(f"{name} must be scores of shape (runs,) or (runs, tasks) with at least "
                         f"one run and no infinity, got shape {scores.shape}: {scores}")
    return scores


def compare(a: np.ndarray, b: np.ndarray, share: float, reps: int | None = None) -> Comparison:
    """A against B with the margin δ = ``share`` · |IQM(B)| (see :class:`Comparison`).

    ``a`` and ``b``: one score per run, (runs,) for one task or (runs, tasks) for several,
    the runs of A and B independent (their counts may differ). The CI is rliable's percentile
    stratified bootstrap (``StratifiedIndependentBootstrap``: each resample draws A's and B's
    runs with replacement, independently and within each task) of
    d = IQM(A) − IQM(B), IQM being rliable's ``aggregate_iqm`` (the 25% trimmed mean of all
    run × task scores), with NumPy's global RNG seeded to 0 (:func:`_seeded`): the same scores
    give the same CI every time. A NaN score (a run with no episode in the span measured) makes
    every number NaN and the verdict ``inconclusive``: no data, no conclusion.
    """
    a2, b2 = _runs_by_tasks("a", a), _runs_by_tasks("b", b)
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"a and b must have the same tasks, got {a2.shape[1]} and {b2.shape[1]}")
    if not share >= 0:
        raise ValueError(f"share must be >= 0, got {share}")

    def differences(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x) - metrics.aggregate_iqm(y),
                         x.mean() - y.mean()])

    with _seeded():
        point, interval = rly.get_interval_estimates({"d": [a2, b2]}, differences,
                                                     reps=reps or REPS)
    (iqm_d, mean_d), (low, high) = point["d"], interval["d"]
    return Comparison(a2, b2, share * abs(float(metrics.aggregate_iqm(b2))),
                      Estimate(float(iqm_d), float(low[0]), float(high[0])),
                      Estimate(float(mean_d), float(low[1]), float(high[1])),
                      float(metrics.probability_of_improvement(a2, b2)))


def plot_iqm_curves(ax: Axes, x: np.ndarray, curves: dict[str, np.ndarray]) -> None:
    """One IQM line with its CI band per label; curves are (runs, points)."""
    for label, runs in curves.items():
        point, low, high = iqm_curve(runs)
        (line,) = ax.plot(x, point, label=label)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
