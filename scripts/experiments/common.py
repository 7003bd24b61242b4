"""Shared by the experiment scripts: run a list of training runs (skipping finished ones, resuming
interrupted ones) and read their tensorboard scalars back."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rl_auxgrad import train as train_module
from rl_auxgrad.checkpoint import load_state
from rl_auxgrad.config import load_config


@dataclass(frozen=True)
class RunSpec:
    name: str
    overrides: tuple[str, ...]
    config: str | None = None


def finished(directory: Path) -> bool:
    checkpoint = directory / train_module.CHECKPOINT
    if not checkpoint.is_file():
        return False
    total = load_config(directory / train_module.CONFIG).total_steps
    return load_state(checkpoint)["learner"]["global_step"] >= total


def run_one(spec: RunSpec, runs_dir: Path) -> None:
    """Trains ``runs_dir/<spec.name>``: skipped if finished, resumed if interrupted."""
    directory = runs_dir / spec.name
    if finished(directory):
        return
    if (directory / train_module.CHECKPOINT).is_file():
        argv = ["--resume", str(directory)]
    else:
        argv = ([f"--config={spec.config}"] if spec.config else []) + [
            *spec.overrides, f"name={spec.name}", f"runs_dir={runs_dir}"]
    print(f"run {spec.name}", flush=True)
    code = train_module.main([*argv, "--no-progress"])
    if code != 0:
        raise SystemExit(f"run {spec.name} failed with exit status {code}")


def run_all(runs: list[RunSpec], runs_dir: Path, workers: int = 1) -> None:
    """Trains every run (see :func:`run_one`), ``workers`` at a time in separate processes.
    Stops at the first run that fails."""
    if workers <= 1:
        for spec in runs:
            run_one(spec, runs_dir)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for future in [pool.submit(run_one, spec, runs_dir) for spec in runs]:
            future.result()


def scalars(directory: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one tensorboard scalar of a run; empty arrays if it was not logged."""
    events = EventAccumulator(str(directory), size_guidance={"scalars": 0}).Reload()
    if tag not in events.Tags()["scalars"]:
        return np.array([]), np.array([])
    points = events.Scalars(tag)
    return np.array([p.step for p in points]), np.array([p.value for p in points])


def binned(directory: Path, tag: str, total_steps: int, bins: int) -> np.ndarray:
    """Mean of a scalar in each of ``bins`` equal spans of [0, total_steps]; a span with no
    point carries the previous span's value (NaN before the first point)."""
    steps, values = scalars(directory, tag)
    index = np.minimum(steps * bins // total_steps, bins - 1).astype(int)
    out = np.full(bins, np.nan)
    for b in range(bins):
        chosen = values[index == b]
        if chosen.size:
            out[b] = chosen.mean()
        elif b > 0:
            out[b] = out[b - 1]
    return out


def window_mean(directory: Path, tag: str, start: int, stop: int) -> float:
    """Mean of a scalar over agent steps [start, stop); NaN if none was logged there."""
    steps, values = scalars(directory, tag)
    chosen = values[(steps >= start) & (steps < stop)]
    return float(chosen.mean()) if chosen.size else float("nan")
