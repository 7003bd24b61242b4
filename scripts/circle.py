"""Tran-Thien (2020), Section 4.1 / Figure 3: the unit circle and the point (2, 0), with Adam.

``L_main = (sqrt(x^2 + y^2) - 1)^2``, ``L_aux = (x - 2)^2 + y^2``, ``λ = 0.1``; each gate from
several starting points. Writes the trajectories to ``<out-dir>/figures/circle.png`` and the
final points to ``<out-dir>/supervised/circle.md``.

    python -m scripts.circle [--lam 0.1] [--lr 0.01] [--steps 6000] [--out-dir docs]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from rl_auxgrad.supervised.circle import (
    AUX_POINT,
    CIRCLE_GATES,
    CIRCLE_STARTS,
    CIRCLE_TARGET,
    run_circle,
)
from scripts.claims import Claim, write_claims

Paths = dict[tuple[str, tuple[float, float]], np.ndarray]
COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")
GATE_COLORS = dict(zip(CIRCLE_GATES, ("k", "tab:red", "tab:blue", "tab:cyan", "tab:green",
                                      "tab:orange"), strict=True))
ON_CIRCLE = 0.01
"""``||p| - 1|`` below this counts as on the unit circle."""
FAR = 0.5
"""A single-task end further than this from (1, 0) counts as far from it."""
NEAR = 0.3
"""A multitask end closer than this to (1, 0) counts as near it."""
STALL = (0.5, np.sqrt(3) / 2)
"""Where ∇L_aux is tangent to the circle: the weighted cosine gate's weight vanishes there."""


def distance(path: np.ndarray) -> np.ndarray:
    """Distance of each point of ``path`` to the solution (1, 0)."""
    return np.hypot(path[..., 0] - CIRCLE_TARGET[0], path[..., 1] - CIRCLE_TARGET[1])


def main_loss(point: np.ndarray) -> float:
    return float((np.hypot(point[0], point[1]) - 1.0) ** 2)


def show(point: Sequence[float], digits: int = 4) -> str:
    return f"({point[0]:.{digits}f}, {point[1]:.{digits}f})"


