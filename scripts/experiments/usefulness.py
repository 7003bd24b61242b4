"""Which signal tells when a teacher helps (issue 15, items 2-3): the baselines, the controls
and our signals of usefulness, with the good, harmful and uniform teachers of a control task.

    python -m scripts.experiments.usefulness --task cartpole|minatar [--seeds 11 ... 20]
        [--steps N] [--workers 2] [--methods score agreement ...] [--lam L]

Methods (:data:`METHODS`; every one with each teacher, RL alone once, under ``good/``):

- baselines: RL alone, RL + KL, KL only, kickstarting (λ decays linearly over the first half),
  score (QDagger: λ_t = λ max(0, 1 − G_student / G_teacher));
- our signals (``teacher.lam_schedule``, rl_auxgrad/teacher_weight.py), both on the plain sum:
  agreement (action space: the advantage-preference correlation ρ), gradient (parameter space:
  the gate's cosine), each opened by its lower confidence bound over recent rollouts;
- gates: cosine, cosine against an EMA of the RL gradient at α ∈ {0.001, 0.01, 0.1};
- controls for the cosine gate: cosine_shuffled (its weights shuffled in time: same weights,
  no link to the minibatch) and the matched constant, RL + KL at λ·w̄, which needs no code of
  its own: w̄ is the cosine gate's mean gate/weight over this experiment's recorded cosine runs
  with the same teacher (:data:`FIXED_WEIGHT` when none are recorded), fixed in the record's
  meta the first time it is needed so that a resumed experiment trains the same runs. The
  matched runs therefore go after every other run. If the cosine gate beats neither control,
  its gain is down-weighting, not gating.

λ is the one control_teacher.py's sweep chose on seeds 1-3 (read from that experiment's record;
``--lam`` to set it); the evaluation seeds 11-20 are disjoint from them. Runs live under
``runs/experiments/<task>_usefulness/<teacher>/<method>__lam<λ>__seed<seed>`` and each
finished run is reduced into ``docs/data/<task>_usefulness.npz`` with control_teacher.py's
:class:`Record` (finished runs are skipped, interrupted ones resume, the record alone says what
is done).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from rl_auxgrad.run_dir import default_runs_dir
from scripts.experiments import cartpole_teacher, minatar_teacher
from scripts.experiments.common import RunSpec
from scripts.experiments.control_teacher import (
    BINS,
    ROOT,
    TAGS,
    ControlTask,
    Record,
    run_recorded,
    spec,
)

TASKS: dict[str, ControlTask] = {"cartpole": cartpole_teacher.TASK,
                                 "minatar": minatar_teacher.TASK}
PLAIN = ("gate.name=multitask",)
METHODS: dict[str, tuple[str, ...]] = {
    "rl_alone": ("gate.name=single",),
    "rl+kl": PLAIN,
    "kl_only": ("gate.name=kl_only",),
    "kickstarting": (*PLAIN, "teacher.lam_schedule=linear"),
    "score": (*PLAIN, "teacher.lam_schedule=score"),
    "agreement": (*PLAIN, "teacher.lam_schedule=agreement"),
    "gradient": (*PLAIN, "teacher.lam_schedule=gradient"),
    "cosine": ("gate.name=cosine",),
    "cosine_ema0.001": ("gate.name=cosine", "gate.ema=0.001"),
    "cosine_ema0.01": ("gate.name=cosine", "gate.ema=0.01"),
    "cosine_ema0.1": ("gate.name=cosine", "gate.ema=0.1"),
    "cosine_shuffled": ("gate.name=cosine_shuffled",),
    "matched_constant": PLAIN,
}
TEACHERS = ("good", "harmful", "uniform")
SEEDS = tuple(range(11, 21))
FIXED_WEIGHT = 0.25
"""w̄ for the matched constant when no cosine run of the teacher is recorded: about the cosine
gate's mean weight in our earlier runs (0.15-0.34 in docs/RESULTS.md)."""


class UsefulnessRecord(Record):
    """control_teacher.py's record, with the teacher weight's scalars as well."""

    tags = (*TAGS, "teacher/lam", "teacher/agreement")


