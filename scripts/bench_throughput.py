"""Training throughput on Breakout: Stable-Baselines3's PPO against ours, in one process.

For the same number of agent steps, with the same hyperparameters (8 envs, 128 steps,
4 epochs, 4 minibatches, clip 0.1, lr 2.5e-4) and the same CPU threads, it measures
agent steps per second of:

- ``sb3``: SB3's PPO, ``CnnPolicy``, on ``make_atari_env`` + ``VecFrameStack(4)``;
- ``ours``: ``rl_auxgrad``'s PPO on the ALE's C++ vector env (``configs/breakout.yaml``);
- ``ours + teacher + cosine``: the same with a Nature-CNN teacher and the cosine gate, with
  ``gate.reference=policy`` (the default: three backward passes through the torso per
  minibatch, for the policy loss, the value loss and the KL) and ``full`` (two: RL loss, KL);
- ``ours + teacher + RL + KL``: the plain sum, one backward pass except on the minibatch of
  each epoch that measures the gate's statistics;
- ``agent.precision=bf16``: ours and ours + teacher + cosine with the torso under bfloat16
  autocast;
- ``env only``: random actions through our vector env, the ceiling for any learner;

and prints the ratios. Time is the process's CPU time (all its threads), which other jobs on
the machine barely change, where wall time moved by 2x between two runs on a loaded machine.
Project targets: ours >= 1.3x SB3 ("be faster" than the libraries our
users know); with teacher + gate at most 1.5x slower than without. Results go to
``docs/PERFORMANCE.md`` with ``--write``.

    python scripts/bench_throughput.py --steps 16384 --write
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ale_py
import gymnasium as gym
import numpy as np
import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.config import load_config
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.runs import CONSTANT
from rl_auxgrad.teachers import load_teacher, save_teacher

CONFIG = Path(__file__).parents[1] / "configs" / "breakout.yaml"


def sb3_ppo(steps: int) -> float:
    """Seconds for SB3's PPO to learn ``steps`` agent steps."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=0), n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4,
                clip_range=0.1, ent_coef=0.01, vf_coef=0.5, gae_lambda=0.95, gamma=0.99,
                max_grad_norm=0.5, device="cpu", seed=0, verbose=0)
    start = time.process_time()
    model.learn(total_timesteps=steps)
    seconds = time.process_time() - start
    env.close()
    return seconds


def ours(steps: int, overrides: list[str], teacher_dir: Path | None = None) -> float:
    """Seconds for our learner to collect and learn from ``steps`` agent steps; λ is constant
    unless ``overrides`` name a schedule (the default, stop, would measure a teacher without a
    card by playing it first)."""
    config = load_config(CONFIG, [f"total_steps={steps}", CONSTANT, *overrides])
    env = config.env.make(0)
    device = torch.device("cpu")
    teacher = load_teacher(teacher_dir, env.spec, device) if teacher_dir else None
    learner = Learner(config, env.spec, device, teacher)
    obs = env.reset()
    start = time.process_time()
    while learner.global_step < steps:
        rollout, obs, _ = learner.collect(env, obs)
        learner.learn(rollout)
    seconds = time.process_time() - start
    env.close()
    return seconds


