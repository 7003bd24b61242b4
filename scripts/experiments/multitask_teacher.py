"""Breakout + Ms. Pac-Man as one multi-task agent, with the Breakout teacher only: multitask RL,
multitask RL + KL, and per-game cosine gating (each game's KL against that game's RL loss).

    python scripts/experiments/multitask_teacher.py [--seeds 2] [--steps 500000] [--workers 1]

``configs/multitask.yaml`` (8 envs of each game, the ALE's 18 actions, a policy and value head
per game, shared Nature-CNN torso), the first ``--steps`` agent steps (both games together) of
its 20M-step schedule, teacher ``teachers/breakout_ppo_350k`` mapped into the 18 actions by
ALE action meaning, lambda = LAM, fp32. The poster's claims: multitask RL learns Ms. Pac-Man
at the expense of Breakout; RL + KL helps Breakout but hurts Ms. Pac-Man; with the cosine gate
Ms. Pac-Man ignores the teacher (its gate weight stays below Breakout's) and both games learn
well. Runs live in ``agents/experiments/multitask_teacher/<method>__seed<seed>`` and are
committed as they go.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import breakout_teacher
import matplotlib.pyplot as plt
import numpy as np
from breakout_teacher import early_late
from common import (
    Claim,
    RunSpec,
    measured_claim,
    reached_curves,
    reached_steps,
    run_in_checkout,
    teacher_runs,
    window_mean,
)

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "multitask.yaml")
RUNS = ROOT / "agents" / "experiments" / "multitask_teacher"
TEACHER = "teachers/breakout_ppo_350k"
LAM = 1.0
GAMES = ("Breakout", "MsPacman")
METHODS: dict[str, tuple[str, ...]] = {
    "cosine": ("gate.name=cosine",),
    "multitask_rl+kl": ("gate.name=multitask",),
    "multitask_rl": ("gate.name=single", "teacher.path=none"),
}
"""In the order they are trained (per seed): the gate whose per-game weights are the claim
first."""


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    return teacher_runs(METHODS, TEACHER, LAM, CONFIG, seeds, steps)


def report(figures: Path, seeds: tuple[int, ...] = (1, 2), steps: int = 500_000
           ) -> tuple[str, list[Claim]]:
    """The multi-task section of docs/RESULTS.md and its claims."""
    bins = steps // 25_000
    x = (np.arange(bins) + 0.5) * steps / bins / 1e3
    panels = [(f"charts/episodic_return/{g}", f"{g} score") for g in GAMES]
    panels += [(f"gate/weight/{g}", f"{g} gate weight") for g in GAMES]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    rows, summary, unfinished = [], {}, []
    for method in METHODS:
        dirs = [RUNS / f"{method}__seed{s}" for s in seeds]
        _, found = reached_curves(dirs, "charts/episodic_return", steps, bins)
        if not found:
            rows.append(f"| {method} | not run yet |" + " |" * 4)
            unfinished.append(method)
            continue
        reached = reached_steps([dirs[i] for i in found])
        if len(found) < len(seeds) or min(reached) < steps:
            unfinished.append(method)
        cells = []
        for ax, (tag, _) in zip(axes.flat, panels, strict=True):
            values, _ = reached_curves(dirs, tag, steps, bins)
            if np.isnan(values).all():
                cells.append("–")
                continue
            ax.plot(x, np.nanmean(values, axis=0), label=method)
            early, late = summary[(method, tag)] = early_late(values, reached, steps)
            cells.append(f"{early:.2f} → {'–' if np.isnan(late) else f'{late:.2f}'}")
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
    claims = _claims(summary, single_task_breakout(seeds, steps), unfinished)
    header = " | ".join(label + ", early → late" for _, label in panels)
    text = f"""## Multi-task Breakout + Ms. Pac-Man with the Breakout teacher

