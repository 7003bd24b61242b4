"""Supervised adapters: the synthetic-regression generator, the two-head trainer, class pairs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from rl_auxgrad.gating import gated_backward
from rl_auxgrad.supervised import class_pairs, synthetic
from rl_auxgrad.supervised.trainer import (
    Split,
    TaskData,
    TrainConfig,
    TwoHead,
    evaluate,
    mean_ci95,
    train,
)

SMALL = synthetic.Sizes(main_train=20, aux_train=30, val=10, test=40)


def test_generator_shapes_and_separate_aux_inputs() -> None:
    data = synthetic.make_data(0, "similar", SMALL)
    for split, n in ((data.main_train, 20), (data.aux_train, 30), (data.val, 10),
                     (data.test, 40)):
        assert split.x.shape == (n, synthetic.INPUTS)
        assert split.y.shape == (n, synthetic.OUTPUTS)
    assert not torch.allclose(data.main_train.x, data.aux_train.x[:20])
    assert data.main_train.y.abs().max() <= 1


def test_aux_kinds_same_similar_unrelated() -> None:
    x = torch.randn(500, synthetic.INPUTS, generator=torch.Generator().manual_seed(1))
    b_main, b_same = synthetic.matrices(3, "same")
    assert torch.equal(synthetic.targets(b_main, x), synthetic.targets(b_same, x))
    for aux in synthetic.AUX_KINDS:  # B_main does not depend on the aux kind
        assert torch.equal(synthetic.matrices(3, aux)[0], b_main)
    _, b_unrelated = synthetic.matrices(3, "unrelated")
    assert (synthetic.targets(b_main, x) - synthetic.targets(b_unrelated, x)).abs().mean() > 0.5
    # variance reading: entries of B have std sqrt(10); corr(B_main x, B_aux x) = sqrt(10/13.5)
    assert b_main.std().item() == pytest.approx(10**0.5, rel=0.02)
    _, b_similar = synthetic.matrices(3, "similar")
    pre_main, pre_similar = (x @ b_main.T).ravel(), (x @ b_similar.T).ravel()
    corr = torch.corrcoef(torch.stack([pre_main, pre_similar]))[0, 1].item()
    assert corr == pytest.approx((10 / 13.5) ** 0.5, abs=0.02)
    with pytest.raises(ValueError, match="aux must be"):
        synthetic.matrices(0, "other")  # type: ignore[arg-type]


def _tiny_model() -> TwoHead:
    return TwoHead(nn.Sequential(nn.Linear(3, 32), nn.ReLU()), nn.Linear(32, 1), nn.Linear(32, 1))


def _tiny_data(seed: int, aux_seed: int | None = None) -> TaskData:
    """Noisy ``y = x_0 - x_1``: 16 training examples (2 steps of 8 per epoch), so a 32-unit net
    overfits."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int, gen: torch.Generator = g) -> Split:
        x = torch.randn(n, 3, generator=gen)
        return Split(x, (x[:, :1] - x[:, 1:2]) + 0.7 * torch.randn(n, 1, generator=gen))

    aux_gen = g if aux_seed is None else torch.Generator().manual_seed(aux_seed)
    return TaskData(split(16), split(16, aux_gen), split(64), split(64))


def test_trainer_learns_early_stops_and_restores_best() -> None:
    config = TrainConfig(gate="multitask", lam=0.1, batch_size=8, lr=3e-2, patience=5,
                         max_epochs=300, seed=0)
    result = train(_tiny_model, _tiny_data(0), nn.functional.mse_loss, config)
    history = result.history
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert result.epochs < config.max_epochs
    assert result.epochs == result.best_epoch + config.patience
    best = min(history["val_loss"])
    assert history["val_loss"][-1] > best  # it did get worse before stopping
    assert history["val_loss"][result.best_epoch - 1] == best
    val_loss, _ = evaluate(result.model, _tiny_data(0).val, nn.functional.mse_loss)
    assert val_loss == pytest.approx(best, rel=1e-6)  # the best weights were restored
    assert len(history["cosine"]) == len(history["weight"]) == result.epochs
    assert all(w == pytest.approx(1.0, abs=1e-4) for w in history["weight"])


def test_trainer_is_reproducible() -> None:
    config = TrainConfig(gate="cosine", batch_size=8, lr=1e-2, patience=3, max_epochs=20,
                         seed=4)
    first, second = (train(_tiny_model, _tiny_data(1), nn.functional.mse_loss, config)
                     for _ in range(2))
    assert first.history == second.history and first.test_loss == second.test_loss


