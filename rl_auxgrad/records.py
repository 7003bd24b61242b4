"""Reduced records of finished runs: what a report needs, small enough for git.

A record is one ``.npz`` file holding every tensorboard scalar of a run exactly as
tensorboard's ``EventAccumulator`` reads it back (agent steps as int64, values as float64, so
a report made from the record is byte for byte the report made from the events), the run's
``config.yaml``, its teacher record and its sessions' hardware (``hardware.json``) as text. It
is written with ``numpy.savez_compressed`` and read with ``allow_pickle=False``: no object
arrays, nothing unpickled. Checkpoints and raw events stay in the ignored run directory.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rl_auxgrad.run_dir import RunDir

SUFFIX = ".npz"
_CONFIG = "config_yaml"
_TEACHER = "teacher_record_json"
_HARDWARE = "hardware_json"
"""Absent from records written before runs recorded their hardware."""


Scalars = dict[str, tuple[np.ndarray, np.ndarray]]
"""tag -> (agent steps, values)."""


def run_scalars(path: Path) -> Scalars:
    """Every scalar of a run directory (read from its events) or of a record; empty for a path
    that is neither."""
    if is_record(path):
        return read_record(path)["scalars"]
    if not path.is_dir():
        return {}
    stamp = max((f.stat().st_mtime_ns for f in path.iterdir()), default=0)
    return _event_scalars(str(path), stamp)


@functools.lru_cache(maxsize=32)
def _event_scalars(directory: str, stamp: int) -> Scalars:
    """The run's events, read once per state of its directory (``stamp``: newest mtime)."""
    events = EventAccumulator(directory, size_guidance={"scalars": 0}).Reload()
    out = {}
    for tag in events.Tags()["scalars"]:
        points = events.Scalars(tag)
        out[tag] = (np.array([p.step for p in points], dtype=np.int64),
                    np.array([p.value for p in points], dtype=np.float64))
    return out


def write_record(run: RunDir, out: Path) -> Path:
    """Reduces ``run`` to the record ``out`` (atomically: a temporary file, then a rename)."""
    arrays: dict[str, np.ndarray] = {}
    for i, (tag, (steps, values)) in enumerate(sorted(run_scalars(run.path).items())):
        arrays[f"tag{i}"] = np.array(tag)
        arrays[f"steps{i}"], arrays[f"values{i}"] = steps, values
    arrays[_CONFIG] = np.array(run.config_file.read_text())
    teacher = run.teacher_record()
    arrays[_TEACHER] = np.array(json.dumps(teacher) if teacher is not None else "")
    hardware = run.hardware()
    arrays[_HARDWARE] = np.array(json.dumps(hardware) if hardware is not None else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)
    return out


def is_record(path: Path) -> bool:
    return path.suffix == SUFFIX and path.is_file()


@functools.lru_cache(maxsize=256)
def _load(path: str, stamp: int) -> dict[str, Any]:
    """The record's contents, read once per version of the file (``stamp``: its mtime)."""
    with np.load(path, allow_pickle=False) as data:
        count = sum(1 for key in data.files if key.startswith("tag"))
        scalars = {str(data[f"tag{i}"]): (data[f"steps{i}"], data[f"values{i}"])
                   for i in range(count)}
        teacher = str(data[_TEACHER])
        hardware = str(data[_HARDWARE]) if _HARDWARE in data.files else ""
        return {"scalars": scalars, "config": str(data[_CONFIG]),
                "teacher": json.loads(teacher) if teacher else None,
                "hardware": json.loads(hardware) if hardware else None}


def read_record(path: Path) -> dict[str, Any]:
    """``{"scalars": {tag: (steps, values)}, "config": yaml text, "teacher": dict | None,
    "hardware": [{"step", "device"}, ...] | None}`` (None: the run did not record it,
    :meth:`~rl_auxgrad.run_dir.RunDir.hardware`)."""
    return _load(str(path), path.stat().st_mtime_ns)


def main(argv: list[str] | None = None) -> int:
    """``python -m rl_auxgrad.records RUN_DIR [RUN_DIR ...] --out DIR``: one record per run,
    ``DIR/<run name>.npz``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m rl_auxgrad.records",
                                     description="Reduce finished runs to records (npz).")
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--out", type=Path, required=True, help="folder for the records")
    args = parser.parse_args(argv)
    missing = [str(run) for run in args.runs if not RunDir(run).is_run()]
    if missing:
        print(f"error: not run directories (no {RunDir.CONFIG}): {', '.join(missing)}",
              file=sys.stderr)
        return 2
    for run in args.runs:
        print(write_record(RunDir(run), args.out / f"{run.name}{SUFFIX}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
