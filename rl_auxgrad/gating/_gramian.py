"""Inner products of the gradients a gate looks at, per segment of the flat vector.

Every two-gradient gate is a function of three inner products between the reference direction
``r`` (``g_main``, or an EMA of it) and the auxiliary gradient ``g_aux``:
``rr = <r, r>``, ``ra = <r, g_aux>`` and ``aa = <g_aux, g_aux>``. Whole-vector gating uses one
segment; per-variable gating (Tran-Thien, Section 2.4) uses one segment per parameter tensor,
so the same rule runs on vectors of inner products instead of scalars.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Gramian:
    """Inner products ``<r, r>``, ``<r, g_aux>``, ``<g_aux, g_aux>``, each ``(segments,)``."""

    rr: Tensor
    ra: Tensor
    aa: Tensor

    @staticmethod
    def of(ref: Tensor, aux: Tensor, sizes: Tensor | None) -> Gramian:
        """Computes the inner products of ``ref`` and ``aux`` over each segment of ``sizes``."""
        return Gramian(
            rr=segment_dot(ref, ref, sizes),
            ra=segment_dot(ref, aux, sizes),
            aa=segment_dot(aux, aux, sizes),
        )

    def cosine(self) -> Tensor:
        """cos(r, g_aux) per segment; 0 where either vector is zero (never NaN)."""
        return safe_div(self.ra, self.rr.sqrt() * self.aa.sqrt())

    def total(self) -> Gramian:
        """The whole-vector Gramian: the sum over segments."""
        return Gramian(self.rr.sum(0, keepdim=True), self.ra.sum(0, keepdim=True),
                       self.aa.sum(0, keepdim=True))


def segment_dot(x: Tensor, y: Tensor, sizes: Tensor | None) -> Tensor:
    """``<x, y>`` over each contiguous segment of lengths ``sizes`` (one segment if None)."""
    if sizes is None:
        return torch.dot(x, y).reshape(1)
    return torch.segment_reduce(x * y, "sum", lengths=sizes)


def expand(weights: Tensor, sizes: Tensor | None, length: int) -> Tensor:
    """Repeats one weight per segment over the segment's entries (broadcastable if one segment)."""
    if sizes is None:
        return weights
    return torch.repeat_interleave(weights, sizes, output_size=length)


def safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` where ``den > 0``, else 0: branch-free, so no host-device sync on GPU."""
    positive = den > 0
    return torch.where(positive, num / torch.where(positive, den, torch.ones_like(den)), 0.0)