Made by `python scripts/experiments/multitask_teacher.py --seeds {len(seeds)} --steps {steps}`
(CPU only; continued across sessions from committed checkpoints). Each run is the first
{steps:,} agent steps (both games) of `configs/multitask.yaml`'s schedule; teacher `{TEACHER}`,
λ = {LAM:g}, each game's KL gated against that game's policy loss; fp32. Early = first 100k
steps, late = last 50k of {steps:,} (the seeds that reached it; –: none yet). Claims are
measured on the seeds that reached {steps:,} steps; while some have not, their verdicts say
"so far". Single-task reference for Breakout: the Breakout experiment's RL alone over the same
Breakout steps (each game gets half of a multi-task run's steps).

![multi-task](figures/multitask_teacher.png)

| method | seeds (steps reached) | {header} |
|---|---|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    return text, claims


def single_task_breakout(seeds: tuple[int, ...], steps: int) -> float:
    """Single-task PPO's Breakout score (the Breakout experiment's RL alone, mean over seeds)
    over the Breakout steps a multi-task run spends in its last 50k steps: each game gets half
    of them, so [(steps - 50k) / 2, steps / 2)."""
    return float(np.nanmean([window_mean(breakout_teacher.run_dir("rl_alone", s),
                                         "charts/episodic_return", (steps - 50_000) // 2,
                                         steps // 2) for s in seeds]))


def _claims(summary: dict[tuple[str, str], tuple[float, float]], single_breakout: float,
            unfinished: list[str]) -> list[Claim]:
    """The poster's three multi-task claims on late per-game scores and gate weights, each
    measured once every method it compares has a run at the budget."""
    def late(method: str, what: str, game: str) -> float:
        return summary.get((method, f"{what}/{game}"), (np.nan, np.nan))[1]

    def claim(text: str, methods: tuple[str, ...], numbers: dict[str, float], holds
              ) -> Claim:
        return measured_claim(
            text, methods, unfinished, not any(np.isnan(v) for v in numbers.values()),
            lambda: "late: " + ", ".join(f"{k} {v:.3g}" for k, v in numbers.items()),
            lambda: holds(numbers))

    score, weight = "charts/episodic_return", "gate/weight"
    mt, kl = "multitask_rl", "multitask_rl+kl"
    return [
        claim("Multi-task RL learns Ms. Pac-Man at the expense of Breakout", (mt,),
              {"multitask RL Breakout": late(mt, score, "Breakout"),
               "single-task RL alone at the same Breakout steps": single_breakout,
               "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman")},
              lambda n: n["multitask RL Breakout"]
              < n["single-task RL alone at the same Breakout steps"]),
        claim("Multi-task RL + KL: the teacher helps Breakout but hurts Ms. Pac-Man", (mt, kl),
              {"RL + KL Breakout": late(kl, score, "Breakout"),
               "multitask RL Breakout": late(mt, score, "Breakout"),
               "RL + KL Ms. Pac-Man": late(kl, score, "MsPacman"),
               "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman")},
              lambda n: n["RL + KL Breakout"] > n["multitask RL Breakout"]
              and n["RL + KL Ms. Pac-Man"] < n["multitask RL Ms. Pac-Man"]),
        claim("Cosine: Ms. Pac-Man ignores the Breakout teacher when it hurts; both games "
              "learn well", ("cosine", mt, kl),
              {"cosine gate weight Breakout": late("cosine", weight, "Breakout"),
               "cosine gate weight Ms. Pac-Man": late("cosine", weight, "MsPacman"),
               "cosine Breakout": late("cosine", score, "Breakout"),
               "multitask RL Breakout": late(mt, score, "Breakout"),
               "cosine Ms. Pac-Man": late("cosine", score, "MsPacman"),
               "RL + KL Ms. Pac-Man": late(kl, score, "MsPacman")},
              lambda n: n["cosine gate weight Ms. Pac-Man"] < n["cosine gate weight Breakout"]
              and n["cosine Breakout"] >= n["multitask RL Breakout"]
              and n["cosine Ms. Pac-Man"] >= n["RL + KL Ms. Pac-Man"]),
    ]


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
