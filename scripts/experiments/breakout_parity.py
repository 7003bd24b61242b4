"""Breakout parity (issue 17, item 1): PPO without a teacher under the RL Zoo's / CleanRL's
protocol, set against the RL Zoo's published PPO curve.

    python -m scripts.experiments.breakout_parity [--steps 1100000] [--seeds 1 2] [--hours 2]
        [--workers 2]

Runs ``rl_alone__seed<seed>``: ``configs/breakout.yaml`` (8 envs x 128 steps, 4 epochs, 4
minibatches, clip 0.1, lr 2.5e-4 annealed over the 10M-step schedule, entropy 0.01) with
``env.protocol=zoo env.sticky_actions=0`` (no sticky actions, FIRE after each lost life, a lost
life terminal for learning; rl_auxgrad/envs/atari.py), the first ``--steps`` agent steps of the
10M-step schedule, as the Zoo's curve is the first part of its 10M-step run (1.1M by default:
the 1M point takes in the episodes up to 1.1M). They train in the
ignored ``runs/experiments/breakout_parity/`` and are reduced to
``docs/data/breakout_parity/``. At each of :data:`SB3_ZOO_BREAKOUT`'s points the report takes
each seed's mean score of the episodes that ended within ±10% of the step, the Zoo's way, and
says whether the Zoo's value lies within our seeds' spread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from rl_auxgrad.records import is_record
from rl_auxgrad.runs import scalars
from scripts.experiments.breakout_teacher import CONFIG
from scripts.experiments.common import (
    Experiment,
    RunSpec,
    reached_steps,
    smoothed,
    teacher_runs,
    window_mean,
)

EXPERIMENT = Experiment("breakout_parity")
METHODS = {"rl_alone": ("gate.name=single", "teacher.path=none", "env.protocol=zoo",
                        "env.sticky_actions=0")}
STEPS = 1_100_000
"""1M steps and the ±WINDOW after it that the Zoo's 1M point takes in."""
SEEDS = (1, 2)
RETURN = "charts/episodic_return"
SB3_ZOO_BREAKOUT = {500_000: 15.7, 1_000_000: 26.8, 2_000_000: 63.9, 5_000_000: 250.9}
"""SB3 RL Zoo PPO on BreakoutNoFrameskip-v4 (same hyperparameters as CleanRL's ppo_atari.py:
8 envs x 128 steps, 4 epochs, clip 0.1, lr 2.5e-4, 10M steps), mean training-episode return of
the episodes that ended within ±10% of each agent step (±5% at 5M), 3 of its 8 envs' monitor
files, one seed: DLR-RM/rl-trained-agents ppo/BreakoutNoFrameskip-v4_1/{0,1,2}.monitor.csv."""
WINDOW = 0.1
"""Episodes ending within ±WINDOW of a step make its score, as for the Zoo's points."""


def planned_runs(steps: int, seeds: list[int]) -> list[RunSpec]:
    return teacher_runs(METHODS, "none", 0.0, CONFIG, seeds, steps)


def score_at(path: Path, step: int) -> float:
    """The mean score of the run's episodes that ended within ±WINDOW of ``step`` (NaN if the
    run has not reached ``step`` (1 + WINDOW))."""
    steps, _ = scalars(path, RETURN)
    if not steps.size or steps.max() < step * (1 + WINDOW) - 2048:
        return float("nan")
    return window_mean(path, RETURN, int(step * (1 - WINDOW)), int(step * (1 + WINDOW)) + 1)


def verdict(ours: list[float], zoo: float) -> str:
    """Where the Zoo's value lies against our seeds' spread [min, max]."""
    low, high = min(ours), max(ours)
    if low <= zoo <= high:
        return "the Zoo's value within our seeds' spread"
    return (f"ours below the Zoo's ({high / zoo:.0%} of it at best)" if zoo > high
            else f"ours above the Zoo's ({low / zoo:.0%} of it at worst)")


