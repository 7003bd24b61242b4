"""Breakout + Ms. Pac-Man as one multi-task agent, with the Breakout teacher only: multitask RL,
multitask RL + KL, and per-game cosine gating (each game's KL against that game's RL loss).

    python scripts/experiments/multitask_teacher.py [--seeds 2] [--steps 500000] [--workers 1]

``configs/multitask.yaml`` (8 envs of each game, the ALE's 18 actions, a policy and value head
per game, shared Nature-CNN torso), the first ``--steps`` agent steps (both games together) of
its 20M-step schedule, teacher ``teachers/breakout_ppo_350k`` mapped into the 18 actions by
ALE action meaning, lambda = LAM. The poster's claim: Ms. Pac-Man ignores the Breakout teacher
(its gate weight falls) while Breakout uses it. Runs live in
``agents/experiments/multitask_teacher/<method>__seed<seed>`` and are committed as they go.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from common import RunSpec, reached_curves, reached_steps, run_in_checkout, teacher_runs

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "multitask.yaml")
RUNS = ROOT / "agents" / "experiments" / "multitask_teacher"
TEACHER = "teachers/breakout_ppo_350k"
LAM = 1.0
GAMES = ("Breakout", "MsPacman")
PRECISION = "bf16"
"""Every run's agent.precision: bf16 trains 1.66x faster here (docs/PERFORMANCE.md) and learns
Breakout like fp32 (scripts/experiments/precision_check.py); all methods share it."""
METHODS: dict[str, tuple[str, ...]] = {
    "cosine": ("gate.name=cosine", f"agent.precision={PRECISION}"),
    "multitask_rl+kl": ("gate.name=multitask", f"agent.precision={PRECISION}"),
    "multitask_rl": ("gate.name=single", "teacher.path=none", f"agent.precision={PRECISION}"),
}
"""In the order they are trained (per seed): the gate whose per-game weights are the claim
first."""


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    return teacher_runs(METHODS, TEACHER, LAM, CONFIG, seeds, steps)


def report(figures: Path, seeds: tuple[int, ...] = (1, 2), steps: int = 500_000
           ) -> tuple[str, list[tuple[str, str, str]]]:
    """The multi-task section of docs/RESULTS.md and its claims."""
    bins = steps // 25_000
    x = (np.arange(bins) + 0.5) * steps / bins / 1e3
    panels = [(f"charts/episodic_return/{g}", f"{g} score") for g in GAMES]
    panels += [(f"gate/weight/{g}", f"{g} gate weight") for g in GAMES]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    rows, weights, finished_runs = [], {}, {}
    for method in METHODS:
        dirs = [RUNS / f"{method}__seed{s}" for s in seeds]
        _, found = reached_curves(dirs, "charts/episodic_return", steps, bins)
        if not found:
            rows.append(f"| {method} | not run yet |" + " |" * 4)
            continue
        reached = reached_steps([dirs[i] for i in found])
        finished_runs[method] = len(found) == len(seeds) and min(reached) >= steps
        cells = []
        for ax, (tag, _) in zip(axes.flat, panels, strict=True):
            values, _ = reached_curves(dirs, tag, steps, bins)
            if not np.isnan(values).all():
                ax.plot(x, np.nanmean(values, axis=0), label=method)
            early = np.nanmean(values[:, :4]) if values.size else np.nan
            late = np.nanmean(values[:, -2:]) if values.size else np.nan
            cells.append("–" if np.isnan(early) else (
                f"{early:.2f} → {'–' if np.isnan(late) else f'{late:.2f}'}"))
            if tag.startswith("gate/weight/"):
                weights[(method, tag.rsplit("/", 1)[1])] = (early, late)
        runs = ", ".join(f"{seeds[i]} ({r:,})" for i, r in zip(found, reached, strict=True))
        rows.append(f"| {method} | {runs} | " + " | ".join(cells) + " |")
    for ax, (_, label) in zip(axes.flat, panels, strict=True):
        ax.set(xlabel="agent steps, both games (thousands)", ylabel=label)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(f"Breakout + Ms. Pac-Man, teacher {TEACHER} (mean over the seeds run so far)")
    fig.tight_layout()
    fig.savefig(figures / "multitask_teacher.png", dpi=110)
    plt.close(fig)
    breakout, pacman = weights.get(("cosine", "Breakout")), weights.get(("cosine", "MsPacman"))
    done = finished_runs.get("cosine", False) and breakout is not None and pacman is not None
    claims = [("Multi-task: Ms. Pac-Man ignores the Breakout teacher when it hurts; Breakout "
               "uses it",
               (f"cosine gate weight, first 100k → last 50k: Breakout {breakout[0]:.2f} → "
                f"{breakout[1]:.2f}, Ms. Pac-Man {pacman[0]:.2f} → {pacman[1]:.2f}")
               if done else "runs not finished",
               ("agrees" if pacman[1] < breakout[1] else "differs") if done
               else "not measured yet")]
    header = " | ".join(label + ", early → late" for _, label in panels)
    text = f"""## Multi-task Breakout + Ms. Pac-Man with the Breakout teacher

Made by `python scripts/experiments/multitask_teacher.py --seeds {len(seeds)} --steps {steps}`
(CPU only; continued across sessions from committed checkpoints). Each run is the first
{steps:,} agent steps (both games) of `configs/multitask.yaml`'s schedule; teacher `{TEACHER}`,
λ = {LAM:g}, each game's KL gated against that game's policy loss; every run with
`agent.precision={PRECISION}` (see the precision check above). Early = first 100k steps, late =
last 50k of {steps:,} (–: not reached).

![multi-task](figures/multitask_teacher.png)

| method | seeds (steps reached) | {header} |
|---|---|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    return text, claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=500_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--runs-dir", type=Path, default=RUNS)
    args = parser.parse_args(argv)
    run_in_checkout(planned_runs(list(range(1, args.seeds + 1)), args.steps), args.runs_dir,
                    args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
