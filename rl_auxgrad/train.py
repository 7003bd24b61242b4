"""``python -m rl_auxgrad.train``: train an actor-critic, optionally distilling a gated teacher.

    python -m rl_auxgrad.train          # embedded default: Breakout, PPO, cosine gate, our teacher
    python -m rl_auxgrad.train --config configs/cartpole.yaml gate.name=projection seed=3
    python -m rl_auxgrad.train --resume runs/<name>               # continue a stopped run

Each run writes ``runs/<name>/`` (``--runs-dir`` or ``$RL_AUXGRAD_RUNS`` to put it elsewhere;
the layout is :class:`rl_auxgrad.run_dir.RunDir`'s): the resolved ``config.yaml``, the
teacher record, tensorboard events and an atomic ``checkpoint.safetensors``. Bad input prints
one line on stderr and exits with status 2, touching nothing. This module is only the command
line: the work is :mod:`rl_auxgrad.training`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.teachers import shipped_teacher
from rl_auxgrad.training import TrainingDiverged, resume, run_directory, start, train


def _sets_teacher(overrides: list[str]) -> bool:
    return any(o.split("=", 1)[0].strip() == "teacher.path" for o in overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_auxgrad.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. env.id=MsPacman gate.name=projection")
    parser.add_argument("--config", help="a YAML run config (see configs/)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--runs-dir", metavar="DIR",
                        help="folder for new runs (default: $RL_AUXGRAD_RUNS or runs)")
    parser.add_argument("--stop-after", type=int, metavar="STEPS",
                        help="stop with a checkpoint after STEPS agent steps in this session")
    parser.add_argument("--no-progress", action="store_true", help="no console progress line")
    args = parser.parse_intermixed_args(argv)
    try:
        if args.stop_after is not None and args.stop_after <= 0:
            raise ConfigError(f"--stop-after must be > 0, got {args.stop_after}")
        if args.resume:
            if args.config or args.runs_dir:
                raise ConfigError("--resume uses the run's own config.yaml and directory: drop "
                                  "--config and --runs-dir")
            run = resume(RunDir(Path(args.resume)), args.overrides)
        else:
            config = load_config(args.config, args.overrides)
            teacher = shipped_teacher(config.env.id)
            if args.config is None and not _sets_teacher(args.overrides) and teacher:
                # The embedded default distils our shipped teacher for the game.
                config = load_config(None, [*args.overrides, f"teacher.path={teacher}"])
                print(f"teacher: {teacher} (the shipped one for {config.env.id}; "
                      "teacher.path=none trains without)", file=sys.stderr)
            run = start(config, run_directory(config, args.runs_dir))
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
