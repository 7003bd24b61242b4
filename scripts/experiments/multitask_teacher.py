"""Breakout + Ms. Pac-Man as one multi-task agent, with the Breakout teacher only: multitask RL,
multitask RL + KL, and per-game cosine gating (each game's KL against that game's RL loss).

    python -m scripts.experiments.multitask_teacher [--seeds 2] [--steps 500000] [--workers 1]

``configs/multitask.yaml`` (8 envs of each game, the ALE's 18 actions, a policy and value head
per game, shared Nature-CNN torso), the first ``--steps`` agent steps (both games together) of
its 20M-step schedule, teacher ``teachers/breakout_ppo_350k`` mapped into the 18 actions by
ALE action meaning, lambda = LAM, fp32. The poster's claims: multitask RL learns Ms. Pac-Man
at the expense of Breakout; RL + KL helps Breakout but hurts Ms. Pac-Man; with the cosine gate
Ms. Pac-Man ignores the teacher (its gate weight stays below Breakout's) and both games learn
well. Runs train in ``runs/experiments/multitask_teacher/<method>__seed<seed>`` (sittings of
about ``--hours``, resumed there); each finished run is reduced to
``docs/data/multitask_teacher/<run>.npz``, the only part committed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from scripts.experiments import breakout_teacher
from scripts.experiments.breakout_teacher import early_late
from scripts.experiments.common import (
    ATARI_BIN,
    Claim,
    Experiment,
    MethodRuns,
    RunSpec,
    bin_centres,
    measured_claim,
    reached_curves,
    reached_steps,
    teacher_runs,
    window_mean,
)

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "multitask.yaml")
EXPERIMENT = Experiment("multitask_teacher")
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
DIAGNOSTICS = {f"gate/cosine/{g}": f"{g} cos(g_RL, g_KL)" for g in GAMES} | {
    f"losses/teacher_kl/{g}": f"{g} KL to the teacher" for g in GAMES}
"""Per-game scalars of the runs with a teacher, tabulated beside the curves."""


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    return teacher_runs(METHODS, TEACHER, LAM, CONFIG, seeds, steps)


PANELS = {**{f"charts/episodic_return/{g}": f"{g} score" for g in GAMES},
          **{f"gate/weight/{g}": f"{g} gate weight" for g in GAMES}}
"""The figure's panels (in order) and the main table's columns: per-game scores and weights."""


@dataclass(frozen=True)
class Measured:
    """What the multi-task section shows: the runs of ``seeds`` found so far at a budget of
    ``steps`` agent steps (both games), and the numbers its claims compare."""

    seeds: tuple[int, ...]
    steps: int
    runs: dict[str, MethodRuns]
    """The methods with a run so far (in METHODS' order), their curves of PANELS and
    DIAGNOSTICS."""
    summary: dict[tuple[str, str], tuple[float, float]]
    """Early and late value of each (method, tag) the method logs (:func:`early_late`)."""
    single_breakout: float
    """Single-task PPO's late Breakout score at the same Breakout steps
    (:func:`single_task_breakout`)."""
    unfinished: list[str]
    """The methods not run yet, or short of their seeds or of the budget."""

    @property
    def x(self) -> np.ndarray:
        """The centres of the 25k-step bins, in thousands of agent steps (both games)."""
        return bin_centres(self.steps) / 1e3


def measure(seeds: tuple[int, ...] = (1, 2), steps: int = 500_000) -> Measured:
    """Reads every method's runs (records, or live runs still training)."""
    bins = steps // ATARI_BIN
    runs, summary, unfinished = {}, {}, []
    for method in METHODS:
        dirs = [EXPERIMENT.run(f"{method}__seed{s}") for s in seeds]
        _, found = reached_curves(dirs, "charts/episodic_return", steps, bins)
        if not found:
            unfinished.append(method)
            continue
        reached = reached_steps([dirs[i] for i in found])
        if len(found) < len(seeds) or min(reached) < steps:
            unfinished.append(method)
        curves = {tag: reached_curves(dirs, tag, steps, bins)[0] for tag in [*PANELS, *DIAGNOSTICS]}
        summary |= {(method, tag): early_late(values, reached, steps)
                    for tag, values in curves.items() if not np.isnan(values).all()}
        runs[method] = MethodRuns([seeds[i] for i in found], reached, curves)
    return Measured(seeds, steps, runs, summary, single_task_breakout(seeds, steps), unfinished)


def plot(measured: Measured, figures: Path) -> None:
    """``figures``/multitask_teacher.png: per-game score and gate weight, mean per method."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for method, runs in measured.runs.items():
        for ax, tag in zip(axes.flat, PANELS, strict=True):
            if not np.isnan(runs.curves[tag]).all():
                ax.plot(measured.x, np.nanmean(runs.curves[tag], axis=0), label=method)
    for ax, label in zip(axes.flat, PANELS.values(), strict=True):
        ax.set(xlabel="agent steps, both games (thousands)", ylabel=label)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(f"Breakout + Ms. Pac-Man, teacher {TEACHER} (mean over the seeds run so far)")
    fig.tight_layout()
    fig.savefig(figures / "multitask_teacher.png", dpi=110)
    plt.close(fig)


def prose(measured: Measured) -> str:
    """The section's text: the settings, the per-game table and the diagnostics table."""
    seeds, steps = measured.seeds, measured.steps
    rows, diagnostics = [], []
    for method in METHODS:
        if method not in measured.runs:
            rows.append(f"| {method} | not run yet |" + " |" * 4)
            continue
        runs = measured.runs[method]
        cells = []
        for tag in runs.curves:
            if (method, tag) not in measured.summary:
                cells.append("–")
                continue
            early, late = measured.summary[method, tag]
            cells.append(f"{early:.3g} → {'–' if np.isnan(late) else f'{late:.3g}'}")
        found = ", ".join(f"{s} ({r:,})" for s, r in zip(runs.seeds, runs.reached, strict=True))
        rows.append(f"| {method} | {found} | " + " | ".join(cells[:len(PANELS)]) + " |")
        if method != "multitask_rl":
            diagnostics.append(f"| {method} | " + " | ".join(cells[len(PANELS):]) + " |")
    header = " | ".join(label + ", early → late" for label in PANELS.values())
    diagnostics_header = " | ".join(DIAGNOSTICS.values())
    return f"""## Multi-task Breakout + Ms. Pac-Man with the Breakout teacher

Made by `python -m scripts.experiments.multitask_teacher --seeds {len(seeds)} --steps {steps}`
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

How each game's policy gradient and the teacher's agree, and how close each game's policy stays
to the Breakout teacher (early → late; the gate weight is above):

| method | {diagnostics_header} |
|---|---:|---:|---:|---:|
{chr(10).join(diagnostics)}
"""


def report(figures: Path, seeds: tuple[int, ...] = (1, 2), steps: int = 500_000
           ) -> tuple[str, list[Claim]]:
    """The multi-task section of docs/RESULTS.md and its claims."""
    measured = measure(seeds, steps)
    plot(measured, figures)
    return prose(measured), claims(measured)


def single_task_breakout(seeds: tuple[int, ...], steps: int) -> float:
    """Single-task PPO's Breakout score (the Breakout experiment's RL alone, mean over seeds)
    over the Breakout steps a multi-task run spends in its last 50k steps: each game gets half
    of them, so [(steps - 50k) / 2, steps / 2)."""
    return float(np.nanmean([window_mean(breakout_teacher.run_dir("rl_alone", s),
                                         "charts/episodic_return", (steps - 50_000) // 2,
                                         steps // 2) for s in seeds]))


def claims(measured: Measured) -> list[Claim]:
    """The poster's three multi-task claims on late per-game scores, gate weights and KLs to
    the teacher, each measured once every method it compares has a run at the budget."""
    summary, single_breakout, unfinished = (measured.summary, measured.single_breakout,
                                            measured.unfinished)

    def late(method: str, tag: str, game: str) -> float:
        return summary.get((method, f"{tag}/{game}"), (np.nan, np.nan))[1]

    def claim(text: str, methods: tuple[str, ...], numbers: dict[str, float],
              holds: Callable[[dict[str, float]], bool],
              partly: Callable[[dict[str, float]], bool] | None = None,
              why: Callable[[dict[str, float]], str] | None = None) -> Claim:
        return measured_claim(
            text, methods, unfinished, not any(np.isnan(v) for v in numbers.values()),
            lambda: "late: " + ", ".join(f"{k} {v:.3g}" for k, v in numbers.items()),
            lambda: holds(numbers), None if partly is None else lambda: partly(numbers),
            None if why is None else lambda: why(numbers))

    score, weight, cosine, kl = ("charts/episodic_return", "gate/weight", "gate/cosine",
                                 "losses/teacher_kl")
    mt, rl_kl = "multitask_rl", "multitask_rl+kl"
    cosine_numbers = {
        "cosine gate weight Breakout": late("cosine", weight, "Breakout"),
        "cosine gate weight Ms. Pac-Man": late("cosine", weight, "MsPacman"),
        "cosine Breakout": late("cosine", score, "Breakout"),
        "multitask RL Breakout": late(mt, score, "Breakout"),
        "cosine Ms. Pac-Man": late("cosine", score, "MsPacman"),
        "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman"),
        "RL + KL Ms. Pac-Man": late(rl_kl, score, "MsPacman"),
        "cosine Ms. Pac-Man KL to the teacher": late("cosine", kl, "MsPacman"),
        "RL + KL Ms. Pac-Man KL to the teacher": late(rl_kl, kl, "MsPacman"),
        "cosine gate cosine Ms. Pac-Man": late("cosine", cosine, "MsPacman")}

    def shields_pacman(n: dict[str, float]) -> bool:
        """Ms. Pac-Man's gate passes less of the teacher than Breakout's, Breakout keeps the
        teacher's help and Ms. Pac-Man ends above RL + KL's."""
        return (n["cosine gate weight Ms. Pac-Man"] < n["cosine gate weight Breakout"]
                and n["cosine Breakout"] >= n["multitask RL Breakout"]
                and n["cosine Ms. Pac-Man"] > n["RL + KL Ms. Pac-Man"])

    def pacman_still_pulled(n: dict[str, float]) -> str:
        lost = n["multitask RL Ms. Pac-Man"] - n["RL + KL Ms. Pac-Man"]
        recovered = (f"Ms. Pac-Man recovers "
                     f"{100 * (n['cosine Ms. Pac-Man'] - n['RL + KL Ms. Pac-Man']) / lost:.0f}% "
                     f"of the score RL + KL loses to multitask RL" if lost > 0 else
                     "RL + KL does not lose Ms. Pac-Man score to multitask RL here")
        return (f"Ms. Pac-Man's gate does not shut: it still passes "
                f"{n['cosine gate weight Ms. Pac-Man']:.2f} of λ·g_KL late (Breakout's "
                f"{n['cosine gate weight Breakout']:.2f}) although its mean cosine is "
                f"{n['cosine gate cosine Ms. Pac-Man']:+.2f}: the weight max(0, cos) is taken "
                f"per minibatch, and on the minibatches where the Breakout teacher's gradient "
                f"happens to agree with Ms. Pac-Man's it goes through. That keeps Ms. Pac-Man's "
                f"policy {n['cosine Ms. Pac-Man KL to the teacher']:.3g} nats from the "
                f"teacher's (RL + KL: {n['RL + KL Ms. Pac-Man KL to the teacher']:.3g}); "
                f"{recovered} (cosine {n['cosine Ms. Pac-Man']:.0f}, RL + KL "
                f"{n['RL + KL Ms. Pac-Man']:.0f}, multitask RL "
                f"{n['multitask RL Ms. Pac-Man']:.0f}).")

    return [
        claim("Multi-task RL learns Ms. Pac-Man at the expense of Breakout", (mt,),
              {"multitask RL Breakout": late(mt, score, "Breakout"),
               "single-task RL alone at the same Breakout steps": single_breakout,
               "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman")},
              lambda n: n["multitask RL Breakout"]
              < n["single-task RL alone at the same Breakout steps"]),
        claim("Multi-task RL + KL: the teacher helps Breakout but hurts Ms. Pac-Man",
              (mt, rl_kl),
              {"RL + KL Breakout": late(rl_kl, score, "Breakout"),
               "multitask RL Breakout": late(mt, score, "Breakout"),
               "RL + KL Ms. Pac-Man": late(rl_kl, score, "MsPacman"),
               "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman"),
               "RL + KL Ms. Pac-Man KL to the teacher": late(rl_kl, kl, "MsPacman")},
              lambda n: n["RL + KL Breakout"] > n["multitask RL Breakout"]
              and n["RL + KL Ms. Pac-Man"] < n["multitask RL Ms. Pac-Man"]),
        claim("Cosine: Ms. Pac-Man ignores the Breakout teacher when it hurts; both games "
              "learn well (Ms. Pac-Man as well as in multitask RL)", ("cosine", mt, rl_kl),
              cosine_numbers,
              lambda n: shields_pacman(n)
              and n["cosine Ms. Pac-Man"] >= n["multitask RL Ms. Pac-Man"],
              partly=shields_pacman, why=pacman_still_pulled),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=500_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    parser.add_argument("--runs-dir", type=Path, help="where the runs train (default: "
                        "$RL_AUXGRAD_RUNS or runs, /experiments/multitask_teacher)")
    args = parser.parse_args(argv)
    EXPERIMENT.train(planned_runs(list(range(1, args.seeds + 1)), args.steps), args.workers,
                     args.hours, args.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
