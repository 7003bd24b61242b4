"""Breakout with the shipped imperfect teacher: RL, RL + KL, KL only, cosine, projection.

    python -m scripts.experiments.breakout_teacher [--seeds 2] [--steps 500000] [--workers 1]
        [--set env.threads=4 ...]

Each run is the first ``--steps`` agent steps of the standard 10M-step PPO schedule of
``configs/breakout.yaml`` (learning rate annealed over 10M, as in the no-teacher evidence run
``agents/breakout_ppo_noteacher``, which is RL alone's seed 1), with the teacher
``teachers/breakout_ppo_350k`` (9.0 points) and lambda = LAM. Runs train in the ignored
``runs/experiments/breakout_teacher/<method>__seed<seed>`` for sittings of about ``--hours``
and resume there; each finished run is reduced to ``docs/data/breakout_teacher/<run>.npz``,
which is what gets committed and what ``python -m scripts.make_report`` reads.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from scripts.experiments.common import (
    ATARI_BIN,
    INFLUENCE_HEADER,
    RECORDS,
    Claim,
    Experiment,
    MethodRuns,
    RunSpec,
    add_speed_option,
    bin_centres,
    card_mean,
    measured_claim,
    passing_bin,
    reached_curves,
    reached_steps,
    teacher_runs,
    with_speed,
)

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "breakout.yaml")
EXPERIMENT = Experiment("breakout_teacher")
TEACHER = "teachers/breakout_ppo_350k"
TEACHER_SCORE = card_mean(TEACHER)
LAM = 1.0
METHODS: dict[str, tuple[str, ...]] = {
    "rl_alone": ("gate.name=single", "teacher.path=none"),
    "rl+kl": ("gate.name=multitask",),
    "cosine": ("gate.name=cosine",),
    "kl_only": ("gate.name=kl_only",),
    "projection": ("gate.name=projection",),
}
"""In the order they are trained (per seed): the comparison at the heart of it first."""
REUSED = {("rl_alone", 1): RECORDS / "breakout_ppo_noteacher.npz"}
"""Runs made elsewhere with the same settings (the record of ``agents/breakout_ppo_noteacher``),
used instead of training them again."""


def run_dir(method: str, seed: int) -> Path:
    return REUSED.get((method, seed)) or EXPERIMENT.run(f"{method}__seed{seed}")


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    return teacher_runs(METHODS, TEACHER, LAM, CONFIG, seeds, steps, skip=frozenset(REUSED))


def curves(method: str, seeds: list[int], tag: str, steps: int, bins: int
           ) -> tuple[np.ndarray, list[int]]:
    """(seeds found, bins) curves of one method, NaN past each run's step; the seeds found."""
    values, found = reached_curves([run_dir(method, s) for s in seeds], tag, steps, bins)
    return values, [seeds[i] for i in found]


TAGS = {"charts/episodic_return": "score", "losses/teacher_kl": "KL(teacher || student)",
        "gate/cosine": "gate cosine", "gate/weight": "gate weight"}
"""The scalars read from each run, with their axis labels (the figure's panels, in order)."""


@dataclass(frozen=True)
class Measured:
    """What the Breakout-with-teacher section shows: the runs of ``seeds`` found so far at a
    budget of ``steps`` agent steps, and the numbers its claims compare."""

    seeds: tuple[int, ...]
    steps: int
    runs: dict[str, MethodRuns]
    """The methods with a run so far (in METHODS' order), their curves of every tag in TAGS."""
    scores: dict[str, tuple[float, float]]
    """Early and late score of each method in ``runs`` (:func:`early_late`)."""
    weights: dict[str, tuple[float, float]]
    """Early and late gate weight of the methods in ``runs`` that log one."""
    unfinished: list[str]
    """The methods not run yet, or short of their seeds or of the budget."""

    @property
    def x(self) -> np.ndarray:
        """The centres of the 25k-step bins, in thousands of agent steps."""
        return bin_centres(self.steps) / 1e3


