"""The run directory, one owner for its layout: every reader and writer of a run goes through
:class:`RunDir`, so file names and "how far did it get" live in one place.

A run directory (``runs/<name>/`` by default) holds:

- ``config.yaml``: the resolved :class:`~rl_auxgrad.config.TrainConfig` (what makes it a run);
- ``teacher_record.json``: which teacher it distils (path, SHA-256 of the weights, card);
  runs made before this module wrote ``teacher.json``, which is still read;
- ``checkpoint.safetensors``: the training state (atomic; its header carries the agent step);
- ``events.out.tfevents.*``: tensorboard scalars;
- ``videos/step_<N>.mp4``: with ``video_every``, the agent filmed at agent step N;
- ``forked_from.json``: for a run forked from another's checkpoint (``--fork``), which run,
  which step and the SHA-256 of that checkpoint;
- ``hardware.json``: the device each training session ran on, ``[{"step": S, "device": D}]``
  with S the agent step the session started from; a fork starts with its source's sessions
  before the fork's step (runs made before this file was written lack it).

An evidence agent shipped in ``agents/<name>/`` is a run reduced to ``config.yaml`` and the
policy's weights, ``model.safetensors`` (no optimizer state; it may be stored as float16).
Runs live under :func:`default_runs_dir`, an ignored folder: nothing here is meant for git.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from rl_auxgrad.checkpoint import load_state, save_state
from rl_auxgrad.config import ConfigError, TrainConfig, load_config, to_yaml

RUNS_ENV = "RL_AUXGRAD_RUNS"
"""Environment variable naming the folder that holds run directories (default ``runs``)."""


def default_runs_dir() -> Path:
    """``$RL_AUXGRAD_RUNS`` if set, else ``runs`` (relative to the working directory)."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


@dataclass(frozen=True)
class RunDir:
    """One run directory: its files, its config, its checkpoint and its agent."""

    path: Path

    CONFIG = "config.yaml"
    CHECKPOINT = "checkpoint.safetensors"
    TEACHER_RECORD = "teacher_record.json"
    LEGACY_TEACHER_RECORD = "teacher.json"
    FORK_RECORD = "forked_from.json"
    HARDWARE = "hardware.json"
    VIDEOS = "videos"
    WEIGHTS = "model.safetensors"
    """An evidence agent's weights (policy only) in place of a checkpoint."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def checkpoint_file(self) -> Path:
        return self.path / self.CHECKPOINT

    def is_run(self) -> bool:
        """Whether ``path`` is a run (started or shipped): it has a ``config.yaml``."""
        return self.config_file.is_file()

    def has_checkpoint(self) -> bool:
        return self.checkpoint_file.is_file()

    def config(self, overrides: list[str] | None = None) -> TrainConfig:
        if not self.is_run():
            raise ConfigError(f"{self.path} is not a run directory: it has no {self.CONFIG}")
        return load_config(self.config_file, overrides)

    def create(self) -> None:
        """Makes the directory (and its parents); ConfigError if the runs folder cannot hold
        it (a file in the way, no permission)."""
        try:
            self.path.mkdir(parents=True)
        except OSError as error:
            raise ConfigError(f"cannot create run directory {self.path} ({error.strerror}): "
                              "choose a writable --runs-dir") from None

    def write_config(self, config: TrainConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.config_file, to_yaml(config))

    def teacher_record(self) -> dict[str, Any] | None:
        """The teacher the run distils (path, sha256, card), or None for a run without one."""
        for name in (self.TEACHER_RECORD, self.LEGACY_TEACHER_RECORD):
            if (self.path / name).is_file():
                try:
                    return json.loads((self.path / name).read_text())
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    raise ConfigError(f"{self.path / name} is not valid JSON ({error})") from None
        return None

    def write_fork_record(self, record: dict[str, Any]) -> None:
        _write_atomically(self.path / self.FORK_RECORD, json.dumps(record, indent=2) + "\n")

    def hardware(self) -> list[dict[str, Any]] | None:
        """The sessions' devices, ``[{"step": start step, "device": name}]`` in order, or None
        for a run that did not record them."""
        path = self.path / self.HARDWARE
        return json.loads(path.read_text()) if path.is_file() else None

    def write_hardware(self, sessions: list[dict[str, Any]]) -> None:
        _write_atomically(self.path / self.HARDWARE, json.dumps(sessions, indent=1) + "\n")

    def record_session(self, step: int, device: str) -> None:
        """Records that a session from agent step ``step`` runs on ``device``, after the
        recorded sessions that started before ``step``; those from ``step`` on trained past the
        checkpoint this one resumes from, and their work is discarded like their events."""
        sessions = [s for s in self.hardware() or [] if s["step"] < step]
        self.write_hardware([*sessions, {"step": step, "device": device}])

    def remove_temporaries(self) -> list[Path]:
        """Deletes the temporary files of writes a kill interrupted (``.<name>.*.tmp``, see
        :func:`~rl_auxgrad.checkpoint.save_tensors`); returns them."""
        stale = sorted(self.path.glob(".*.tmp")) if self.path.is_dir() else []
        for path in stale:
            path.unlink()
        return stale

    def write_teacher_record(self, record: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.path / self.TEACHER_RECORD, json.dumps(record, indent=2) + "\n")

    def reached(self) -> int:
        """The agent step of the checkpoint (0 without one), read from its header alone."""
        if not self.has_checkpoint():
            return 0
        with safe_open(str(self.checkpoint_file), framework="pt") as f:
            step = (f.metadata() or {}).get(STEP_KEY)
        if step is not None:
            return int(step)
        return int(load_state(self.checkpoint_file)["learner"]["global_step"])  # older files

    def remaining(self, stop_at: int | None = None) -> int | None:
        """Agent steps left to ``stop_at`` (default: the config's total_steps); None for a run
        with no checkpoint yet."""
        if not self.has_checkpoint():
            return None
        return max(0, (stop_at or self.config().total_steps) - self.reached())

    def save_checkpoint(self, state: dict[str, Any], step: int) -> None:
        save_state(self.checkpoint_file, state, {STEP_KEY: str(step)})

    def load_checkpoint(self) -> dict[str, Any]:
        return load_state(self.checkpoint_file, device="cpu")

    def checkpoint_sha256(self) -> str:
        return hashlib.sha256(self.checkpoint_file.read_bytes()).hexdigest()

    def event_files(self) -> list[Path]:
        return sorted(self.path.glob("events.out.tfevents.*"))

    def video_file(self, step: int) -> Path:
        """Where the video of agent step ``step`` goes (``videos/step_<step>.mp4``); makes
        ``videos/``."""
        folder = self.path / self.VIDEOS
        folder.mkdir(exist_ok=True)
        return folder / f"step_{step}.mp4"

    def agent_weights(self) -> dict[str, torch.Tensor]:
        """The policy's weights, float32: from the checkpoint, or from an evidence agent's
        ``model.safetensors``."""
        if self.has_checkpoint():
            return self.load_checkpoint()["learner"]["agent"]
        if (self.path / self.WEIGHTS).is_file():
            return {k: v.float() for k, v in load_file(self.path / self.WEIGHTS).items()}
        raise ConfigError(f"{self.path} has no {self.CHECKPOINT} (nor {self.WEIGHTS}) yet: "
                          f"train it first (python -m rl_auxgrad.train --resume {self.path})")


STEP_KEY = "rl_auxgrad.step"
"""Checkpoint header field: the agent step, readable without loading the tensors."""


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