def settled(path: np.ndarray, tolerance: float) -> int | None:
    """The first step from which the path stays within ``tolerance`` of (1, 0), if any."""
    outside = np.flatnonzero(distance(path) >= tolerance)
    if outside.size == 0:
        return 0
    return None if outside[-1] == len(path) - 1 else int(outside[-1]) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lam", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--tolerance", type=float, default=0.02,
                        help="distance to (1, 0) that counts as reaching it")
    parser.add_argument("--out-dir", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    paths = {(gate, start): run_circle(gate, start, args.lam, args.steps, args.lr)
             for gate in CIRCLE_GATES for start in CIRCLE_STARTS}
    figure = args.out_dir / "figures" / "circle.png"
    report = args.out_dir / "supervised" / "circle.md"
    figure.parent.mkdir(parents=True, exist_ok=True)
    report.parent.mkdir(parents=True, exist_ok=True)
    plot(paths, args, figure)
    found = claims(paths, args)
    write_claims(report.with_name("circle_claims.json"), found)
    report.write_text(markdown(paths, args, Path("..") / "figures" / figure.name, found))
    print(report.read_text())


def plot(paths: Paths, args: argparse.Namespace, out: Path) -> None:
    fig, axes = plt.subplots(2, 4, figsize=(19, 9.5))
    angle = np.linspace(0, 2 * np.pi, 400)
    for ax, gate in zip(axes.flat, CIRCLE_GATES, strict=False):
        ax.plot(np.cos(angle), np.sin(angle), color="grey", linewidth=1)
        for start, color in zip(CIRCLE_STARTS, COLORS, strict=False):
            path = paths[gate, start]
            ax.plot(path[:, 0], path[:, 1], color=color, linewidth=1.5)
            ax.plot(*start, "s", color=color, markersize=7, label=f"start {start}")
            ax.plot(*path[-1], "o", color=color, markersize=6, markeredgecolor="k")
        ax.plot(*CIRCLE_TARGET, "*", color="gold", markersize=16, markeredgecolor="k")
        ax.plot(*AUX_POINT, "X", color="k", markersize=9)
        ax.set_title(gate)
        ax.set_xlim(-2.2, 2.4)
        ax.set_ylim(-2.3, 2.3)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8, loc="lower left")
    first = CIRCLE_STARTS[0]
    dist_ax, zoom_ax = axes.flat[len(CIRCLE_GATES)], axes.flat[len(CIRCLE_GATES) + 1]
    zoom_ax.plot(np.cos(angle), np.sin(angle), color="grey", linewidth=1)
    for gate in CIRCLE_GATES:
        path, color = paths[gate, first], GATE_COLORS[gate]
        dist_ax.plot(np.maximum(distance(path), 1e-4), color=color, linewidth=1, label=gate)
        zoom_ax.plot(path[:, 0], path[:, 1], color=color, linewidth=1.5, label=gate)
        zoom_ax.plot(*path[-1], "o", color=color, markersize=6, markeredgecolor="k")
    dist_ax.axhline(args.tolerance, color="grey", linestyle=":", linewidth=1)
    dist_ax.set(yscale="log", ylim=(8e-5, 3), xlabel="step",
                title=f"distance to (1, 0) (floored at 1e-4), start {show(first, 1)}")
    zoom_ax.plot(*CIRCLE_TARGET, "*", color="gold", markersize=16, markeredgecolor="k")
    zoom_ax.set(xlim=(0.4, 1.2), ylim=(-0.1, 1.0), aspect="equal",
                title=f"all methods near (1, 0), start {show(first, 1)}")
    zoom_ax.grid(alpha=0.3)
    dist_ax.legend(fontsize=8)
    fig.suptitle(f"Unit circle (Tran-Thien Fig. 3): Adam lr={args.lr}, λ={args.lam}, "
                 f"{args.steps} steps. Squares: starts; dots: ends; star: solution (1, 0); "
                 "X: (2, 0)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def markdown(paths: Paths, args: argparse.Namespace, figure: Path, found: list[Claim]
             ) -> str:
    """The report: settings, the final points, the claims ``found`` and where multitask ends."""
    lines = [
        "# Tran-Thien (2020) unit-circle toy problem",
        "",
        f"Made by `{shlex.join(['python', '-m', 'scripts.circle', *sys.argv[1:]])}`.",
        "",
        "`L_main = (sqrt(x^2 + y^2) - 1)^2`, `L_aux = (x - 2)^2 + y^2`, λ = "
        f"{args.lam}; solution (1, 0). Adam (`torch.optim.Adam`, lr {args.lr}, betas (0.9, "
        f"0.999), eps 1e-8, float64), {args.steps} steps; the gradient Adam sees is the gate's "
        "combination of the two gradients (`rl_auxgrad.gating.gated_backward`). The paper "
        "(B.1) uses lr 0.001, the blog 0.01. Multitask's fixed point is where "
        "∇L_main + λ∇L_aux = 0: x = (1 + 2λ) / (1 + λ) on the x axis = "
        f"{(1 + 2 * args.lam) / (1 + args.lam):.4f}.",
        "",
        f"![trajectories]({figure.as_posix()})",
        "",
        f"'settled at' is the first step from which the point stays within {args.tolerance} "
        "of (1, 0) ('never' if it is outside at the last step).",
        "",
        "| method | start | final point | final L_main | distance to (1, 0) | settled at |",
        "|---|---|---|---:|---:|---:|",
    ]
    for (gate, start), path in paths.items():
        end, step = path[-1], settled(path, args.tolerance)
        lines.append(f"| {gate} | {show(start, 1)} | {show(end)} | "
                     f"{main_loss(end):.3g} | {distance(end):.4f} | "
                     f"{'never' if step is None else step} |")
    lines += ["", f"Claims (reaching (1, 0) means ending within {args.tolerance} of it):", "",
              *map(say, found)]
    fixed_point = ((1 + 2 * args.lam) / (1 + args.lam), 0.0)
    off = max(np.hypot(*(paths["multitask", start][-1] - fixed_point)) for start in CIRCLE_STARTS)
    lines += ["", f"Multitask ends at most {off:.2g} from its fixed point {show(fixed_point)}."]
    if 1e-6 < off < args.tolerance:
        lines[-1] += (" Adam with a constant learning rate on a deterministic gradient does not "
                      "settle exactly at a minimum (as its second-moment estimate decays, the "
                      "step grows until the iterate oscillates), which is also why some "
                      "'settled at' steps are late.")
    return "\n".join([*lines, ""])