def plot(runs: dict[int, Path], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for seed, run in runs.items():
        centres, means = smoothed(*scalars(run, RETURN), 50_000)
        ax.plot(centres / 1e6, means, label=f"rl_auxgrad PPO, zoo protocol, seed {seed}")
    zoo = np.array(sorted(SB3_ZOO_BREAKOUT.items()), dtype=float)
    shown = zoo[zoo[:, 0] <= max(reached_steps(list(runs.values()))) * 1.1]
    ax.plot(shown[:, 0] / 1e6, shown[:, 1], "ko--", label="SB3 RL Zoo PPO (v4, one seed)")
    ax.set_xlabel("agent steps (millions; x4 = frames)")
    ax.set_ylabel("episodic return (real game score)")
    ax.set_title("Breakout, PPO without a teacher: the zoo protocol")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(figures: Path | None = None, steps: int = STEPS,
           seeds: tuple[int, ...] = SEEDS) -> str:
    """The experiment's section of docs/RESULTS.md, over the runs recorded so far (a run still
    training counts up to the step it reached)."""
    title = "## Breakout parity: the zoo protocol against the RL Zoo's PPO curve\n\n"
    runs = {seed: EXPERIMENT.run(f"rl_alone__seed{seed}") for seed in seeds}
    runs = {seed: run for seed, run in runs.items() if scalars(run, RETURN)[0].size}
    if not runs:
        return title + "Not run yet: `python -m scripts.experiments.breakout_parity`.\n"
    recorded = [seed for seed, run in runs.items() if is_record(run)]
    reached = dict(zip(runs, reached_steps(list(runs.values())), strict=True))
    if figures is not None:
        plot(runs, figures / "breakout_parity.png")
    rows, verdicts = [], []
    for at, zoo in sorted(SB3_ZOO_BREAKOUT.items()):
        if at * (1 + WINDOW) > steps:
            continue
        ours = {seed: score_at(run, at) for seed, run in runs.items()}
        cells = " | ".join(f"{value:.1f}" if np.isfinite(value) else "not reached"
                           for value in ours.values())
        measured = [v for v in ours.values() if np.isfinite(v)]
        said = verdict(measured, zoo) if len(measured) == len(runs) else "not reached by all"
        rows.append(f"| {at:,} | {cells} | {zoo:.1f} | {said} |")
        verdicts.append(f"{'at' if verdicts else 'At'} {at / 1e6:g}M steps, {said}")
    seeds_header = " | ".join(f"seed {seed}" for seed in runs)
    status = ", ".join(f"seed {seed} {'finished' if seed in recorded else 'still training'}, "
                       f"last episode at {reached[seed]:,} steps" for seed in runs)
    figure = "![Breakout parity](figures/breakout_parity.png)\n\n" if figures else ""
    return title + f"""Made by `python -m scripts.experiments.breakout_parity` ({status}; 2
seeds, so indicative only): PPO without a teacher, `configs/breakout.yaml` with
`env.protocol=zoo env.sticky_actions=0` (the RL Zoo's and CleanRL's protocol: no sticky
actions, FIRE after each lost life, a lost life terminal for learning, 4-frame max-pool skip,
rewards clipped for learning), the first {steps:,} agent steps of the 10M-step schedule, CPU
(one core per run). Score at a step: the mean real game score of the episodes that ended
within ±10% of it, per seed, as for the Zoo's points (the SB3 RL Zoo's published PPO training
logs on BreakoutNoFrameskip-v4, DLR-RM/rl-trained-agents, one seed; the section "Breakout: PPO
without a teacher" says how they were read).

{figure}| agent steps | {seeds_header} | SB3 RL Zoo PPO | verdict |
|---|{"---:|" * len(runs)}---:|---|
{chr(10).join(rows)}

**Verdict.** {"; ".join(verdicts)}. The teacher experiments keep the ALE v5 protocol (sticky
actions 0.25, `env.protocol=v5`, the default of `configs/breakout.yaml`), which Machado et al.
(2018) recommend and which scores lower; this section only checks that the learner itself is
not behind the published PPO.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    args = parser.parse_args(argv)
    EXPERIMENT.train(planned_runs(args.steps, args.seeds), args.workers, args.hours)
    print(report(None, args.steps, tuple(args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
