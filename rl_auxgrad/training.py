"""Training as a library: :func:`start` a new run or :func:`resume` one, then :func:`train` it.

The CLI (``python -m rl_auxgrad.train``), :mod:`rl_auxgrad.runs`, the experiment scripts and
``scripts/train_teacher.py`` all call these; nothing imports the CLI. Everything that can be
wrong with the input (config, teacher, environment, run directory) is checked before anything
is written, and raised as a ``ValueError`` with one clear message.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.config import ConfigError, TrainConfig, is_run_name, resolve_device, to_yaml
from rl_auxgrad.envs import VectorEnv
from rl_auxgrad.interrupts import Interrupted, StopRequest
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.run_logger import SCORE_WINDOW, RunLogger, card_scores
from rl_auxgrad.teachers import Teacher, load_teacher
from rl_auxgrad.teachers.hub import pinned
from rl_auxgrad.video import check_filmable, training_video


class TrainingDiverged(RuntimeError):
    """A loss, a weight or an optimizer statistic became NaN or infinite; the last finite
    checkpoint is kept."""


WALL_TIME = "wall_time"
"""Checkpoint field: seconds of training of every sitting up to the checkpoint (absent from
checkpoints written before it was counted; a run resumed from one logs no charts/wall_time)."""

SAFE_ON_RESUME = frozenset({"total_steps", "checkpoint_every", "checkpoint_minutes", "device",
                            "cpu_threads", "env.threads", "video_every"})
"""Config fields a resume may change: where the run stops, how often it saves, where and with
how many threads it computes. Every other field defines the experiment; changing one needs a
fork (a new run from the checkpoint). A new total_steps also stretches an annealed learning
rate's schedule from the resumed step on."""


@dataclass
class Run:
    """Everything a run needs, built and checked before anything is written."""

    config: TrainConfig
    directory: RunDir
    env: VectorEnv
    learner: Learner
    teacher: Teacher | None
    resume_state: dict | None


def run_name(config: TrainConfig) -> str:
    """``config.name``, or one made of env, algorithm, gate (and teacher schedule unless
    constant; noteacher without a teacher) and seed."""
    if config.name:
        return config.name
    gate, schedule = config.gate.name, config.teacher.lam_schedule
    if config.teacher.path is None:
        gate = "noteacher"
    elif schedule != "constant":
        gate = f"{gate}-{schedule}"
    return f"{config.env.id.replace('+', '_').replace('/', '_')}__{config.agent.algo}__{gate}" \
           f"__seed{config.seed}"


def run_directory(config: TrainConfig, runs_dir: str | Path | None = None) -> RunDir:
    """Where a new run of ``config`` goes: ``runs_dir`` (else ``config.runs_dir``, else
    ``$RL_AUXGRAD_RUNS``, else ``runs``) / :func:`run_name`."""
    parent = Path(runs_dir) if runs_dir else (Path(config.runs_dir) if config.runs_dir
                                              else default_runs_dir())
    return RunDir(parent / run_name(config))


def start(config: TrainConfig, directory: RunDir) -> Run:
    """A new run in ``directory``; refused if the directory exists. The directory and its
    config are written only once everything has been checked."""
    _check_new(directory)
    run = _prepare(config, directory, None)
    _create(run)
    return run


def resume(directory: RunDir, overrides: list[str] | None = None, fork: str | None = None
           ) -> Run:
    """The run in ``directory``, continued from its checkpoint (from step 0, saying so, if it
    stopped before its first one). ``overrides`` may change only :data:`SAFE_ON_RESUME` fields
    (written to the run's config.yaml); with ``fork``, any field, in a new run ``fork`` beside
    this one that starts from this checkpoint and records where it came from."""
    if not directory.is_run():
        raise ConfigError(f"cannot resume {directory.path}: it has no {RunDir.CONFIG} (is it a "
                          "run directory under runs/?)")
    saved = directory.config()
    config = directory.config(overrides)
    state = directory.load_checkpoint() if directory.has_checkpoint() else None
    if fork is not None:
        return _fork(directory, saved, config, state, fork)
    old, new = _flat(saved), _flat(config)
    for key, value in new.items():
        if value != old[key] and key not in SAFE_ON_RESUME:
            raise ConfigError(f"{key} cannot change on resume ({old[key]} -> {value}): pass "
                              "--fork NEW_NAME to start a new run from this checkpoint")
    run = _prepare(config, directory, state)
    if state is None:
        print(f"{directory.path} stopped before its first checkpoint: starting it again from "
              "step 0", file=sys.stderr)
    if config != saved:
        directory.write_config(config)  # a later plain --resume continues to the new target
    return run


