"""Tensorboard events (CleanRL's tags, per-game variants, a custom-scalars layout, the config
and the teacher's card as text) and a one-line console progress."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from rl_auxgrad.envs import Episode
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.teachers.native import card_score

SCORE_WINDOW = 20
"""Episodes in the mean score of the progress line and of the end-of-run summary."""

LAYOUT: dict[str, dict[str, list[Any]]] = {"rl_auxgrad": {
    "score (student) and the teacher's card score": [
        "Multiline", [r"charts/episodic_return(/|$)", r"teacher/card_score(/|$)"]],
    "usefulness of the teacher: weight λ, agreement, gate weight and cosine": [
        "Multiline", [r"teacher/(lam|agreement|gradient)", r"gate/(weight|cosine)(/|$)"]],
    "losses": ["Multiline", [r"losses/"]],
}}
"""Tensorboard's custom-scalars layout (the CUSTOM SCALARS tab): one category of three
multi-line charts, each a list of tag regexes matched from the tag's start, so
``charts/episodic_return`` also draws ``charts/episodic_return/<game>``."""


def card_scores(card: dict[str, Any], games: tuple[str, ...]) -> dict[str, float]:
    """``teacher/card_score`` (and ``teacher/card_score/<game>`` in a multi-game run) from a
    teacher card's score (:func:`~rl_auxgrad.teachers.native.card_score`); empty without one."""
    score = card_score(card)
    if score.mean is None:
        return {}
    per_game = score.per_game if len(games) > 1 else {}
    return {"teacher/card_score": score.mean} | {
        f"teacher/card_score/{game}": per_game[game] for game in games if game in per_game}


def wait_for_a_later_second(directory: RunDir) -> None:
    """Tensorboard reads a run's event files in name order, and a name begins with the second
    its file was opened (``events.out.tfevents.<seconds>.<host>.<pid>…``). A sitting that opens
    its file in the same second as an earlier one may sort before it, and then its purge of
    the killed sitting's later events is applied before those events are read. Waiting for
    the next second (at most one) keeps the sittings in order."""
    opened = [int(f.name.split(".")[3]) for f in directory.event_files()]
    while opened and time.time() < max(opened) + 1:
        time.sleep(0.01)


@dataclass(frozen=True)
class Scores:
    """The episodes of one sitting: the mean of the last :data:`SCORE_WINDOW` (fewer if the
    sitting had fewer) and the best mean of :data:`SCORE_WINDOW` consecutive episodes (None
    if it had fewer)."""

    episodes: int
    final: float | None
    best: float | None


class RunLogger:
    """Writes ``charts/…``, ``losses/…``, ``gate/…`` and ``teacher/…`` scalars against agent
    steps. A run's first events also get :data:`LAYOUT` and ``texts`` (tag → markdown).

    ``charts/SPS`` is this sitting's mean speed, (step − start_step) / seconds since it started;
    ``charts/wall_time`` is the seconds of training of every sitting so far: ``earlier_seconds``
    (those before this one, which the checkpoint carries) plus this sitting's. It is not logged
    when ``earlier_seconds`` is None (unknown: a checkpoint written before it was counted)."""

    def __init__(self, directory: RunDir, total_steps: int, start_step: int, rollout_steps: int,
                 games: tuple[str, ...], texts: dict[str, str], constants: dict[str, float],
                 show_progress: bool = True, earlier_seconds: float | None = 0.0) -> None:
        first = not directory.event_files()  # a new run, a fork, or a restart from step 0
        wait_for_a_later_second(directory)
        # Resuming from a checkpoint at start_step: drop the events a killed run logged after
        # it (steps > start_step), keep those up to start_step, which the checkpoint covers,
        # the layout and texts of the first event file among them.
        self.writer = SummaryWriter(str(directory.path), purge_step=start_step + 1
                                    if start_step else None)
        if first:
            self.writer.add_custom_scalars(LAYOUT)
            for tag, text in texts.items():
                self.writer.add_text(tag, text, start_step)
        self.constants = constants  # logged at every update, so each draws as a line
        self.per_game = len(games) > 1
        self.total_steps, self.rollout_steps = total_steps, rollout_steps
        self.recent: deque[float] = deque(maxlen=SCORE_WINDOW)
        self.episode_count, self.best_mean = 0, None
        self.start_step, self.start_time = start_step, time.perf_counter()
        self.earlier_seconds = earlier_seconds
        self.progress = Progress(
            TextColumn("[bold]{task.fields[name]}"), BarColumn(),
            TextColumn("{task.fields[steps]}"), TextColumn("{task.fields[sps]:,.0f} SPS"),
            TextColumn("return {task.fields[ret]}"), TimeRemainingColumn(),
            disable=not show_progress)
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step,
                                           name=directory.name, sps=0.0, ret="-",
                                           steps=self.steps_text(start_step))
        self.progress.start()

    def steps_text(self, step: int) -> str:
        """``step/total_steps steps``, and once past total_steps why: the learner steps in whole
        rollouts (num_envs × num_steps) and stops at the first boundary at or past it."""
        why = f" (whole rollouts of {self.rollout_steps:,})" if step > self.total_steps else ""
        return f"{step:,}/{self.total_steps:,} steps{why}"

    def episodes(self, step: int, episodes: list[Episode]) -> None:
        for episode in episodes:
            self.recent.append(episode.score)
            self.episode_count += 1
            if len(self.recent) == SCORE_WINDOW:
                mean = sum(self.recent) / SCORE_WINDOW
                self.best_mean = mean if self.best_mean is None else max(self.best_mean, mean)
            self.writer.add_scalar("charts/episodic_return", episode.score, step)
            self.writer.add_scalar("charts/episodic_length", episode.length, step)
            if self.per_game:
                self.writer.add_scalar(f"charts/episodic_return/{episode.game}", episode.score,
                                       step)
                self.writer.add_scalar(f"charts/episodic_length/{episode.game}", episode.length,
                                       step)

    def update(self, step: int, stats: dict[str, float]) -> None:
        elapsed = self.elapsed()
        sps = (step - self.start_step) / max(elapsed, 1e-9)
        for tag, value in (stats | self.constants).items():
            name = {"lr": "charts/learning_rate", "clip_range": "charts/clip_range",
                    "lam": "teacher/lam"}.get(tag, tag)
            self.writer.add_scalar(name, value, step)
        self.writer.add_scalar("charts/SPS", sps, step)
        if self.earlier_seconds is not None:
            self.writer.add_scalar("charts/wall_time", self.earlier_seconds + elapsed, step)
        mean = f"{sum(self.recent) / len(self.recent):.1f}" if self.recent else "-"
        self.progress.update(self.task, completed=step, sps=sps, ret=mean,
                             steps=self.steps_text(step))

    def scores(self) -> Scores:
        """The scores of this sitting's episodes."""
        final = sum(self.recent) / len(self.recent) if self.recent else None
        return Scores(self.episode_count, final, self.best_mean)

    def elapsed(self) -> float:
        """Seconds since this sitting's logger started."""
        return time.perf_counter() - self.start_time

    def wall_time(self) -> float | None:
        """Seconds of training of every sitting so far (None if the earlier ones are unknown):
        what a checkpoint saves, so that the next sitting continues the count."""
        return None if self.earlier_seconds is None else self.earlier_seconds + self.elapsed()

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
