"""Breakout: the default method against the best non-gate baseline, RL alone and RL + KL
(issue 17, item 2).

    python -m scripts.experiments.breakout_default [--seeds 1 2 3] [--steps 500000]
        [--workers 1] [--hours 2] [--set env.threads=2 ...]

The default is ``teacher.lam_schedule=stop`` on the plain sum (``gate.name=multitask``), the
method the signal issue chose (``scripts/experiments/usefulness.py``); the best non-gate
baseline by its ranking is score annealing, ``teacher.lam_schedule=score``. Both run with
breakout_teacher.py's settings exactly (the first ``--steps`` agent steps of
``configs/breakout.yaml``'s 10M-step schedule, ALE v5 with sticky actions 0.25, the shipped
teacher at λ = 1), so RL alone and RL + KL are breakout_teacher's runs of the same seeds
(``python -m scripts.experiments.breakout_teacher --seeds 3 --only rl_alone rl+kl``). Runs
``<method>__seed<seed>`` train in the ignored ``runs/experiments/breakout_default/`` and are
reduced to ``docs/data/breakout_default/``. ``--set`` adds overrides that change the speed of
a run, not its arithmetic (``env.threads``, ``device``), e.g. for many runs side by side on
one GPU machine.

The report (:func:`report`) compares the finished runs with the signal issue's statistics
(:func:`scripts.experiments.aggregate.compare`: the 95% CI of the difference of IQMs against
a margin δ, P(A > B)) on the signal issue's parts and margins: early return (the first 20% of
the budget) against RL + KL's (δ 5%), late return (the last 10%) and AUC (the whole budget)
against RL alone's (δ 2%), and lists every seed's values. Under 5 seeds per method it is
indicative.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from rl_auxgrad.records import is_record, read_record
from rl_auxgrad.runs import scalars
from scripts.experiments import breakout_teacher
from scripts.experiments.aggregate import compare, fmt
from scripts.experiments.atari_budget import hardware
from scripts.experiments.common import (
    ATARI_BIN,
    Experiment,
    RunSpec,
    add_speed_option,
    binned,
    schedule_stop,
    seeds_label,
    smoothed,
    teacher_runs,
    with_speed,
)
from scripts.experiments.control_teacher import MARGINS, part_means
from scripts.experiments.usefulness import cell

EXPERIMENT = Experiment("breakout_default")
METHODS: dict[str, tuple[str, ...]] = {
    "stop": ("gate.name=multitask", "teacher.lam_schedule=stop"),
    "score": ("gate.name=multitask", "teacher.lam_schedule=score"),
}
"""The default and the best non-gate baseline, in the order they are trained (per seed)."""
SEEDS = (1, 2, 3, 4, 5)
STEPS = 500_000
LABELS = {"stop": "stop (the default)", "score": "score (best non-gate baseline)",
          "rl_alone": "RL alone", "rl+kl": "RL + KL"}
"""Every method of the comparison: METHODS' own runs, then breakout_teacher's."""
COMPARISONS = (("stop", "rl+kl", "early"), ("stop", "rl_alone", "late"),
               ("stop", "rl_alone", "auc"), ("score", "rl+kl", "early"),
               ("score", "rl_alone", "late"), ("score", "rl_alone", "auc"),
               ("stop", "score", "late"), ("stop", "score", "auc"))
"""(A, B, part): the signal issue's conditions (i) and (ii) for the default and the baseline,
then the default against the baseline, each with δ = MARGINS[part] of B's IQM."""
PARTS = {"early": "early return", "late": "late return", "auc": "AUC (mean return)"}
RETURN = "charts/episodic_return"
MIN_SEEDS = 3
"""Fewer finished seeds on either side: no comparison (as in the signal issue)."""


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    """Every method at every seed."""
    return teacher_runs(METHODS, breakout_teacher.TEACHER, breakout_teacher.LAM,
                        breakout_teacher.CONFIG, seeds, steps)


