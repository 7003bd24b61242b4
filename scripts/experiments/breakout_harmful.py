"""Breakout with a harmful and a uniform teacher (issue 17): does the default (``stop``) stay
near RL alone while RL + KL is dragged down?

    python -m scripts.experiments.breakout_harmful [--steps 150000] [--seeds 1 2 3 4 5]
        [--workers 1] [--hours 2] [--set cpu_threads=1 ...]

Teachers: ``teachers/breakout_harmful_swap`` (the shipped teacher with LEFT and RIGHT swapped,
0.0 points) and ``teachers/breakout_uniform`` (the uniform policy, 1.5 points). Methods: the
default, ``gate.name=multitask teacher.lam_schedule=stop``, and RL + KL at constant λ, each with
breakout_teacher.py's settings (λ = 1, the first ``--steps`` agent steps of
``configs/breakout.yaml``'s 10M-step schedule, ALE v5 with sticky actions 0.25). Runs are
``<method>__<teacher>__seed<seed>``; they train in the ignored
``runs/experiments/breakout_harmful/`` and are reduced to ``docs/data/breakout_harmful/``. The
report sets their mean score per 25k steps beside breakout_teacher's RL alone (its recorded
seeds of 1-5) over the same steps, and says when and why ``stop`` stopped: by the score rule
(the student's 20-episode mean reached the teacher's card score) or by the bound (ρ's upper
bound fell below 0). Each method's AUC is set against RL alone's with the signal issue's
statistics (:func:`auc_comparisons`). Fewer than 5 seeds per method: indicative only. On a
shared 2-core CPU a 150k-step run takes 7 to 60 minutes (such machines gave 38 to 370 agent
steps/s per run); the issue's 500k steps are for a GPU (``--steps 500000`` with a runs folder
of its own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rl_auxgrad.records import is_record
from rl_auxgrad.runs import scalars
from scripts.experiments import breakout_teacher
from scripts.experiments.aggregate import Comparison, compare
from scripts.experiments.breakout_default import MIN_SEEDS
from scripts.experiments.breakout_stop import WINDOW, window_means
from scripts.experiments.common import (
    Experiment,
    RunSpec,
    add_speed_option,
    card_mean,
    schedule_stop,
    seeds_label,
    teacher_runs,
    with_speed,
)
from scripts.experiments.control_teacher import MARGINS
from scripts.experiments.usefulness import cell

EXPERIMENT = Experiment("breakout_harmful")
TEACHERS = {"harmful": "teachers/breakout_harmful_swap", "uniform": "teachers/breakout_uniform"}
METHODS = {"stop": ("gate.name=multitask", "teacher.lam_schedule=stop"),
           "rl+kl": ("gate.name=multitask",)}
BOUND: dict[str, tuple[str, ...]] = {
    "bound": ("gate.name=multitask", "teacher.lam_schedule=agreement_stop")}
"""The default's bound alone (``agreement_stop``: no score rule), with the harmful teacher
only: the score rule dismisses that teacher (0 points) at once, so ``stop`` never tests the
bound on it."""
STEPS = 150_000
SEEDS = (1, 2, 3, 4, 5)
RL_ALONE_SEEDS = (1, 2, 3, 4, 5)
"""breakout_teacher's RL alone runs set beside them, those recorded (seed 1 is the no-teacher
run it reuses); they train 500k steps, of which the report reads the first ``--steps``."""


def planned_runs(steps: int, seeds: list[int]) -> list[RunSpec]:
    """Seed by seed: every method and the bound alone with the harmful teacher, then every
    method with the uniform one."""
    plan = {"harmful": METHODS | BOUND, "uniform": METHODS}
    return [run for seed in seeds for teacher, methods in plan.items()
            for run in teacher_runs({f"{m}__{teacher}": o for m, o in methods.items()},
                                    TEACHERS[teacher], breakout_teacher.LAM,
                                    breakout_teacher.CONFIG, [seed], steps)]


def stop_reason(path: Path) -> str:
    """When a ``stop`` run stopped and which rule stopped it (or that it did not)."""
    stop = schedule_stop(path)
    if stop.at is None:
        return "did not stop"
    if stop.by_score:
        return (f"stopped at {stop.at:,} steps by the score rule (student {stop.student:.2f} ≥ "
                f"teacher {stop.teacher:.1f})")
    agreement_at, agreement = scalars(path, "teacher/agreement")
    rho = agreement[agreement_at <= stop.at]
    mean = f"; mean ρ until then {np.mean(rho):+.3f}" if len(rho) else ""
    return f"stopped at {stop.at:,} steps by the bound (ρ's upper bound below 0{mean})"


def report(steps: int = STEPS, seeds: tuple[int, ...] = SEEDS) -> str:
    """The experiment's section of docs/RESULTS.md, over the runs recorded so far."""
    title = "## Breakout with a harmful and a uniform teacher\n\n"
    planned = [spec.name for spec in planned_runs(steps, list(seeds))]
    recorded = [name for name in planned if is_record(EXPERIMENT.run(name))]
    if not recorded:
        return title + "Not run yet: `python -m scripts.experiments.breakout_harmful`.\n"
    rows: list[tuple[str, list[float]]] = []
    areas: dict[tuple[str, str], dict[int, float]] = {}  # (method, teacher) -> seed -> AUC
    # per method that stops the teacher: when and why each of its runs stopped
    notes: dict[str, list[str]] = {"stop": [], **{method: [] for method in BOUND}}
    for name in recorded:
        method, teacher, seed = name.split("__")
        path, label = EXPERIMENT.run(name), f"{method}, {teacher} teacher, seed {seed[4:]}"
        rows.append((label, window_means(path, steps)))
        areas.setdefault((method, teacher), {})[int(seed[4:])] = float(np.nanmean(rows[-1][1]))
        if method in notes:
            notes[method].append(f"- {label}: {stop_reason(path)}.")
    rl_alone_runs = {seed: breakout_teacher.run_dir("rl_alone", seed) for seed in RL_ALONE_SEEDS}
    rl_alone = {seed: window_means(path, steps) for seed, path in rl_alone_runs.items()
                if is_record(path)}
    rows += [(f"RL alone, seed {seed}", values) for seed, values in rl_alone.items()]
    fewest = min(len(by_seed) for by_seed in [*areas.values(), rl_alone])
    header = " | ".join(f"{lo // 1000}-{(lo + WINDOW) // 1000}k" for lo in range(0, steps, WINDOW))
    table = [f"| run | {header} |", "|---|" + "---:|" * len(rows[0][1])]
    table += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |"
              for name, values in rows]
    return title + f"""Made by `python -m scripts.experiments.breakout_harmful` ({len(recorded)}
of {len(planned)} planned runs recorded; {seeds_label(fewest)}): the default
(`teacher.lam_schedule=stop`) and RL + KL at constant λ =
{breakout_teacher.LAM:g} with `teachers/breakout_harmful_swap` (LEFT and RIGHT swapped,
{card_mean(TEACHERS["harmful"]):.1f} points) and `teachers/breakout_uniform`
({card_mean(TEACHERS["uniform"]):.1f}), and with the harmful teacher the default's bound alone
(`bound`: `teacher.lam_schedule=agreement_stop`, no score rule), breakout_teacher's settings,
the first {steps:,} steps. Mean score per {WINDOW // 1000}k agent steps, beside
breakout_teacher's RL alone:

{chr(10).join(table)}

{auc_comparisons(areas, [float(np.nanmean(v)) for v in rl_alone.values()])}

{chr(10).join(notes["stop"])}

A teacher whose card score is at or below the student's first episodes is dismissed by the
score rule at once; the agreement bound is then not what stopped it, and the `stop` runs do
not test it. The `bound` runs do, with the score rule taken away:

{chr(10).join(line for method in BOUND for line in notes[method]) or "- not run yet"}
"""


