"""cosine_shuffled: the cosine gate's weights, drawn from those already seen in the run."""

from __future__ import annotations

import pytest
import torch
from gate_reference import vectors
from hypothesis import given
from hypothesis import strategies as st

from rl_auxgrad.gating import CosineShuffled, make_gate

pairs = st.lists(st.tuples(vectors(5), vectors(5)), min_size=1, max_size=12)


def real_weight(gm: torch.Tensor, ga: torch.Tensor) -> float:
    den = float(gm.norm() * ga.norm())
    return max(0.0, float(gm @ ga) / den) if den > 0 else 0.0


@given(history=pairs, seed=st.integers(0, 2**31), lam=st.floats(0.1, 10))
def test_applies_only_weights_already_seen_in_its_slot(history, seed, lam):
    """u = g_main + lam w_J g_aux with w_J one of max(0, cos) of the calls so far."""
    gate = make_gate("cosine_shuffled", seed=seed)
    seen = []
    for gm, ga in history:
        seen.append(real_weight(gm, ga))
        update, stats = gate(gm, ga, lam)
        assert max(0.0, float(stats.cosine)) == pytest.approx(seen[-1], abs=1e-9)
        applied = update - gm
        if float(ga.norm()) > 1e-6:
            w = float(applied @ ga) / (lam * float(ga @ ga))
            assert min(abs(w - s) for s in seen) < 1e-6 * (1 + abs(w))
            assert torch.allclose(applied, lam * w * ga, atol=1e-9)


@given(history=pairs, seed=st.integers(0, 2**31))
def test_is_reproducible_from_its_seed_and_resumes_exactly(history, seed):
    a, b, c = (CosineShuffled(seed=seed) for _ in range(3))
    split = len(history) // 2
    for gm, ga in history[:split]:
        assert torch.equal(a(gm, ga)[0], b(gm, ga)[0])
    c.load_state_dict(a.state_dict())
    for gm, ga in history[split:]:
        out_a, out_b, out_c = a(gm, ga)[0], b(gm, ga)[0], c(gm, ga)[0]
        assert torch.equal(out_a, out_b) and torch.equal(out_a, out_c)


def test_first_call_applies_its_own_weight_and_later_draws_vary():
    gate = CosineShuffled(seed=0)
    gm = torch.tensor([1.0, 0.0])
    weights = []
    for angle in torch.linspace(0, 1.5, 200):
        ga = torch.stack([torch.cos(angle), torch.sin(angle)])
        weights.append(float(gate(gm, ga, 1.0)[1].weight))
    assert weights[0] == pytest.approx(1.0)
    real = torch.cos(torch.linspace(0, 1.5, 200))
    # no link with the current minibatch: the drawn weights do not follow the real ones
    drawn = torch.tensor(weights)
    assert abs(float(torch.corrcoef(torch.stack([drawn[100:], real[100:]]))[0, 1])) < 0.3


def test_keeps_one_history_per_slot_and_supports_ema_and_per_variable():
    gate = CosineShuffled(seed=1, ema=0.1, per="variable")
    sizes = torch.tensor([2, 3])
    for slot in (0, 1, 0):
        gate(torch.randn(5), torch.randn(5), 1.0, sizes=sizes, slot=slot)
    state = gate.state_dict()
    assert state["shuffled.0.seen"].shape == (2, 2) and state["shuffled.1.seen"].shape == (1, 2)
    assert "ema.0.average" in state
    with pytest.raises(ValueError, match="unexpected key"):
        CosineShuffled().load_state_dict({"shuffled.generator": state["shuffled.generator"],
                                          "shuffled.x": torch.ones(1)})
