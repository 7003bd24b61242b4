"""Du et al. (2018), motivating example: ``L_main = (θ - 10)^2``, ``L_aux = θ^2``.

Plain gradient descent with each gate from two starting points; writes the trajectories to
``<out-dir>/figures/toy_du.png`` and the final values to ``<out-dir>/supervised/toy_du.md``.

    python -m scripts.toy_du [--lam 1.0] [--lr 0.05] [--steps 120] [--out-dir docs]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from rl_auxgrad.supervised.toy import TOY_GATES, TOY_TARGET, run_toy
from scripts.claims import Claim, write_claims

STYLES = {"single": ("k", "-"), "multitask": ("tab:red", "-"), "cosine": ("tab:blue", "-"),
          "cosine_unweighted": ("tab:cyan", "--"), "projection": ("tab:green", ":"),
          "orthogonal": ("tab:orange", "--"), "pcgrad": ("tab:purple", "-.")}
TOLERANCE = 0.01
"""How close to a value a final θ must be to count as converged to it in the report."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=0.05, help="gradient descent step size")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--starts", type=float, nargs="+", default=[-10.0, 20.0])
    parser.add_argument("--out-dir", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    paths = {(gate, theta0): run_toy(gate, args.lam, args.steps, args.lr, theta0)
             for theta0 in args.starts for gate in TOY_GATES}
    figure = args.out_dir / "figures" / "toy_du.png"
    report = args.out_dir / "supervised" / "toy_du.md"
    figure.parent.mkdir(parents=True, exist_ok=True)
    report.parent.mkdir(parents=True, exist_ok=True)
    plot(paths, args, figure)
    found = claim(paths, args.starts, TOY_TARGET / (1 + args.lam))
    write_claims(report.with_name("toy_du_claims.json"), [found])
    report.write_text(markdown(paths, args, Path("..") / "figures" / figure.name, found))
    print(report.read_text())


def plot(paths: dict[tuple[str, float], np.ndarray], args: argparse.Namespace, out: Path
         ) -> None:
    fig, axes = plt.subplots(1, len(args.starts), figsize=(6 * len(args.starts), 4.5),
                             squeeze=False, sharey=True)
    multitask_end = TOY_TARGET / (1 + args.lam)
    for ax, theta0 in zip(axes[0], args.starts, strict=True):
        for i, gate in enumerate(TOY_GATES):  # thinner and thinner: coinciding lines show
            color, style = STYLES[gate]
            ax.plot(paths[gate, theta0], color=color, linestyle=style, linewidth=4 - 0.45 * i,
                    label=gate)
        ax.axhline(TOY_TARGET, color="grey", linewidth=0.8)
        ax.axhline(multitask_end, color="grey", linewidth=0.8, linestyle=":")
        ax.axhline(0.0, color="grey", linewidth=0.5, linestyle="--")
        ax.set_title(f"θ0 = {theta0:g}")
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("θ")
    axes[0, -1].legend(loc="best", fontsize=8)
    fig.suptitle(f"Du et al. toy: L_main = (θ-10)², L_aux = θ², gradient descent lr={args.lr}, "
                 f"λ={args.lam}  (grey: θ=10, dotted: θ=10/(1+λ), dashed: θ=0)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def markdown(paths: dict[tuple[str, float], np.ndarray], args: argparse.Namespace,
             figure: Path, found: Claim) -> str:
    """The report: settings, the final values, the coinciding gates and the claim ``found``."""
    multitask_end = TOY_TARGET / (1 + args.lam)
    lines = [
        "# Du et al. (2018) toy problem",
        "",
        f"Made by `{shlex.join(['python', '-m', 'scripts.toy_du', *sys.argv[1:]])}`.",
        "",
        "`L_main = (θ - 10)^2`, `L_aux = θ^2`, one scalar `θ`. Plain gradient descent "
        f"(`torch.optim.SGD`, no momentum), step size {args.lr}, {args.steps} steps, "
        f"λ = {args.lam}; the gate combines the two 1-element gradients "
        "(`rl_auxgrad.gating.gated_backward`). Multitask's fixed point is "
        f"θ = 10 / (1 + λ) = {multitask_end:g}.",
        "",
        f"![trajectories]({figure.as_posix()})",
        "",
        "| θ0 | method | final θ | final L_main | distance to θ = 10 |",
        "|---:|---|---:|---:|---:|",
    ]
    for (gate, theta0), path in paths.items():
        end = float(path[-1])
        lines.append(f"| {theta0:g} | {gate} | {end:.4f} | {(end - TOY_TARGET) ** 2:.3g} | "
                     f"{abs(end - TOY_TARGET):.3g} |")
    lines += ["", *identical(paths, args.starts), "", say(found), ""]
    return "\n".join(lines)


def identical(paths: dict[tuple[str, float], np.ndarray], starts: list[float]) -> list[str]:
    """Sentences naming the methods whose trajectories agree to 1e-9, per start."""
    lines = []
    for theta0 in starts:
        groups: list[list[str]] = []
        for gate in TOY_GATES:
            group = next((g for g in groups if np.allclose(paths[g[0], theta0],
                                                           paths[gate, theta0], atol=1e-9)), None)
            if group is None:
                groups.append([gate])
            else:
                group.append(gate)
        same = "; ".join(" = ".join(g) for g in groups if len(g) > 1)
        lines.append(f"- θ0 = {theta0:g}: identical trajectories: {same or 'none'}.")
    return ["In one dimension the cosine is ±1, so several gates coincide (to 1e-9): where the "
            "gradients agree, cosine, projection and PCGrad are multitask and orthogonal is single "
            "task; where they conflict, all but multitask and PCGrad are single task, and PCGrad's "
            "update is 0 (each gradient projected onto the other's normal, here {0}), so PCGrad "
            "stops where the gradients start to conflict.", *lines]


def claim(paths: dict[tuple[str, float], np.ndarray], starts: list[float],
          multitask_end: float) -> Claim:
    """The poster's claim: multitask ends at its fixed point and weighted cosine at θ = 10."""
    def ends(gate: str, value: float) -> bool:
        return all(abs(paths[gate, t][-1] - value) < TOLERANCE for t in starts)

    multitask, cosine = ends("multitask", multitask_end), ends("cosine", TOY_TARGET)
    return Claim(f"multitask converges to θ = {multitask_end:g} and weighted cosine to θ = 10 "
                 f"(within {TOLERANCE} from every start)",
                 f"multitask {'did' if multitask else 'did not'}, cosine "
                 f"{'did' if cosine else 'did not'}",
                 "agrees" if multitask and cosine else "differs")


def say(found: Claim) -> str:
    """The report's last line: the claim reproduced, or not, and what did not converge."""
    if found.verdict == "agrees":
        return f"**The poster's claim is reproduced**: {found.text}."
    return f"**The poster's claim is not reproduced**: expected {found.text}; {found.measured}."


if __name__ == "__main__":
    main()