def test_single_gate_torso_gets_main_only_gradient() -> None:
    torch.manual_seed(0)
    model = _tiny_model()
    x_main, x_aux = torch.randn(8, 3), torch.randn(8, 3)
    y_main, y_aux = torch.randn(8, 1), torch.randn(8, 1)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        return (nn.functional.mse_loss(model.main(x_main), y_main),
                nn.functional.mse_loss(model.aux(x_aux), y_aux))

    def grads(gate: str | None) -> list[torch.Tensor]:
        model.zero_grad(set_to_none=True)
        main, aux = losses()
        if gate is None:
            (main + 0.5 * aux).backward()  # torso gets g_main + 0.5 g_aux
        else:
            gated_backward(main, aux, list(model.parameters()), gate, 0.5)
        return [p.grad.clone() for p in model.parameters()]

    model.zero_grad(set_to_none=True)
    losses()[0].backward()
    main_only = [p.grad.clone() for p in (*model.torso.parameters(), *model.main_head.parameters())]
    model.zero_grad(set_to_none=True)
    aux_only = [g.clone() for g in torch.autograd.grad(losses()[1], model.aux_head.parameters())]
    n_torso_main = len(main_only)
    single = grads("single")
    for got, want in zip(single[:n_torso_main], main_only, strict=True):
        assert torch.equal(got, want)
    for got, want in zip(single[n_torso_main:], aux_only, strict=True):
        assert torch.allclose(got, 0.5 * want)
    multitask = grads("multitask")
    assert not torch.allclose(multitask[0], main_only[0])  # the aux loss does reach the torso
    assert torch.allclose(multitask[0], grads(None)[0], atol=1e-6)


def test_single_gate_training_does_not_depend_on_aux_data() -> None:
    config = TrainConfig(gate="single", batch_size=8, lr=1e-2, patience=3, max_epochs=15, seed=2)
    a = train(_tiny_model, _tiny_data(5, aux_seed=10), nn.functional.mse_loss, config)
    b = train(_tiny_model, _tiny_data(5, aux_seed=11), nn.functional.mse_loss, config)
    assert a.history["val_loss"] == b.history["val_loss"]
    for name in ("torso", "main_head"):
        for p, q in zip(getattr(a.model, name).parameters(), getattr(b.model, name).parameters(),
                        strict=True):
            assert torch.equal(p, q)
    multi = train(_tiny_model, _tiny_data(5, aux_seed=10), nn.functional.mse_loss,
                  replace(config, gate="multitask"))
    assert multi.history["val_loss"] != a.history["val_loss"]


def test_frechet_distance_matches_closed_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20_000, 3))
    b = rng.normal(loc=[3.0, 0.0, 0.0], scale=2.0, size=(20_000, 3))
    # |μ_a - μ_b|^2 + Tr(I + 4I - 2 (4I)^{1/2}) = 9 + 3
    assert class_pairs.frechet_distance(a, b) == pytest.approx(12**0.5, rel=0.02)
    assert class_pairs.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-3)


def test_near_far_pairs() -> None:
    rng = np.random.default_rng(1)
    means = {0: 0.0, 1: 0.3, 2: 5.0}  # classes 0 and 1 are close, 2 is far from both
    x = np.concatenate([rng.normal(m, 1.0, size=(300, 4)) for m in means.values()])
    y = np.repeat(list(means), 300)
    distances = class_pairs.pair_distances(x, y)
    near, far = class_pairs.near_far(distances)
    assert near == (0, 1) and far == (0, 2)
    x_digits, y_digits = class_pairs.load()
    digit_distances = class_pairs.pair_distances(x_digits, y_digits)
    near, far = class_pairs.near_far(digit_distances)
    assert len(digit_distances) == 45 and near != far
    assert digit_distances[near] < digit_distances[far]
    assert digit_distances[near] == min(digit_distances.values())


def test_class_pair_data_split() -> None:
    x, y = class_pairs.load()
    data = class_pairs.make_data(x, y, (3, 9), seed=0, n_main=50)
    assert len(data.main_train) == 50
    assert len(data.aux_train) + len(data.val) + len(data.test) == len(y)
    assert 3 <= data.main_train.y.sum() <= 7  # about 5 positives (stratified by digit)
    rows = {tuple(r) for r in data.aux_train.x.tolist()}
    assert {tuple(r) for r in data.main_train.x.tolist()} <= rows  # main subset of train
    assert data.main_train.y.shape == (50, 1) and set(data.val.y.unique().tolist()) == {0.0, 1.0}


def test_mean_ci95() -> None:
    mean, half = mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / 3**0.5, rel=1e-5)
    assert np.isnan(mean_ci95([1.0])[1])
