"""Run directories as units of work: train one to completion (skipping it when finished,
resuming it when interrupted, restarting it when its directory is gone) and read its scalars
back, from its events or from its reduced record (:mod:`rl_auxgrad.records`). Experiment
scripts and ``scripts/sweep.py`` (Ray Tune workers) build on these."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rl_auxgrad.config import load_config
from rl_auxgrad.interrupts import Interrupted
from rl_auxgrad.records import run_scalars
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.training import TrainingDiverged, resume, start, train

CONSTANT = "teacher.lam_schedule=constant"
"""The override that keeps λ constant. The experiments, the sweep and the benchmark put it
before their own overrides: their methods are gates at a constant λ unless they name a
schedule, as they were designed before the default schedule became ``stop``."""


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``python -m rl_auxgrad.train [--config config] *overrides`` written to
    ``<runs_dir>/<name>``."""

    name: str
    overrides: tuple[str, ...]
    config: str | None = None
    stop_at: int | None = None
    """Stop at this agent step instead of total_steps: the first part of a longer schedule
    (e.g. the first 500k steps of a 10M-step run, learning rate annealed over the 10M)."""


def reached(directory: Path) -> int:
    """The agent step of the run's checkpoint (0 without one)."""
    return RunDir(directory).reached()


def finished(directory: Path, stop_at: int | None = None) -> bool:
    """Whether the run in ``directory`` has a checkpoint at ``stop_at`` (default: its
    configured total_steps)."""
    return RunDir(directory).remaining(stop_at) == 0


def run_one(spec: RunSpec, runs_dir: Path, deadline: float | None = None) -> Path:
    """Trains ``runs_dir/<spec.name>`` to ``spec.stop_at`` (else its total_steps): skipped if
    there, resumed if interrupted, started (again) if its directory is missing. With
    ``deadline`` (a ``time.time()``), this sitting stops with a checkpoint at the first update
    past it, and does not start after it. Returns the run directory; SystemExit if training
    fails."""
    directory = RunDir(runs_dir / spec.name)
    remaining = directory.remaining(spec.stop_at)
    if remaining == 0:
        return directory.path
    if deadline is not None and time.time() >= deadline:  # left for the next sitting
        return directory.path
    try:
        if directory.is_run():  # started: continue (from 0 if it has no checkpoint)
            run = resume(directory)
        else:
            print(f"run {spec.name}: no run directory in {runs_dir}, starting from scratch",
                  flush=True)
            overrides = [*spec.overrides, f"name={spec.name}"]
            run = start(load_config(spec.config, overrides), directory)
        stop_after = None
        if spec.stop_at is not None:
            stop_after = spec.stop_at if remaining is None else remaining
        print(f"run {spec.name}", flush=True)
        train(run, stop_after, deadline, show_progress=False)
    except (ValueError, TrainingDiverged) as error:
        raise SystemExit(f"run {spec.name} failed: {error}") from None
    except Interrupted as error:
        print(f"run {spec.name}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(error.exit_code) from None
    return directory.path


def scalars(path: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one tensorboard scalar of a run directory or of a run's record
    (``.npz``); empty arrays if it was not logged (or the run does not exist)."""
    return run_scalars(path).get(tag, (np.array([]), np.array([])))


def window_mean(directory: Path, tag: str, start: int, stop: int) -> float:
    """Mean of a scalar over agent steps [start, stop); NaN if none was logged there."""
    steps, values = scalars(directory, tag)
    chosen = values[(steps >= start) & (steps < stop)]
    return float(chosen.mean()) if chosen.size else float("nan")
