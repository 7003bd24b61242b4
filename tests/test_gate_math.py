"""Properties of the pure gate math (``combine`` and the gate objects) on flat gradients."""

from __future__ import annotations

import doctest

import pytest
import torch
from gate_reference import STATELESS, close, cos, gradient_pairs, lams, reference, vectors
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rl_auxgrad import gating
from rl_auxgrad.gating import Cosine, Orthogonal, Projection, combine, make_gate

boundary_filtered = settings(suppress_health_check=[HealthCheck.filter_too_much])
"""For tests that drop pairs on cosine_unweighted's discontinuity (cos = threshold): the curated
zero and orthogonal pairs land there by design, so many draws are filtered."""


@pytest.mark.parametrize("gate", STATELESS)
@boundary_filtered
@given(pair=gradient_pairs(), lam=lams)
def test_combine_matches_the_papers_formula(gate, pair, lam):
    gm, ga = pair
    if gate == "cosine_unweighted":  # discontinuous at cos = threshold: stay off the boundary
        assume(abs(cos(gm, ga)) > 1e-9)
    assert close(combine(gm, ga, gate, lam), reference(gate, gm, ga, lam), gm, lam * ga)


@boundary_filtered
@given(pair=gradient_pairs(), threshold=st.sampled_from([-0.5, 0.0, 0.3, 0.9]))
def test_unweighted_cosine_threshold(pair, threshold):
    gm, ga = pair
    assume(abs(cos(gm, ga) - threshold) > 1e-9)
    expected = reference("cosine_unweighted", gm, ga, 1.0, threshold=threshold)
    assert close(combine(gm, ga, "cosine_unweighted", threshold=threshold), expected, gm, ga)


@pytest.mark.parametrize("gate", STATELESS)
@given(pair=gradient_pairs(huge=1e12), lam=lams)
def test_never_nan(gate, pair, lam):
    gm, ga = (x.float() for x in pair)
    assert torch.isfinite(combine(gm, ga, gate, lam)).all()


@pytest.mark.parametrize("gate", STATELESS)
@pytest.mark.parametrize("zero", ["main", "aux", "both"])
def test_zero_gradient_gives_zero_cosine(gate, zero):
    g = torch.tensor([1.0, -2.0, 3.0])
    gm = torch.zeros(3) if zero in ("main", "both") else g
    ga = torch.zeros(3) if zero in ("aux", "both") else -g
    _, stats = make_gate(gate)(gm, ga, 1.0)
    assert float(stats.cosine) == 0.0
    assert torch.isfinite(torch.stack([getattr(stats, n) for n in vars(stats)])).all()


@given(pair=gradient_pairs(), lam=lams)
def test_projection_never_conflicts_with_main(pair, lam):
    gm, ga = pair
    update = combine(gm, ga, "projection", lam)
    scale = float(gm.norm()) * (float(gm.norm()) + lam * float(ga.norm()))
    assert float(update @ gm) >= -1e-9 * scale


@pytest.mark.parametrize("gate", STATELESS)
@boundary_filtered
@given(pair=gradient_pairs(), lam=lams, c=st.floats(1e-3, 1e3))
def test_scaling_aux_by_c_equals_scaling_lam_by_c(gate, pair, lam, c):
    """Every gate is positively homogeneous in g_aux: gate(g_main, c g_aux, lam) =
    gate(g_main, g_aux, c lam) for c > 0 (cosine and the projections are scale-free)."""
    gm, ga = pair
    if gate == "cosine_unweighted":
        assume(abs(cos(gm, ga)) > 1e-9)
    assert close(combine(gm, c * ga, gate, lam), combine(gm, ga, gate, c * lam), gm, lam * c * ga,
                 rtol=1e-6)


@pytest.mark.parametrize("gate", ["cosine", "projection", "orthogonal"])
@given(pair=gradient_pairs(), lam=lams, c=st.floats(1e-3, 1e3))
def test_aux_part_is_invariant_to_scaling_main(gate, pair, lam, c):
    """These gates only use the direction of g_main: u(c g_main) - c g_main = u(g_main) - g_main."""
    gm, ga = pair
    scaled = combine(c * gm, ga, gate, lam) - c * gm
    assert close(scaled, combine(gm, ga, gate, lam) - gm, gm, lam * ga, rtol=1e-6)


@pytest.mark.parametrize("gate", ["cosine", "cosine_unweighted", "projection", "orthogonal"])
@boundary_filtered
@given(a=gradient_pairs(max_dim=5), b=gradient_pairs(max_dim=5), lam=lams)
def test_per_variable_is_the_rule_on_each_tensor(gate, a, b, lam):
    if gate == "cosine_unweighted":
        assume(abs(cos(*a)) > 1e-9 and abs(cos(*b)) > 1e-9)
    gm, ga = torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])
    sizes = [a[0].numel(), b[0].numel()]
    per_variable = combine(gm, ga, gate, lam, per="variable", sizes=sizes)
    separately = torch.cat([reference(gate, *a, lam), reference(gate, *b, lam)])
    assert close(per_variable, separately, gm, lam * ga)


