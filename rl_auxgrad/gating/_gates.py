"""Gates: map the main and auxiliary gradients of the shared parameters to an update direction.

Every gate here returns ``a * g_main + b * g_aux + c * r`` where ``r`` is the reference
direction (``g_main`` itself, or a bias-corrected EMA of it) and the weights ``(a, b, c)``
depend only on the Gramian of ``(r, g_aux)`` and on ``lam``. The update for the shared
parameters is then used in place of ``g_main + lam * g_aux``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import Tensor

from ._gramian import Gramian, expand, safe_div

Per = Literal["whole", "variable"]
JacobianThunk = Callable[[int], Tensor]
"""Called with ``m``, returns the ``(m, D)`` per-example main gradients of the gated params."""


def cosine_of(a: Tensor, b: Tensor) -> Tensor:
    """cos(a, b) of two flat vectors; 0 if either is 0."""
    return safe_div(torch.dot(a, b), torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))


@dataclass(frozen=True)
class GateStats:
    """What a gate did, as detached tensors (one entry per (main, aux) pair).

    Tensors, not floats, so that an update loop can collect them without a host-device sync
    per minibatch; :meth:`floats` converts them once.

    - ``cosine``: cos(r, g_aux), r the reference direction the gate compared against.
    - ``weight``: the share of ``lam * g_aux`` that was applied along ``g_aux``:
      ``<u - g_main, g_aux> / (lam * |g_aux|^2)`` for update ``u``. 1 for multitask, 0 for
      single task, ``max(0, cos)`` for weighted cosine, ``1 - cos^2 [cos < 0]`` for projection.
    - ``main_norm``, ``aux_norm``: ``|g_main|`` and ``|g_aux|``.
    - ``applied_norm``: ``|u - g_main|``, the norm of what the auxiliary loss changed.
    - ``total_cosine``: cos(g_main + g_ungated, g_aux), the cosine with the whole main loss
      when :func:`gated_backward` is given ``ungated`` losses (an actor-critic's value loss
      beside the policy loss it gates against); otherwise cos(g_main, g_aux).
    """

    cosine: Tensor
    weight: Tensor
    main_norm: Tensor
    aux_norm: Tensor
    applied_norm: Tensor
    total_cosine: Tensor

    @staticmethod
    def measure(g_main: Tensor, g_aux: Tensor, update: Tensor, lam: Tensor, cosine: Tensor
                ) -> GateStats:
        """Stats of one gated update ``update`` of the flat gradients ``g_main``, ``g_aux``."""
        applied = update - g_main
        aux_sq = torch.dot(g_aux, g_aux)
        values = torch.stack([
            cosine.reshape(()),
            safe_div(torch.dot(applied, g_aux), lam * aux_sq),
            torch.linalg.vector_norm(g_main),
            aux_sq.sqrt(),
            torch.linalg.vector_norm(applied),
            cosine_of(g_main, g_aux),
        ]).detach()
        return GateStats(*values.unsqueeze(1))

    @staticmethod
    def concat(stats: list[GateStats]) -> GateStats:
        """Stacks the stats of several pairs into one object with one entry per pair."""
        names = [f.name for f in fields(GateStats)]
        return GateStats(*(torch.cat([getattr(s, name) for s in stats]) for name in names))

    def floats(self) -> list[dict[str, float]]:
        """One dict of Python floats per pair (a single host-device transfer)."""
        names = [f.name for f in fields(self)]
        table = torch.stack([getattr(self, n) for n in names], dim=1).tolist()
        return [dict(zip(names, row, strict=True)) for row in table]


class Gate(ABC):
    """Base class: ``gate(g_main, g_aux, lam) -> (update, stats)`` on flat 1-D gradients.

    ``sizes`` gives the lengths of the parameter tensors that make up the flat vectors (for
    per-variable gating); ``slot`` keys the gate's state when one gate serves several
    (main, aux) pairs, e.g. one per game; ``jacobian`` supplies per-example main gradients to
    the gates that need them (ATTITTUD).
    """

    name: str = "gate"

    @abstractmethod
    def __call__(self, g_main: Tensor, g_aux: Tensor, lam: Tensor | float = 1.0, *,
                 sizes: Tensor | None = None, slot: int = 0,
                 jacobian: JacobianThunk | None = None) -> tuple[Tensor, GateStats]:
        """Returns the update direction for the gated parameters and what the gate did."""

    def state_dict(self) -> dict[str, Tensor]:
        """The gate's state as a flat dict of tensors (safetensors-ready); empty if stateless."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restores :meth:`state_dict`; a stateless gate accepts only an empty dict."""
        if state:
            raise ValueError(f"{type(self).__name__} has no state, got keys {sorted(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _EmaReference:
    """Bias-corrected EMA of ``g_main``, one per slot (Tran-Thien, Algorithm 2 and Section 2.3).

    ``G(t) = alpha * g_main + (1 - alpha) * G(t-1)`` with ``G(0) = 0``, used as
    ``G(t) / (1 - (1 - alpha)^t)`` so that the first steps are not shrunk towards zero.
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.averages: dict[int, Tensor] = {}
        self.steps: dict[int, int] = {}

    def update(self, g_main: Tensor, slot: int) -> Tensor:
        average = self.averages.get(slot)
        if average is None:
            average = torch.zeros_like(g_main)
        elif average.shape != g_main.shape:
            raise ValueError(
                f"the EMA reference of slot {slot} has {average.numel()} entries but g_main has "
                f"{g_main.numel()}: the set of gated parameters changed; use a new gate")
        average = average.to(g_main).mul_(1 - self.alpha).add_(g_main.detach(), alpha=self.alpha)
        self.averages[slot] = average
        self.steps[slot] = step = self.steps.get(slot, 0) + 1
        return average / (1 - (1 - self.alpha) ** step)

    def state_dict(self) -> dict[str, Tensor]:
        state = {f"ema.{slot}.average": avg.clone() for slot, avg in self.averages.items()}
        state |= {f"ema.{slot}.step": torch.tensor(step) for slot, step in self.steps.items()}
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        averages, steps = {}, {}
        for key, value in state.items():
            parts = key.split(".")
            if len(parts) != 3 or parts[0] != "ema" or parts[2] not in ("average", "step"):
                raise ValueError(f"unexpected key {key!r} in an EMA gate's state")
            if parts[2] == "average":
                averages[int(parts[1])] = value.clone()
            else:
                steps[int(parts[1])] = int(value)
        if averages.keys() != steps.keys():
            raise ValueError("EMA gate state: every slot needs both 'average' and 'step'")
        self.averages, self.steps = averages, steps


def _check_ema(ema: float | None) -> float | None:
    if ema is not None and not 0.0 < ema <= 1.0:
        raise ValueError(f"ema must be in (0, 1] (the smoothing constant alpha), got {ema!r}")
    return ema


def _check_per(per: str) -> Per:
    if per not in ("whole", "variable"):
        raise ValueError(f"per must be 'whole' or 'variable', got {per!r}")
    return per  # type: ignore[return-value]


Weights = tuple[Tensor, Tensor, Tensor]


class GramianGate(Gate):
    """A gate whose update is ``a g_main + b g_aux + c r`` with ``(a, b, c)`` from the Gramian.

    Subclasses implement :meth:`weights`. ``ema`` replaces ``g_main`` by a bias-corrected
    EMA of it as the reference ``r``; ``per="variable"`` applies the rule to each parameter
    tensor separately (Tran-Thien, Section 2.4).
    """

    def __init__(self, ema: float | None = None, per: Per = "whole") -> None:
        self.ema = _check_ema(ema)
        self.per = _check_per(per)
        self._reference = _EmaReference(ema) if ema is not None else None

    @abstractmethod
    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        """``(a, b, c)`` per segment for the update ``a g_main + b g_aux + c r``."""

    def __call__(self, g_main: Tensor, g_aux: Tensor, lam: Tensor | float = 1.0, *,
                 sizes: Tensor | None = None, slot: int = 0,
                 jacobian: JacobianThunk | None = None) -> tuple[Tensor, GateStats]:
        if self.per == "variable" and sizes is None:
            raise ValueError("per='variable' needs sizes= (the numel of each parameter tensor)")
        lam = torch.as_tensor(lam, dtype=g_main.dtype, device=g_main.device)
        ref = g_main if self._reference is None else self._reference.update(g_main, slot)
        segments = sizes if self.per == "variable" else None
        gram = Gramian.of(ref, g_aux, segments)
        a, b, c = (expand(w, segments, g_main.numel()) for w in self.weights(gram, lam))
        update = a * g_main + b * g_aux + c * ref
        return update, GateStats.measure(g_main, g_aux, update, lam, gram.total().cosine())

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self._reference is None else self._reference.state_dict()

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if self._reference is None:
            super().load_state_dict(state)
        else:
            self._reference.load_state_dict(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ema={self.ema}, per={self.per!r})"


def _one(gram: Gramian) -> Tensor:
    return torch.ones_like(gram.ra)


class SingleTask(GramianGate):
    """Ignore the auxiliary loss on the shared parameters: ``u = g_main``."""

    name = "single"

    def __init__(self) -> None:
        super().__init__()

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        return _one(gram), 0 * _one(gram), 0 * _one(gram)


class MultiTask(GramianGate):
    """The plain weighted sum: ``u = g_main + lam g_aux``."""

    name = "multitask"

    def __init__(self) -> None:
        super().__init__()

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        return _one(gram), lam * _one(gram), 0 * _one(gram)


class Cosine(GramianGate):
    """Gradient cosine similarity gate (Du et al., 2018, Section 2).

    Weighted (the poster's update rule):
    ``u = g_main + lam max(0, cos(g_main, g_aux)) g_aux``.
    Unweighted: ``u = g_main + lam g_aux`` if ``cos(g_main, g_aux) > threshold``, else ``g_main``.

    With ``ema`` the cosine is measured against the bias-corrected EMA of ``g_main`` instead of
    the current batch's ``g_main`` (our extension: no paper has it; a noisy RL gradient gives a
    per-batch cosine that is mostly noise). A zero gradient on either side gives cos = 0.
    """

    def __init__(self, weighted: bool = True, threshold: float = 0.0, ema: float | None = None,
                 per: Per = "whole") -> None:
        super().__init__(ema, per)
        if not -1.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [-1, 1), got {threshold!r}")
        self.weighted = weighted
        self.threshold = threshold
        self.name = "cosine" if weighted else "cosine_unweighted"

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        cos = gram.cosine()
        gate = cos.clamp(min=0.0) if self.weighted else (cos > self.threshold).to(cos.dtype)
        return _one(gram), lam * gate, 0 * cos

    def __repr__(self) -> str:
        return (f"Cosine(weighted={self.weighted}, threshold={self.threshold}, ema={self.ema}, "
                f"per={self.per!r})")


class Projection(GramianGate):
    """Projection (Tran-Thien, Algorithm 1; with ``ema``, Algorithm 2).

    ``u = g_main + lam (g_aux - min(0, <g_aux, r>) / |r|^2 r)``: the auxiliary gradient is
    projected onto the half-space of vectors with a non-negative inner product with the
    reference ``r`` (``g_main``, or its EMA), so with ``r = g_main``, ``<u, g_main> >= 0``.
    """

    name = "projection"

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        return _one(gram), lam * _one(gram), -lam * safe_div(gram.ra.clamp(max=0.0), gram.rr)


class Orthogonal(GramianGate):
    """Orthogonal (Tran-Thien, Supplementary D.2, after Zhang et al., 2018).

    ``u = g_main + lam (g_aux - <g_aux, r> / |r|^2 r)``: the component of the auxiliary
    gradient along the reference ``r`` is always removed, helpful or not.
    """

    name = "orthogonal"

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        return _one(gram), lam * _one(gram), -lam * safe_div(gram.ra, gram.rr)


class PCGrad(GramianGate):
    """PCGrad (Yu et al., 2020), the symmetric two-task case (ATTITTUD paper, Section 3).

    When ``<g_main, g_aux> < 0`` each of ``g_main`` and ``lam g_aux`` is projected onto the
    normal plane of the other, and the two are summed:
    ``u = (g_main - <g_main, g_aux> / |g_aux|^2 g_aux)
        + lam (g_aux - <g_aux, g_main> / |g_main|^2 g_main)``; otherwise
    ``u = g_main + lam g_aux``. Unlike the other gates it also changes the main gradient.
    """

    name = "pcgrad"

    def __init__(self) -> None:
        super().__init__()

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        conflict = torch.where(lam > 0, gram.ra.clamp(max=0.0), 0.0)
        return (_one(gram), lam - safe_div(conflict, gram.aa), -lam * safe_div(conflict, gram.rr))


class CosineShuffled(Cosine):
    """The weighted cosine gate's weights shuffled in time: the control that separates gating
    from down-weighting (same weights, no link to the current minibatch).

    Each call computes the real weight ``w_t = max(0, cos(r, g_aux))`` (per segment), appends
    it to the weights this slot has seen so far, ``w_1 .. w_t``, and applies one of them drawn
    uniformly with the gate's own seeded generator:
    ``u = g_main + lam w_J g_aux``, ``J ~ U{1, ..., t}``.
    The applied weight comes only from weights already seen in this run, so no reference run
    is needed and a rerun with the same seed is exact; ``state_dict`` holds the weights seen
    and the generator. Where ``w`` trends over a run the drawn weight lags it: its mean at step
    t is the mean of ``w_1 .. w_t``, not ``w_t``.
    """

    name = "cosine_shuffled"

    def __init__(self, seed: int = 0, ema: float | None = None, per: Per = "whole") -> None:
        super().__init__(weighted=True, ema=ema, per=per)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._seen: dict[int, Tensor] = {}  # (capacity, segments) per slot, doubled when full
        self._counts: dict[int, int] = {}
        self._slot = 0

    def __call__(self, g_main: Tensor, g_aux: Tensor, lam: Tensor | float = 1.0, *,
                 sizes: Tensor | None = None, slot: int = 0,
                 jacobian: JacobianThunk | None = None) -> tuple[Tensor, GateStats]:
        self._slot = slot  # read by weights(), which the base class calls without the slot
        return super().__call__(g_main, g_aux, lam, sizes=sizes, slot=slot, jacobian=jacobian)

    def weights(self, gram: Gramian, lam: Tensor) -> Weights:
        a, _, c = super().weights(gram, lam)
        return a, lam * self._draw(gram.cosine().clamp(min=0.0)), c

    def _draw(self, weight: Tensor) -> Tensor:
        """Stores ``weight`` and returns a weight drawn uniformly from those seen so far."""
        slot, count = self._slot, self._counts.get(self._slot, 0)
        seen = self._seen.get(slot)
        if seen is None:
            seen = weight.new_empty(1024, weight.numel())
        elif seen.shape[1] != weight.numel():
            raise ValueError(f"slot {slot} has weights of {seen.shape[1]} segments, this call "
                             f"{weight.numel()}: the set of gated parameters changed; use a new "
                             "gate")
        if count == seen.shape[0]:
            seen = torch.cat([seen, torch.empty_like(seen)])
        seen[count] = weight.detach()
        self._seen[slot], self._counts[slot] = seen, count + 1
        index = int(torch.randint(count + 1, (), generator=self.generator))  # on the host
        return seen[index]

    def state_dict(self) -> dict[str, Tensor]:
        state = {f"shuffled.{slot}.seen": seen[: self._counts[slot]].clone()
                 for slot, seen in self._seen.items()}
        return super().state_dict() | state | {"shuffled.generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        ours = {k: v for k, v in state.items() if k.startswith("shuffled.")}
        super().load_state_dict({k: v for k, v in state.items() if k not in ours})
        if "shuffled.generator" not in ours:
            raise ValueError("cosine_shuffled state: 'shuffled.generator' is missing")
        self.generator.set_state(ours.pop("shuffled.generator"))
        self._seen, self._counts = {}, {}
        for key, seen in ours.items():
            parts = key.split(".")
            if len(parts) != 3 or parts[2] != "seen":
                raise ValueError(f"unexpected key {key!r} in a cosine_shuffled gate's state")
            self._seen[int(parts[1])] = seen.clone()
            self._counts[int(parts[1])] = seen.shape[0]

    def __repr__(self) -> str:
        return f"CosineShuffled(seed={self.seed}, ema={self.ema}, per={self.per!r})"
