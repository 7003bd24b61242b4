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

and prints the ratios (on the CPU). With ``--device cuda`` it measures instead, in wall time on
the GPU, ours without a teacher, with the teacher and the plain sum, and with the cosine gate
at each of ``--envs`` (8 and 64), beside SB3's PPO on the same GPU and CleanRL's published
envpool anchor (:func:`gpu_main`). On the CPU, time is the process's CPU time (all its
threads), which other jobs on the machine barely change, where wall time moved by 2x between
two runs on a loaded machine. Project targets: ours >= 1.3x SB3 ("be faster" than the
libraries our users know); with teacher + gate at most 1.5x slower than without. Results go to
``docs/PERFORMANCE.md`` with ``--write``.

    python scripts/bench_throughput.py --steps 16384 --write
    python scripts/bench_throughput.py --device cuda --envs 8 64 --steps 16384 --write
"""

from __future__ import annotations

import argparse
import os
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
CLEANRL_ENVPOOL_SPS = 1100.0
"""CleanRL's ppo_atari_envpool on one GPU, agent steps per second (its docs' benchmark)."""


def sb3_ppo(steps: int, device: str = "cpu") -> float:
    """Seconds for SB3's PPO to learn ``steps`` agent steps: the process's CPU time on the CPU,
    wall time on a GPU."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=0), n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4,
                clip_range=0.1, ent_coef=0.01, vf_coef=0.5, gae_lambda=0.95, gamma=0.99,
                max_grad_norm=0.5, device=device, seed=0, verbose=0)
    clock = time.process_time if device == "cpu" else time.perf_counter
    start = clock()
    model.learn(total_timesteps=steps)
    seconds = clock() - start
    env.close()
    return seconds


def ours(steps: int, overrides: list[str], teacher_dir: Path | None = None,
         device: str = "cpu") -> float:
    """Seconds for our learner to collect and learn from ``steps`` agent steps; λ is constant
    unless ``overrides`` name a schedule (the default, stop, would measure a teacher without a
    card by playing it first). On the CPU: the process's CPU time from the first step. On a
    GPU: wall time after one warm-up rollout and update (CUDA's start, cuDNN's choice of
    kernels), the device synchronised before each reading of the clock."""
    # 2x: the GPU's warm-up rollout comes first; the annealed learning rate must stay > 0.
    config = load_config(CONFIG, [f"total_steps={2 * steps}", CONSTANT, *overrides])
    env = config.env.make(0)
    torch_device = torch.device(device)
    teacher = load_teacher(teacher_dir, env.spec, torch_device) if teacher_dir else None
    learner = Learner(config, env.spec, torch_device, teacher)
    obs = env.reset()
    cuda = torch_device.type == "cuda"
    if cuda:
        rollout, obs, _ = learner.collect(env, obs)
        learner.learn(rollout)
        torch.cuda.synchronize(torch_device)
    clock = time.perf_counter if cuda else time.process_time
    first, start = learner.global_step, clock()
    while learner.global_step < first + steps:
        rollout, obs, _ = learner.collect(env, obs)
        learner.learn(rollout)
    if cuda:
        torch.cuda.synchronize(torch_device)
    seconds = clock() - start
    env.close()
    return seconds * steps / (learner.global_step - first)


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
    parser.add_argument("--device", default="cpu",
                        help="cpu (every method, CPU time) or cuda (ours with and without the "
                             "teacher at each of --envs, wall time; see gpu_main)")
    parser.add_argument("--envs", type=int, nargs="+", default=[8, 64],
                        help="with --device cuda: the numbers of envs to measure")
    parser.add_argument("--only", nargs="+", metavar="METHOD",
                        help="measure only methods whose name contains one of these words, "
                             "besides 'ours PPO' (e.g. --only agreement score); the ratios of "
                             "the methods not measured are left out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device != "cpu":
        gpu_main(args)
        return
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


def gpu_main(args: argparse.Namespace) -> None:
    """Agent steps per wall second on a GPU: ours without a teacher, with the teacher and the
    plain sum (what the default, ``stop``, computes while it uses the teacher) and with the
    cosine gate, at each number of envs in ``args.envs`` (128 steps per env and 4 minibatches
    per rollout, so the minibatch grows with the envs), beside SB3's PPO on the same device at
    8 envs. The published anchor: CleanRL's ppo_atari_envpool, about 1,100 agent steps/s on one
    GPU (8 envs, its own envpool stepper)."""
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        teacher = random_teacher(Path(tmp) / "teacher")
        for envs in args.envs:
            base = [f"env.num_envs={envs}"]
            for name, overrides, with_teacher in (
                    ("ours PPO", ["gate.name=single", "teacher.path=none"], False),
                    ("ours PPO + teacher + RL + KL", ["gate.name=multitask"], True),
                    ("ours PPO + teacher + cosine", ["gate.name=cosine"], True)):
                seconds = ours(args.steps, [*base, *overrides], teacher if with_teacher else None,
                               args.device)
                rows.append((f"{name}, {envs} envs", args.steps / seconds))
                print(f"{rows[-1][0]:45s} {rows[-1][1]:8.1f} agent steps per second", flush=True)
    sb3 = args.steps / sb3_ppo(args.steps, args.device)
    rows.append(("sb3 PPO, 8 envs", sb3))
    print(f"{'sb3 PPO, 8 envs':45s} {sb3:8.1f} agent steps per second")
    if args.write:
        gpu = torch.cuda.get_device_name(torch.device(args.device))
        lines = ["", f"## Training throughput on a GPU ({gpu})", "",
                 f"Made by `python scripts/bench_throughput.py --device {args.device} --envs "
                 f"{' '.join(map(str, args.envs))} --steps {args.steps} --write` (torch "
                 f"{torch.__version__}, {os.cpu_count()} CPU cores; agent steps per wall second "
                 "after a warm-up rollout; the teacher is an untrained Nature CNN, which costs "
                 "what a trained one does). Anchor: CleanRL's ppo_atari_envpool, about 1,100 "
                 "agent steps/s on one GPU with 8 envs.", "",
                 "| method | agent steps per second | ratio to the CleanRL anchor |",
                 "|---|---:|---:|"]
        lines += [f"| {name} | {value:.0f} | {value / CLEANRL_ENVPOOL_SPS:.2f} |"
                  for name, value in rows]
        path = Path("docs/PERFORMANCE.md")
        path.write_text(path.read_text() + "\n".join([*lines, ""]))
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
