"""Reference formulas of the gates, written from the papers independently of the library, and
hypothesis strategies for gradient pairs."""

from __future__ import annotations

import torch
from hypothesis import strategies as st
from torch import Tensor

STATELESS = ["single", "multitask", "cosine", "cosine_unweighted", "projection", "orthogonal",
             "pcgrad"]


def cos(x: Tensor, y: Tensor) -> float:
    nx, ny = float(x.norm()), float(y.norm())
    return 0.0 if nx == 0 or ny == 0 else float(x @ y) / nx / ny


def project_off(x: Tensor, onto: Tensor) -> Tensor:
    """x minus its component along ``onto`` (x itself if ``onto`` is zero)."""
    sq = float(onto @ onto)
    return x if sq == 0 else x - float(x @ onto) / sq * onto


def reference(gate: str, gm: Tensor, ga: Tensor, lam: float, threshold: float = 0.0,
              ref: Tensor | None = None) -> Tensor:
    """The update of each gate, as the papers write it. ``ref`` defaults to ``gm``."""
    r = gm if ref is None else ref
    if gate == "single":
        return gm
    if gate == "multitask":
        return gm + lam * ga
    if gate == "cosine":  # Du et al., weighted
        return gm + lam * max(0.0, cos(r, ga)) * ga
    if gate == "cosine_unweighted":  # Du et al., unweighted
        return gm + lam * ga if cos(r, ga) > threshold else gm
    if gate == "projection":  # Tran-Thien, Algorithm 1 / 2
        return gm + lam * (ga if float(r @ ga) >= 0 else project_off(ga, r))
    if gate == "orthogonal":  # Tran-Thien, D.2
        return gm + lam * project_off(ga, r)
    if gate == "pcgrad":  # Yu et al.: project each off the other when they conflict, then sum
        scaled = lam * ga
        if float(gm @ scaled) < 0:
            return project_off(gm, scaled) + project_off(scaled, gm)
        return gm + scaled
    raise KeyError(gate)


def vectors(dim: int, scale: float = 1e3) -> st.SearchStrategy[Tensor]:
    """Entries 0 or of magnitude in [1e-6, scale]: scales go to extremes in gradient_pairs."""
    entry = st.one_of(st.just(0.0), st.floats(1e-6, scale), st.floats(-scale, -1e-6))
    return st.lists(entry, min_size=dim, max_size=dim).map(
        lambda v: torch.tensor(v, dtype=torch.float64))


@st.composite
def gradient_pairs(draw: st.DrawFn, max_dim: int = 12, dim: int | None = None,
                   huge: float = 1e30) -> tuple[Tensor, Tensor]:
    """Random pairs plus curated ones: zero, aligned, opposed, orthogonal, tiny and huge scales.

    ``huge`` is the largest scale factor: keep squared norms inside the dtype's range."""
    dim = dim or draw(st.integers(1, max_dim))
    gm, ga = draw(vectors(dim)), draw(vectors(dim))
    kind = draw(st.sampled_from(["random", "zero_main", "zero_aux", "aligned", "opposed",
                                 "orthogonal", "tiny", "huge"]))
    if kind == "zero_main":
        gm = torch.zeros_like(gm)
    elif kind == "zero_aux":
        ga = torch.zeros_like(ga)
    elif kind == "aligned":
        ga = draw(st.floats(0.01, 100)) * gm
    elif kind == "opposed":
        ga = -draw(st.floats(0.01, 100)) * gm
    elif kind == "orthogonal":
        ga = project_off(ga, gm)
    elif kind == "tiny":
        gm, ga = gm * 1e-30, ga * 1e-30
    elif kind == "huge":
        gm, ga = gm * huge, ga * huge
    return gm, ga


lams = st.sampled_from([0.0, 0.1, 1.0, 3.0, 10.0])


def close(x: Tensor, y: Tensor, *inputs: Tensor, rtol: float = 1e-7) -> bool:
    """Equal up to float64 rounding, relative to the largest entry of the outputs and inputs."""
    scale = max(float(t.abs().max()) for t in (x, y, *inputs))
    scale = max(scale, 1e-300)
    return bool(((x - y).abs() <= rtol * scale).all())
