"""Breakout with a harmful and a uniform teacher (issue 17): does the default (``stop``) stay
near RL alone while RL + KL is dragged down?

    python -m scripts.experiments.breakout_harmful [--steps 150000] [--seeds 1 2] [--hours 2]

Teachers: ``teachers/breakout_harmful_swap`` (the shipped teacher with LEFT and RIGHT swapped,
0.0 points) and ``teachers/breakout_uniform`` (the uniform policy, 1.5 points). Methods: the
default, ``gate.name=multitask teacher.lam_schedule=stop``, and RL + KL at constant λ, each with
breakout_teacher.py's settings (λ = 1, the first ``--steps`` agent steps of
``configs/breakout.yaml``'s 10M-step schedule, ALE v5 with sticky actions 0.25). Runs are
``<method>__<teacher>__seed<seed>``; they train in the ignored ``runs/experiments/
breakout_harmful/`` and are reduced to ``docs/data/breakout_harmful/``. The report sets their
mean score per 25k steps beside breakout_teacher's RL alone (seeds 1-2) over the same steps,
and says when and why ``stop`` stopped: by the score rule (the student's 20-episode mean reached the
teacher's card score) or by the bound (ρ's upper bound fell below 0). Fewer than 5 seeds:
indicative only. On a 2-core CPU a 150k-step run takes about an hour; the issue's 500k steps
are for a GPU (``--steps 500000`` with a runs folder of its own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rl_auxgrad.records import is_record
from rl_auxgrad.runs import scalars
from scripts.experiments import breakout_teacher
from scripts.experiments.breakout_stop import WINDOW, window_means
from scripts.experiments.common import (
    Experiment,
    RunSpec,
    card_mean,
    schedule_stop,
    teacher_runs,
)

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
SEEDS = (1, 2)
RL_ALONE_SEEDS = (1, 2)
"""breakout_teacher's RL alone runs set beside them (seed 1 is the no-teacher run it reuses)."""


def planned_runs(steps: int, seeds: list[int]) -> list[RunSpec]:
    """Every method with every teacher, and the bound alone with the harmful one, seed by
    seed."""
    plan: list[tuple[str, str, dict[str, tuple[str, ...]]]] = [
        (teacher, path, METHODS) for teacher, path in TEACHERS.items()]
    plan.append(("harmful", TEACHERS["harmful"], BOUND))
    return [run for seed in seeds for teacher, path, methods in plan
            for run in teacher_runs({f"{m}__{teacher}": o for m, o in methods.items()}, path,
                                    breakout_teacher.LAM, breakout_teacher.CONFIG, [seed], steps)]


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
    # per method that stops the teacher: when and why each of its runs stopped
    notes: dict[str, list[str]] = {"stop": [], **{method: [] for method in BOUND}}
    for name in recorded:
        method, teacher, seed = name.split("__")
        path, label = EXPERIMENT.run(name), f"{method}, {teacher} teacher, seed {seed[4:]}"
        rows.append((label, window_means(path, steps)))
        if method in notes:
            notes[method].append(f"- {label}: {stop_reason(path)}.")
    rows += [(f"RL alone, seed {seed}",
              window_means(breakout_teacher.run_dir("rl_alone", seed), steps))
             for seed in RL_ALONE_SEEDS]
    header = " | ".join(f"{lo // 1000}-{(lo + WINDOW) // 1000}k" for lo in range(0, steps, WINDOW))
    table = [f"| run | {header} |", "|---|" + "---:|" * len(rows[0][1])]
    table += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |"
              for name, values in rows]
    return title + f"""Made by `python -m scripts.experiments.breakout_harmful` ({len(recorded)}
of {len(planned)} planned runs recorded; fewer than 5 seeds, so
indicative only): the default (`teacher.lam_schedule=stop`) and RL + KL at constant λ =
{breakout_teacher.LAM:g} with `teachers/breakout_harmful_swap` (LEFT and RIGHT swapped,
{card_mean(TEACHERS["harmful"]):.1f} points) and `teachers/breakout_uniform`
({card_mean(TEACHERS["uniform"]):.1f}), and with the harmful teacher the default's bound alone
(`bound`: `teacher.lam_schedule=agreement_stop`, no score rule), breakout_teacher's settings,
the first {steps:,} steps. Mean score per {WINDOW // 1000}k agent steps, beside
breakout_teacher's RL alone:

{chr(10).join(table)}

{chr(10).join(notes["stop"])}

A teacher whose card score is at or below the student's first episodes is dismissed by the
score rule at once; the agreement bound is then not what stopped it, and the `stop` runs do
not test it. The `bound` runs do, with the score rule taken away:

{chr(10).join(line for method in BOUND for line in notes[method]) or "- not run yet"}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    args = parser.parse_args(argv)
    EXPERIMENT.train(planned_runs(args.steps, args.seeds), 1, args.hours)
    print(report(args.steps, tuple(args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
