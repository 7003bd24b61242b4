"""``python -m rl_auxgrad.train``: train an actor-critic, optionally distilling a gated teacher.

    python -m rl_auxgrad.train          # embedded default: Breakout, PPO, cosine gate, our teacher
    python -m rl_auxgrad.train --config configs/cartpole.yaml gate.name=projection seed=3
    python -m rl_auxgrad.train --resume runs/<name>               # continue a stopped run

Each run writes ``runs/<name>/``: ``config.yaml`` (resolved), ``teacher.json`` (which teacher:
path, SHA-256, card), tensorboard events and ``checkpoint.safetensors`` (atomic; every
``checkpoint_every`` steps and at the end). Bad
input prints one line on stderr and exits with status 2, touching nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.checkpoint import load_state, save_state
from rl_auxgrad.config import ConfigError, TrainConfig, load_config, resolve_device, to_yaml
from rl_auxgrad.envs import VectorEnv, make_vector_env
from rl_auxgrad.logging import RunLogger
from rl_auxgrad.teachers import Teacher, load_teacher, shipped_teacher

CHECKPOINT = "checkpoint.safetensors"
CONFIG = "config.yaml"
TEACHER_RECORD = "teacher.json"
"""Which teacher the run uses: path, SHA-256 of its weights file and its card."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Run:
    """Everything a run needs, built and checked before anything is written."""

    config: TrainConfig
    directory: Path
    env: VectorEnv
    learner: Learner
    teacher: Teacher | None
    resume_state: dict | None


def prepare(config: TrainConfig, directory: Path, resume: bool) -> Run:
    """Builds env, teacher and learner and checks the run directory; raises ValueError on bad
    input without writing anything. Resuming a run that stopped before its first checkpoint
    starts it again from step 0."""
    if not resume and directory.exists():
        raise ConfigError(f"run directory {directory} already exists: pass --resume {directory} "
                          "to continue it, or choose another name=")
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
    if resume and teacher is not None and (directory / TEACHER_RECORD).is_file():
        recorded = json.loads((directory / TEACHER_RECORD).read_text())["sha256"]
        if recorded != teacher.fingerprint():
            raise ConfigError(f"teacher {config.teacher.path} changed since {directory} started "
                              f"(sha256 {recorded[:12]}… then, {teacher.fingerprint()[:12]}… "
                              "now): restore it, or start a new run")
    learner = Learner(config, env.spec, device, teacher)
    threads = config.cpu_threads or (1 if learner.torso_name == "mlp" else 0)
    if threads and not config.deterministic:
        torch.set_num_threads(threads)
    has_checkpoint = resume and (directory / CHECKPOINT).is_file()
    state = load_state(directory / CHECKPOINT, device="cpu") if has_checkpoint else None
    return Run(config, directory, env, learner, teacher, state)


