"""ATTITTUD (Dery et al., 2021): the decomposition, its special cases, the bases, the state."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from rl_auxgrad.gating import (
    Attittud,
    combine,
    gated_backward,
    per_example_jacobian,
    randomized_singular_basis,
    top_singular_basis,
)


@st.composite
def problems(draw: st.DrawFn) -> tuple[Tensor, Tensor, Tensor]:
    """A per-example Jacobian J (m x D) of rank <= m, g_main = mean of its rows, and g_aux."""
    seed = draw(st.integers(0, 2**31 - 1))
    m, dim, rank = draw(st.integers(2, 8)), draw(st.integers(8, 30)), draw(st.integers(1, 8))
    gen = torch.Generator().manual_seed(seed)
    rank = min(rank, m)
    jac = torch.randn(m, rank, generator=gen, dtype=torch.float64) @ torch.randn(
        rank, dim, generator=gen, dtype=torch.float64)
    return jac, jac.mean(0), torch.randn(dim, generator=gen, dtype=torch.float64)


def gate_with(jac: Tensor, **kwargs) -> Attittud:
    return Attittud(num_examples=jac.shape[0], **kwargs)


@settings(max_examples=40, deadline=None)
@given(problem=problems(), lam=st.sampled_from([0.1, 1.0, 5.0]))
def test_all_ones_is_multitask_and_all_zeros_is_single_task(problem, lam):
    jac, gm, ga = problem
    multi, _ = gate_with(jac, k=3, eta=(1, 1, 1))(gm, ga, lam, jacobian=lambda m: jac)
    single, _ = gate_with(jac, k=3, eta=(0, 0, 0))(gm, ga, lam, jacobian=lambda m: jac)
    torch.testing.assert_close(multi, combine(gm, ga, "multitask", lam))
    torch.testing.assert_close(single, gm)


@settings(max_examples=40, deadline=None)
@given(problem=problems(), eta=st.tuples(st.floats(0, 2), st.floats(0, 2)))
def test_no_harm_when_eta_neg_is_zero(problem, eta):
    """Theorem 1: eta_neg = 0, eta_orth, eta_pos >= 0 never conflicts with g_main when g_main
    lies in the span of the basis (k >= rank)."""
    jac, gm, ga = problem
    update, _ = gate_with(jac, k=jac.shape[0], eta=(eta[0], eta[1], 0.0), eta_main=0.0)(
        gm, ga, 1.0, jacobian=lambda m: jac)
    assert float(update @ gm) >= -1e-9 * float(gm.norm() * ga.norm())


@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_decomposition_parts_are_what_the_paper_says(problem):
    """With eta = (0, 1, 0) the update is the in-span part of g_aux that agrees in sign with
    g_main on each basis vector; (1, 0, 0) is the out-of-span part."""
    jac, gm, ga = problem
    basis = top_singular_basis(jac, 3)
    p_main, p_aux = basis @ gm, basis @ ga
    helpful = basis.T @ (p_aux * (p_main * p_aux >= 0))
    out_of_span = ga - basis.T @ p_aux
    for eta, expected in (((0, 1, 0), helpful), ((1, 0, 0), out_of_span)):
        update, _ = gate_with(jac, k=3, eta=eta, eta_main=0)(gm, ga, 1.0, jacobian=lambda m: jac)
        torch.testing.assert_close(update, expected)


@settings(max_examples=40, deadline=None)
@given(problem=problems(), k=st.integers(1, 8))
def test_exact_basis_is_orthonormal_and_sorted(problem, k):
    jac = problem[0]
    basis = top_singular_basis(jac, k)
    rank = int(torch.linalg.matrix_rank(jac))
    assert basis.shape == (min(k, rank), jac.shape[1])
    torch.testing.assert_close(basis @ basis.T, torch.eye(len(basis), dtype=jac.dtype))
    gains = (jac @ basis.T).norm(dim=0)  # |J v_i| = sigma_i
    torch.testing.assert_close(gains, torch.linalg.svdvals(jac)[: len(basis)])


@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_randomized_basis_spans_the_row_space_when_k_covers_the_rank(problem):
    jac = problem[0]
    k = jac.shape[0]
    exact = top_singular_basis(jac, k)
    approx = randomized_singular_basis(jac, k, torch.Generator().manual_seed(0))
    torch.testing.assert_close(approx.T @ approx, exact.T @ exact)
    gains = (jac @ approx.T).norm(dim=0)
    assert bool((gains[:-1] >= gains[1:] - 1e-9).all())  # sorted like the exact basis


def test_basis_is_recomputed_every_n_calls_and_state_round_trips():
    jac = torch.randn(6, 10, dtype=torch.float64)
    calls = []

    def jacobian(m: int) -> Tensor:
        calls.append(m)
        return jac + len(calls)  # a different matrix each time

    gate = Attittud(k=2, num_examples=6, recompute_every=3, method="randomized")
    gm, ga = torch.randn(10, dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    for _ in range(4):
        gate(gm, ga, 1.0, jacobian=jacobian)
    assert calls == [6, 6]  # calls 1 and 4
    restored = Attittud(k=2, num_examples=6, recompute_every=3, method="randomized")
    restored.load_state_dict(gate.state_dict())
    for _ in range(3):  # the 7th call recomputes with the same random sketch in both
        expected, _ = gate(gm, ga, 1.0, jacobian=jacobian)
        calls.pop()
        got, _ = restored(gm, ga, 1.0, jacobian=jacobian)
        torch.testing.assert_close(got, expected)


def test_per_example_jacobian_matches_a_loop():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    params = list(net[0].parameters())

    def loss_fn(model, xi: Tensor, yi: Tensor) -> Tensor:
        return (model(xi) - yi).pow(2).mean()

    jac = per_example_jacobian(net, loss_fn, x, y)(params, 4)
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        loss_fn(net, x[i:i + 1], y[i:i + 1]), params)]) for i in range(4)]
    torch.testing.assert_close(jac, torch.stack(rows))


def test_gated_backward_with_attittud_on_a_network():
    torch.manual_seed(0)
    torso, head_m, head_a = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(4, 1)
    net = nn.Sequential(torso, nn.Tanh(), head_m)
    x, y = torch.randn(12, 3), torch.randn(12, 1)

    def loss_fn(model, xi: Tensor, yi: Tensor) -> Tensor:
        return (model(xi) - yi).pow(2).mean()

    main = loss_fn(net, x, y)
    aux = head_a(torch.tanh(torso(x))).pow(2).mean()
    shared = list(torso.parameters())
    g_main, g_aux = (torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        loss, shared, retain_graph=True)]) for loss in (main, aux))
    jac = per_example_jacobian(net, loss_fn, x, y)
    expected, _ = Attittud(k=3, num_examples=8, eta=(1, 1, -1))(
        g_main, g_aux, 0.5, jacobian=lambda m: jac(shared, m))
    gated_backward(main, aux, [*shared, *head_m.parameters(), *head_a.parameters()],
                   Attittud(k=3, num_examples=8, eta=(1, 1, -1)), 0.5, main_jacobian=jac)
    got = torch.cat([p.grad.reshape(-1) for p in shared])
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 0}, "must be >= 1"),
    ({"eta": (1.0, 1.0)}, "eta must be"),
    ({"method": "svd"}, "method must be"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Attittud(**kwargs)


def test_zero_jacobian_puts_all_of_g_aux_out_of_span():
    gm, ga = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    update, stats = Attittud(k=2, num_examples=3, eta=(0.5, 1, -1))(
        gm, ga, 2.0, jacobian=lambda m: torch.zeros(m, 5, dtype=torch.float64))
    torch.testing.assert_close(update, gm + 2.0 * 0.5 * ga)
    assert torch.isfinite(stats.weight).all()