def _fork(source: RunDir, saved: TrainConfig, config: TrainConfig, state: dict | None,
          name: str) -> Run:
    if not is_run_name(name):
        raise ConfigError(f"--fork {name!r} must be a folder name (letters, digits and "
                          "_ . + = -): the fork goes beside the run it comes from")
    if state is None:
        raise ConfigError(f"cannot fork {source.path}: it has no {RunDir.CHECKPOINT} yet")
    directory = RunDir(source.path.parent / name)
    _check_new(directory)
    config = replace(config, name=name)
    if config.env != saved.env or config.seed != saved.seed:
        state = {**state, "env": None}  # other environments: fresh episodes
    if config.gate != saved.gate or config.teacher != saved.teacher:  # a new gate and schedule
        state = {**state, "learner": {k: v for k, v in state["learner"].items()
                                      if k not in ("gate", "teacher_weight")}}
    run = _prepare(config, directory, state, source.checkpoint_file)
    _create(run, {"source": str(source.path), "step": state["learner"]["global_step"],
                  "sha256": source.checkpoint_sha256()})
    hardware = source.hardware()
    if hardware is not None:  # like the wall time, the fork counts its source's sessions
        directory.write_hardware(hardware)
    return run


def _check_new(directory: RunDir) -> None:
    if directory.path.exists():
        raise ConfigError(f"run directory {directory.path} already exists: pass --resume "
                          f"{directory.path} to continue it, or choose another name")


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    """The fields of a config as ``{"agent.clip_coef": 0.1, ...}``."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            out |= _flat(value, f"{prefix}{f.name}.")
        else:
            out[prefix + f.name] = value
    return out


def _prepare(config: TrainConfig, directory: RunDir, state: dict | None,
             checkpoint: Path | None = None) -> Run:
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    e = config.env
    env = e.make(config.seed)
    try:
        if config.video_every:
            check_filmable(e.id)
        record = directory.teacher_record()
        path = config.teacher.path
        if path is not None and record is not None and "hub" in record:
            path = pinned(record["hub"])  # the commit the run started with, not the newest
        teacher = (load_teacher(path, env.spec, device,
                                q_temperature=config.teacher.q_temperature)
                   if path is not None else None)
        if state is not None and teacher is not None and record is not None \
                and record["sha256"] != teacher.fingerprint():
            raise ConfigError(f"teacher {config.teacher.path} changed since {directory.path} "
                              f"started (sha256 {record['sha256'][:12]}… then, "
                              f"{teacher.fingerprint()[:12]}… now): restore it, or start a new "
                              "run")
        learner = Learner(config, env.spec, device, teacher)
        if state is not None:
            _restore(learner, state["learner"], checkpoint or directory.checkpoint_file)
    except BaseException:
        env.close()
        raise
    threads = config.cpu_threads or (1 if learner.torso_name == "mlp" else 0)
    if threads and not config.deterministic:
        torch.set_num_threads(threads)
    return Run(config, directory, env, learner, teacher, state)


def _restore(learner: Learner, saved: dict, checkpoint: Path) -> None:
    """Loads ``saved`` into ``learner``; what ``saved`` lacks (a fork's new gate or teacher
    schedule) stays fresh."""
    try:
        learner.load_state_dict({**learner.state_dict(), **saved})
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        raise ConfigError(f"{checkpoint} does not fit this run's config "
                          f"({str(error).strip().splitlines()[0]})") from None
    for group in learner.optimizer.param_groups:  # a fork may change it; the saved one is old
        group["lr"] = learner.config.agent.learning_rate


def _create(run: Run, forked_from: dict[str, Any] | None = None) -> None:
    """Writes a new run's directory: config, teacher record and (for a fork) its origin."""
    directory = run.directory
    directory.create()
    directory.write_config(run.config)
    if run.teacher is not None:
        directory.write_teacher_record(run.teacher.record())
    if forked_from is not None:
        directory.write_fork_record(forked_from)


