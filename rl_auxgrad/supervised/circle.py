"""Tran-Thien's unit-circle toy problem (paper Section 4.1 and Supplementary B.1; blog Fig. 4).

A point ``p = (x, y)`` should above all lie on the unit circle,
``L_main = (sqrt(x^2 + y^2) - 1)^2``, and, only where that does not hurt, be close to
``(2, 0)``, ``L_aux = (x - 2)^2 + y^2``; the solution is ``(1, 0)``. With ``λ = 0.1`` and
Adam, single task stops on the circle near its start, multi-task stops off the circle at
``x = 1.2 / 1.1`` (where ``∇L_main + λ ∇L_aux = 0``) and Projection reaches ``(1, 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .toy import TOY_GATES, descend

CIRCLE_GATES = tuple(gate for gate in TOY_GATES if gate != "pcgrad")
"""The gates the circle runs (one panel each): the toy's, without PCGrad."""
CIRCLE_STARTS = ((0.0, 2.0), (0.5, 1.5), (-1.5, 0.5), (-0.5, -2.0))
CIRCLE_TARGET = (1.0, 0.0)
AUX_POINT = (2.0, 0.0)


def circle_main_loss(point: Tensor) -> Tensor:
    """``L_main = (|p| - 1)^2``, the squared distance to the unit circle."""
    return (torch.linalg.vector_norm(point) - 1.0) ** 2


def circle_aux_loss(point: Tensor) -> Tensor:
    """``L_aux = |p - (2, 0)|^2``."""
    return ((point - point.new_tensor(AUX_POINT)) ** 2).sum()


def run_circle(gate: str, start: Sequence[float] = (0.0, 2.0), lam: float = 0.1,
               steps: int = 3000, lr: float = 0.01) -> np.ndarray:
    """The trajectory, shape ``(steps + 1, 2)``, of ``p`` under Adam (``lr``, default betas).

    The gradient Adam sees at each step is the gate's combination of ``∇L_main`` and
    ``∇L_aux`` (:func:`rl_auxgrad.gating.gated_backward`).
    """
    return descend(circle_main_loss, circle_aux_loss, start, gate, lam, steps,
                   lambda params: torch.optim.Adam(params, lr=lr))
