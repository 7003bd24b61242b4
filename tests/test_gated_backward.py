"""``gated_backward`` writes the gradients the gate table promises, on a small network."""

from __future__ import annotations

import pytest
import torch
from gate_reference import STATELESS, reference
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from rl_auxgrad.gating import Projection, gated_backward, make_gate


class TwoHeadNet(nn.Module):
    """A shared torso, a head per loss, and one extra parameter used by only one loss each."""

    def __init__(self, heads: int = 1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.torso = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh())
        self.main_heads = nn.ModuleList(nn.Linear(4, 2) for _ in range(heads))
        self.aux_heads = nn.ModuleList(nn.Linear(4, 2) for _ in range(heads))
        self.main_only = nn.Parameter(torch.randn(2))
        self.aux_only = nn.Parameter(torch.randn(2))
        self.double()

    def losses(self, x: Tensor, pair: int = 0) -> tuple[Tensor, Tensor]:
        features = self.torso(x)
        main = (self.main_heads[pair](features) + self.main_only).pow(2).mean()
        aux = (self.aux_heads[pair](features) * self.aux_only - 1.0).pow(2).mean()
        return main, aux


def grads(loss: Tensor, params: list[Tensor]) -> list[Tensor]:
    return list(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))


def flat(tensors: list[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def expected_grads(net: TwoHeadNet, x: Tensor, gate: str, lam: float, gated: list[Tensor],
                   pairs: int = 1) -> dict[nn.Parameter, Tensor]:
    """Every parameter's gradient computed by hand from separate backward passes."""
    params = list(net.parameters())
    total = {p: torch.zeros_like(p) for p in params}
    for pair in range(pairs):
        main, aux = net.losses(x, pair)
        g_main, g_aux = grads(main, params), grads(aux, params)
        for p, gm, ga in zip(params, g_main, g_aux, strict=True):
            if any(p is q for q in gated):
                continue
            total[p] += (0 if gm is None else gm) + (0 if ga is None else lam * ga)
        sel = [i for i, p in enumerate(params) if any(p is q for q in gated)]
        update = reference(gate, flat([g_main[i] for i in sel]), flat([g_aux[i] for i in sel]),
                           lam)
        for i, piece in zip(sel, update.split([params[i].numel() for i in sel]), strict=True):
            total[params[i]] += piece.view_as(params[i])
    return total


@pytest.mark.parametrize("gate", STATELESS)
@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_shared_main_only_and_aux_only_params_get_the_right_gradient(gate, lam):
    net, x = TwoHeadNet(), torch.randn(16, 3, dtype=torch.float64)
    expected = expected_grads(net, x, gate, lam, gated=list(net.torso.parameters()))
    stats = gated_backward(*net.losses(x), net.parameters(), gate, lam)
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, expected[p], msg=name)
    assert stats.cosine.shape == (1,)


@pytest.mark.parametrize("gate", ["cosine", "projection", "pcgrad"])
def test_scope_gates_only_the_given_params(gate):
    net, x = TwoHeadNet(), torch.randn(16, 3, dtype=torch.float64)
    first_layer = list(net.torso[0].parameters())
    expected = expected_grads(net, x, gate, 1.5, gated=first_layer)
    gated_backward(*net.losses(x), net.parameters(), gate, 1.5, scope=first_layer)
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, expected[p], msg=name)


@pytest.mark.parametrize("gate", ["cosine", "projection", "orthogonal"])
def test_pairs_are_gated_one_by_one_and_summed(gate):
    net, x = TwoHeadNet(heads=2), torch.randn(16, 3, dtype=torch.float64)
    expected = expected_grads(net, x, gate, 1.0, gated=list(net.torso.parameters()), pairs=2)
    (m0, a0), (m1, a1) = net.losses(x, 0), net.losses(x, 1)
    stats = gated_backward([m0, m1], [a0, a1], net.parameters(), gate, 1.0)
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, expected[p], msg=name)
    assert stats.cosine.shape == (2,) and len(stats.floats()) == 2


def test_per_variable_gating_splits_at_parameter_tensors():
    net, x = TwoHeadNet(), torch.randn(16, 3, dtype=torch.float64)
    torso = list(net.torso.parameters())
    main, aux = net.losses(x)
    g_main, g_aux = grads(main, torso), grads(aux, torso)
    gated_backward(main, aux, torso, Projection(per="variable"), 2.0)
    for p, gm, ga in zip(torso, g_main, g_aux, strict=True):
        expected = reference("projection", gm.reshape(-1), ga.reshape(-1), 2.0)
        torch.testing.assert_close(p.grad.reshape(-1), expected)


def test_gradients_accumulate_like_backward():
    net, x = TwoHeadNet(), torch.randn(8, 3, dtype=torch.float64)
    expected = expected_grads(net, x, "projection", 1.0, gated=list(net.torso.parameters()))
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    gated_backward(*net.losses(x), net.parameters(), "projection", 1.0)
    for p in net.parameters():
        torch.testing.assert_close(p.grad, expected[p] + 1)


def test_params_outside_the_list_are_left_alone():
    net, x = TwoHeadNet(), torch.randn(8, 3, dtype=torch.float64)
    gated_backward(*net.losses(x), list(net.torso.parameters()), "cosine", 1.0)
    assert all(p.grad is None for p in net.main_heads.parameters())


def test_stateful_gate_keeps_one_reference_per_pair():
    net, x = TwoHeadNet(heads=2), torch.randn(8, 3, dtype=torch.float64)
    gate = make_gate("projection", ema=0.1)
    (m0, a0), (m1, a1) = net.losses(x, 0), net.losses(x, 1)
    gated_backward([m0, m1], [a0, a1], net.parameters(), gate, 1.0)
    assert {k.split(".")[1] for k in gate.state_dict()} == {"0", "1"}


