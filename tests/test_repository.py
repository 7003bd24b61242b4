"""The clone is what every user pays for: no tracked file over 10 MB, no run artifacts in git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MAX_FILE = 10 * 2**20
LEGACY = "agents/experiments/"
"""Checkpoints committed before runs moved out of git. They are no longer read (their runs'
records are in docs/data/) and are removed a few at a time, because one submission may carry
only so much diff; nothing new may appear under this folder."""
LEGACY_RUNS = frozenset({
    "breakout_teacher/projection__seed2", "breakout_teacher/rl+kl__seed1",
    "breakout_teacher/rl+kl__seed2", "breakout_teacher/rl_alone__seed2"})


def tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [Path(name) for name in out.decode().split("\0") if name]


def test_no_tracked_file_is_over_10_mb_outside_the_legacy_runs_being_removed():
    big = [str(p) for p in tracked()
           if (ROOT / p).is_file() and (ROOT / p).stat().st_size > MAX_FILE
           and not str(p).startswith(LEGACY)]
    assert big == [], f"tracked files over 10 MB: {big}; keep artifacts in runs/ (ignored)"


def test_no_run_artifacts_are_tracked_outside_the_legacy_runs_being_removed():
    artifacts = [str(p) for p in tracked() if not str(p).startswith(LEGACY)
                 and (p.name == "checkpoint.safetensors" or p.name.startswith("events.out."))]
    assert artifacts == [], f"run artifacts in git: {artifacts}; commit a record instead " \
                            "(python -m rl_auxgrad.records RUN --out docs/data/...)"
    legacy = {"/".join(p.parts[2:4]) for p in tracked() if str(p).startswith(LEGACY)}
    assert legacy <= LEGACY_RUNS, f"new runs under {LEGACY}: {sorted(legacy - LEGACY_RUNS)}"


def test_every_legacy_run_already_has_its_record():
    for run in LEGACY_RUNS:
        assert (ROOT / "docs" / "data" / f"{run}.npz").is_file(), run


def test_runs_folder_is_ignored():
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("script", ["bench_gating.py", "bench_throughput.py", "sweep.py",
                                    "train_teacher.py"])
def test_scripts_the_docs_run_by_path_import(script):
    """README and Makefile run these as ``python scripts/<name>.py``, where the checkout's root
    is not on sys.path: they may import the installed package only, not ``scripts.*``."""
    done = subprocess.run([sys.executable, f"scripts/{script}", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
