"""Synthetic regression of Tran-Thien (2020, Section 4.4 and B.3), after Chen et al. (2018).

Targets ``y = f(B, x) = tanh(B x)`` (element-wise) with ``x`` in R^250, entries i.i.d. N(0, 1),
and ``B`` a 100 x 250 matrix. ``B_main`` and an unrelated ``B`` have entries i.i.d. N(0, 10) and
``ε`` has entries i.i.d. N(0, 3.5). We read the second argument as the **variance** (the usual
``N(μ, σ²)`` notation): standard deviations sqrt(10) and sqrt(3.5). The auxiliary task
approximates ``f(B_aux, .)`` with

- ``"same"``: ``B_aux = B_main``;
- ``"similar"``: ``B_aux = B_main + ε`` (per output, corr(B_main x, B_aux x) = sqrt(10 / 13.5)
  = 0.86);
- ``"unrelated"``: ``B_aux = B``.

The main and auxiliary training sets hold different inputs (1,000 each); validation 1,000 and
test 10,000 main-task examples. Everything (matrices and inputs) is fixed by the seed, and
``B_main`` and the inputs do not depend on the auxiliary kind. Network (Chen et al.): 4 shared
ReLU layers of width 100 and a linear head with 100 outputs per task; loss: mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from .trainer import Split, TaskData, TwoHead

AuxKind = Literal["same", "similar", "unrelated"]
AUX_KINDS: tuple[AuxKind, ...] = get_args(AuxKind)
INPUTS, OUTPUTS, WIDTH, DEPTH = 250, 100, 100, 4
B_VARIANCE, EPS_VARIANCE = 10.0, 3.5


@dataclass(frozen=True)
class Sizes:
    """Numbers of examples: main training, aux training, validation, test (Tran-Thien, B.3)."""

    main_train: int = 1000
    aux_train: int = 1000
    val: int = 1000
    test: int = 10_000


def matrices(seed: int, aux: AuxKind) -> tuple[Tensor, Tensor]:
    """``(B_main, B_aux)`` for ``seed``; ``B_main`` is the same for every ``aux`` kind."""
    if aux not in AUX_KINDS:
        raise ValueError(f"aux must be one of {AUX_KINDS}, got {aux!r}")
    generator = torch.Generator().manual_seed(seed)
    b_main, b_unrelated, eps = (torch.randn(OUTPUTS, INPUTS, generator=generator) * scale for scale
                                in (B_VARIANCE**0.5, B_VARIANCE**0.5, EPS_VARIANCE**0.5))
    b_aux = {"same": b_main, "similar": b_main + eps, "unrelated": b_unrelated}[aux]
    return b_main, b_aux


def targets(b: Tensor, x: Tensor) -> Tensor:
    """``f(B, x) = tanh(B x)`` for each row of ``x``."""
    return torch.tanh(x @ b.T)


def make_data(seed: int, aux: AuxKind, sizes: Sizes = Sizes()) -> TaskData:
    """The four data sets of one seed; inputs i.i.d. N(0, 1), drawn after the matrices."""
    b_main, b_aux = matrices(seed, aux)
    generator = torch.Generator().manual_seed(seed + 1_000_003)
    x_main, x_aux, x_val, x_test = (torch.randn(n, INPUTS, generator=generator) for n in
                                    (sizes.main_train, sizes.aux_train, sizes.val, sizes.test))
    return TaskData(main_train=Split(x_main, targets(b_main, x_main)),
                    aux_train=Split(x_aux, targets(b_aux, x_aux)),
                    val=Split(x_val, targets(b_main, x_val)),
                    test=Split(x_test, targets(b_main, x_test)))


def make_model() -> TwoHead:
    """4 shared ReLU layers of width 100, then a linear 100-output head per task."""
    layers: list[nn.Module] = []
    for i in range(DEPTH):
        layers += [nn.Linear(INPUTS if i == 0 else WIDTH, WIDTH), nn.ReLU()]
    return TwoHead(nn.Sequential(*layers), nn.Linear(WIDTH, OUTPUTS), nn.Linear(WIDTH, OUTPUTS))


def mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over examples and outputs."""
    return nn.functional.mse_loss(prediction, target)
