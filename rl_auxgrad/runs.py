"""Run directories as units of work: train one to completion (skipping it when finished,
resuming it when interrupted) and read its tensorboard scalars back. Experiment scripts and
``scripts/sweep.py`` (Ray Tune workers) build on these."""

from __future__ import annotations

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


def finished(directory: Path) -> bool:
    """Whether the run in ``directory`` has a checkpoint at its configured total_steps."""
    checkpoint = directory / train_module.CHECKPOINT
    if not checkpoint.is_file():
        return False
    total = load_config(directory / train_module.CONFIG).total_steps
    return load_state(checkpoint)["learner"]["global_step"] >= total


def run_one(spec: RunSpec, runs_dir: Path) -> Path:
    """Trains ``runs_dir/<spec.name>`` to the end: skipped if finished, resumed if interrupted.
    Returns the run directory; SystemExit if training fails."""
    directory = runs_dir / spec.name
    if finished(directory):
        return directory
    if (directory / train_module.CHECKPOINT).is_file():
        argv = ["--resume", str(directory)]
    else:
        argv = ([f"--config={spec.config}"] if spec.config else []) + [
            *spec.overrides, f"name={spec.name}", f"runs_dir={runs_dir}"]
    print(f"run {spec.name}", flush=True)
    code = train_module.main([*argv, "--no-progress"])
    if code != 0:
        raise SystemExit(f"run {spec.name} failed with exit status {code}")
    return directory


def scalars(directory: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one tensorboard scalar of a run; empty arrays if it was not logged."""
    events = EventAccumulator(str(directory), size_guidance={"scalars": 0}).Reload()
    if tag not in events.Tags()["scalars"]:
        return np.array([]), np.array([])
    points = events.Scalars(tag)
    return np.array([p.step for p in points]), np.array([p.value for p in points])


def window_mean(directory: Path, tag: str, start: int, stop: int) -> float:
    """Mean of a scalar over agent steps [start, stop); NaN if none was logged there."""
    steps, values = scalars(directory, tag)
    chosen = values[(steps >= start) & (steps < stop)]
    return float(chosen.mean()) if chosen.size else float("nan")