def auc_comparisons(areas: dict[tuple[str, str], dict[int, float]], rl_alone: list[float]
                    ) -> str:
    """Each method and teacher against RL alone on the AUC (the mean of the windows' means),
    the signal issue's harmful-teacher claim, and the default against RL + KL with the same
    teacher: Δ IQM with its 95% stratified-bootstrap CI and the verdict at δ =
    MARGINS["harmful"] of B's IQM, from MIN_SEEDS recorded seeds on both sides
    (:func:`~scripts.experiments.aggregate.compare`); then :func:`answer`."""
    pairs = [(method, "RL alone", teacher, by_seed, rl_alone)
             for (method, teacher), by_seed in areas.items()]
    pairs += [("stop", "rl+kl", teacher, areas[("stop", teacher)],
               list(areas[("rl+kl", teacher)].values()))
              for teacher in TEACHERS if {("stop", teacher), ("rl+kl", teacher)} <= areas.keys()]
    rows, found = [], {}
    for a, b, teacher, a_by_seed, b_scores in pairs:
        seeds = sorted(a_by_seed)
        enough = len(seeds) >= MIN_SEEDS and len(b_scores) >= MIN_SEEDS
        comparison = (compare(np.array([a_by_seed[s] for s in seeds]), np.array(b_scores),
                              MARGINS["harmful"])
                      if enough else None)
        found[(a, b, teacher)] = comparison
        per_seed = ", ".join(f"{a_by_seed[s]:.2f}" for s in seeds)
        rows.append(f"| {a} − {b} | {teacher} | {per_seed} | {cell(comparison, seeds)} |")
    return f"""The area under the curve (AUC: the mean of a run's windows) against RL alone's
({", ".join(f"{v:.2f}" for v in rl_alone)}), as the signal issue's harmful-teacher claim, and
the default's against RL + KL's with the same teacher: Δ IQM [95% stratified-bootstrap CI],
its verdict at δ = {MARGINS["harmful"]:.0%} of B's IQM ("non-inferior": stays near RL alone;
"worse" or "inferior": dragged down), P(A > B) and n; it needs {MIN_SEEDS} recorded seeds on
both sides.

| A − B | teacher | A's AUC per seed | Δ IQM [95% CI], verdict, P(A > B) |
|---|---|---|---|
{chr(10).join(sorted(rows, key=lambda row: row.split("|")[2]))}

{answer(found)}"""


