"""Invocation log of the resumable experiment scripts: the command line, and how long each
invocation that trained runs took (one JSON object a line), for the reports' wall time."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any


def command() -> str:
    """This process's command line, shell-quoted: ``python -m <module> <args>`` when it runs
    a module (``python -m scripts.class_pairs``: no absolute path), else ``python <argv>``."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    argv = ["-m", spec.name, *sys.argv[1:]] if spec is not None else sys.argv
    return "python " + " ".join(shlex.quote(a) for a in argv)


def log_invocation(path: Path, wall: float, runs: int, workers: int) -> list[dict[str, Any]]:
    """Appends this invocation to the JSON-lines log if it trained runs; returns the log."""
    if runs:
        entry = dict(command=command(), finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                     wall_s=round(wall, 1), runs=runs, workers=workers)
        with path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wall_time(invocations: list[dict[str, Any]]) -> str:
    """One sentence: the total wall time of the logged invocations, then each one's."""
    total = sum(entry["wall_s"] for entry in invocations)
    parts = ", ".join(f"{e['runs']} runs in {e['wall_s'] / 60:.1f} min ({e['finished']})"
                      for e in invocations)
    return f"Wall time: {total / 60:.1f} min in {len(invocations)} invocation(s): {parts}."
