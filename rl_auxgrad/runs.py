"""Run directories as units of work: train one to completion (skipping it when finished,
resuming it when interrupted) and read its tensorboard scalars back. Experiment scripts and
``scripts/sweep.py`` (Ray Tune workers) build on these."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rl_auxgrad import train as train_module
from rl_auxgrad.checkpoint import load_state
from rl_auxgrad.config import load_config


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
    checkpoint = directory / train_module.CHECKPOINT
    return int(load_state(checkpoint)["learner"]["global_step"]) if checkpoint.is_file() else 0


def finished(directory: Path, stop_at: int | None = None) -> bool:
    """Whether the run in ``directory`` has a checkpoint at ``stop_at`` (default: its
    configured total_steps)."""
    return _remaining(directory, stop_at) == 0


def _remaining(directory: Path, stop_at: int | None) -> int | None:
    """Agent steps left to ``stop_at`` (default: total_steps); None for a run not started."""
    if not (directory / train_module.CHECKPOINT).is_file():
        return None
    target = stop_at or load_config(directory / train_module.CONFIG).total_steps
    return max(0, target - reached(directory))


def run_one(spec: RunSpec, runs_dir: Path) -> Path:
    """Trains ``runs_dir/<spec.name>`` to the end: skipped if finished, resumed if interrupted.
    Returns the run directory; SystemExit if training fails."""
    directory = runs_dir / spec.name
    remaining = _remaining(directory, spec.stop_at)  # reads the checkpoint once
    if remaining == 0:
        return directory
    if (directory / train_module.CONFIG).is_file():  # started: continue (from 0 if no checkpoint)
        argv = ["--resume", str(directory)]
    else:
        argv = ([f"--config={spec.config}"] if spec.config else []) + [
            *spec.overrides, f"name={spec.name}", f"runs_dir={runs_dir}"]
    if spec.stop_at is not None:
        argv += ["--stop-after", str(spec.stop_at if remaining is None else remaining)]
    print(f"run {spec.name}", flush=True)
    code = train_module.main([*argv, "--no-progress"])
    if code != 0:
        raise SystemExit(f"run {spec.name} failed with exit status {code}")
    return directory


def scalars(directory: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one tensorboard scalar of a run; empty arrays if it was not logged
    (or the run does not exist)."""
    if not directory.is_dir():
        return np.array([]), np.array([])
    stamp = max((f.stat().st_mtime_ns for f in directory.iterdir()), default=0)
    events = _events(str(directory), stamp)
    if tag not in events.Tags()["scalars"]:
        return np.array([]), np.array([])
    points = events.Scalars(tag)
    return np.array([p.step for p in points]), np.array([p.value for p in points])


@functools.lru_cache(maxsize=32)
def _events(directory: str, stamp: int) -> EventAccumulator:
    """The run's events, read once per state of its directory (``stamp``: newest mtime)."""
    return EventAccumulator(directory, size_guidance={"scalars": 0}).Reload()


def window_mean(directory: Path, tag: str, start: int, stop: int) -> float:
    """Mean of a scalar over agent steps [start, stop); NaN if none was logged there."""
    steps, values = scalars(directory, tag)
    chosen = values[(steps >= start) & (steps < stop)]
    return float(chosen.mean()) if chosen.size else float("nan")