def measure(seeds: tuple[int, ...] = (1, 2), steps: int = 500_000) -> Measured:
    """Reads every method's runs (records, or live runs still training)."""
    bins = steps // ATARI_BIN
    runs, scores, weights, unfinished = {}, {}, {}, []
    for method in METHODS:
        score, found = curves(method, list(seeds), "charts/episodic_return", steps, bins)
        if not found:
            unfinished.append(method)
            continue
        reached = reached_steps([run_dir(method, s) for s in found])
        values = {tag: score if tag == "charts/episodic_return" else curves(
            method, found, tag, steps, bins)[0] for tag in TAGS}
        runs[method] = MethodRuns(found, reached, values)
        scores[method] = early_late(score, reached, steps)
        if not np.isnan(values["gate/weight"]).all():
            weights[method] = early_late(values["gate/weight"], reached, steps)
        if len(found) < len(seeds) or min(reached) < steps:
            unfinished.append(method)
    return Measured(seeds, steps, runs, scores, weights, unfinished)


def plot(measured: Measured, figures: Path) -> None:
    """``figures``/breakout_teacher.png: each tag's mean curve per method."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for method, runs in measured.runs.items():
        for ax, tag in zip(axes.flat, TAGS, strict=True):
            if not np.isnan(runs.curves[tag]).all():
                ax.plot(measured.x, np.nanmean(runs.curves[tag], axis=0), label=method)
    for ax, label in zip(axes.flat, TAGS.values(), strict=True):
        ax.set(xlabel="agent steps (thousands)", ylabel=label)
        if ax.lines:
            ax.legend(fontsize=7)
    axes.flat[0].axhline(TEACHER_SCORE, color="k", ls=":", label=f"teacher {TEACHER_SCORE:g}")
    fig.suptitle(f"Breakout with teacher {TEACHER} (mean over the seeds run so far)")
    fig.tight_layout()
    fig.savefig(figures / "breakout_teacher.png", dpi=110)
    plt.close(fig)


def prose(measured: Measured) -> str:
    """The section's text: the settings, the table of runs and the teacher's influence."""
    seeds, steps = measured.seeds, measured.steps
    rows, influence = [], []
    for method in METHODS:
        if method not in measured.runs:
            rows.append(f"| {method} | not run yet | | | | |")
            continue
        runs = measured.runs[method]

        def trend(v: np.ndarray, reached: list[int] = runs.reached) -> str:
            if np.isnan(v).all():
                return "–"
            v_early, v_late = early_late(v, reached, steps)
            return f"{v_early:.2f} → {'–' if np.isnan(v_late) else f'{v_late:.2f}'}"

        early, late = measured.scores[method]
        influence.append(_influence_row(method, runs.curves, measured.x))
        found = ", ".join(f"{s} ({r:,})" for s, r in zip(runs.seeds, runs.reached, strict=True))
        late_text = "–" if np.isnan(late) else f"{late:.1f}"
        rows.append(f"| {method} | {found} | {early:.1f} | {late_text} | "
                    f"{trend(runs.curves['gate/weight'])} | {trend(runs.curves['gate/cosine'])} |")
    return f"""## Breakout with the imperfect teacher

Made by `python -m scripts.experiments.breakout_teacher --seeds {len(seeds)} --steps {steps}`
(CPU only, 2 cores; resumed across sessions from checkpoints in the ignored runs folder).
Each run is
the first {steps:,} agent steps of `configs/breakout.yaml`'s 10M-step PPO schedule; teacher
`{TEACHER}` (9.0 ± 3.4), λ = {LAM:g}, gate on the shared parameters against the policy loss.
RL alone's seed 1 is `agents/breakout_ppo_noteacher`. Seeds listed with the agent step each run
has reached. Early = mean score over the first 100k steps (all seeds run), late = over the
last 50k of {steps:,} (the seeds that reached it; –: none yet); gate weight and cosine likewise.

![Breakout with teacher](figures/breakout_teacher.png)

| method | seeds (steps reached) | early score | late score | gate weight | gate cosine |
|---|---|---:|---:|---:|---:|
{chr(10).join(rows)}

Claims are measured on the seeds that reached {steps:,} steps; while some have not, their
verdicts say "so far".

**The teacher's influence as the student passes it.** Per method: the 25k-step bin from which
its mean score (over the seeds run so far, up to the step all have reached) stays above the
teacher's {TEACHER_SCORE:g}, and the mean gate weight (share of λ·g_KL applied), gate cosine and
teacher KL before → after that bin (RL alone, for reference: when PPO alone passes it).

