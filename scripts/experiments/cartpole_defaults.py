"""Measurements behind the learner's defaults (gate.reference, teacher.lam, gate.ema) on CartPole
with the shipped imperfect teacher (teachers/cartpole_ppo_12k, about 120 points), PPO and the
shared 64-64 torso of configs/cartpole.yaml.

    python -m scripts.experiments.cartpole_defaults [--seeds 1 2] [--steps 80000]

Runs go to runs/defaults/ (finished runs are skipped, interrupted ones resume); the table goes
to docs/cartpole_defaults.md. Per configuration: mean episodic return over the first quarter
and the last quarter of the budget, mean gate cosine and mean gate weight over the run.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from rl_auxgrad.run_dir import default_runs_dir
from scripts.experiments.common import CONSTANT, RunSpec, run_all, window_mean

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")
TEACHER = "teachers/cartpole_ppo_12k"
VARIANTS: dict[str, tuple[str, ...]] = {
    "rl_alone": ("teacher.path=none",),
    "rl+kl_lam1": ("gate.name=multitask", "teacher.lam=1"),
    "rl+kl_lam10": ("gate.name=multitask", "teacher.lam=10"),
    "cosine_policy_lam1": ("gate.name=cosine", "gate.reference=policy", "teacher.lam=1"),
    "cosine_policy_lam10": ("gate.name=cosine", "gate.reference=policy", "teacher.lam=10"),
    "cosine_full_lam10": ("gate.name=cosine", "gate.reference=full", "teacher.lam=10"),
    "cosine_policy_lam10_ema": ("gate.name=cosine", "gate.reference=policy", "teacher.lam=10",
                                "gate.ema=0.01"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=80_000)
    parser.add_argument("--runs-dir", default=str(default_runs_dir() / "experiments" / "defaults"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "cartpole_defaults.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs_dir = Path(args.runs_dir)
    runs = [RunSpec(f"{variant}__seed{seed}",
                    (CONSTANT, f"teacher.path={ROOT / TEACHER}", *overrides, f"seed={seed}",
                     f"total_steps={args.steps}"), CONFIG)
            for variant, overrides in VARIANTS.items() for seed in args.seeds]
    run_all(runs, runs_dir)
    quarter = args.steps // 4
    rows = []
    for variant in VARIANTS:
        dirs = [runs_dir / f"{variant}__seed{seed}" for seed in args.seeds]

        def mean(tag: str, start: int, stop: int, dirs: list[Path] = dirs) -> float:
            return float(np.mean([window_mean(d, tag, start, stop) for d in dirs]))

        late = (args.steps - quarter, args.steps + 1)
        rows.append(f"| {variant} | {mean('charts/episodic_return', 0, quarter):.1f} | "
                    f"{mean('charts/episodic_return', *late):.1f} | "
                    f"{mean('gate/cosine', 0, quarter):+.3f} / {mean('gate/cosine', *late):+.3f}"
                    f" | {mean('gate/weight', 0, quarter):.3f} / "
                    f"{mean('gate/weight', *late):.3f} |")
    table = "\n".join(["| variant | return, first quarter | return, last quarter | "
                       "gate cosine, first / last quarter | gate weight, first / last quarter |",
                       "|---|---:|---:|---:|---:|", *rows])
    text = f"""# CartPole: measurements behind the learner's defaults

Made by `python -m scripts.experiments.cartpole_defaults --seeds {' '.join(map(str, args.seeds))}
--steps {args.steps}` ({platform.machine()}, CPU, torch {torch.__version__}). PPO with
`configs/cartpole.yaml` (shared 64-64 tanh torso), teacher `{TEACHER}`, {args.steps:,} agent
steps per run, seeds {', '.join(map(str, args.seeds))}; each number is the mean over seeds of the
per-run mean over the first and the last {quarter:,} steps (episodic return; gate cosine and
gate weight, the share of lam * g_aux applied, averaged over updates; nan: no gate).

{table}

What the defaults take from it: teacher.lam = 1 (cosine_policy_lam1 and cosine_policy_lam10
against rl_alone in the last quarter: the per-minibatch cosine is noisy, so the gate lets part
of the KL through even when its mean is negative, and lam = 10 drags the student down);
gate.reference = policy (the first-quarter gate cosine of cosine_policy_lam1 against
cosine_full_lam10: the value gradient turns the cosine into noise); gate.ema off by default
(the gate weight of cosine_policy_lam10_ema against cosine_policy_lam10: the EMA shuts the gate
much harder).
"""
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
