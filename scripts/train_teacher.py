"""Train a teacher with our learner and write it as a native teacher directory whose card is
scored by ``rl_auxgrad.evaluate``.

    python scripts/train_teacher.py --config configs/cartpole.yaml --steps 12000 \\
        --out teachers/cartpole_ppo_12k --why "stopped early: ..." [key=value ...]
    python scripts/train_teacher.py --from-run runs/<name> \\
        --out teachers/breakout_ppo_1m --why "..."        # export a run you already have

Training runs in ``runs/teacher_<name>/`` (``--runs-dir`` or ``$RL_AUXGRAD_RUNS``) and
resumes when that directory exists, so the script can be killed and run again. The teacher is
the run's final policy (weights only: ``model.safetensors``), written with its card
``teacher.json``: games,
observation and action set, environment settings, training budget and command, the score
(mean ± std over ``--episodes`` episodes per game, scoring seed, sticky actions) with the
command that reproduces it, and why the teacher is imperfect.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from rl_auxgrad.agents.build import build_agent, torso_name
from rl_auxgrad.config import ConfigError, TrainConfig
from rl_auxgrad.evaluate import score_path
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.runs import RunSpec, run_one
from rl_auxgrad.teachers import save_teacher

SCORING_SEED = 12345


def train_run(args: argparse.Namespace) -> Path:
    """Trains (or resumes) ``<runs dir>/teacher_<name>`` for ``--steps`` agent steps."""
    spec = RunSpec(f"teacher_{Path(args.out).name}",
                   (f"total_steps={args.steps}", "teacher.path=none", *args.overrides),
                   args.config)
    return run_one(spec, Path(args.runs_dir) if args.runs_dir else default_runs_dir())


def export(run: Path, out: Path, args: argparse.Namespace, made_by: str) -> dict:
    config: TrainConfig = RunDir(run).config()
    env = config.env.make(0, num_envs=1)
    spec = env.spec
    env.close()
    agent = build_agent(config, spec)
    agent.load_state_dict(RunDir(run).agent_weights())
    torso = torso_name(config.agent, spec)
    e = config.env
    env_card = ({"id": e.id, "protocol": e.protocol, "sticky_actions": e.sticky_actions,
                 "frame_stack": e.frame_stack, "frameskip": e.frameskip, "noop_max": e.noop_max,
                 "life_loss_terminal": e.life_loss_terminal} if spec.is_atari
                else {"id": e.id})
    card = {
        "env": env_card,
        "training": {"algo": config.agent.algo, "agent_steps": RunDir(run).reached(),
                     "planned_total_steps": config.total_steps, "seed": config.seed,
                     "run": str(run), "made_by": made_by},
        "why_imperfect": args.why,
    }
    save_teacher(out, agent, spec, torso, card)  # to score it
    scores = score_path(out, args.episodes, seed=SCORING_SEED, sticky_actions=args.sticky_actions,
                        deterministic=False, device=torch.device("cpu"))
    every = [s for game_scores in scores.per_game.values() for s in game_scores]
    card["score"] = {
        "mean": float(np.mean(every)), "std": float(np.std(every)),
        "episodes_per_game": args.episodes, "seed": SCORING_SEED,
        "sticky_actions": args.sticky_actions,
        "per_game": {g: float(np.mean(s)) for g, s in scores.per_game.items()},
        "command": (f"python -m rl_auxgrad.evaluate {out} --episodes {args.episodes} "
                    f"--seed {SCORING_SEED} --sticky-actions {args.sticky_actions}"),
    }
    card["size_bytes"] = (out / "model.safetensors").stat().st_size
    save_teacher(out, agent, spec, torso, card)
    print(f"{out}: {scores.summary()}")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--config", help="a YAML run config (see configs/)")
    parser.add_argument("--steps", type=int, help="training budget in agent steps")
    parser.add_argument("--from-run", help="export this run's checkpoint instead of training")
    parser.add_argument("--out", required=True, help="teacher directory to write")
    parser.add_argument("--why", required=True, help="why this teacher is imperfect (card)")
    parser.add_argument("--episodes", type=int, default=30, help="scoring episodes per game")
    parser.add_argument("--sticky-actions", type=float, default=0.25)
    parser.add_argument("--runs-dir", help="where the training run goes (default: "
                                           "$RL_AUXGRAD_RUNS or runs)")
    args = parser.parse_intermixed_args(argv)
    out = Path(args.out)
    if out.exists():
        print(f"error: {out} exists: remove it or choose another --out", file=sys.stderr)
        return 2
    if (args.from_run is None) == (args.steps is None):
        print("error: pass either --steps (train) or --from-run (export)", file=sys.stderr)
        return 2
    made_by = "python scripts/train_teacher.py " + shlex.join(sys.argv[1:] if argv is None
                                                              else argv)
    try:
        run = Path(args.from_run) if args.from_run else train_run(args)
        export(run, out, args, made_by)
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
