"""Training as a library: :func:`start` a new run or :func:`resume` one, then :func:`train` it.

The CLI (``python -m rl_auxgrad.train``), :mod:`rl_auxgrad.runs`, the experiment scripts and
``scripts/train_teacher.py`` all call these; nothing imports the CLI. Everything that can be
wrong with the input (config, teacher, environment, run directory) is checked before anything
is written, and raised as a ``ValueError`` with one clear message.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.config import ConfigError, TrainConfig, is_run_name, resolve_device, to_yaml
from rl_auxgrad.envs import VectorEnv, make_vector_env
from rl_auxgrad.interrupts import Interrupted, StopRequest
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.run_logger import RunLogger
from rl_auxgrad.teachers import Teacher, load_teacher
from rl_auxgrad.teachers.hub import pinned


class TrainingDiverged(RuntimeError):
    """A loss, a weight or an optimizer statistic became NaN or infinite; the last finite
    checkpoint is kept."""


SAFE_ON_RESUME = frozenset({"total_steps", "checkpoint_every", "checkpoint_minutes", "device",
                            "cpu_threads", "env.threads"})
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
    """``config.name``, or one made of env, algorithm, gate (or noteacher) and seed."""
    if config.name:
        return config.name
    gate = config.gate.name if config.teacher.path is not None else "noteacher"
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
    env = make_vector_env(e.id, e.num_envs, seed=config.seed, sticky_actions=e.sticky_actions,
                          life_loss_terminal=e.life_loss_terminal, frame_stack=e.frame_stack,
                          frameskip=e.frameskip, noop_max=e.noop_max, threads=e.threads)
    try:
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
          show_progress: bool = True) -> RunDir:
    """The training loop: rollout, update, log, checkpoint (every ``checkpoint_every`` steps,
    every ``checkpoint_minutes`` and at the end). This sitting ends early, with a checkpoint,
    after ``stop_after`` agent steps, at the first update past ``deadline`` (a
    ``time.time()``), or on SIGINT / SIGTERM (then :class:`Interrupted`); :func:`resume`
    continues exactly. :class:`TrainingDiverged` if anything becomes NaN or infinite."""
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
    logger = RunLogger(directory.path, config.total_steps, start_step, env.spec.games,
                       _hyperparameters(config, run.teacher), show_progress)
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
                every, minutes = config.checkpoint_every, config.checkpoint_minutes
                finished = step >= config.total_steps
                stopping = stop.signum is not None or \
                    (stop_after is not None and step - start_step >= stop_after) or \
                    (deadline is not None and time.time() >= deadline)
                due = step // every > (step - rollout.rewards.numel()) // every or \
                    (minutes > 0 and time.monotonic() - last_save >= 60 * minutes)
                if finished or stopping or due:
                    logger.flush()  # the events up to the checkpoint survive a kill after it
                    directory.save_checkpoint({"learner": learner.state_dict(),
                                               "env": env.state_dict(),
                                               "obs": torch.from_numpy(obs)}, step)
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
    return directory


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


def _hyperparameters(config: TrainConfig, teacher: Teacher | None) -> str:
    rows = ["|param|value|", "|-|-|"] + [f"|{line.split(':', 1)[0].strip()}|"
                                         f"{line.split(':', 1)[1].strip()}|"
                                         for line in to_yaml(config).splitlines()
                                         if ":" in line and line.split(":", 1)[1].strip()]
    if teacher is not None:
        rows.append(f"|teacher.sha256|{teacher.fingerprint()}|")
    return "\n".join(rows)
