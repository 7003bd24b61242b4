"""Gate names, as used in configs and by :func:`combine`, and the options each gate takes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._attittud import Attittud
from ._gates import (
    Cosine,
    CosineShuffled,
    Gate,
    MultiTask,
    Orthogonal,
    PCGrad,
    Per,
    Projection,
    SingleTask,
)


def _weighted_cosine(ema: float | None = None, per: Per = "whole") -> Cosine:
    """``Cosine(weighted=True)``: it scales by ``max(0, cos)`` and has no threshold."""
    return Cosine(weighted=True, ema=ema, per=per)


def _unweighted_cosine(threshold: float = 0.0, ema: float | None = None, per: Per = "whole"
                       ) -> Cosine:
    """``Cosine(weighted=False)``: all of the auxiliary gradient when ``cos > threshold``."""
    return Cosine(weighted=False, threshold=threshold, ema=ema, per=per)


GATES: dict[str, Callable[..., Gate]] = {
    "single": SingleTask,
    "multitask": MultiTask,
    "cosine": _weighted_cosine,
    "cosine_unweighted": _unweighted_cosine,
    "cosine_shuffled": CosineShuffled,
    "projection": Projection,
    "orthogonal": Orthogonal,
    "pcgrad": PCGrad,
    "attittud": Attittud,
}
"""Every gate by name; a factory's keyword parameters are the gate's options
(:func:`gate_options`)."""

STATELESS = ("single", "multitask", "cosine", "cosine_unweighted", "projection", "orthogonal",
             "pcgrad")
"""The gates that :func:`combine` can apply: with their defaults, no state across calls."""


def gate_options(name: str) -> tuple[str, ...]:
    """The options of the gate ``name`` (a key of :data:`GATES`): its factory's parameters.

    >>> gate_options("projection")
    ('ema', 'per')
    """
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {', '.join(GATES)}")
    return tuple(inspect.signature(GATES[name]).parameters)


def make_gate(name: str, **options: Any) -> Gate:
    """Builds the gate called ``name`` (a key of :data:`GATES`) with its ``options``.

    >>> make_gate("projection", ema=0.01, per="variable")
    Projection(ema=0.01, per='variable')
    """
    accepted = gate_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"gate {name!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(accepted) or 'none'}")
    return GATES[name](**options)
