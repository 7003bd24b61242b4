"""The toy problems reproduce Du et al. (2018)'s example and Tran-Thien (2020)'s Figure 3."""

import math

import numpy as np
import pytest
import torch

from rl_auxgrad.supervised.circle import run_circle
from rl_auxgrad.supervised.toy import run_toy

torch.set_num_threads(1)


@pytest.mark.parametrize("lam", [0.25, 1.0])
def test_toy_multitask_stops_at_weighted_mean(lam: float) -> None:
    path = run_toy("multitask", lam=lam)
    assert path.shape == (121,) and path[0] == -10.0
    assert path[-1] == pytest.approx(10 / (1 + lam), abs=0.05)


@pytest.mark.parametrize("gate", ["single", "cosine", "projection"])
@pytest.mark.parametrize("theta0", [-10.0, 20.0])
def test_toy_gates_that_protect_the_main_loss_reach_its_minimum(gate: str, theta0: float) -> None:
    assert run_toy(gate, theta0=theta0)[-1] == pytest.approx(10.0, abs=0.01)


def test_toy_cosine_follows_multitask_while_the_gradients_agree() -> None:
    cosine, multitask, single = (run_toy(g) for g in ("cosine", "multitask", "single"))
    agree = multitask < 0  # both gradients negative
    np.testing.assert_allclose(cosine[agree], multitask[agree])
    assert not np.allclose(cosine[agree][1:], single[agree][1:])


def test_toy_pcgrad_stops_where_the_gradients_start_to_conflict() -> None:
    path = run_toy("pcgrad")
    first_positive = int(np.argmax(path > 0))
    assert 0 < path[-1] < 0.1
    np.testing.assert_allclose(path[first_positive:], path[-1])


def _distance_to_solution(point: np.ndarray) -> float:
    return math.hypot(point[0] - 1.0, point[1])


def test_circle_projection_reaches_the_solution() -> None:
    end = run_circle("projection", (0.0, 2.0), steps=1200)[-1]
    assert _distance_to_solution(end) < 0.02


def test_circle_multitask_stops_off_the_circle_near_the_solution() -> None:
    end = run_circle("multitask", (0.0, 2.0), steps=1200)[-1]
    assert 0.02 < _distance_to_solution(end) < 0.3
    # where ∇L_main + λ ∇L_aux = 0 on the x axis: 2(x - 1) + 0.2(x - 2) = 0
    np.testing.assert_allclose(end, [1.2 / 1.1, 0.0], atol=5e-3)


def test_circle_single_task_stops_on_the_circle_near_its_start() -> None:
    path = run_circle("single", (0.0, 2.0), steps=500)
    end = path[-1]
    assert path.shape == (501, 2)
    assert abs(math.hypot(*end) - 1.0) < 0.01
    assert _distance_to_solution(end) > 0.5
    np.testing.assert_allclose(end, [0.0, 1.0], atol=1e-3)