def planned(task: ControlTask, methods: list[str], seeds: list[int], lam: float, steps: int,
            matched: dict[str, float]) -> list[RunSpec]:
    """Every run of ``methods`` (RL alone with no teacher, once), interleaved by seed; the
    matched constant at λ·w̄ of each teacher in ``matched``."""
    runs = []
    for seed in seeds:
        for method in methods:
            if method == "matched_constant":
                runs += [spec(task, t, method, lam * matched[t], seed, steps, METHODS)
                         for t in TEACHERS if t in matched]
            else:
                runs += [spec(task, t, method, lam, seed, steps, METHODS)
                         for t in (("good",) if method == "rl_alone" else TEACHERS)]
    return runs


def mean_weight(record: Record, teacher: str, lam: float, seeds: list[int]) -> float:
    """The cosine gate's mean gate/weight over its recorded runs with ``teacher`` at ``lam``
    (FIXED_WEIGHT if there are none)."""
    recorded = [s for s in seeds if f"{teacher}/cosine__lam{lam:g}__seed{s}" in record]
    if not recorded:
        return FIXED_WEIGHT
    return float(np.nanmean(record.runs(teacher, "cosine", lam, recorded, "gate/weight")))


def chosen_lam(task: ControlTask) -> float:
    """The λ control_teacher.py's sweep chose for ``task`` (seeds 1-3)."""
    meta = Record(task.record).meta
    if "lam" not in meta:
        raise SystemExit(f"error: {task.record} has no λ yet: run python -m "
                         f"scripts.experiments.{task.name}_teacher first, or pass --lam")
    return float(meta["lam"])


def run_experiment(task: ControlTask, methods: list[str], seeds: list[int], steps: int,
                   lam: float, workers: int, runs_dir: Path, record_path: Path
                   ) -> UsefulnessRecord:
    """Every method but the matched constant, then the matched constant; each run recorded as
    it finishes."""
    record = UsefulnessRecord(record_path)
    if record.meta and (record.meta["steps"], record.meta["lam"]) != (steps, lam):
        raise SystemExit(f"error: {record_path} holds runs of {record.meta['steps']} steps at "
                         f"λ = {record.meta['lam']:g}: use those, or another --out")
    record.meta.update({
        "steps": steps, "lam": lam, "bins": BINS, "task": task.name,
        "seeds": sorted(set(record.meta.get("seeds", [])) | set(seeds)),
        "methods": [m for m in METHODS if m in methods or m in record.meta.get("methods", [])],
        "command": f"python -m scripts.experiments.usefulness --task {task.name}",
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch "
                    f"{torch.__version__}, one torch thread per run"})
    first = [m for m in methods if m != "matched_constant"]
    run_recorded(planned(task, first, seeds, lam, steps, {}), record, runs_dir, workers)
    if "matched_constant" in methods:
        matched = record.meta.setdefault("matched_weight", {})
        for teacher in TEACHERS:
            matched.setdefault(teacher, mean_weight(record, teacher, lam, record.meta["seeds"]))
        record.save()
        run_recorded(planned(task, ["matched_constant"], seeds, lam, steps, matched), record,
                     runs_dir, workers)
    record.save()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="evaluation seeds (default 11-20, apart from the sweep's 1-3)")
    parser.add_argument("--steps", type=int, help="agent steps per run (default: the task's)")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="a subset of the methods (default: all)")
    parser.add_argument("--lam", type=float, help="λ (default: control_teacher's sweep's)")
    parser.add_argument("--runs-dir", type=Path, help="default runs/<task>_usefulness")
    parser.add_argument("--out", type=Path, help="the record (default "
                                                 "docs/data/<task>_usefulness.npz)")
    args = parser.parse_args(argv)
    task = TASKS[args.task]
    out = args.out or ROOT / "docs" / "data" / f"{task.name}_usefulness.npz"
    runs_dir = args.runs_dir or default_runs_dir() / "experiments" / f"{task.name}_usefulness"
    run_experiment(task, args.methods, args.seeds, args.steps or task.steps,
                   chosen_lam(task) if args.lam is None else args.lam, args.workers, runs_dir,
                   out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
