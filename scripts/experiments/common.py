"""Shared by the experiment scripts: train a list of runs side by side (each skipped when
finished, resumed when interrupted: :mod:`rl_auxgrad.runs`), reduce finished runs to records
(:class:`Experiment`) and bin their scalars. :class:`Claim` is re-exported from
:mod:`scripts.claims`."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from rl_auxgrad.records import SUFFIX, write_record
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.runs import CONSTANT, RunSpec, finished, run_one, scalars, window_mean
from rl_auxgrad.teachers import card_score, read_card
from scripts.claims import Claim

__all__ = ["ATARI_BIN", "INFLUENCE_HEADER", "Claim", "Experiment", "MethodRuns", "RunSpec",
           "ScheduleStop", "add_speed_option", "bin_centres", "binned", "card_mean", "finished",
           "measured_claim", "passing_bin", "reached_curves", "reached_steps", "run_all",
           "run_one", "scalars", "schedule_stop", "smoothed", "teacher_runs", "window_mean",
           "with_speed"]

ROOT = Path(__file__).parents[2]
RECORDS = ROOT / "docs" / "data"


def card_mean(teacher: str) -> float:
    """The mean score on the card of the shipped teacher ``teacher`` (``teachers/<name>``)."""
    mean = card_score(read_card(ROOT / teacher)).mean
    if mean is None:
        raise ValueError(f"{teacher}'s card has no score.mean")
    return mean


@dataclass(frozen=True)
class ScheduleStop:
    """When a ``stop`` schedule set λ to 0 for good (None: it did not) and the scores it
    compared then: the student's mean of its last episodes and the teacher's (None where the
    run logged none, e.g. a game the teacher's card does not score)."""

    at: int | None
    student: float | None = None
    teacher: float | None = None

    @property
    def by_score(self) -> bool:
        """Whether the score rule stopped it (the student had reached the teacher's score);
        otherwise the upper bound of ρ had fallen below 0."""
        return (self.student is not None and self.teacher is not None
                and self.student >= self.teacher)


def schedule_stop(path: Path, game: str | None = None) -> ScheduleStop:
    """The :class:`ScheduleStop` of the run (or run record) at ``path``, from
    ``teacher/stopped_at`` and the last ``teacher/student_return`` and
    ``teacher/teacher_return`` logged up to the stop (each ``/<game>`` for one game of a
    ``teacher.per_game`` run)."""
    suffix = f"/{game}" if game else ""
    _, stopped = scalars(path, f"teacher/stopped_at{suffix}")
    if not stopped.size:
        return ScheduleStop(None)
    at = int(stopped[0])

    def last_before(tag: str) -> float | None:
        steps, values = scalars(path, f"{tag}{suffix}")
        values = values[steps <= at]
        return float(values[-1]) if values.size else None

    return ScheduleStop(at, last_before("teacher/student_return"),
                        last_before("teacher/teacher_return"))


def smoothed(steps: np.ndarray, values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the episodes ending in each ``window``-step bin (bin centres, means)."""
    edges = np.arange(0, steps.max() + window, window)
    index = np.digitize(steps, edges) - 1
    centres, means = [], []
    for b in range(len(edges) - 1):
        chosen = values[index == b]
        if chosen.size:
            centres.append(edges[b] + window / 2)
            means.append(chosen.mean())
    return np.array(centres), np.array(means)


def run_all(runs: list[RunSpec], runs_dir: Path, workers: int = 1,
            on_done: Callable[[RunSpec, Path], None] | None = None,
            deadline: float | None = None) -> None:
    """Trains every run (see :func:`run_one`), ``workers`` at a time in separate processes,
    each with one torch thread unless its overrides say otherwise (runs side by side that
    each ask for every core thrash); ``on_done(spec, directory)`` is called in this process as
    each run returns. With ``deadline`` (a ``time.time()``) the runs stop with a checkpoint at
    the first update past it, and runs not started by then are left for the next sitting.
    Stops at the first run that fails."""
    done = on_done or (lambda spec, directory: None)
    if workers <= 1:
        for spec in runs:
            done(spec, run_one(spec, runs_dir, deadline))
        return
    runs = [replace(spec, overrides=("cpu_threads=1", *spec.overrides)) for spec in runs]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_one, spec, runs_dir, deadline): spec for spec in runs}
        for future in as_completed(futures):
            done(futures[future], future.result())


def teacher_runs(methods: dict[str, tuple[str, ...]], teacher: str, lam: float, config: str,
                 seeds: list[int], steps: int, skip: frozenset[tuple[str, int]] = frozenset()
                 ) -> list[RunSpec]:
    """One run per method and seed, ``<method>__seed<seed>``: the first ``steps`` agent steps
    of ``config``'s schedule, with ``teacher`` (a path relative to the checkout) unless the
    method sets teacher.path=none. Interleaved by seed, so that a partial experiment has
    every method at seed 1 first; (method, seed) pairs in ``skip`` are left out. λ is
    constant unless the method sets ``teacher.lam_schedule`` (:data:`CONSTANT` comes first)."""
    return [RunSpec(f"{method}__seed{seed}",
                    (CONSTANT, *overrides, *(() if "teacher.path=none" in overrides
                                   else (f"teacher.path={teacher}",)),
                     f"teacher.lam={lam:g}", f"seed={seed}", "checkpoint_every=25000"),
                    config, stop_at=steps)
            for seed in seeds for method, overrides in methods.items()
            if (method, seed) not in skip]


SPEED_ONLY = ("env.threads", "device", "cpu_threads")
"""The settings an experiment's ``--set`` may change: how fast a run goes, never what it
computes (a resume accepts them too)."""


def speed_override(text: str) -> str:
    """An argparse type: ``KEY=VALUE`` with KEY one of :data:`SPEED_ONLY`."""
    if "=" not in text or text.split("=", 1)[0] not in SPEED_ONLY:
        raise argparse.ArgumentTypeError(
            f"{text!r}: --set takes KEY=VALUE with KEY one of {', '.join(SPEED_ONLY)}")
    return text


def add_speed_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE ...``: speed-only overrides (:data:`SPEED_ONLY`) for every run, e.g.
    ``env.threads=4`` for runs side by side on one GPU machine."""
    parser.add_argument("--set", type=speed_override, nargs="+", default=[], metavar="KEY=VALUE",
                        help=f"speed-only overrides for every run ({', '.join(SPEED_ONLY)}), "
                             "e.g. env.threads=4 for runs side by side on a GPU machine")


def with_speed(runs: list[RunSpec], speed: list[str] | tuple[str, ...]) -> list[RunSpec]:
    """``runs`` with the speed-only overrides ``speed`` (from ``--set``) last."""
    return [replace(run, overrides=(*run.overrides, *speed)) for run in runs]


@dataclass(frozen=True)
class Experiment:
    """An experiment of many runs: each run trains in the ignored runs folder
    (``$RL_AUXGRAD_RUNS``/experiments/<name>/<run>, resumed there when interrupted) and, once
    finished, is reduced to its record ``docs/data/<name>/<run>.npz``, the only thing committed
    (:mod:`rl_auxgrad.records`). Reports read a run's record, or its live directory while it
    is still training."""

    name: str
    records_root: Path = RECORDS

    @property
    def records(self) -> Path:
        return self.records_root / self.name

    def runs_dir(self) -> Path:
        return default_runs_dir() / "experiments" / self.name

    def run(self, run_name: str) -> Path:
        """The run's record if it has one, else its live directory (which may not exist)."""
        record = self.records / f"{run_name}{SUFFIX}"
        return record if record.is_file() else self.runs_dir() / run_name

    def train(self, runs: list[RunSpec], workers: int = 1, hours: float | None = None,
              runs_dir: Path | None = None) -> None:
        """Trains the runs that have no record yet, for one sitting of about ``hours``, from
        the checkout's root (so configs hold paths relative to it); records each one that
        finishes. Run it again to continue."""
        todo = [spec for spec in runs if not (self.records / f"{spec.name}{SUFFIX}").is_file()]
        print(f"{self.name}: {len(runs) - len(todo)} of {len(runs)} runs recorded", flush=True)
        runs_dir = (runs_dir or self.runs_dir()).resolve()
        deadline = time.time() + hours * 3600 if hours else None

        def record(spec: RunSpec, directory: Path) -> None:
            if finished(directory, spec.stop_at):
                write_record(RunDir(directory), self.records / f"{spec.name}{SUFFIX}")
                print(f"recorded {spec.name}", flush=True)
            else:
                print(f"{spec.name}: at {RunDir(directory).reached():,} steps when this sitting "
                      "ended; run the experiment again to continue it", flush=True)

        os.chdir(ROOT)
        run_all(todo, runs_dir, workers, record, deadline)


ATARI_BIN = 25_000
"""Agent steps per bin of the Atari experiments' curves."""
VERDICT_SEEDS = 5
"""Seeds per method from which an Atari comparison stops being labelled indicative (issue 17:
"labelled indicative where n < 5")."""


def seeds_label(fewest: int) -> str:
    """How much an Atari comparison whose smallest method has ``fewest`` seeds can say."""
    if fewest < VERDICT_SEEDS:
        return f"**indicative**, fewer than {VERDICT_SEEDS} seeds for some method"
    return f"{fewest} or more seeds per method"


def bin_centres(steps: int, bin_steps: int = ATARI_BIN) -> np.ndarray:
    """The agent step at the centre of each of the ``steps // bin_steps`` equal bins of
    [0, steps] (the bins of :func:`binned`)."""
    bins = steps // bin_steps
    return (np.arange(bins) + 0.5) * steps / bins


def binned(directory: Path, tag: str, total_steps: int, bins: int) -> np.ndarray:
    """Mean of a scalar in each of ``bins`` equal spans of [0, total_steps]; a span with no
    point carries the last point before it (a tag that stopped being logged, such as a
    game's λ after its schedule stopped, stays at its last value; NaN before the first
    point). Points past total_steps (a run trained further than the experiment's budget) are
    left out."""
    steps, values = scalars(directory, tag)
    within = steps <= total_steps
    steps, values = steps[within], values[within]
    index = np.minimum(steps * bins // total_steps, bins - 1).astype(int)
    out, last = np.full(bins, np.nan), np.nan
    for b in range(bins):
        chosen = values[index == b]
        if chosen.size:
            out[b], last = chosen.mean(), chosen[-1]
        else:
            out[b] = last
    return out


def reached_curves(directories: list[Path], tag: str, steps: int, bins: int
                   ) -> tuple[np.ndarray, list[int]]:
    """:func:`binned` curves (found runs, bins) of the runs that exist, NaN past the step each
    has reached (for experiments still in progress); and the indices of the runs found."""
    rows, found = [], []
    for i, directory in enumerate(directories):
        reached, _ = scalars(directory, "charts/episodic_return")
        if not reached.size:
            continue
        curve = binned(directory, tag, steps, bins)
        curve[np.arange(bins) * steps / bins > reached.max()] = np.nan
        rows.append(curve)
        found.append(i)
    return (np.array(rows) if rows else np.full((0, bins), np.nan)), found


@dataclass(frozen=True)
class MethodRuns:
    """The runs of one method found so far: their seeds, the last agent step at which each
    logged an episode, and per tag the :func:`reached_curves` (runs, bins) curves."""

    seeds: list[int]
    reached: list[int]
    curves: dict[str, np.ndarray]


def reached_steps(directories: list[Path]) -> list[int]:
    """The last agent step at which each run logged an episode."""
    return [int(scalars(d, "charts/episodic_return")[0].max()) for d in directories]


INFLUENCE_HEADER = ("| method | passes the teacher at | gate weight, before → after | "
                    "gate cosine, before → after | teacher KL, before → after |\n"
                    "|---|---:|---:|---:|---:|")
"""The table of a teacher's influence as the student passes it (rows: :func:`passing_bin`)."""


def passing_bin(curve: np.ndarray, level: float) -> int | None:
    """The first bin from which ``curve`` stays above ``level`` to the end (None if its last
    bin is not above it): where a student has passed its teacher for good."""
    not_above = np.nonzero(~(np.asarray(curve) > level))[0]
    if not not_above.size:
        return 0
    first = int(not_above[-1]) + 1
    return first if first < len(curve) else None


def measured_claim(text: str, methods: tuple[str, ...], unfinished: list[str], ready: bool,
                   measured: Callable[[], str], holds: Callable[[], bool],
                   partly: Callable[[], bool] | None = None,
                   why: Callable[[], str] | None = None) -> Claim:
    """A claim of an experiment in progress: "not measured yet" until ``ready`` (every method
    in ``methods`` has a run at the budget), then ``measured()`` and "agrees" / "partly" /
    "differs" by ``holds()`` and ``partly()``, with "so far" while any of ``methods`` is still
    short of its seeds or budget (in ``unfinished``); ``why()`` explains a claim that does not
    agree."""
    if not ready:
        return Claim(text, "runs not finished", "not measured yet")
    word = "agrees" if holds() else "partly" if partly is not None and partly() else "differs"
    short = [m for m in unfinished if m in methods]
    return Claim(text, measured(),
                 word if not short else f"{word} so far ({', '.join(short)} not finished)",
                 why() if why is not None and word != "agrees" else "")
