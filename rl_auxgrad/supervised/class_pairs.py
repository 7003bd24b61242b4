"""Class pairs of Du et al. (2018, poster Section 3) on scikit-learn's digits.

For a pair of classes ``(A, B)`` the main task is ``A vs. rest`` and the auxiliary task is
``B vs. rest``, each a logistic head (binary cross-entropy) on a shared MLP torso. Du et al. use
ImageNet classes whose similarity is known from WordNet (LCA) and FID; here the ground truth is
the Fréchet distance between Gaussian fits of the two classes' pixel vectors (an FID without the
Inception network):

    d(A, B)^2 = |μ_A - μ_B|^2 + Tr(Σ_A + Σ_B - 2 (Σ_A^{1/2} Σ_B Σ_A^{1/2})^{1/2}),

and the near (far) pair is the pair with the smallest (largest) distance.

The main task is made data-poor so that the auxiliary task can matter: the digits are split per
seed, stratified by digit, into train (40%), validation (20%) and test (40%); the main task
trains on ``n_main`` training images only (stratified by digit), the auxiliary task on all
training images; validation and test score the main task.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from .trainer import Split, TaskData, TwoHead

Pair = tuple[int, int]
WIDTH = 64


def load() -> tuple[np.ndarray, np.ndarray]:
    """Digits as (1797, 64) pixel intensities scaled to [0, 1], and their labels 0-9."""
    digits = load_digits()
    return digits.data / 16.0, digits.target


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(values.clip(min=0.0))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of the rows of ``a`` and of ``b``.

    The trace term uses the symmetric form ``Σ_A^{1/2} Σ_B Σ_A^{1/2}`` (same eigenvalues as
    ``Σ_A Σ_B``), so singular covariances (constant pixels) need no regularisation.
    """
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0.0)).sum()
    squared = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return float(np.sqrt(max(squared, 0.0)))


def pair_distances(x: np.ndarray, y: np.ndarray) -> dict[Pair, float]:
    """Fréchet distance of every pair of classes ``(a, b)``, ``a < b``.

    Single-threaded BLAS: on 64 x 64 matrices threads only add overhead (20x on a busy machine).
    """
    with threadpool_limits(1):
        return {(a, b): frechet_distance(x[y == a], x[y == b])
                for a, b in combinations(sorted(set(y.tolist())), 2)}


def near_far(distances: dict[Pair, float]) -> tuple[Pair, Pair]:
    """The pairs with the smallest and the largest distance."""
    return min(distances, key=distances.__getitem__), max(distances, key=distances.__getitem__)


def make_data(x: np.ndarray, y: np.ndarray, pair: Pair, seed: int, n_main: int) -> TaskData:
    """Main ``pair[0]`` vs. rest on ``n_main`` training images; aux ``pair[1]`` vs. rest on all."""
    index = np.arange(len(y))
    train, rest = train_test_split(index, train_size=0.4, stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=1 / 3, stratify=y[rest], random_state=seed)
    main, _ = train_test_split(train, train_size=n_main, stratify=y[train], random_state=seed)

    def split(rows: np.ndarray, label: int) -> Split:
        return Split(torch.as_tensor(x[rows], dtype=torch.float32),
                     torch.as_tensor(y[rows] == label, dtype=torch.float32).unsqueeze(1))

    main_class, aux_class = pair
    return TaskData(main_train=split(main, main_class), aux_train=split(train, aux_class),
                    val=split(val, main_class), test=split(test, main_class))


def make_model(inputs: int = 64, width: int = WIDTH) -> TwoHead:
    """Torso ``inputs -> width -> width`` (ReLU), one logistic (1-logit) head per task."""
    torso = nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
    return TwoHead(torso, nn.Linear(width, 1), nn.Linear(width, 1))


def bce(logits: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy on logits, mean over the batch."""
    return nn.functional.binary_cross_entropy_with_logits(logits, target)


def auc(logits: Tensor, target: Tensor) -> float:
    """Area under the ROC curve of the logits."""
    return float(roc_auc_score(target.numpy().ravel(), logits.numpy().ravel()))