def say(claim: Claim) -> str:
    """A claim's bullet: ``- **Reproduced**: text`` or ``- **Not reproduced**: text Why: why``."""
    head = "Reproduced" if claim.verdict == "agrees" else "Not reproduced"
    return f"- **{head}**: {claim.text}" + (f" Why: {claim.why}" if claim.why else "")


def claims(paths: Paths, args: argparse.Namespace) -> list[Claim]:
    """Checks the claims of the paper (Fig. 3, every start) and the blog (Fig. 4, from (0, 2));
    the numbers are in each claim's text (and in the report's table)."""
    tol, first = args.tolerance, CIRCLE_STARTS[0]

    def every(gate: str, test: Callable[[np.ndarray], bool]) -> bool:
        return all(test(paths[gate, start][-1]) for start in CIRCLE_STARTS)

    def reaches(gate: str, start: tuple[float, float]) -> bool:
        return distance(paths[gate, start][-1]) < tol

    def check(ok: bool, text: str, why: str = "") -> Claim:
        return Claim(text, "see the section", "agrees" if ok else "differs", why)

    single = every("single", lambda p: abs(np.hypot(*p) - 1) < ON_CIRCLE and distance(p) > FAR)
    near = max(np.hypot(*(paths["single", start][-1] - np.divide(start, np.hypot(*start))))
               for start in CIRCLE_STARTS)
    multitask = every("multitask", lambda p: tol < distance(p) < NEAR)
    cosines = ("cosine", "cosine_unweighted")
    when = {g: settled(paths[g, first], tol) for g in ("projection", *cosines)}
    steps = {g: np.inf if t is None else t for g, t in when.items()}
    quicker = np.isfinite(max(steps.values())) and all(
        steps["projection"] < steps[g] for g in cosines)
    misses = [f"{g} from {show(start, 1)} ends at {show(paths[g, start][-1])}"
              for g in cosines for start in CIRCLE_STARTS[1:] if not reaches(g, start)]
    stalled = [f"{g} from {show(start, 1)}" for g in cosines for start in CIRCLE_STARTS
               if not reaches(g, start) and np.allclose(np.abs(paths[g, start][-1]),
                                                        STALL, atol=0.01)]
    why = (", ".join(stalled) + " stall at (1/2, ±√3/2), where ∇L_aux is tangent to "
           "the circle, so cos(∇L_main, ∇L_aux) and with it the weight max(0, cos) tend to 0 on "
           "both sides of the circle; only Adam's oscillation across the circle can carry the "
           "point past it." if stalled else "")
    return [
        check(single, f"single task stops on the unit circle (||p| - 1| < {ON_CIRCLE}) near its "
              f"start, far from (1, 0) (> {FAR}), from every start (paper Fig. 3); it ends at "
              f"most {near:.2f} from the point of the circle nearest to its start."),
        check(multitask, f"multitask converges near (within {NEAR}) but not to (1, 0), from "
              "every start (paper Fig. 3)."),
        check(every("projection", lambda p: distance(p) < tol),
              "projection reaches (1, 0) from every start (paper Fig. 3)."),
        check(quicker, f"from {show(first, 1)}, weighted and unweighted cosine also reach (1, 0), "
              "but projection is quicker (blog Fig. 4): settled at step "
              + ", ".join(f"{g} {'never' if t is None else t}" for g, t in when.items()) + "."),
        check(not misses, "the same holds from the other starts (blog)"
              + (": " + "; ".join(misses) + "." if misses else "."), why),
    ]


if __name__ == "__main__":
    main()