def answer(found: dict[tuple[str, str, str], Comparison | None]) -> str:
    """The issue's question, per teacher, in words from the verdicts: is RL + KL dragged down
    (``worse`` or ``inferior`` against RL alone), and does the default stay near RL alone
    (:attr:`~scripts.experiments.aggregate.Comparison.holds`), or how far its CI reaches
    below −δ, and where it stands against RL + KL?"""
    lines = []
    for teacher in TEACHERS:
        rl_kl, stop = found.get(("rl+kl", "RL alone", teacher)), found.get(
            ("stop", "RL alone", teacher))
        if rl_kl is None or stop is None:
            lines.append(f"- {teacher} teacher: too few seeds for an answer yet.")
            continue
        dragged = ("RL + KL is dragged down" if rl_kl.verdict in ("worse", "inferior")
                   else f"RL + KL is not shown to be dragged down ({rl_kl.verdict})")
        near = (f"the default stays near RL alone ({stop.verdict})" if stop.holds else
                f"the default is not shown to stay near RL alone: Δ "
                f"{stop.difference.point:+.2f} ({stop.difference.point / stop.iqm_b:+.0%} of RL "
                f"alone's IQM), its CI reaching {stop.difference.low:.2f}, below −δ = "
                f"{-stop.margin:.2f} ({stop.verdict})")
        above = found.get(("stop", "rl+kl", teacher))
        against = (f"; against RL + KL it is {above.verdict} ({above.difference})"
                   if above is not None else "")
        lines.append(f"- {teacher} teacher: {dragged}, and {near}{against}.")
    return ("Does the default stay near RL alone while RL + KL is dragged down?\n\n"
            + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    add_speed_option(parser)
    args = parser.parse_args(argv)
    EXPERIMENT.train(with_speed(planned_runs(args.steps, args.seeds), args.set), args.workers,
                     args.hours)
    print(report(args.steps, tuple(args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