def train(run: Run, stop_after: int | None = None, deadline: float | None = None,
          show_progress: bool = True, report: TextIO | None = None) -> RunDir:
    """The training loop: rollout, update, log, checkpoint (every ``checkpoint_every`` steps,
    every ``checkpoint_minutes`` and at the end). This sitting ends early, with a checkpoint,
    after ``stop_after`` agent steps, at the first update past ``deadline`` (a
    ``time.time()``), or on SIGINT / SIGTERM (then :class:`Interrupted`); :func:`resume`
    continues exactly. :class:`TrainingDiverged` if anything becomes NaN or infinite. A sitting
    that ends without an exception writes :func:`_summary`'s lines to ``report``, if given."""
    config, learner, env, directory = run.config, run.learner, run.env, run.directory
    directory.remove_temporaries()  # of checkpoint writes a kill interrupted
    obs = env.reset(config.seed)
    if run.resume_state is None:
        for stale in directory.event_files():  # of a start with no checkpoint
            stale.unlink()
    elif run.resume_state["env"] is not None:
        env.load_state_dict(run.resume_state["env"])
        obs = run.resume_state["obs"].numpy()
    else:  # the ALE cannot restore its emulators (or a fork changed them): fresh episodes
        obs = env.reset((config.seed + learner.global_step) % 2**30)
    start_step = learner.global_step
    card = run.teacher.card if run.teacher is not None else {}
    earlier = run.resume_state.get(WALL_TIME) if run.resume_state is not None else 0.0
    logger = RunLogger(directory, config.total_steps, start_step,
                       config.agent.num_steps * env.spec.num_envs, env.spec.games,
                       _texts(config, run.teacher), card_scores(card, env.spec.games),
                       show_progress, earlier)
    directory.record_session(start_step, device_name(learner.device))
    resume_hint = f"python -m rl_auxgrad.train --resume {directory.path}"
    last_save = time.monotonic()
    try:
        with StopRequest(f"stopped at once; {resume_hint} continues from the last "
                         "checkpoint") as stop:
            while learner.global_step < config.total_steps:
                rollout, obs, episodes = learner.collect(env, obs)
                try:
                    stats = learner.learn(rollout)
                except RuntimeError as error:  # Adam at lr 1e38: its step overflows float
                    if "overflow" not in str(error):
                        raise
                    raise _diverged("the optimizer step overflowed", learner.global_step,
                                    directory) from None
                step = learner.global_step
                bad = sorted(k for k, v in stats.items() if not math.isfinite(v))
                bad = bad or _non_finite(learner)
                if bad:
                    raise _diverged(f"{', '.join(bad[:3])} became NaN/inf", step, directory)
                logger.episodes(step, episodes)
                logger.update(step, stats)
                if _crossed(step, rollout.rewards.numel(), config.video_every):
                    logger.video(step, *training_video(config, learner.agent, learner.device,
                                                       directory.video_file(step)))
                every, minutes = config.checkpoint_every, config.checkpoint_minutes
                finished = step >= config.total_steps
                stopping = stop.signum is not None or \
                    (stop_after is not None and step - start_step >= stop_after) or \
                    (deadline is not None and time.time() >= deadline)
                due = _crossed(step, rollout.rewards.numel(), every) or \
                    (minutes > 0 and time.monotonic() - last_save >= 60 * minutes)
                if finished or stopping or due:
                    logger.flush()  # the events up to the checkpoint survive a kill after it
                    state = {"learner": learner.state_dict(), "env": env.state_dict(),
                             "obs": torch.from_numpy(obs)}
                    if (wall_time := logger.wall_time()) is not None:
                        state[WALL_TIME] = wall_time
                    directory.save_checkpoint(state, step)
                    last_save = time.monotonic()
                if stop.signum is not None and not finished:
                    raise Interrupted(stop.signum, f"{signal.Signals(stop.signum).name} at step "
                                      f"{step}: checkpoint written; continue with "
                                      f"{resume_hint}")
                if stopping:
                    break
    finally:
        logger.close()
        env.close()
    if report is not None:
        print(_summary(logger, directory, learner.global_step), file=report)
    return directory


