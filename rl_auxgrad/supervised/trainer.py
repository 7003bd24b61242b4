"""The training loop shared by the supervised adapters: a two-head network, gated, early-stopped.

A :class:`TwoHead` network has a shared torso ``h = T(x)`` and two heads, ``M(h)`` for the main
task and ``A(h)`` for the auxiliary one. Each step draws one batch from the main training set and
one from the auxiliary training set (they may hold different inputs, as in Tran-Thien (2020),
Experiment 2), computes ``L_main = loss(M(T(x_main)), y_main)`` and
``L_aux = loss(A(T(x_aux)), y_aux)``, writes the gated gradient with
:func:`rl_auxgrad.gating.gated_backward` (torso: the gate's update ``u(g_main, g_aux)``, main head:
``g_main``, aux head: ``lam g_aux``) and steps Adam. After each epoch the main loss on the
validation set decides early stopping (patience in epochs); the weights of the best epoch are
restored before the test set is scored.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.special import stdtrit
from torch import Tensor, nn

from rl_auxgrad.gating import gated_backward, make_gate

LossFn = Callable[[Tensor, Tensor], Tensor]
"""``loss(prediction, target)``: a scalar, the mean over the batch."""
Metric = Callable[[Tensor, Tensor], float]
"""``metric(prediction, target)``: a number reported besides the loss (e.g. AUC)."""


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one data set."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class TaskData:
    """The main task's training, validation and test sets and the auxiliary training set."""

    main_train: Split
    aux_train: Split
    val: Split
    test: Split


class TwoHead(nn.Module):
    """``main(x) = M(T(x))`` and ``aux(x) = A(T(x))`` with a shared torso ``T``."""

    def __init__(self, torso: nn.Module, main_head: nn.Module, aux_head: nn.Module) -> None:
        super().__init__()
        self.torso, self.main_head, self.aux_head = torso, main_head, aux_head

    def main(self, x: Tensor) -> Tensor:
        return self.main_head(self.torso(x))

    def aux(self, x: Tensor) -> Tensor:
        return self.aux_head(self.torso(x))


@dataclass(frozen=True)
class TrainConfig:
    """One run. ``seed`` fixes the initialisation (``build`` runs under it) and batch order.

    Adam with ``lr`` and TensorFlow's ``eps = 1e-7`` (Tran-Thien, B.3, trains with the
    TensorFlow defaults). An epoch is ``ceil(max(n_main, n_aux) / batch_size)`` steps; each set
    is drawn without replacement from its own reshuffled permutation, restarted when used up.
    """

    gate: str = "single"
    lam: float = 1.0
    gate_options: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 100
    lr: float = 1e-3
    patience: int = 10
    max_epochs: int = 200
    seed: int = 0


@dataclass
class TrainResult:
    """Main-task test loss (and metric) of the restored best model, with per-epoch history.

    ``history`` keys: ``train_loss`` (mean main loss over the epoch's batches), ``val_loss``,
    ``val_metric`` (if a metric was given), ``cosine`` and ``weight`` (epoch means of the gate's
    :class:`~rl_auxgrad.gating.GateStats`).
    """

    test_loss: float
    test_metric: float | None
    best_epoch: int
    epochs: int
    history: dict[str, list[float]]
    model: TwoHead


class _Batches:
    """Endless minibatch indices of ``n`` examples: one shuffled permutation after another."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.order, self.position = torch.randperm(n, generator=generator), 0

    def next(self) -> Tensor:
        if self.position >= self.n:
            self.order, self.position = torch.randperm(self.n, generator=self.generator), 0
        batch = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return batch


def train(build: Callable[[], TwoHead], data: TaskData, loss_fn: LossFn, config: TrainConfig,
          metric: Metric | None = None) -> TrainResult:
    """Trains ``build()`` (called under ``torch.manual_seed(config.seed)``) on ``data``."""
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = build()
    generator = torch.Generator().manual_seed(config.seed)
    main_batches = _Batches(len(data.main_train), config.batch_size, generator)
    aux_batches = _Batches(len(data.aux_train), config.batch_size,
                           torch.Generator().manual_seed(config.seed + 1))
    steps = math.ceil(max(len(data.main_train), len(data.aux_train)) / config.batch_size)
    gate = make_gate(config.gate, **config.gate_options)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, eps=1e-7)

    keys = ("train_loss", "val_loss", "cosine", "weight")
    history: dict[str, list[float]] = {k: [] for k in keys}
    if metric is not None:
        history["val_metric"] = []
    best_loss, best_epoch, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        losses, stats = [], []
        for _ in range(steps):
            i, j = main_batches.next(), aux_batches.next()
            main = loss_fn(model.main(data.main_train.x[i]), data.main_train.y[i])
            aux = loss_fn(model.aux(data.aux_train.x[j]), data.aux_train.y[j])
            optimizer.zero_grad(set_to_none=True)
            step_stats = gated_backward(main, aux, params, gate, config.lam)
            optimizer.step()
            losses.append(main.detach())
            stats.append(torch.stack([step_stats.cosine[0], step_stats.weight[0]]))
        epoch_stats = torch.stack(stats).mean(0).tolist()
        history["train_loss"].append(torch.stack(losses).mean().item())
        history["cosine"].append(epoch_stats[0])
        history["weight"].append(epoch_stats[1])
        val_loss, val_metric = evaluate(model, data.val, loss_fn, metric)
        history["val_loss"].append(val_loss)
        if metric is not None:
            history["val_metric"].append(val_metric)  # type: ignore[arg-type]
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    test_loss, test_metric = evaluate(model, data.test, loss_fn, metric)
    return TrainResult(test_loss, test_metric, best_epoch, epoch, history, model)


@torch.no_grad()
def evaluate(model: TwoHead, split: Split, loss_fn: LossFn, metric: Metric | None = None
             ) -> tuple[float, float | None]:
    """Main-task loss (and metric) of ``model`` on ``split``, in eval mode."""
    model.eval()
    prediction = model.main(split.x)
    score = None if metric is None else metric(prediction, split.y)
    return loss_fn(prediction, split.y).item(), score


def mean_ci95(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t interval, ``t_{0.975, n-1} s / sqrt(n)``.

    The half-width is NaN for fewer than two values.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else math.nan, math.nan
    return float(x.mean()), float(stdtrit(len(x) - 1, 0.975) * x.std(ddof=1) / len(x) ** 0.5)
