"""ATTITTUD (Dery et al., ICLR 2021): decompose the auxiliary gradient in the span of the main
task's per-example gradients and re-weight its helpful, harmful and out-of-span parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from ._gates import Gate, GateStats, JacobianThunk
from ._gramian import safe_div

Method = Literal["exact", "randomized"]


def top_singular_basis(jacobian: Tensor, k: int) -> Tensor:
    """The top-``k`` right singular vectors of ``jacobian`` (m x D), as rows, sorted.

    Exact, through the small m x m Gram matrix: ``J J^T = U S^2 U^T`` (eigendecomposition in
    float64), ``V = S^-1 U^T J`` for the ``k`` largest eigenvalues, in decreasing order; then
    one symmetric re-orthonormalisation ``V <- (V V^T)^-1/2 V`` removes the rounding of the
    Gram product. Directions below the numerical rank of the Gram matrix are dropped, so the
    result has ``min(k, rank)`` orthonormal rows. (A thin SVD of the m x D matrix gives the same
    basis but costs about 20x more for m = 32, D = 1.7M.)
    """
    gram = (jacobian @ jacobian.T).double()
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    rank = _numerical_rank(eigenvalues, gram.shape[0], jacobian.dtype)
    keep = min(k, rank)
    u, sigma = eigenvectors[:, :keep], eigenvalues[:keep].sqrt()
    basis = (u.T / sigma[:, None]).to(jacobian) @ jacobian
    return _orthonormalize(basis)


def randomized_singular_basis(jacobian: Tensor, k: int, generator: torch.Generator,
                              oversample: int = 5) -> Tensor:
    """Approximate top-``k`` right singular vectors of ``jacobian`` (m x D), sorted.

    The paper's Algorithm 2 (``C = Pi J`` with Gaussian ``Pi``, then orthonormalise the rows of
    C), followed by the Rayleigh-Ritz step of Halko et al. (2011, Algorithm 5.1) so that the
    returned rows are ordered by their estimated singular value like the exact basis.
    """
    sketch_rows = min(k + oversample, jacobian.shape[0])
    pi = torch.randn(sketch_rows, jacobian.shape[0], generator=generator,
                     device=generator.device).to(jacobian)
    q, _ = torch.linalg.qr((pi @ jacobian).T)  # D x s, orthonormal basis of the sketch
    _, singular, wh = torch.linalg.svd((jacobian @ q).double(), full_matrices=False)
    keep = min(k, _numerical_rank(singular.square(), jacobian.shape[0], jacobian.dtype))
    return _orthonormalize(wh[:keep].to(q) @ q.T)


def _numerical_rank(eigenvalues: Tensor, m: int, dtype: torch.dtype) -> int:
    """How many eigenvalues of an m x m Gram matrix (computed in ``dtype``) are not rounding."""
    if eigenvalues.numel() == 0:
        return 0
    tol = eigenvalues.max() * m * torch.finfo(dtype).eps
    return int((eigenvalues > tol).sum())


def _orthonormalize(rows: Tensor) -> Tensor:
    """Symmetric (Loewdin) orthonormalisation ``(R R^T)^-1/2 R``: the nearest orthonormal rows,
    so a nearly orthonormal, sorted basis keeps its order."""
    if rows.shape[0] == 0:
        return rows
    eigenvalues, eigenvectors = torch.linalg.eigh((rows @ rows.T).double())
    inverse_sqrt = eigenvectors @ torch.diag(eigenvalues.rsqrt()) @ eigenvectors.T
    return inverse_sqrt.to(rows) @ rows


class Attittud(Gate):
    """ATTITTUD gate (Dery et al., 2021, Eq. 1-2 and Algorithm 1).

    With ``V`` (k x D) an orthonormal basis of the top-``k`` right singular vectors of the main
    task's per-example gradient matrix ``J`` (m = ``num_examples`` rows), ``p_main = V g_main``
    and ``p_aux = V g_aux``, the auxiliary gradient splits into

    - ``g+ = V^T (p_aux [p_main * p_aux >= 0])``: in-span components that agree with g_main,
    - ``g- = V^T (p_aux [p_main * p_aux < 0])``: in-span components that conflict,
    - ``g_perp = g_aux - V^T p_aux``: the part outside the span,

    and the update is ``u = eta_main g_main + lam (eta_orth g_perp + eta_pos g+ + eta_neg g-)``.
    ``eta = (1, 1, 1), eta_main = 1`` is multitask; ``eta = (0, 0, 0)`` is single task;
    ``eta_neg = 0`` with ``eta_orth, eta_pos >= 0`` is the paper's no-harm case (Theorem 1).

    The basis is recomputed every ``recompute_every`` calls per slot from the ``jacobian``
    thunk (exactly by SVD, or by the paper's randomized method), and is the gate's state. The
    sign test uses the current batch's ``g_main``.
    """

    name = "attittud"

    def __init__(self, k: int = 10, num_examples: int = 32,
                 eta: tuple[float, float, float] = (1.0, 1.0, 0.0), eta_main: float = 1.0,
                 recompute_every: int = 5, method: Method = "exact", seed: int = 0) -> None:
        if k < 1 or num_examples < 1 or recompute_every < 1:
            raise ValueError(
                f"k, num_examples and recompute_every must be >= 1, got k={k}, "
                f"num_examples={num_examples}, recompute_every={recompute_every}")
        if len(eta) != 3:
            raise ValueError(f"eta must be (eta_orth, eta_pos, eta_neg), got {eta!r}")
        if method not in ("exact", "randomized"):
            raise ValueError(f"method must be 'exact' or 'randomized', got {method!r}")
        self.k, self.num_examples, self.recompute_every = k, num_examples, recompute_every
        self.eta_orth, self.eta_pos, self.eta_neg = (float(e) for e in eta)
        self.eta_main = float(eta_main)
        self.method = method
        self._generator = torch.Generator().manual_seed(seed)
        self._bases: dict[int, Tensor] = {}
        self._calls: dict[int, int] = {}

    def __call__(self, g_main: Tensor, g_aux: Tensor, lam: Tensor | float = 1.0, *,
                 sizes: Tensor | None = None, slot: int = 0,
                 jacobian: JacobianThunk | None = None) -> tuple[Tensor, GateStats]:
        lam = torch.as_tensor(lam, dtype=g_main.dtype, device=g_main.device)
        basis = self._basis(g_main, slot, jacobian)
        p_main, p_aux = (torch.stack([g_main, g_aux]) @ basis.T).unbind(0)  # (2, D) @ (D, k)
        agree = p_main * p_aux >= 0
        helpful, harmful = (torch.stack([p_aux * agree, p_aux * ~agree]) @ basis).unbind(0)
        out_of_span = g_aux - helpful - harmful
        surrogate = (self.eta_orth * out_of_span + self.eta_pos * helpful
                     + self.eta_neg * harmful)
        update = self.eta_main * g_main + lam * surrogate
        cosine = safe_div(torch.dot(g_main, g_aux),
                          torch.linalg.vector_norm(g_main) * torch.linalg.vector_norm(g_aux))
        return update, GateStats.measure(g_main, g_aux, update, lam, cosine)

    def _basis(self, g_main: Tensor, slot: int, jacobian: JacobianThunk | None) -> Tensor:
        calls = self._calls.get(slot, 0)
        self._calls[slot] = calls + 1
        if calls % self.recompute_every == 0 or slot not in self._bases:
            if jacobian is None:
                raise ValueError(
                    "the ATTITTUD gate needs per-example main gradients: pass main_jacobian= "
                    "to gated_backward (see rl_auxgrad.gating.per_example_jacobian)")
            matrix = jacobian(self.num_examples).detach()
            if matrix.ndim != 2 or matrix.shape[1] != g_main.numel():
                raise ValueError(f"the per-example Jacobian must be (m, {g_main.numel()}), "
                                 f"got {tuple(matrix.shape)}")
            if self.method == "exact":
                self._bases[slot] = top_singular_basis(matrix, self.k)
            else:
                self._bases[slot] = randomized_singular_basis(
                    matrix.to(self._generator.device), self.k, self._generator).to(matrix)
        return self._bases[slot].to(g_main)

    def state_dict(self) -> dict[str, Tensor]:
        state = {f"basis.{slot}": basis.clone() for slot, basis in self._bases.items()}
        state |= {f"calls.{slot}": torch.tensor(calls) for slot, calls in self._calls.items()}
        state["generator"] = self._generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        bases, calls = {}, {}
        for key, value in state.items():
            kind, _, slot = key.partition(".")
            if kind == "basis":
                bases[int(slot)] = value.clone()
            elif kind == "calls":
                calls[int(slot)] = int(value)
            elif key != "generator":
                raise ValueError(f"unexpected key {key!r} in an Attittud gate's state")
        if "generator" in state:
            self._generator.set_state(state["generator"])
        self._bases, self._calls = bases, calls

    def __repr__(self) -> str:
        return (f"Attittud(k={self.k}, num_examples={self.num_examples}, "
                f"eta=({self.eta_orth}, {self.eta_pos}, {self.eta_neg}), "
                f"eta_main={self.eta_main}, recompute_every={self.recompute_every}, "
                f"method={self.method!r})")


def per_example_jacobian(
    module: nn.Module, loss_fn: Callable[..., Tensor], *batch: Tensor,
) -> Callable[[Sequence[Tensor], int], Tensor]:
    """Builds ``main_jacobian`` for :func:`gated_backward` from a module and a per-example loss.

    ``loss_fn(model, *example)`` returns the main loss of one example, where ``model(*args)``
    calls ``module`` and each ``example`` tensor keeps a leading batch dimension of 1.
    The returned callable, given the parameters to differentiate and ``m``, computes the
    ``(m, D)`` matrix of per-example gradients of the first ``m`` examples of ``batch`` with
    ``torch.func`` (``vmap`` over ``grad``), the columns ordered as the given parameters.
    """
    names_by_id = {id(p): name for name, p in module.named_parameters()}
    frozen = {name: p.detach() for name, p in module.named_parameters()}
    frozen |= dict(module.named_buffers())

    def jacobian(params: Sequence[Tensor], m: int) -> Tensor:
        missing = [i for i, p in enumerate(params) if id(p) not in names_by_id]
        if missing:
            raise ValueError(f"params at positions {missing} are not parameters of the module")
        names = [names_by_id[id(p)] for p in params]

        def example_loss(trainable: dict[str, Tensor], *example: Tensor) -> Tensor:
            def model(*args: Tensor, **kwargs: Tensor) -> Tensor:
                return functional_call(module, frozen | trainable, args, kwargs)

            return loss_fn(model, *(x.unsqueeze(0) for x in example))

        examples = [x[:m] for x in batch]
        trainable = {name: frozen[name] for name in names}
        grads = vmap(grad(example_loss), in_dims=(None, *([0] * len(examples))))(
            trainable, *examples)
        return torch.cat([grads[name].reshape(len(examples[0]), -1) for name in names], dim=1)

    return jacobian