def env_only(steps: int) -> float:
    """Seconds to step our vector env ``steps`` agent steps with random actions."""
    env = make_vector_env("Breakout", 8, seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    start = time.process_time()
    for _ in range(steps // 8):
        env.step(rng.integers(0, env.spec.num_actions, size=8))
    seconds = time.process_time() - start
    env.close()
    return seconds


def random_teacher(directory: Path) -> Path:
    env = make_vector_env("Breakout", 1, seed=0)
    torch.manual_seed(0)
    agent = ActorCritic(make_torso("nature", env.spec.obs_shape), env.spec.num_actions)
    env.close()
    return save_teacher(directory, agent, env.spec, "nature",
                        {"note": "untrained, for timing; the score is the shipped teacher's, so "
                                 "that lam_schedule=score reads it instead of playing episodes",
                         "score": {"mean": 9.0}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=16384, help="agent steps per method")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--write", action="store_true", help="append to docs/PERFORMANCE.md")
    parser.add_argument("--only", nargs="+", metavar="METHOD",
                        help="measure only methods whose name contains one of these words, "
                             "besides 'ours PPO' (e.g. --only agreement score); the ratios of "
                             "the methods not measured are left out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        teacher = random_teacher(Path(tmp) / "teacher")
        methods: dict[str, Callable[[], float]] = {
            "env only (random actions)": lambda: env_only(args.steps),
            "sb3 PPO": lambda: sb3_ppo(args.steps),
            "ours PPO": lambda: ours(args.steps, []),
            "ours PPO + teacher + cosine": lambda: ours(args.steps, ["gate.name=cosine"],
                                                        teacher),
            "ours PPO + teacher + cosine, reference=full": lambda: ours(
                args.steps, ["gate.name=cosine", "gate.reference=full"], teacher),
            "ours PPO + teacher + RL + KL": lambda: ours(args.steps, ["gate.name=multitask"],
                                                         teacher),
            "ours PPO + teacher + RL + KL, λ by agreement": lambda: ours(
                args.steps, ["gate.name=multitask", "teacher.lam_schedule=agreement"], teacher),
            "ours PPO + teacher + RL + KL, λ by agreement_stop": lambda: ours(
                args.steps, ["gate.name=multitask", "teacher.lam_schedule=agreement_stop"],
                teacher),
            "ours PPO + teacher + RL + KL, λ by score": lambda: ours(
                args.steps, ["gate.name=multitask", "teacher.lam_schedule=score"], teacher),
            "ours PPO, bf16": lambda: ours(args.steps, ["agent.precision=bf16"]),
            "ours PPO + teacher + cosine, bf16": lambda: ours(
                args.steps, ["gate.name=cosine", "agent.precision=bf16"], teacher),
        }
        if args.only:
            methods = {name: run for name, run in methods.items() if name == "ours PPO"
                       or any(word in name for word in args.only)}
        sps = {name: args.steps / run() for name, run in methods.items()}
    rows = [(name, value) for name, value in sps.items()]
    for name, value in rows:
        print(f"{name:45s} {value:8.1f} steps per CPU second "
              f"({value / sps['ours PPO']:.2f} of ours PPO)")
    if args.only:
        if args.write:
            write_partial(args, rows, sps["ours PPO"])
        return
    speedup = sps["ours PPO"] / sps["sb3 PPO"]
    slowdown = sps["ours PPO"] / sps["ours PPO + teacher + cosine"]
    slowdown_full = sps["ours PPO"] / sps["ours PPO + teacher + cosine, reference=full"]
    slowdown_sum = sps["ours PPO"] / sps["ours PPO + teacher + RL + KL"]
    bf16 = sps["ours PPO, bf16"] / sps["ours PPO"]
    bf16_gate = sps["ours PPO + teacher + cosine, bf16"] / sps["ours PPO + teacher + cosine"]
    print(f"ours / sb3: {speedup:.2f}x (target >= 1.3x); teacher + gate slowdown: "
          f"{slowdown:.2f}x, reference=full {slowdown_full:.2f}x, RL + KL {slowdown_sum:.2f}x "
          f"(target <= 1.5x); bf16 speed-up {bf16:.2f}x, with teacher + cosine {bf16_gate:.2f}x")
    if args.write:
        lines = ["", "## Training throughput on Breakout",
                 "", f"Made by `python scripts/bench_throughput.py --steps {args.steps} "
                 f"--threads {args.threads} --write` (torch {torch.__version__}, "
                 f"{platform.machine()}, process CPU time per method).", "",
                 "| method | agent steps per CPU second |", "|---|---:|"]
        lines += [f"| {name} | {value:.1f} |" for name, value in rows]
        lines += ["", f"Ours / SB3: **{speedup:.2f}x** (target >= 1.3x). Teacher + cosine gate "
                  f"slowdown: **{slowdown:.2f}x** with gate.reference=policy, "
                  f"**{slowdown_full:.2f}x** with reference=full; RL + KL "
                  f"**{slowdown_sum:.2f}x** (target <= 1.5x). agent.precision=bf16: "
                  f"**{bf16:.2f}x** faster, **{bf16_gate:.2f}x** with teacher + cosine.", ""]
        path = Path("docs/PERFORMANCE.md")
        path.write_text(path.read_text() + "\n".join(lines))
        print(f"appended to {path}")


def write_partial(args: argparse.Namespace, rows: list[tuple[str, float]], base: float) -> None:
    """Appends a measurement of a subset of the methods (``--only``) to docs/PERFORMANCE.md."""
    lines = ["", f"## Training throughput on Breakout: {', '.join(args.only)}", "",
             f"Made by `python scripts/bench_throughput.py --steps {args.steps} --threads "
             f"{args.threads} --only {' '.join(args.only)} --write` (torch {torch.__version__}, "
             f"{platform.machine()}, process CPU time per method; the teacher is an untrained "
             "Nature CNN, which costs what a trained one does).", "",
             "| method | agent steps per CPU second | ratio to ours PPO without a teacher |",
             "|---|---:|---:|"]
    lines += [f"| {name} | {value:.1f} | {value / base:.2f} |" for name, value in rows]
    path = Path("docs/PERFORMANCE.md")
    path.write_text(path.read_text() + "\n".join([*lines, ""]))
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
