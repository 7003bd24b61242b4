"""``combine``: the pure gate math on flat gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ._checks import check_flat_pair, check_lam
from ._registry import GATES, STATELESS, make_gate


def combine(g_main: Tensor, g_aux: Tensor, gate: str, lam: float | Tensor = 1.0,
            **options: Any) -> Tensor:
    """The update direction for the shared parameters from flat 1-D gradients.

    - ``"single"``: ``g_main``; ``"multitask"``: ``g_main + lam g_aux``.
    - ``"cosine"`` (Du et al.): ``g_main + lam max(0, cos) g_aux``.
    - ``"cosine_unweighted"`` (Du et al.): ``g_main + lam g_aux`` if ``cos > threshold``
      (option, default 0) else ``g_main``.
    - ``"projection"`` (Tran-Thien, Alg. 1):
      ``g_main + lam (g_aux - min(0, <g_aux, g_main>) / |g_main|^2 g_main)``.
    - ``"orthogonal"`` (Tran-Thien, D.2):
      ``g_main + lam (g_aux - <g_aux, g_main> / |g_main|^2 g_main)``.
    - ``"pcgrad"`` (Yu et al.): ``g_main`` and ``lam g_aux`` each projected off the other
      when they conflict, then summed.

    A zero gradient on either side gives cos = 0 and never a NaN. Options: ``threshold``
    (``cosine_unweighted``); ``per="variable"`` with ``sizes`` (the numel of each parameter
    tensor, in order) to gate each tensor separately. Gates with state (an EMA reference,
    ATTITTUD's basis) are objects: see :class:`Projection` and friends.

    >>> combine(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]), "projection")
    tensor([1., 1.])
    """
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; choose one of {', '.join(STATELESS)}")
    if gate not in STATELESS:
        raise ValueError(f"combine takes a stateless gate, one of {', '.join(STATELESS)}; "
                         f"got {gate!r} (use the gate objects for 'attittud')")
    if "ema" in options:
        raise ValueError("combine is stateless and an EMA keeps state across steps: build the "
                         f"gate object instead, e.g. make_gate({gate!r}, ema=...)")
    check_flat_pair(g_main, g_aux)
    check_lam(lam)
    sizes: Sequence[int] | Tensor | None = options.pop("sizes", None)
    if sizes is not None:
        sizes = torch.as_tensor(sizes, device=g_main.device)
        if int(sizes.sum()) != g_main.numel():
            raise ValueError(f"sizes add up to {int(sizes.sum())} but the gradients have "
                             f"{g_main.numel()} entries")
    update, _ = make_gate(gate, **options)(g_main, g_aux, lam, sizes=sizes)
    return update
