"""Tensorboard events (CleanRL's tags, per-game variants) and a one-line console progress."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from rl_auxgrad.envs import Episode


class RunLogger:
    """Writes ``charts/…``, ``losses/…`` and ``gate/…`` scalars against agent steps."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, games: tuple[str, ...],
                 hyperparameters: str, show_progress: bool = True) -> None:
        # Resuming from a checkpoint at start_step: drop the events a killed run logged after
        # it (steps > start_step), keep those of start_step itself, which the checkpoint covers.
        self.writer = SummaryWriter(str(run_dir), purge_step=start_step + 1 if start_step
                                    else None)
        if start_step == 0:
            self.writer.add_text("hyperparameters", hyperparameters)
        self.per_game = len(games) > 1
        self.recent: deque[float] = deque(maxlen=20)
        self.start_step, self.start_time = start_step, time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]{task.fields[name]}"), BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} steps"),
            TextColumn("{task.fields[sps]:,.0f} SPS"), TextColumn("return {task.fields[ret]}"),
            TimeRemainingColumn(), disable=not show_progress)
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step,
                                           name=run_dir.name, sps=0.0, ret="-")
        self.progress.start()

    def episodes(self, step: int, episodes: list[Episode]) -> None:
        for episode in episodes:
            self.recent.append(episode.score)
            self.writer.add_scalar("charts/episodic_return", episode.score, step)
            self.writer.add_scalar("charts/episodic_length", episode.length, step)
            if self.per_game:
                self.writer.add_scalar(f"charts/episodic_return/{episode.game}", episode.score,
                                       step)
                self.writer.add_scalar(f"charts/episodic_length/{episode.game}", episode.length,
                                       step)

    def update(self, step: int, stats: dict[str, float]) -> None:
        sps = (step - self.start_step) / max(time.perf_counter() - self.start_time, 1e-9)
        for tag, value in stats.items():
            name = {"lr": "charts/learning_rate", "lam": "teacher/lam"}.get(tag, tag)
            self.writer.add_scalar(name, value, step)
        self.writer.add_scalar("charts/SPS", sps, step)
        mean = f"{sum(self.recent) / len(self.recent):.1f}" if self.recent else "-"
        self.progress.update(self.task, completed=step, sps=sps, ret=mean)

    def video(self, step: int, gif: bytes, size: tuple[int, int]) -> None:
        """An animated GIF of (height, width) ``size`` as image ``videos/episode`` (the summary
        ``add_video`` writes, encoded by :mod:`rl_auxgrad.video` without moviepy)."""
        image = Summary.Image(height=size[0], width=size[1], colorspace=3,
                              encoded_image_string=gif)
        self.writer.file_writer.add_summary(
            Summary(value=[Summary.Value(tag="videos/episode", image=image)]), step)

    def flush(self) -> None:
        """Writes the buffered events to the event file."""
        self.writer.flush()

    def close(self) -> None:
        self.progress.stop()
        self.writer.close()
