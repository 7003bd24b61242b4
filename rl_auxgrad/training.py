"""Training as a library: :func:`start` a new run or :func:`resume` one, then :func:`train` it.

The CLI (``python -m rl_auxgrad.train``), :mod:`rl_auxgrad.runs`, the experiment scripts and
``scripts/train_teacher.py`` all call these; nothing imports the CLI. Everything that can be
wrong with the input (config, teacher, environment, run directory) is checked before anything
is written, and raised as a ``ValueError`` with one clear message.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.config import ConfigError, TrainConfig, resolve_device, to_yaml
from rl_auxgrad.envs import VectorEnv, make_vector_env
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.run_logger import RunLogger
from rl_auxgrad.teachers import Teacher, load_teacher


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


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
    """A new run in ``directory``; refused if the directory exists."""
    if directory.path.exists():
        raise ConfigError(f"run directory {directory.path} already exists: pass --resume "
                          f"{directory.path} to continue it, or choose another name=")
    return _prepare(config, directory, None)


def resume(directory: RunDir, overrides: list[str] | None = None) -> Run:
    """The run in ``directory``, continued from its checkpoint (from step 0, saying so, if it
    stopped before its first one)."""
    if not directory.is_run():
        raise ConfigError(f"cannot resume {directory.path}: it has no {RunDir.CONFIG} (is it a "
                          "run directory under runs/?)")
    config = directory.config(overrides)
    state = directory.load_checkpoint() if directory.has_checkpoint() else None
    if state is None:
        print(f"{directory.path} stopped before its first checkpoint: starting it again from "
              "step 0", file=sys.stderr)
    return _prepare(config, directory, state)


def _prepare(config: TrainConfig, directory: RunDir, state: dict | None) -> Run:
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    e = config.env
    env = make_vector_env(e.id, e.num_envs, seed=config.seed, sticky_actions=e.sticky_actions,
                          life_loss_terminal=e.life_loss_terminal, frame_stack=e.frame_stack,
                          frameskip=e.frameskip, noop_max=e.noop_max, threads=e.threads)
    teacher = (load_teacher(config.teacher.path, env.spec, device,
                            q_temperature=config.teacher.q_temperature)
               if config.teacher.path is not None else None)
    record = directory.teacher_record()
    if state is not None and teacher is not None and record is not None \
            and record["sha256"] != teacher.fingerprint():
        raise ConfigError(f"teacher {config.teacher.path} changed since {directory.path} started "
                          f"(sha256 {record['sha256'][:12]}… then, {teacher.fingerprint()[:12]}… "
                          "now): restore it, or start a new run")
    learner = Learner(config, env.spec, device, teacher)
    threads = config.cpu_threads or (1 if learner.torso_name == "mlp" else 0)
    if threads and not config.deterministic:
        torch.set_num_threads(threads)
    return Run(config, directory, env, learner, teacher, state)


def train(run: Run, stop_after: int | None = None, deadline: float | None = None,
          show_progress: bool = True) -> RunDir:
    """The training loop: rollout, update, log, checkpoint. This sitting ends early, with a
    checkpoint, after ``stop_after`` agent steps or at the first update past ``deadline`` (a
    ``time.time()``); :func:`resume` continues exactly."""
    config, learner, env, directory = run.config, run.learner, run.env, run.directory
    obs = env.reset(config.seed)
    if run.resume_state is None:
        directory.path.mkdir(parents=True, exist_ok=True)
        for stale in directory.event_files():  # of a start with no checkpoint
            stale.unlink()
        directory.write_config(config)
        if run.teacher is not None:
            directory.write_teacher_record({"path": str(run.teacher.path),
                                            "sha256": run.teacher.fingerprint(),
                                            "card": run.teacher.card})
    else:
        learner.load_state_dict(run.resume_state["learner"])
        if run.resume_state["env"] is not None:
            env.load_state_dict(run.resume_state["env"])
            obs = run.resume_state["obs"].numpy()
        else:  # the ALE cannot restore its emulators: start fresh episodes, new seed
            obs = env.reset((config.seed + learner.global_step) % 2**30)
    start_step = learner.global_step
    logger = RunLogger(directory.path, config.total_steps, start_step, env.spec.games,
                       _hyperparameters(config, run.teacher), show_progress)
    try:
        while learner.global_step < config.total_steps:
            rollout, obs, episodes = learner.collect(env, obs)
            stats = learner.learn(rollout)
            bad = sorted(k for k, v in stats.items() if not math.isfinite(v))
            if bad:
                raise TrainingDiverged(
                    f"{', '.join(bad)} became NaN/inf at step {learner.global_step}; the last "
                    f"good checkpoint is {directory.checkpoint_file} (try a lower "
                    "agent.learning_rate or teacher.lam)")
            logger.episodes(learner.global_step, episodes)
            logger.update(learner.global_step, stats)
            step, every = learner.global_step, config.checkpoint_every
            finished = step >= config.total_steps
            stopping = (stop_after is not None and step - start_step >= stop_after) or \
                (deadline is not None and time.time() >= deadline)
            if finished or stopping or step // every > (step - rollout.rewards.numel()) // every:
                directory.save_checkpoint({"learner": learner.state_dict(),
                                           "env": env.state_dict(),
                                           "obs": torch.from_numpy(obs)}, step)
            if stopping:
                break
    finally:
        logger.close()
        env.close()
    return directory


def _hyperparameters(config: TrainConfig, teacher: Teacher | None) -> str:
    rows = ["|param|value|", "|-|-|"] + [f"|{line.split(':', 1)[0].strip()}|"
                                         f"{line.split(':', 1)[1].strip()}|"
                                         for line in to_yaml(config).splitlines()
                                         if ":" in line and line.split(":", 1)[1].strip()]
    if teacher is not None:
        rows.append(f"|teacher.sha256|{teacher.fingerprint()}|")
    return "\n".join(rows)
