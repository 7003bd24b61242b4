"""Du et al. (2018)'s motivating example, and the descent loop shared by the toy problems.

Du et al., "Adapting auxiliary losses using gradient similarity" (poster, motivating example):
a scalar ``θ`` with ``L_main = (θ - 10)^2`` and ``L_aux = θ^2``. Plain gradient descent on
``L_main + λ L_aux`` stops at ``θ = 10 / (1 + λ)`` (5 for ``λ = 1``), where the auxiliary loss
drags the main loss away from its minimum; the weighted cosine gate
``g_main + λ max(0, cos) g_aux`` uses the auxiliary gradient only while it points the same way
(``θ < 0`` or ``θ > 10``), so it converges to the main loss's minimum ``θ = 10``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from rl_auxgrad.gating import STATELESS, gated_backward, make_gate

Loss = Callable[[Tensor], Tensor]
OptimizerFactory = Callable[[list[Tensor]], torch.optim.Optimizer]

TOY_GATES = STATELESS
"""The gates the toy runs: those that keep no state (:data:`rl_auxgrad.gating.STATELESS`)."""
TOY_TARGET = 10.0
"""The minimum of ``L_main``, where a gate that protects the main loss should end."""


def descend(main_loss: Loss, aux_loss: Loss, start: Sequence[float], gate: str, lam: float,
            steps: int, optimizer: OptimizerFactory) -> np.ndarray:
    """Trajectory, shape ``(steps + 1, len(start))``, of a point moved by ``optimizer``.

    Each step sets the gradient of the point to the gate's update (from
    :func:`rl_auxgrad.gating.gated_backward` on ``main_loss(p)`` and ``aux_loss(p)``) and calls
    ``optimizer.step()``. Computed in float64.
    """
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optimizer([point])
    rule = make_gate(gate)
    path = [point.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        gated_backward(main_loss(point), aux_loss(point), [point], rule, lam)
        opt.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


def toy_main_loss(theta: Tensor) -> Tensor:
    """``L_main = (θ - 10)^2``."""
    return ((theta - TOY_TARGET) ** 2).sum()


def toy_aux_loss(theta: Tensor) -> Tensor:
    """``L_aux = θ^2``."""
    return (theta**2).sum()


def run_toy(gate: str, lam: float = 1.0, steps: int = 120, lr: float = 0.05,
            theta0: float = -10.0) -> np.ndarray:
    """The values of ``θ``, shape ``(steps + 1,)``, under plain gradient descent with step ``lr``.

    ``θ ← θ - lr u`` with ``u`` the gate's combination of ``∇L_main = 2(θ - 10)`` and
    ``∇L_aux = 2θ`` (torch.optim.SGD, no momentum).
    """
    path = descend(toy_main_loss, toy_aux_loss, [theta0], gate, lam, steps,
                   lambda params: torch.optim.SGD(params, lr=lr))
    return path[:, 0]
