"""Input checks shared by the public functions: each raises one ValueError naming the problem."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypeVar

from torch import Tensor

T = TypeVar("T")


def check_flat_pair(g_main: Tensor, g_aux: Tensor) -> None:
    if g_main.ndim != 1 or g_aux.ndim != 1:
        raise ValueError(f"g_main and g_aux must be flat 1-D tensors, got shapes "
                         f"{tuple(g_main.shape)} and {tuple(g_aux.shape)}")
    if g_main.shape != g_aux.shape:
        raise ValueError(f"g_main and g_aux must have the same length, got {g_main.numel()} and "
                         f"{g_aux.numel()}")


def check_lam(lam: float | Tensor, name: str = "lam") -> None:
    value = float(lam)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def per_pair_lam(lam: float | Tensor | Sequence[float | Tensor], pairs: int
                 ) -> list[float | Tensor]:
    """``lam`` for each of ``pairs`` loss pairs: one value shared by all, or a sequence of one
    value per pair."""
    if not isinstance(lam, Sequence):
        check_lam(lam)
        return [lam] * pairs
    if len(lam) != pairs:
        raise ValueError(f"lam has {len(lam)} values for {pairs} loss pairs: give one value, "
                         "or one per pair")
    for i, value in enumerate(lam):
        check_lam(value, f"lam[{i}]")
    return list(lam)


def as_list(value: T | Sequence[T], name: str) -> list[T]:
    """A single loss, or a list/tuple of losses, as a list."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} is an empty list: give at least one loss")
        return list(value)
    raise ValueError(f"{name} must be a loss tensor or a list of them, got {type(value).__name__}")


def check_losses(mains: list[Tensor], auxes: list[Tensor]) -> None:
    if len(mains) != len(auxes):
        raise ValueError(f"main and aux must pair up: got {len(mains)} main losses and "
                         f"{len(auxes)} aux losses")
    for kind, losses in (("main", mains), ("aux", auxes)):
        for i, loss in enumerate(losses):
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(f"{kind} loss {i} must be a scalar tensor, got {shape}: reduce "
                                 "it (e.g. mean over the batch) first")
            if not loss.requires_grad:
                raise ValueError(f"{kind} loss {i} does not require grad: it reaches no "
                                 "parameter")


def check_params(params: Iterable[Tensor], name: str) -> list[Tensor]:
    params = list(params)
    if not params:
        raise ValueError(f"{name} is empty: give the parameters to write .grad to")
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{name} contains the same tensor more than once")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
            raise ValueError(f"{name}[{i}] must be a leaf tensor with requires_grad=True")
    return params


def check_scope(scope: Iterable[Tensor] | None, params: list[Tensor]) -> set[int]:
    """The positions in ``params`` of the tensors in ``scope`` (all of them if None)."""
    if scope is None:
        return set(range(len(params)))
    position = {id(p): i for i, p in enumerate(params)}
    scope = list(scope)
    outside = [i for i, p in enumerate(scope) if id(p) not in position]
    if outside:
        raise ValueError(f"scope[{outside[0]}] is not in params: scope must be a subset of params")
    return {position[id(p)] for p in scope}
