"""A short Breakout check of the ``stop`` schedule (issue 15): where does it stop, and what does
the student do after?

    python -m scripts.experiments.breakout_stop [--steps 150000] [--hours 2]

One run, seed 1, with breakout_teacher.py's settings (the first ``--steps`` agent steps of
``configs/breakout.yaml``'s 10M-step schedule, the shipped teacher at λ = 1) and
``gate.name=multitask teacher.lam_schedule=stop``. It trains in the ignored
``runs/experiments/breakout_stop/`` and is reduced to ``docs/data/breakout_stop/stop__seed1.npz``.
The report sets its mean score per 25k steps beside breakout_teacher's RL + KL (seeds 1-2) and
RL alone (seed 2) over the same steps. One seed: indicative only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rl_auxgrad.records import is_record
from rl_auxgrad.runs import window_mean
from scripts.experiments import breakout_teacher
from scripts.experiments.common import Experiment, RunSpec, schedule_stop, teacher_runs

EXPERIMENT = Experiment("breakout_stop")
METHODS = {"stop": ("gate.name=multitask", "teacher.lam_schedule=stop")}
STEPS = 150_000
WINDOW = 25_000
RETURN = "charts/episodic_return"
COMPARED = (("RL + KL", "rl+kl", (1, 2)), ("RL alone", "rl_alone", (2,)))
"""breakout_teacher's runs set beside it: (label, method, seeds)."""


def planned_runs(steps: int) -> list[RunSpec]:
    return teacher_runs(METHODS, breakout_teacher.TEACHER, breakout_teacher.LAM,
                        breakout_teacher.CONFIG, [1], steps)


def window_means(path: Path, steps: int) -> list[float]:
    """The mean episodic return in each WINDOW of agent steps up to ``steps`` (NaN where no
    episode ended)."""
    return [window_mean(path, RETURN, lo, lo + WINDOW) for lo in range(0, steps, WINDOW)]


def report(steps: int = STEPS) -> str:
    """The check's section of docs/RESULTS.md (says so until the run is recorded, which the
    experiment does once it has finished)."""
    title = "## Breakout: a short check of the stop schedule\n\n"
    path = EXPERIMENT.run("stop__seed1")
    if not is_record(path):
        return title + "Not finished yet: `python -m scripts.experiments.breakout_stop`.\n"
    stop = schedule_stop(path)
    rows = [("stop, seed 1", window_means(path, steps))]
    for label, method, seeds in COMPARED:
        for seed in seeds:
            run = breakout_teacher.EXPERIMENT.run(f"{method}__seed{seed}")
            rows.append((f"{label}, seed {seed}", window_means(run, steps)))
    header = " | ".join(f"{lo // 1000}-{(lo + WINDOW) // 1000}k"
                        for lo in range(0, steps, WINDOW))
    table = [f"| run | {header} |", "|---|" + "---:|" * len(rows[0][1])]
    table += [f"| {label} | " + " | ".join(f"{v:.2f}" for v in values) + " |"
              for label, values in rows]
    when = ("did not stop" if stop.at is None else
            f"stopped at {stop.at:,} agent steps, when the student's mean score over its last "
            f"20 episodes was {stop.student:.2f} against the teacher's {stop.teacher:.1f}")
    return title + f"""Made by `python -m scripts.experiments.breakout_stop` (one seed, so
indicative only): `teacher.lam_schedule=stop` on the plain sum, breakout_teacher's settings
(λ = {breakout_teacher.LAM:g}, the shipped teacher, the 10M-step schedule's first
{steps:,} steps). It {when}. Mean score per {WINDOW // 1000}k agent steps, beside
breakout_teacher's runs over the same steps:

{chr(10).join(table)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    args = parser.parse_args(argv)
    EXPERIMENT.train(planned_runs(args.steps), 1, args.hours)
    print(report(args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
