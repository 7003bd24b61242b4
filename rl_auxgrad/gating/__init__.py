"""Gradient gating: use an auxiliary loss's gradient while it helps the main loss.

The core of rl_auxgrad; depends on torch only. :func:`combine` is the pure math on flat
gradients, the :class:`Gate` objects add state (EMA references, ATTITTUD bases), and
:func:`gated_backward` applies a gate to the parameters that a main and an auxiliary loss share.
"""

from ._attittud import Attittud, per_example_jacobian, randomized_singular_basis, top_singular_basis
from ._backward import MainJacobian, gated_backward
from ._combine import combine
from ._gates import (
    Cosine,
    CosineShuffled,
    Gate,
    GateStats,
    GramianGate,
    MultiTask,
    Orthogonal,
    PCGrad,
    Projection,
    SingleTask,
)
from ._registry import GATES, STATELESS, gate_options, make_gate

__all__ = [
    "GATES",
    "STATELESS",
    "Attittud",
    "Cosine",
    "CosineShuffled",
    "Gate",
    "GateStats",
    "GramianGate",
    "MainJacobian",
    "MultiTask",
    "Orthogonal",
    "PCGrad",
    "Projection",
    "SingleTask",
    "combine",
    "gate_options",
    "gated_backward",
    "make_gate",
    "per_example_jacobian",
    "randomized_singular_basis",
    "top_singular_basis",
]