@pytest.mark.parametrize("gate", ["cosine", "cosine_unweighted", "projection", "orthogonal"])
@boundary_filtered
@given(history=st.lists(vectors(4), min_size=1, max_size=6), ga=vectors(4), lam=lams)
def test_ema_reference_is_the_bias_corrected_average(gate, history, ga, lam):
    """With ema=alpha the gate compares g_aux with G(t) / (1 - (1 - alpha)^t), where
    G(t) = alpha g_main(t) + (1 - alpha) G(t-1), G(0) = 0 (Tran-Thien, Algorithm 2)."""
    alpha = 0.3
    g = make_gate(gate, ema=alpha)
    average = torch.zeros(4, dtype=torch.float64)
    for t, gm in enumerate(history, start=1):
        average = alpha * gm + (1 - alpha) * average
        ref = average / (1 - (1 - alpha) ** t)
        if gate == "cosine_unweighted":
            assume(abs(cos(ref, ga)) > 1e-9)
        update, _ = g(gm, ga, lam)
        assert close(update, reference(gate, gm, ga, lam, ref=ref), gm, lam * ga, rtol=1e-6)


@pytest.mark.parametrize("gate", ["cosine", "cosine_unweighted", "projection", "orthogonal"])
@given(history=st.lists(gradient_pairs(dim=5), min_size=1, max_size=5), lam=lams)
def test_ema_of_one_is_no_ema(gate, history, lam):
    smoothed, plain = make_gate(gate, ema=1.0), make_gate(gate)
    for gm, ga in history:
        if gate == "cosine_unweighted" and abs(cos(gm, ga)) <= 1e-9:
            continue  # discontinuous at cos = 0: skip the pair in both gates alike
        assert close(smoothed(gm, ga, lam)[0], plain(gm, ga, lam)[0], gm, lam * ga)


@pytest.mark.parametrize("make", [lambda: Projection(ema=0.05), lambda: Orthogonal(ema=0.2),
                                  lambda: Cosine(ema=0.1), lambda: Cosine(False, ema=0.1),
                                  lambda: Projection(ema=0.05, per="variable")])
@given(history=st.lists(vectors(6), min_size=2, max_size=8), data=st.data())
def test_ema_state_round_trips(make, history, data):
    """A gate restored from state_dict continues exactly like the original, per slot."""
    original, sizes = make(), torch.tensor([2, 4])
    split = data.draw(st.integers(1, len(history) - 1))
    for i, gm in enumerate(history[:split]):
        original(gm, gm.flip(0), 1.0, sizes=sizes, slot=i % 2)
    restored = make()
    restored.load_state_dict(original.state_dict())
    for i, gm in enumerate(history[split:], start=split):
        ga = gm.roll(1) - gm
        out_a, stats_a = original(gm, ga, 1.0, sizes=sizes, slot=i % 2)
        out_b, stats_b = restored(gm, ga, 1.0, sizes=sizes, slot=i % 2)
        assert torch.equal(out_a, out_b) and torch.equal(stats_a.cosine, stats_b.cosine)


def test_ema_keeps_one_reference_per_slot():
    gate = Projection(ema=0.5)
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    gate(a, -a, 1.0, slot=0)
    update, _ = gate(b, -a, 1.0, slot=1)  # slot 1 has only seen b: -a is orthogonal, kept
    assert torch.equal(update, b - a)


@pytest.mark.parametrize("gate", STATELESS)
def test_stats_weight(gate):
    gm = torch.tensor([1.0, 0.0])
    ga = torch.tensor([-1.0, 1.0])  # cos = -1/sqrt(2)
    update, stats = make_gate(gate)(gm, ga, 2.0)
    expected = {"single": 0.0, "multitask": 1.0, "cosine": 0.0, "cosine_unweighted": 0.0,
                "projection": 1 - 0.5, "orthogonal": 0.5, "pcgrad": 0.75}[gate]
    assert float(stats.weight) == pytest.approx(expected)
    assert float(stats.cosine) == pytest.approx(-(0.5**0.5))
    assert float(stats.applied_norm) == pytest.approx(float((update - gm).norm()))
    assert float(stats.main_norm) == 1.0 and float(stats.aux_norm) == pytest.approx(2**0.5)


def test_weighted_cosine_weight_is_the_clamped_cosine():
    gm, ga = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    _, stats = make_gate("cosine")(gm, ga, 0.5)
    assert float(stats.weight) == pytest.approx(2**-0.5)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: combine(torch.ones(2), torch.ones(2), "cosin"), "unknown gate 'cosin'"),
    (lambda: combine(torch.ones(2), torch.ones(3), "cosine"), "same length"),
    (lambda: combine(torch.ones(2, 1), torch.ones(2, 1), "cosine"), "flat 1-D"),
    (lambda: combine(torch.ones(2), torch.ones(2), "cosine", -1.0), "lam must be"),
    (lambda: combine(torch.ones(2), torch.ones(2), "projection", ema=0.1), "stateless"),
    (lambda: combine(torch.ones(2), torch.ones(2), "attittud"), "stateless gate"),
    (lambda: combine(torch.ones(2), torch.ones(2), "projection", per="layer"), "per must be"),
    (lambda: combine(torch.ones(3), torch.ones(3), "projection", per="variable", sizes=[1, 1]),
     "sizes add up"),
    (lambda: make_gate("single", ema=0.1), "has no option 'ema'"),
    (lambda: make_gate("projection", ema=2.0), "ema must be in"),
    (lambda: Projection().load_state_dict({"x": torch.ones(1)}), "has no state"),
])
def test_bad_arguments_raise_one_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_run():
    for module in (gating._combine, gating._registry):
        failures, attempted = doctest.testmod(module, extraglobs={"torch": torch})
        assert failures == 0 and attempted > 0
