"""Aggregates over seeds as rliable recommends (Agarwal et al., 2021, "Deep RL at the edge of the
statistical precipice"): the interquartile mean (IQM) over runs with a 95% stratified-bootstrap
confidence interval, for a point of training, an area under the curve, and whole curves."""

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


def compare(a: Estimate, b: Estimate) -> str:
    """``higher`` / ``lower`` when the two CIs do not overlap, else ``overlapping CIs``."""
    if a.low > b.high:
        return "higher"
    if a.high < b.low:
        return "lower"
    return "overlapping CIs"


def plot_iqm_curves(ax: Axes, x: np.ndarray, curves: dict[str, np.ndarray]) -> None:
    """One IQM line with its CI band per label; curves are (runs, points)."""
    for label, runs in curves.items():
        point, low, high = iqm_curve(runs)
        (line,) = ax.plot(x, point, label=label)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
