"""``python -m rl_auxgrad.train``: train an actor-critic, optionally distilling a gated teacher.

    python -m rl_auxgrad.train          # embedded default: Breakout, PPO, our teacher until stop
    python -m rl_auxgrad.train --config configs/cartpole.yaml gate.name=projection seed=3
    python -m rl_auxgrad.train --resume runs/<name>               # continue a stopped run
    python -m rl_auxgrad.train --resume runs/<name> total_steps=2000000   # ... to a new target
    python -m rl_auxgrad.train --resume runs/<name> --fork <new> teacher.lam=0.5  # branch off

Each run writes ``runs/<name>/`` (``--runs-dir`` or ``$RL_AUXGRAD_RUNS`` to put it elsewhere;
the layout is :class:`rl_auxgrad.run_dir.RunDir`'s): the resolved ``config.yaml``, the
teacher record, tensorboard events and an atomic ``checkpoint.safetensors``. Bad input prints
one line on stderr and exits with status 2, touching nothing. A sitting that ends (at
total_steps or --stop-after) says on stderr where the run is, its scores, its time and how to
look at it. Ctrl-C (SIGINT) or SIGTERM stops after the current update with a checkpoint (exit
130 / 143); a second one stops at once. This module is only the command line: the work is
:mod:`rl_auxgrad.training`'s.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from rl_auxgrad.cli import ArgumentParser
from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.interrupts import Interrupted
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.teachers import shipped_teacher
from rl_auxgrad.training import Run, TrainingDiverged, resume, run_directory, start, train


def _sets_teacher(overrides: list[str]) -> bool:
    return any(o.split("=", 1)[0].strip() == "teacher.path" for o in overrides)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m rl_auxgrad.train",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. env.id=MsPacman gate.name=projection")
    parser.add_argument("--config", help="a YAML run config (see configs/)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--fork", metavar="NEW_NAME",
                        help="with --resume: start a new run NEW_NAME beside it from its "
                             "checkpoint; overrides may then change the experiment")
    parser.add_argument("--runs-dir", metavar="DIR",
                        help="folder for new runs (default: $RL_AUXGRAD_RUNS or runs)")
    parser.add_argument("--stop-after", type=int, metavar="STEPS",
                        help="stop with a checkpoint after STEPS agent steps in this session")
    parser.add_argument("--no-progress", action="store_true", help="no console progress line")
    args = parser.parse_intermixed_args(argv)
    try:
        run = _run(args)
    except (ValueError, OSError) as error:  # ConfigError, TeacherError, bad env arguments
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted before training started: nothing was written",
              file=sys.stderr)
        return 130
    try:
        train(run, args.stop_after, show_progress=not args.no_progress, report=sys.stderr)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Interrupted as error:
        print(f"stopped: {error}", file=sys.stderr)
        return error.exit_code
    return 0


def _run(args: Namespace) -> Run:
    """The run the command line asks for, checked, with its directory written."""
    if args.stop_after is not None and args.stop_after <= 0:
        raise ConfigError(f"--stop-after must be > 0, got {args.stop_after}")
    if args.fork and not args.resume:
        raise ConfigError("--fork NEW_NAME branches off an existing run: pass --resume RUN_DIR")
    if args.resume:
        if args.config or args.runs_dir:
            raise ConfigError("--resume uses the run's own config.yaml and directory: drop "
                              "--config and --runs-dir")
        return resume(RunDir(Path(args.resume)), args.overrides, args.fork)
    config = load_config(args.config, args.overrides)
    teacher = shipped_teacher(config.env.id)
    if args.config is None and not _sets_teacher(args.overrides) and teacher:
        # The embedded default distils our shipped teacher for the game.
        config = load_config(None, [*args.overrides, f"teacher.path={teacher}"])
        print(f"teacher: {teacher} (the shipped one for {config.env.id}; "
              "teacher.path=none trains without)", file=sys.stderr)
    return start(config, run_directory(config, args.runs_dir))


if __name__ == "__main__":
    sys.exit(main())