def run_path(method: str, seed: int) -> Path:
    """The record (or live directory) of one run: this experiment's for METHODS,
    breakout_teacher's (same settings) for RL alone and RL + KL."""
    if method in METHODS:
        return EXPERIMENT.run(f"{method}__seed{seed}")
    return breakout_teacher.run_dir(method, seed)


def finished_seeds(method: str, seeds: tuple[int, ...]) -> list[int]:
    """The seeds of ``method`` whose run is recorded (records are written once a run has
    finished its budget)."""
    return [seed for seed in seeds if is_record(run_path(method, seed))]


def returns(method: str, seeds: list[int], steps: int) -> np.ndarray:
    """(seeds, bins) mean return per 25k-step bin over the first ``steps`` agent steps."""
    return np.array([binned(run_path(method, seed), RETURN, steps, steps // ATARI_BIN)
                     for seed in seeds]).reshape(len(seeds), steps // ATARI_BIN)


def teacher_ended(method: str, seed: int) -> str:
    """When the teacher's λ fell to 0 for good in one run, and why for ``stop``."""
    if method == "rl_alone":
        return "no teacher"
    path = run_path(method, seed)
    if method == "stop":
        stop = schedule_stop(path)
        if stop.at is None:
            return "did not stop"
        rule = (f"score rule ({stop.student:.1f} ≥ {stop.teacher:g})" if stop.by_score else
                "the bound: ρ's upper bound < 0")
        return f"{stop.at:,}, {rule}"
    steps, lam = scalars(path, "teacher/lam")
    if not lam.size:
        return "–"
    positive = np.nonzero(lam > 0)[0]
    if not positive.size:
        return "from the start"
    last = int(positive[-1])
    return "never" if last == lam.size - 1 else f"{int(steps[last + 1]):,}"


def plot(found: dict[str, list[int]], steps: int, path: Path) -> None:
    """Score (mean per 25k steps over the seeds), teacher KL, the default's signal ρ with its
    upper bound, and λ_t of the default and the baseline, per run."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    x = (np.arange(steps // ATARI_BIN) + 0.5) * ATARI_BIN / 1e3
    for method, seeds in found.items():
        color = f"C{list(LABELS).index(method)}"
        if seeds:
            axes[0, 0].plot(x, returns(method, seeds, steps).mean(axis=0), color=color,
                            label=f"{LABELS[method]} (n {len(seeds)})")
        for index, seed in enumerate(seeds):
            run = run_path(method, seed)
            label = LABELS[method] if index == 0 else None
            kl_steps, kl = scalars(run, "losses/teacher_kl")
            if kl.size:
                centres, means = smoothed(kl_steps[kl_steps <= steps], kl[kl_steps <= steps],
                                          ATARI_BIN)
                axes[0, 1].plot(centres / 1e3, means, color=color, label=label, lw=1)
            if method == "stop":
                for tag, style in (("teacher/agreement", "-"), ("teacher/agreement_ucb", "--")):
                    rho_steps, rho = scalars(run, tag)
                    axes[1, 0].plot(rho_steps / 1e3, rho, style, color=f"C{index}", lw=1,
                                    label=f"seed {seed}: {tag.split('/')[1]}")
            lam_steps, lam = scalars(run, "teacher/lam")
            if method in METHODS and lam.size:
                axes[1, 1].step(lam_steps / 1e3, lam, where="post", lw=1, label=label,
                                color=color)
    axes[1, 0].axhline(0, color="k", lw=0.5)
    titles = (("score", "mean return per 25k steps"), ("teacher KL", "KL(teacher || student)"),
              ("the default's signal while it uses the teacher", "ρ and its upper bound"),
              ("teacher weight", "λ_t"))
    for ax, (title, ylabel) in zip(axes.flat, titles, strict=True):
        ax.set(title=title, xlabel="agent steps (thousands)", ylabel=ylabel)
        if ax.lines:
            ax.legend(fontsize=7)
    axes[0, 0].axhline(breakout_teacher.TEACHER_SCORE, color="k", ls=":", lw=1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(figures: Path | None, seeds: tuple[int, ...] = SEEDS, steps: int = STEPS) -> str:
    """The section of docs/RESULTS.md: per-seed values, the comparisons and the figure
    (``figures``/breakout_default.png; None: no figure)."""
    found = {method: finished_seeds(method, seeds) for method in LABELS}
    scores = {method: returns(method, found[method], steps) for method in LABELS}
    rows = []
    for method in LABELS:
        values = {part: part_means(scores[method], part) for part in PARTS}
        for index, seed in enumerate(found[method]):
            cells = " | ".join(fmt(values[part][index]) for part in PARTS)
            rows.append(f"| {LABELS[method]} | {seed} | {cells} | "
                        f"{teacher_ended(method, seed)} |")
        for seed in sorted(set(seeds) - set(found[method])):
            reached = scalars(run_path(method, seed), RETURN)[0]
            where = f"at {int(reached.max()):,} steps" if reached.size else "not started"
            rows.append(f"| {LABELS[method]} | {seed} | not finished ({where}) | | | |")
    comparisons = []
    for a, b, part in COMPARISONS:
        fewest = min(len(found[a]), len(found[b]))
        comparison = (compare(part_means(scores[a], part), part_means(scores[b], part),
                              MARGINS[part]) if fewest >= MIN_SEEDS else None)
        counts = f"{len(found[a])} / {len(found[b])}"
        comparisons.append(f"| {LABELS[a]} − {LABELS[b]} | {PARTS[part]} | "
                           f"{MARGINS[part]:.0%} | {counts} | "
                           f"{cell(comparison, found[a]) if comparison else '– (too few seeds)'} |")
    if figures is not None:
        plot(found, steps, figures / "breakout_default.png")
    where = "; ".join(
        f"{LABELS[method]}: " + (", ".join(dict.fromkeys(
            hardware(read_record(run_path(method, seed))["hardware"])
            for seed in found[method])) or "–") for method in LABELS)
    return f"""## Breakout: the default against the best non-gate baseline

Made by `python -m scripts.experiments.breakout_default` (issue 17, item 2): the default,
`teacher.lam_schedule=stop` on the plain sum, and the best non-gate baseline of the signal
issue's ranking, score annealing (`teacher.lam_schedule=score`), with breakout_teacher's
settings exactly (the first {steps:,} agent steps of `configs/breakout.yaml`'s 10M-step
schedule, ALE v5 with sticky actions 0.25, teacher `{breakout_teacher.TEACHER}`,
{breakout_teacher.TEACHER_SCORE:g} points, λ = {breakout_teacher.LAM:g}); RL alone and RL + KL
are breakout_teacher's runs of the same seeds. Seeds {seeds[0]}-{seeds[-1]}:
{seeds_label(min(len(found[method]) for method in LABELS))}. The runs' hardware (the same
arithmetic on each): {where}.

Parts as in the signal issue: early = the mean return over the first 20% of the budget, late =
over the last 10%, AUC = over all of it (25k-step bins). Each comparison is A − B of the IQMs
over seeds with its 95% stratified-bootstrap CI, the verdict against δ (a share of B's IQM) and
P(A > B); it needs {MIN_SEEDS} finished seeds on both sides.

![Breakout: the default against the baseline](figures/breakout_default.png)

| method | seed | {" | ".join(PARTS.values())} | teacher's λ at 0 from (step) |
|---|---:|---:|---:|---:|---|
{chr(10).join(rows)}

| comparison | part | δ | seeds (A / B) | Δ IQM [95% CI], verdict, P(A > B) |
|---|---|---:|---|---|
{chr(10).join(comparisons)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    parser.add_argument("--only", nargs="+", choices=sorted(METHODS),
                        help="train only these methods")
    add_speed_option(parser)
    args = parser.parse_args(argv)
    runs = with_speed(planned_runs(args.seeds, args.steps), args.set)
    if args.only:
        runs = [r for r in runs if r.name.split("__")[0] in args.only]
    EXPERIMENT.train(runs, args.workers, args.hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