{INFLUENCE_HEADER}
{chr(10).join(influence) or "| (no run with a teacher yet) | | | | |"}
"""


def report(figures: Path, seeds: tuple[int, ...] = (1, 2), steps: int = 500_000
           ) -> tuple[str, list[Claim]]:
    """The Breakout-with-teacher section of docs/RESULTS.md and its claims."""
    measured = measure(seeds, steps)
    plot(measured, figures)
    return prose(measured), claims(measured)


def early_late(values: np.ndarray, reached: list[int], steps: int) -> tuple[float, float]:
    """Mean of (runs, 25k-step bins) curves over the first 100k steps (every run) and over the
    last 50k of ``steps`` (the runs that reached it; NaN if none did)."""
    at_budget = np.array([r >= steps for r in reached])
    late = np.nanmean(values[at_budget, -2:]) if at_budget.any() else np.nan
    return float(np.nanmean(values[:, :4])), float(late)


def _influence_row(method: str, values: dict[str, np.ndarray], x: np.ndarray) -> str:
    """One row of the influence table, on the bins every seed has reached."""
    score = values["charts/episodic_return"]
    reached = ~np.isnan(score).any(axis=0)
    end = int(np.argmin(reached)) if not reached.all() else len(x)
    at = passing_bin(score[:, :end].mean(axis=0), TEACHER_SCORE) if end else None
    if at is None or at == 0:
        return f"| {method} | {'not yet' if at is None else 'from the start'} | | | |"
    cells = []
    for tag in ("gate/weight", "gate/cosine", "losses/teacher_kl"):
        mean = np.nanmean(values[tag][:, :end], axis=0)
        cells.append("–" if np.isnan(mean).all() else
                     f"{np.nanmean(mean[:at]):.3g} → {np.nanmean(mean[at:]):.3g}")
    return f"| {method} | {x[at]:.0f}k | " + " | ".join(cells) + " |"


def claims(measured: Measured) -> list[Claim]:
    """The poster's three Breakout claims, on early / late scores (and the cosine gate's
    weight), each measured once every method it compares has a run at the budget."""
    summary, weights, unfinished = measured.scores, measured.weights, measured.unfinished

    def compared(method: str) -> str:
        early, late = summary[method]
        base_early, base_late = summary["rl_alone"]
        return (f"{method} early {early:.1f} / late {late:.1f}; RL alone {base_early:.1f} / "
                f"{base_late:.1f}")

    def claim(text: str, methods: tuple[str, ...], holds, describe) -> Claim:
        ready = not any(np.isnan(summary.get(m, (np.nan, np.nan))[1]) for m in methods)
        return measured_claim(text, methods, unfinished, ready, describe, holds)

    def cosine_uses_then_ignores() -> bool:
        (early, late), (weight_early, weight_late) = summary["cosine"], weights["cosine"]
        return (early >= summary["rl_alone"][0] and late >= summary["rl+kl"][1]
                and weight_late < weight_early)

    return [
        claim("RL + KL: the teacher only helps initially (Breakout)", ("rl_alone", "rl+kl"),
              lambda: summary["rl+kl"][0] > summary["rl_alone"][0]
              and summary["rl+kl"][1] < summary["rl_alone"][1], lambda: compared("rl+kl")),
        claim("Only KL leads to a sub-optimal solution (Breakout)", ("rl_alone", "kl_only"),
              lambda: summary["kl_only"][1] < summary["rl_alone"][1],
              lambda: compared("kl_only")),
        claim("Cosine gating uses the teacher early and ignores it later (Breakout)",
              ("rl_alone", "rl+kl", "cosine"), cosine_uses_then_ignores,
              lambda: (f"{compared('cosine')}; RL + KL late {summary['rl+kl'][1]:.1f}; cosine "
                       f"gate weight {weights['cosine'][0]:.2f} → {weights['cosine'][1]:.2f}")),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=500_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    parser.add_argument("--runs-dir", type=Path,
                        help="where the runs train (default: $RL_AUXGRAD_RUNS or runs, "
                             "/experiments/breakout_teacher)")
    parser.add_argument("--only", nargs="+", choices=sorted(METHODS),
                        help="train only these methods (the report shows what exists)")
    add_speed_option(parser)
    args = parser.parse_args(argv)
    runs = with_speed(planned_runs(list(range(1, args.seeds + 1)), args.steps), args.set)
    if args.only:
        runs = [r for r in runs if r.name.split("__")[0] in args.only]
    EXPERIMENT.train(runs, args.workers, args.hours, args.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
