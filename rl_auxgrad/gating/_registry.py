"""Gate names, as used in configs and by :func:`combine`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from ._attittud import Attittud
from ._gates import (
    Cosine,
    CosineShuffled,
    Gate,
    MultiTask,
    Orthogonal,
    PCGrad,
    Projection,
    SingleTask,
)

GATES: dict[str, Callable[..., Gate]] = {
    "single": SingleTask,
    "multitask": MultiTask,
    "cosine": partial(Cosine, weighted=True),
    "cosine_unweighted": partial(Cosine, weighted=False),
    "cosine_shuffled": CosineShuffled,
    "projection": Projection,
    "orthogonal": Orthogonal,
    "pcgrad": PCGrad,
    "attittud": Attittud,
}


def make_gate(name: str, **options: Any) -> Gate:
    """Builds the gate called ``name`` (a key of :data:`GATES`) with its ``options``.

    >>> make_gate("projection", ema=0.01, per="variable")
    Projection(ema=0.01, per='variable')
    """
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {', '.join(GATES)}")
    factory = GATES[name]
    accepted = [p for p in inspect.signature(factory).parameters if p != "weighted"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"gate {name!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(accepted) or 'none'}")
    return factory(**options)
