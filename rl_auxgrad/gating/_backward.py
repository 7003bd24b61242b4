"""``gated_backward``: write the gated gradient of (main, aux) loss pairs into ``.grad``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import torch
from torch import Tensor
from torch.autograd.graph import Node

from ._checks import as_list, check_losses, check_params, check_scope, per_pair_lam
from ._gates import Gate, GateStats, cosine_of
from ._registry import make_gate

MainJacobian = Callable[[Sequence[Tensor], int], Tensor]


def gated_backward(
    main: Tensor | Sequence[Tensor],
    aux: Tensor | Sequence[Tensor],
    params: Iterable[Tensor],
    gate: Gate | str,
    lam: float | Tensor | Sequence[float | Tensor] = 1.0,
    *,
    scope: Iterable[Tensor] | None = None,
    main_jacobian: MainJacobian | Sequence[MainJacobian | None] | None = None,
    ungated: Tensor | Sequence[Tensor] | None = None,
) -> GateStats:
    """Backpropagates ``main`` and ``aux`` and accumulates the gated gradient into ``.grad``.

    For each pair ``(main_i, aux_i)`` (one loss each, or lists of equal length, e.g. one pair
    per game) with its weight ``lam_i`` (``lam``: one value for every pair, or one per pair)
    it finds from the autograd graph which of ``params`` each loss reaches, and adds

    - to a parameter both reach and in ``scope`` (default: all ``params``): the gate's update
      ``u_i = gate(g_main_i, g_aux_i, lam_i)``, computed on the flat gradients of all such
      parameters (:class:`Gate`);
    - to a parameter both reach but outside ``scope``: ``g_main_i + lam_i g_aux_i``;
    - to a parameter only ``main_i`` reaches: ``g_main_i``; only ``aux_i``: ``lam_i g_aux_i``.

    So the gradient written is ``g = sum_i u_i``; with the weighted cosine gate
    ``g = sum_i [g_main_i + lam_i max(0, cos(g_main_i, g_aux_i)) g_aux_i]``. A pair with
    ``lam_i = 0`` takes nothing of ``g_aux_i`` (every gate scales its auxiliary part by
    ``lam``), but ``g_aux_i`` is still differentiated and the pair's stats (the cosine) still
    measured: an auxiliary loss scaled by 0 instead would have no direction to compare.

    Gradients accumulate into ``.grad`` like ``Tensor.backward``. Each loss is differentiated
    once with ``torch.autograd.grad``, on the parameters it reaches only; the graph is freed
    after the last pair. ``main_jacobian(params, m)`` (one per pair, or one for all) gives
    per-example main gradients to gates that need them (:class:`Attittud`; build it with
    :func:`per_example_jacobian`). A stateful gate keeps one state per pair (its ``slot``).

    ``ungated`` (one loss per pair) is a part of the main objective that is not compared with
    the auxiliary loss, e.g. an actor-critic's value loss when the gate compares the teacher
    with the policy loss: its gradient is added to ``.grad`` as it is, and the stats'
    ``total_cosine`` is cos(g_main + g_ungated, g_aux) on the gated parameters.

    Returns the gate's :class:`GateStats`, one entry per pair.
    """
    mains, auxes = as_list(main, "main"), as_list(aux, "aux")
    check_losses(mains, auxes)
    params = check_params(params, "params")
    in_scope = check_scope(scope, params)
    lams = per_pair_lam(lam, len(mains))
    gate = make_gate(gate) if isinstance(gate, str) else gate
    jacobians = _per_pair(main_jacobian, len(mains))
    extras = [None] * len(mains) if ungated is None else as_list(ungated, "ungated")
    if len(extras) != len(mains):
        raise ValueError(f"ungated has {len(extras)} losses for {len(mains)} loss pairs")
    position = {id(p): i for i, p in enumerate(params)}

    total: dict[int, Tensor] = {}
    stats = []
    for i, (main_i, aux_i, extra_i, lam_i) in enumerate(zip(mains, auxes, extras, lams,
                                                              strict=True)):
        main_reach = _reached(main_i, position)
        aux_reach = _reached(aux_i, position)
        for kind, reach in (("main", main_reach), ("aux", aux_reach)):
            if not reach & in_scope:
                raise ValueError(f"{kind} loss {i} reaches no parameter in scope: check that it "
                                 "depends on the shared parameters and that scope lists them")
        gated = sorted(main_reach & aux_reach & in_scope)
        if not gated:
            raise ValueError(f"main loss {i} and aux loss {i} share no parameter in scope: "
                             "there is nothing to gate")
        last = i == len(mains) - 1
        g_main = _grads(main_i, main_reach, params, retain_graph=True)
        g_extra = ({} if extra_i is None else
                   _grads(extra_i, _reached(extra_i, position), params, retain_graph=True))
        g_aux = _grads(aux_i, aux_reach, params, retain_graph=not last)

        sizes = [params[j].numel() for j in gated]
        flat_main = torch.cat([g_main[j].reshape(-1) for j in gated])
        flat_aux = torch.cat([g_aux[j].reshape(-1) for j in gated])
        jacobian = jacobians[i]
        update, pair_stats = gate(
            flat_main, flat_aux, lam_i, slot=i,
            sizes=torch.tensor(sizes, device=flat_main.device),
            jacobian=None if jacobian is None else _thunk(jacobian, [params[j] for j in gated]),
        )
        if g_extra:
            flat_total = flat_main + torch.cat([
                g_extra[j].reshape(-1) if j in g_extra else torch.zeros_like(g_main[j]).reshape(-1)
                for j in gated])
            pair_stats = replace(pair_stats,
                                 total_cosine=cosine_of(flat_total, flat_aux).reshape(1))
        stats.append(pair_stats)
        for j, grad in g_extra.items():
            total[j] = total[j] + grad if j in total else grad

        pieces = dict(zip(gated, update.split(sizes), strict=True))
        for j in main_reach | aux_reach:
            if j in pieces:
                grad = pieces[j].view_as(params[j])
            elif j not in aux_reach:
                grad = g_main[j]
            elif j not in main_reach:
                grad = lam_i * g_aux[j]
            else:
                grad = g_main[j] + lam_i * g_aux[j]
            total[j] = total[j] + grad if j in total else grad

    for j, grad in total.items():  # fresh tensors (or views of the fresh update): no copy
        p = params[j]
        p.grad = grad.detach() if p.grad is None else p.grad + grad.detach()
    return GateStats.concat(stats)


def _reached(loss: Tensor, position: dict[int, int]) -> set[int]:
    """Positions of the ``params`` that ``loss`` depends on, found by walking its graph."""
    if loss.grad_fn is None:  # the loss is itself a leaf
        return {position[id(loss)]} if id(loss) in position else set()
    found: set[int] = set()
    seen: set[Node] = set()
    stack: list[Node | None] = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold a leaf
        if variable is not None and id(variable) in position:
            found.add(position[id(variable)])
        stack.extend(child for child, _ in node.next_functions)
    return found


def _grads(loss: Tensor, reach: set[int], params: list[Tensor], retain_graph: bool
           ) -> dict[int, Tensor]:
    order = sorted(reach)
    grads = torch.autograd.grad(loss, [params[j] for j in order], retain_graph=retain_graph)
    return dict(zip(order, grads, strict=True))


def _thunk(jacobian: MainJacobian, params: list[Tensor]) -> Callable[[int], Tensor]:
    return lambda m: jacobian(params, m)


def _per_pair(main_jacobian: MainJacobian | Sequence[MainJacobian | None] | None, pairs: int
              ) -> list[MainJacobian | None]:
    if main_jacobian is None or callable(main_jacobian):
        return [main_jacobian] * pairs
    jacobians = list(main_jacobian)
    if len(jacobians) != pairs:
        raise ValueError(f"main_jacobian has {len(jacobians)} entries for {pairs} loss pairs")
    return jacobians
