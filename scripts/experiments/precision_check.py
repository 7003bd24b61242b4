"""Does PPO learn Breakout as well with ``agent.precision=bf16`` (the torso under bfloat16
autocast, 1.66x faster on a CPU with AMX / AVX512-BF16) as with fp32? RL alone, the first
``--steps`` agent steps of ``configs/breakout.yaml``'s schedule, against the fp32 RL-alone runs
of the Breakout teacher experiment (same config, same seeds).

    python -m scripts.experiments.precision_check [--seeds 1] [--steps 500000]

Runs train in ``runs/experiments/precision_check/rl_alone_bf16__seed<seed>`` and are recorded in
``docs/data/precision_check/`` like the Breakout experiment's. The report also sets the
multi-task experiment's cosine seed 1, which was first trained in bf16
(``multitask_cosine_bf16__seed1`` here, kept when that experiment moved to fp32 because machines
without native bf16 emulate it 9x slower than fp32), against its fp32 run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scripts.experiments import breakout_teacher, multitask_teacher
from scripts.experiments.common import (
    ATARI_BIN,
    Experiment,
    RunSpec,
    reached_curves,
    reached_steps,
    teacher_runs,
)

EXPERIMENT = Experiment("precision_check")
METHOD = {"rl_alone_bf16": ("gate.name=single", "teacher.path=none", "agent.precision=bf16")}


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    return teacher_runs(METHOD, breakout_teacher.TEACHER, breakout_teacher.LAM,
                        breakout_teacher.CONFIG, seeds, steps)


MULTITASK_TAGS = tuple(f"{what}/{game}" for game in multitask_teacher.GAMES
                       for what in ("charts/episodic_return", "gate/weight"))
"""The multi-task comparison's columns: per game, its score and its gate weight."""


@dataclass(frozen=True)
class Row:
    """The runs of one precision found so far: their seeds, the step each reached, and the
    early and late value of each tag (:func:`breakout_teacher.early_late`)."""

    seeds: list[int]
    reached: list[int]
    early_late: list[tuple[float, float]]


@dataclass(frozen=True)
class Measured:
    """What the precision section shows (a row is None where no run has logged an episode)."""

    seeds: tuple[int, ...]
    steps: int
    breakout: dict[str, Row | None]
    """Breakout RL alone, fp32 and bf16, over ``seeds``."""
    multitask: dict[str, Row | None]
    """The multi-task cosine gate's seed 1, fp32 and bf16 (MULTITASK_TAGS)."""


def _measure_row(directories: list[Path], seeds: list[int], steps: int,
                 tags: tuple[str, ...] = ("charts/episodic_return",)) -> Row | None:
    """The seeds found with the step each reached, and early / late of each tag."""
    curves = [reached_curves(directories, tag, steps, steps // ATARI_BIN) for tag in tags]
    found = curves[0][1]  # the same runs for every tag: those that logged an episode
    if not found:
        return None
    reached = reached_steps([directories[i] for i in found])
    return Row([seeds[i] for i in found], reached,
               [breakout_teacher.early_late(values, reached, steps) for values, _ in curves])


def measure(seeds: tuple[int, ...] = (1,), steps: int = 500_000) -> Measured:
    """Reads the bf16 runs and the fp32 runs they are compared with."""
    breakout = {
        "fp32": _measure_row([breakout_teacher.run_dir("rl_alone", s) for s in seeds],
                             list(seeds), steps),
        "bf16": _measure_row([EXPERIMENT.run(f"rl_alone_bf16__seed{s}") for s in seeds],
                             list(seeds), steps)}
    multitask = {label: _measure_row([directory], [1], steps, MULTITASK_TAGS)
                 for label, directory in (
                     ("fp32", multitask_teacher.EXPERIMENT.run("cosine__seed1")),
                     ("bf16", EXPERIMENT.run("multitask_cosine_bf16__seed1")))}
    return Measured(seeds, steps, breakout, multitask)


def _row(label: str, row: Row | None, columns: int) -> str:
    """A table row: the seeds with the step each reached, then early / late of each tag."""
    if row is None:
        return f"| {label} | not run yet |" + " |" * 2 * columns
    cells = [text for early, late in row.early_late
             for text in (f"{early:.3g}", "–" if np.isnan(late) else f"{late:.3g}")]
    runs = ", ".join(f"{s} ({r:,})" for s, r in zip(row.seeds, row.reached, strict=True))
    return f"| {label} | {runs} | " + " | ".join(cells) + " |"


def prose(measured: Measured) -> str:
    """The bf16-against-fp32 section's text and tables."""
    seeds, steps = measured.seeds, measured.steps
    fp32, bf16 = (_row(label, measured.breakout[label], 1) for label in ("fp32", "bf16"))
    multitask = [_row(label, row, len(MULTITASK_TAGS)) for label, row in measured.multitask.items()]
    header = " | ".join(f"{game} {what} {part}" for game in ("Breakout", "Ms. Pac-Man")
                        for what in ("score", "gate weight") for part in ("early", "late"))
    return f"""## Breakout in bf16 against fp32 (precision check)

Made by `python -m scripts.experiments.precision_check --seeds {len(seeds)} --steps {steps}`:
PPO alone on Breakout, the first {steps:,} agent steps of `configs/breakout.yaml`'s schedule,
with the torso under bfloat16 autocast (`agent.precision=bf16`), against the fp32 RL-alone runs
of the same seeds from the Breakout experiment. Early = mean score over the first 100k steps,
late = over the last 50k of {steps:,} (the runs that reached it); the speed-up is measured by
`scripts/bench_throughput.py` (docs/PERFORMANCE.md: 1.66x for PPO alone on a CPU with AMX /
AVX512-BF16; a CPU without them emulates bfloat16, 9x slower than fp32 on this project's AMD EPYC
machines, which is why the experiments here run in fp32).

| precision | seeds (steps reached) | early score | late score |
|---|---|---:|---:|
{fp32}
{bf16}

The multi-task experiment's cosine gate, seed 1 (below), in both precisions: its fp32 run
against the bf16 run made before that experiment moved to fp32 (same settings otherwise).

| precision | seed (steps reached) | {header} |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(multitask)}
"""


def report(seeds: tuple[int, ...] = (1,), steps: int = 500_000) -> str:
    """The bf16-against-fp32 section of docs/RESULTS.md (no figure, no claim of a paper)."""
    return prose(measure(seeds, steps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 1..N")
    parser.add_argument("--steps", type=int, default=500_000, help="agent steps per run")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    parser.add_argument("--runs-dir", type=Path, help="where the runs train (default: "
                        "$RL_AUXGRAD_RUNS or runs, /experiments/precision_check)")
    args = parser.parse_args(argv)
    EXPERIMENT.train(planned_runs(list(range(1, args.seeds + 1)), args.steps), 1, args.hours,
                     args.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