def train(run: Run, stop_after: int | None = None, show_progress: bool = True) -> Path:
    """The training loop: rollout, update, log, checkpoint. ``stop_after`` ends this session
    (with a checkpoint) after that many agent steps; ``--resume`` continues exactly."""
    config, learner, env = run.config, run.learner, run.env
    run.directory.mkdir(parents=True, exist_ok=True)
    obs = env.reset(config.seed)
    if run.resume_state is None:
        for stale in run.directory.glob("events.out.tfevents.*"):  # of a start with no checkpoint
            stale.unlink()
        (run.directory / CONFIG).write_text(to_yaml(config))
        if run.teacher is not None:
            (run.directory / TEACHER_RECORD).write_text(json.dumps(
                {"path": str(run.teacher.path), "sha256": run.teacher.fingerprint(),
                 "card": run.teacher.card}, indent=2) + "\n")
    else:
        learner.load_state_dict(run.resume_state["learner"])
        if run.resume_state["env"] is not None:
            env.load_state_dict(run.resume_state["env"])
            obs = run.resume_state["obs"].numpy()
        else:  # the ALE cannot restore its emulators: start fresh episodes, new seed
            obs = env.reset((config.seed + learner.global_step) % 2**30)
    start = learner.global_step
    logger = RunLogger(run.directory, config.total_steps, start, env.spec.games,
                       _hyperparameters(config, run.teacher), show_progress)
    try:
        while learner.global_step < config.total_steps:
            rollout, obs, episodes = learner.collect(env, obs)
            stats = learner.learn(rollout)
            bad = sorted(k for k, v in stats.items() if not math.isfinite(v))
            if bad:
                raise TrainingDiverged(
                    f"{', '.join(bad)} became NaN/inf at step {learner.global_step}; the last "
                    f"good checkpoint is {run.directory / CHECKPOINT} (try a lower "
                    "agent.learning_rate or teacher.lam)")
            logger.episodes(learner.global_step, episodes)
            logger.update(learner.global_step, stats)
            step, every = learner.global_step, config.checkpoint_every
            finished = step >= config.total_steps
            stopping = stop_after is not None and step - start >= stop_after
            if finished or stopping or step // every > (step - rollout.rewards.numel()) // every:
                save_state(run.directory / CHECKPOINT, {
                    "learner": learner.state_dict(), "env": env.state_dict(),
                    "obs": torch.from_numpy(obs)})
            if stopping:
                break
    finally:
        logger.close()
        env.close()
    return run.directory


def _hyperparameters(config: TrainConfig, teacher: Teacher | None) -> str:
    rows = ["|param|value|", "|-|-|"] + [f"|{line.split(':', 1)[0].strip()}|"
                                         f"{line.split(':', 1)[1].strip()}|"
                                         for line in to_yaml(config).splitlines()
                                         if ":" in line and line.split(":", 1)[1].strip()]
    if teacher is not None:
        rows.append(f"|teacher.sha256|{teacher.fingerprint()}|")
    return "\n".join(rows)


def run_name(config: TrainConfig) -> str:
    if config.name:
        return config.name
    gate = config.gate.name if config.teacher.path is not None else "noteacher"
    return f"{config.env.id.replace('+', '_')}__{config.agent.algo}__{gate}__seed{config.seed}"


def _sets_teacher(overrides: list[str]) -> bool:
    return any(o.split("=", 1)[0].strip() == "teacher.path" for o in overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_auxgrad.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. env.id=MsPacman gate.name=projection")
    parser.add_argument("--config", help="a YAML run config (see configs/)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--stop-after", type=int, metavar="STEPS",
                        help="stop with a checkpoint after STEPS agent steps in this session")
    parser.add_argument("--no-progress", action="store_true", help="no console progress line")
    args = parser.parse_intermixed_args(argv)
    try:
        if args.resume:
            directory = Path(args.resume)
            if args.config:
                raise ConfigError("--resume uses the run's own config.yaml: drop --config")
            if not (directory / CONFIG).is_file():
                raise ConfigError(f"cannot resume {directory}: it has no {CONFIG} (is it a run "
                                  "directory under runs/?)")
            config = load_config(directory / CONFIG, args.overrides)
            if not (directory / CHECKPOINT).is_file():
                print(f"{directory} stopped before its first checkpoint: starting it again from "
                      "step 0", file=sys.stderr)
        else:
            config = load_config(args.config, args.overrides)
            teacher = shipped_teacher(config.env.id)
            if args.config is None and not _sets_teacher(args.overrides) and teacher:
                # The embedded default distils our shipped teacher for the game.
                config = load_config(None, [*args.overrides, f"teacher.path={teacher}"])
                print(f"teacher: {teacher} (the shipped one for {config.env.id}; "
                      "teacher.path=none trains without)", file=sys.stderr)
            directory = Path(config.runs_dir) / run_name(config)
        if args.stop_after is not None and args.stop_after <= 0:
            raise ConfigError(f"--stop-after must be > 0, got {args.stop_after}")
        run = prepare(config, directory, resume=bool(args.resume))
    except ValueError as error:  # ConfigError, TeacherError and bad env arguments
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        train(run, args.stop_after, show_progress=not args.no_progress)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