def device_name(device: torch.device) -> str:
    """What a session trains on: the GPU's name, or ``CPU (N cores)``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores)"


def _crossed(step: int, steps: int, every: int) -> bool:
    """Whether the last ``steps`` agent steps, up to ``step``, crossed a multiple of ``every``
    (never for ``every`` = 0)."""
    return every > 0 and step // every > (step - steps) // every


def _summary(logger: RunLogger, directory: RunDir, step: int) -> str:
    """Where the run is and how far it got, this sitting's scores and time, and the commands
    to look at it (or to continue it)."""
    path = shlex.quote(str(directory.path))
    finished = step >= logger.total_steps
    scores = logger.scores()
    if scores.final is None:
        score = "no episode finished in this sitting"
    else:
        best = (f"fewer than {SCORE_WINDOW} episodes" if scores.best is None
                else f"best {scores.best:.1f} (mean of {SCORE_WINDOW} consecutive)")
        last = min(scores.episodes, SCORE_WINDOW)
        score = (f"mean {scores.final:.1f} over the last {last} episodes, "
                 f"{best}; {scores.episodes} episodes in this sitting")
    steps = f"{step:,} agent steps"
    if step > logger.total_steps:
        steps += (f": whole rollouts of {logger.rollout_steps:,} (num_envs × num_steps), the "
                  f"first boundary past total_steps={logger.total_steps:,}")
    elif not finished:
        steps += f" of total_steps={logger.total_steps:,}, with a checkpoint"
    lines = [f"{'finished' if finished else 'stopped'}: {directory.path} at {steps}",
             f"  score: {score}",
             f"  time:  {_duration(logger.elapsed())} (this sitting, from step "
             f"{logger.start_step:,})",
             f"  look:  tensorboard --logdir {shlex.quote(str(directory.path.parent))}"
             "   (CUSTOM SCALARS tab: score, the teacher's weight, losses)",
             f"         python -m rl_auxgrad.evaluate {path}"]
    if not finished:
        lines.append(f"  continue: python -m rl_auxgrad.train --resume {path}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """``2h 05m 09s``, ``5m 09s`` or ``9.3s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


def _non_finite(learner: Learner) -> list[str]:
    """The weights and optimizer statistics (Adam's moments, ...) that hold NaN or inf, with
    one device sync."""
    named = [(f"agent.{k}", v) for k, v in learner.agent.state_dict().items()]
    named += [(f"optimizer.{k}", v) for s in learner.optimizer.state_dict()["state"].values()
              for k, v in s.items()]
    tensors = [(name, t) for name, t in named
               if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() > 0]
    finite = torch.stack([torch.isfinite(t).all() for _, t in tensors]).tolist()
    return sorted({name for (name, _), ok in zip(tensors, finite, strict=True) if not ok})


def _diverged(what: str, step: int, directory: RunDir) -> TrainingDiverged:
    kept = (f"the last finite checkpoint is {directory.checkpoint_file} (step "
            f"{directory.reached()})" if directory.has_checkpoint()
            else f"no checkpoint of {directory.path} was written before it")
    return TrainingDiverged(f"{what} at step {step}; {kept} (try a lower "
                            "agent.learning_rate or teacher.lam)")


def _texts(config: TrainConfig, teacher: Teacher | None) -> dict[str, str]:
    """Tensorboard texts: the run's config.yaml and the teacher (path, SHA-256, card)."""
    texts = {"config": f"```yaml\n{to_yaml(config)}```"}
    if teacher is not None:
        texts["teacher"] = (f"`{teacher.path}`, sha256 `{teacher.fingerprint()}`\n\n"
                            f"```json\n{json.dumps(teacher.card, indent=2)}\n```")
    return texts
