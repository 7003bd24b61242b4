"""CartPole with an imperfect teacher: does a gated teacher help early and get out of the way
late, and does a gate protect the student from a harmful teacher?

    python scripts/experiments/cartpole_teacher.py [--seeds 10] [--steps 100000] [--workers 2]

PPO with ``configs/cartpole.yaml`` (shared 64-64 tanh torso). Four sets of runs, all under
``runs/cartpole_teacher/<teacher>/<method>__lam<lam>__seed<seed>`` (finished runs are skipped,
interrupted ones resume):

1. lambda sweep: RL + KL and cosine at lambda in LAMS, seeds 1-3, teacher
   ``teachers/cartpole_ppo_37k`` (231.6 points; PPO reaches 500). The lambda at which RL + KL
   gains most over the first EARLY share of the budget is used for everything else.
2. main: the ten METHODS, seeds 1..N, same teacher.
3. harmful: HARMFUL_METHODS with ``teachers/cartpole_harmful_pushright``.
4. control: Projection (with and without EMA) with ``teachers/cartpole_uniform``, a teacher
   that carries no information: what Projection gains with it is the gate's extra step along
   the main gradient, not the teacher.

At the end the runs' tensorboard events are reduced to ``docs/data/cartpole_teacher.npz``
(binned curves per run) which ``scripts/make_report.py`` turns into the report's section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from common import RunSpec, binned, run_all

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")
RUNS = ROOT / "runs" / "cartpole_teacher"
EXTRACT = ROOT / "docs" / "data" / "cartpole_teacher.npz"
TEACHERS = {"good": "teachers/cartpole_ppo_37k", "harmful": "teachers/cartpole_harmful_pushright",
            "uniform": "teachers/cartpole_uniform"}
METHODS: dict[str, tuple[str, ...]] = {
    "rl_alone": ("gate.name=single",),
    "rl+kl": ("gate.name=multitask",),
    "kl_only": ("gate.name=kl_only",),
    "kickstarting": ("gate.name=multitask", "teacher.lam_schedule=linear"),
    "cosine": ("gate.name=cosine",),
    "cosine_unweighted": ("gate.name=cosine_unweighted",),
    "cosine_ema": ("gate.name=cosine", "gate.ema=0.01"),
    "projection": ("gate.name=projection",),
    "projection_ema": ("gate.name=projection", "gate.ema=0.01"),
    "orthogonal": ("gate.name=orthogonal",),
}
HARMFUL_METHODS = ("rl+kl", "kl_only", "cosine", "cosine_ema", "projection", "projection_ema")
CONTROL_METHODS = ("projection", "projection_ema")
LAMS = (1.0, 3.0, 10.0, 30.0)
SWEEP_METHODS = ("rl+kl", "cosine")
SWEEP_SEEDS = (1, 2, 3)
EARLY = 0.2
"""Early = the first 20% of the budget; late = the last 10%."""
LATE = 0.1
BINS = 50
TAGS = ("charts/episodic_return", "losses/teacher_kl", "gate/cosine", "gate/weight")


def run_name(method: str, lam: float, seed: int) -> str:
    return f"{method}__seed{seed}" if method == "rl_alone" else f"{method}__lam{lam:g}__seed{seed}"


def spec(teacher: str, method: str, lam: float, seed: int, steps: int) -> RunSpec:
    teacher_path = "none" if method == "rl_alone" else str(ROOT / TEACHERS[teacher])
    decay = (f"teacher.lam_decay_steps={steps // 2}",) if method == "kickstarting" else ()
    return RunSpec(f"{teacher}/{run_name(method, lam, seed)}",
                   (f"teacher.path={teacher_path}", *METHODS[method], *decay,
                    f"teacher.lam={lam:g}", f"seed={seed}", f"total_steps={steps}"), CONFIG)


def early_mean(directory: Path, steps: int) -> float:
    curve = binned(directory, "charts/episodic_return", steps, BINS)
    return float(np.nanmean(curve[: int(BINS * EARLY)]))


def choose_lam(runs_dir: Path, steps: int) -> float:
    """The sweep's lambda at which RL + KL's mean early return is highest (ties: smaller)."""
    means = {lam: np.mean([early_mean(runs_dir / "good" / run_name("rl+kl", lam, seed), steps)
                           for seed in SWEEP_SEEDS]) for lam in LAMS}
    return max(LAMS, key=lambda lam: (means[lam], -lam))


def extract(runs_dir: Path, steps: int, seeds: list[int], lam: float
            ) -> dict[str, np.ndarray]:
    """Binned curves of every run: key ``<teacher>/<method>/<lam>/<tag>`` -> (seeds, BINS)."""
    out: dict[str, np.ndarray] = {}
    groups = [("good", m, lam, seeds) for m in METHODS]
    groups += [("good", m, sweep_lam, list(SWEEP_SEEDS)) for m in SWEEP_METHODS
               for sweep_lam in LAMS]
    groups += [("harmful", m, lam, seeds) for m in HARMFUL_METHODS]
    groups += [("uniform", m, lam, seeds) for m in CONTROL_METHODS]
    for teacher, method, run_lam, run_seeds in groups:
        for tag in TAGS:
            out[f"{teacher}/{method}/{run_lam:g}/{tag}"] = np.stack([
                binned(runs_dir / teacher / run_name(method, run_lam, seed), tag, steps, BINS)
                for seed in run_seeds])
    return out


def write_extract(runs_dir: Path, out: Path, steps: int, seeds: list[int], lam: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"steps": steps, "seeds": seeds, "lam": lam, "bins": BINS, "lams": list(LAMS),
            "sweep_seeds": list(SWEEP_SEEDS), "teachers": TEACHERS, "early": EARLY,
            "late": LATE,
            "command": f"python scripts/experiments/cartpole_teacher.py --seeds {len(seeds)} "
                       f"--steps {steps}"}
    np.savez_compressed(out, meta=np.array(json.dumps(meta)),
                        **extract(runs_dir, steps, seeds, lam))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=100_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--runs-dir", type=Path, default=RUNS)
    parser.add_argument("--out", type=Path, default=EXTRACT)
    args = parser.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    run_all([spec("good", m, lam, seed, args.steps) for lam in LAMS for m in SWEEP_METHODS
             for seed in SWEEP_SEEDS], args.runs_dir, args.workers)
    lam = choose_lam(args.runs_dir, args.steps)
    print(f"lambda from the sweep: {lam:g}", flush=True)
    runs = [spec("good", m, lam, seed, args.steps) for m in METHODS for seed in seeds]
    runs += [spec("harmful", m, lam, seed, args.steps) for m in HARMFUL_METHODS for seed in seeds]
    runs += [spec("uniform", m, lam, seed, args.steps) for m in CONTROL_METHODS for seed in seeds]
    run_all(runs, args.runs_dir, args.workers)
    write_extract(args.runs_dir, args.out, args.steps, seeds, lam)
    print(f"wrote {args.out}; python scripts/make_report.py turns it into docs/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