def test_graph_is_freed_after_the_call():
    net, x = TwoHeadNet(), torch.randn(8, 3, dtype=torch.float64)
    main, aux = net.losses(x)
    gated_backward(main, aux, net.parameters(), "cosine", 1.0)
    with pytest.raises(RuntimeError):
        aux.backward()


def bad_calls():
    net, x = TwoHeadNet(heads=2), torch.randn(8, 3, dtype=torch.float64)
    (m0, a0), (m1, _) = net.losses(x, 0), net.losses(x, 1)
    params, torso = list(net.parameters()), list(net.torso.parameters())
    head_only = net.aux_heads[0](torch.randn(8, 4, dtype=torch.float64)).pow(2).mean()
    return [
        (lambda: gated_backward(m0, a0, params, "cosin"), "unknown gate 'cosin'"),
        (lambda: gated_backward([m0, m1], [a0], params, "cosine"), "2 main losses and 1 aux"),
        (lambda: gated_backward(m0, head_only, params, "cosine", scope=torso),
         "aux loss 0 reaches no parameter in scope"),
        (lambda: gated_backward(m0, a0, params, "cosine", -1.0), "lam must be"),
        (lambda: gated_backward(m0.expand(2), a0, params, "cosine"), "must be a scalar"),
        (lambda: gated_backward(m0, a0, [], "cosine"), "params is empty"),
        (lambda: gated_backward(m0, a0, torso, "cosine", scope=params), "subset of params"),
        (lambda: gated_backward(m0, a0, params + params[:1], "cosine"), "more than once"),
        (lambda: gated_backward(m0, a0.detach(), params, "cosine"), "does not require grad"),
        (lambda: gated_backward(m0, a0, params, "cosine", main_jacobian=[None, None]),
         "2 entries for 1 loss pairs"),
        (lambda: gated_backward(m0, a0, params, "attittud"), "needs per-example main grad"),
        (lambda: gated_backward([m0, m1], [a0, a0], params, "cosine", [1.0]),
         "lam has 1 values for 2 loss pairs"),
        (lambda: gated_backward([m0, m1], [a0, a0], params, "cosine", [1.0, -0.5]),
         r"lam\[1\] must be a finite number >= 0"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_bad_arguments_raise_one_clear_value_error(case):
    call, message = bad_calls()[case]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("gate", ["cosine", "projection"])
def test_ungated_loss_is_added_as_is_and_reported_in_total_cosine(gate):
    net = TwoHeadNet()
    x = torch.randn(16, 3, dtype=torch.float64)
    main, aux = net.losses(x)
    extra = (net.torso(x).sum(1) + net.main_only.sum() - 0.5).pow(2).mean()  # torso + main_only
    params = list(net.parameters())
    expected = expected_grads(net, x, gate, 0.7, gated=list(net.torso.parameters()))
    for p, g in zip(params, grads(extra, params), strict=True):
        expected[p] += 0 if g is None else g
    shared = list(net.torso.parameters())
    g_main, g_aux, g_extra = (flat(grads(loss, shared)) for loss in (main, aux, extra))
    stats = gated_backward(main, aux, params, gate, 0.7, ungated=extra)
    for p in params:
        torch.testing.assert_close(p.grad, expected[p])
    total = g_main + g_extra
    torch.testing.assert_close(stats.total_cosine[0],
                               total @ g_aux / (total.norm() * g_aux.norm()))


@settings(max_examples=30)
@given(gate=st.sampled_from(STATELESS), lam=st.floats(0, 10), seed=st.integers(0, 2**16))
def test_a_lambda_per_pair_all_equal_is_the_one_lambda(gate, lam, seed):
    """lam = [λ, λ] writes exactly the gradient of lam = λ."""
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    written = []
    for lams in (lam, [lam, lam]):
        net = TwoHeadNet(heads=2)
        (m0, a0), (m1, a1) = net.losses(x, 0), net.losses(x, 1)
        gated_backward([m0, m1], [a0, a1], net.parameters(), gate, lams)
        written.append([p.grad for p in net.parameters()])
    for one, per_pair in zip(*written, strict=True):
        assert torch.equal(one, per_pair)


@pytest.mark.parametrize("gate", STATELESS)
def test_a_pair_at_lambda_0_adds_its_main_gradient_alone_and_is_still_measured(gate):
    """g = sum_k u_k with u_k the gate's update at λ_k: at λ = (0.7, 0) the second pair's aux
    loss changes nothing, as if it were absent, but its cosine is still measured."""
    net, x = TwoHeadNet(heads=2), torch.randn(16, 3, dtype=torch.float64)
    (m0, a0), (m1, a1) = net.losses(x, 0), net.losses(x, 1)
    shared = list(net.torso.parameters())
    g_main, g_aux = flat(grads(m1, shared)), flat(grads(a1, shared))
    stats = gated_backward([m0, m1], [a0, a1], net.parameters(), gate, [0.7, 0.0])
    per_pair = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    (m0, a0), (m1, _) = net.losses(x, 0), net.losses(x, 1)
    gated_backward(m0, a0, net.parameters(), gate, 0.7)
    m1.backward()
    for (name, p), got in zip(net.named_parameters(), per_pair, strict=True):
        absent = torch.zeros_like(p) if p.grad is None else p.grad  # aux head 1: 0 g_aux
        torch.testing.assert_close(got, absent, msg=name)
    torch.testing.assert_close(stats.cosine[1], g_main @ g_aux / (g_main.norm() * g_aux.norm()))
