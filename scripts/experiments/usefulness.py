"""Which signal tells when a teacher helps (issue 15, items 2-3): the baselines, the controls
and our signals of usefulness, with the good, harmful and uniform teachers of a control task.

    python -m scripts.experiments.usefulness --task cartpole|minatar [--seeds 11 ... 20]
        [--steps N] [--workers 2] [--methods score agreement ...] [--lam L]

Methods (:data:`METHODS`; every one with each teacher, RL alone once, under ``good/``):

- baselines: RL alone, RL + KL, KL only, kickstarting (λ decays linearly over the first half),
  score (QDagger: λ_t = λ max(0, 1 − G_student / G_teacher));
- our signals (``teacher.lam_schedule``, rl_auxgrad/teacher_weight.py), both on the plain sum:
  agreement (action space: the advantage-preference correlation ρ), gradient (parameter space:
  the gate's cosine), each opened by its lower confidence bound over recent rollouts, and
  agreement_stop (full λ until the upper confidence bound of ρ falls below 0, then none) and
  stop (the same, stopping also once the student's score reaches the teacher's);
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
import functools
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import trim_mean

from rl_auxgrad.config import load_config
from rl_auxgrad.run_dir import default_runs_dir
from scripts.experiments import cartpole_teacher, minatar_teacher
from scripts.experiments.aggregate import Comparison, compare, fmt
from scripts.experiments.common import CONSTANT, RunSpec
from scripts.experiments.control_teacher import (
    BINS,
    MARGINS,
    RETURN,
    ROOT,
    TAGS,
    ControlTask,
    Record,
    part_means,
    run_name,
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
    "agreement_stop": (*PLAIN, "teacher.lam_schedule=agreement_stop"),
    "stop": (*PLAIN, "teacher.lam_schedule=stop"),
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
            matched: dict[str, float], teachers: tuple[str, ...] = TEACHERS) -> list[RunSpec]:
    """Every run of ``methods`` with ``teachers`` (RL alone with no teacher, once),
    interleaved by seed; the matched constant at λ·w̄ of each teacher in ``matched``."""
    runs = []
    for seed in seeds:
        for method in methods:
            if method == "matched_constant":
                runs += [spec(task, t, method, lam * matched[t], seed, steps, METHODS)
                         for t in teachers if t in matched]
            else:
                runs += [spec(task, t, method, lam, seed, steps, METHODS)
                         for t in (("good",) if method == "rl_alone" else teachers)]
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
                   lam: float, workers: int, runs_dir: Path, record_path: Path,
                   teachers: tuple[str, ...] = TEACHERS) -> UsefulnessRecord:
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
    run_recorded(planned(task, first, seeds, lam, steps, {}, teachers), record, runs_dir,
                 workers)
    if "matched_constant" in methods:
        matched = record.meta.setdefault("matched_weight", {})
        for teacher in teachers:
            matched.setdefault(teacher, mean_weight(record, teacher, lam, record.meta["seeds"]))
        record.save()
        run_recorded(planned(task, ["matched_constant"], seeds, lam, steps, matched, teachers),
                     record, runs_dir, workers)
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
    parser.add_argument("--teachers", nargs="+", choices=TEACHERS, default=list(TEACHERS),
                        help="a subset of the teachers (default: all)")
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
                   out, tuple(args.teachers))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


CONDITIONS = (("i", "early", "rl+kl", "good", "early return ≥ RL + KL's (δ 5%)"),
              ("ii", "late", "rl_alone", "good", "late return ≥ RL alone's (δ 2%)"),
              ("ii", "auc", "rl_alone", "good", "AUC ≥ RL alone's (δ 2%)"),
              ("iii", "auc", "rl_alone", "harmful", "harmful teacher: AUC ≥ RL alone's (δ 5%)"))
"""The pass condition (issue 15, item 4): (condition, part, reference, teacher, wording); (ii)
needs both of its rows."""


def run_lam(record: Record, teacher: str, method: str) -> float | None:
    """The λ in the names of ``method``'s runs with ``teacher``: the matched constant's λ·w̄
    (w̄ fixed in the record's meta; None before it is), every other method's the experiment's
    λ."""
    if method != "matched_constant":
        return float(record.meta["lam"])
    weight = record.meta.get("matched_weight", {}).get(teacher)
    return None if weight is None else record.meta["lam"] * weight


def runs(record: Record, teacher: str, method: str, seeds: list[int], tag: str = RETURN
         ) -> np.ndarray:
    """(seeds, bins) curves of ``tag`` of ``method`` with ``teacher`` (RL alone: its one set)."""
    teacher = "good" if method == "rl_alone" else teacher
    lam = run_lam(record, teacher, method)
    assert lam is not None, f"{method} has no runs with the {teacher} teacher"
    return record.runs(teacher, method, lam, seeds, tag)


def scores(record: Record, teacher: str, method: str, part: str, seeds: list[int]
           ) -> np.ndarray:
    """One number per seed: the early, late or whole-run (``auc``) mean return
    (:func:`~scripts.experiments.control_teacher.part_means`)."""
    return part_means(runs(record, teacher, method, seeds), part)


def recorded_seeds(record: Record, teacher: str, method: str) -> list[int]:
    teacher = "good" if method == "rl_alone" else teacher
    lam = run_lam(record, teacher, method)
    return [] if lam is None else [s for s in record.meta["seeds"]
                                   if f"{teacher}/{run_name(method, lam, s)}" in record]


def shared_seeds(record: Record, teacher: str, a: str, b: str) -> list[int]:
    return sorted(set(recorded_seeds(record, teacher, a)) & set(recorded_seeds(record, teacher, b)))


def cell(comparison: Comparison | None, seeds: list[int]) -> str:
    """A table cell: Δ IQM [95% CI] verdict, P(A > B), n (– under 3 seeds)."""
    if comparison is None:
        return f"– (n {len(seeds)})"
    return f"{comparison.difference} {comparison.verdict}, P {comparison.probability:.2f}, " \
           f"n {len(seeds)}"


def compared(record: Record, teacher: str, method: str, reference: str, part: str,
             margin: float, reps: int | None) -> tuple[Comparison | None, list[int]]:
    """``method`` against ``reference`` with ``teacher`` on the seeds both have (None under
    3)."""
    seeds = shared_seeds(record, teacher, method, reference)
    if len(seeds) < 3:
        return None, seeds
    return compare(scores(record, teacher, method, part, seeds),
                   scores(record, teacher, reference, part, seeds), margin, reps), seeds


def conditions(record: Record, method: str, reps: int | None = None
               ) -> list[tuple[str, Comparison | None, list[int]]]:
    """Each row of :data:`CONDITIONS` for ``method``: the comparison on the seeds both it and
    the reference have recorded (None where there are fewer than 3); ``reps`` bootstrap
    resamples (default: aggregate's)."""
    rows = []
    for label, part, reference, teacher, _ in CONDITIONS:
        comparison, seeds = compared(record, teacher, method, reference, part,
                                     MARGINS["harmful" if teacher == "harmful" else part], reps)
        rows.append((label, comparison, seeds))
    return rows


def passed(rows: list[tuple[str, Comparison | None, list[int]]]) -> int:
    """How many of (i), (ii), (iii) hold ((ii): late and AUC both)."""
    holds: dict[str, bool] = {}
    for label, comparison, _ in rows:
        holds[label] = holds.get(label, True) and comparison is not None and comparison.holds
    return sum(holds.values())


SIGNAL_METHODS = ("kickstarting", "score", "agreement", "agreement_stop", "stop", "cosine")
"""Whose teacher weight (λ_t / λ, or the gate's weight) the figure follows over time."""


def plot(record: Record, path: Path) -> None:
    """Three rows (good, harmful, uniform teacher) of: the mean return, the teacher's weight
    over time (λ_t / λ of the schedules, the cosine gate's mean weight), and the agreement ρ
    logged by every run with the teacher; each line the mean over the recorded seeds."""
    meta = record.meta
    x = (np.arange(meta["bins"]) + 0.5) * meta["steps"] / meta["bins"] / 1e3
    teachers = [t for t in TEACHERS
                if any(recorded_seeds(record, t, m) for m in METHODS if m != "rl_alone")]
    fig, axes = plt.subplots(len(teachers), 3, figsize=(16, 3.6 * len(teachers)), squeeze=False)
    for row, teacher in zip(axes, teachers, strict=True):
        for method in METHODS:
            seeds = recorded_seeds(record, teacher, method)
            if not seeds:
                continue
            curves = functools.partial(runs, record, teacher, method, seeds)
            row[0].plot(x, np.nanmean(curves(RETURN), axis=0), label=f"{method} ({len(seeds)})")
            if method in SIGNAL_METHODS:
                tag = "gate/weight" if method == "cosine" else "teacher/lam"
                scale = 1.0 if method == "cosine" else meta["lam"]
                row[1].plot(x, np.nanmean(curves(tag), axis=0) / scale, label=method)
            if method != "rl_alone":
                row[2].plot(x, np.nanmean(curves("teacher/agreement"), axis=0), label=method,
                            alpha=0.7)
        row[2].axhline(0, color="k", lw=0.8)
        titles = ("mean return", "teacher's weight (λ_t / λ; cosine: gate weight)",
                  "agreement ρ = corr(Â, log π_T − log π)")
        for ax, title in zip(row, titles, strict=True):
            ax.set(title=f"{teacher} teacher: {title}", xlabel="agent steps (thousands)")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


Rows = list[tuple[str, Comparison | None, list[int]]]
"""One method's :func:`conditions`."""


@dataclass(frozen=True)
class Evaluation:
    """A task's usefulness record with every method's conditions, computed once for the
    report, the per-seed tables and the ranking."""

    task: ControlTask
    record: UsefulnessRecord
    rows: dict[str, Rows]
    """Methods with at least one comparison, in :data:`METHODS` order."""


def evaluate(task: ControlTask, record_path: Path | None = None, reps: int | None = None
             ) -> Evaluation:
    """Reads the task's record (default docs/data/<task>_usefulness.npz) and tests every method
    against :data:`CONDITIONS` with ``reps`` bootstrap resamples."""
    record = UsefulnessRecord(record_path or ROOT / "docs" / "data"
                              / f"{task.name}_usefulness.npz")
    rows = {}
    if record.meta:
        for method in (m for m in METHODS if m != "rl_alone"):
            method_rows = conditions(record, method, reps)
            if any(comparison is not None for _, comparison, _ in method_rows):
                rows[method] = method_rows
    return Evaluation(task, record, rows)


def report(evaluation: Evaluation, figures: Path | None = None) -> str:
    """The usefulness section of docs/RESULTS.md: every method against the pass condition,
    each cell Δ IQM [95% CI] and its verdict, with the number of seeds it rests on, the
    per-seed tables, and (into ``figures``) the curves of :func:`plot`."""
    task, record = evaluation.task, evaluation.record
    title = f"## {task.title}: which signal tells when the teacher helps\n\n"
    if not record.meta:
        return title + (f"Not run yet: `python -m scripts.experiments.usefulness --task "
                        f"{task.name}`.\n")
    meta = record.meta
    header = " | ".join(f"({label}) {wording}" for label, _, _, _, wording in CONDITIONS)
    lines = [f"| method | {header} | passes |", "|---|" + "---|" * len(CONDITIONS) + "---:|"]
    for method, rows in evaluation.rows.items():
        cells = ["–" if c is None else cell(c, s) for _, c, s in rows]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {passed(rows)} of 3 |")
    recorded = sum(1 for key in record.curves if key.endswith(f"/{RETURN}"))
    seeds = per_seed_tables(evaluation.rows)
    figure = ""
    if figures is not None:
        plot(record, figures / f"{task.name}_usefulness.png")
        figure = f"\n![{task.title} usefulness](figures/{task.name}_usefulness.png)\n"
    return title + f"""Made by `{meta['command']}` ({meta['hardware']}); {meta['steps']:,} agent
steps per run, λ = {meta['lam']:g} (chosen by the control experiment's sweep on seeds 1-3),
evaluation seeds {min(meta['seeds'])}-{max(meta['seeds'])}; {recorded} runs recorded so far
(the experiment is resumable: the same command continues it). Each cell: Δ IQM (method −
reference) [95% stratified-bootstrap CI], the verdict against the margin δ, rliable's
P(method > reference) and the number of seeds both have recorded (fewer than 3: –). A
condition passes when the CI's lower end is above −δ; (ii) needs late return and AUC both.

{chr(10).join(lines)}
{figure}
{seeds}
{controls_section(record)}"""


CONTROLS = ("matched_constant", "cosine_shuffled")
"""The cosine gate's controls (issue 15, item 2): RL + KL at λ·w̄, and the gate's own weights
shuffled in time. A gate that is better than neither gains by down-weighting, not gating."""
PARTS = (("early", "early return"), ("late", "late return"), ("auc", "AUC"))
COSINE_GATES = ("cosine", "cosine_ema0.001", "cosine_ema0.01", "cosine_ema0.1")


def controls_section(record: Record, reps: int | None = None) -> str:
    """The cosine gate against its controls with the good and the harmful teacher, and every
    method with the uniform teacher against RL alone, with the cosine gates' weights per
    teacher: a gate that closes as much for the uniform teacher as for the good one reads the
    student's drift, not the teacher."""
    lines = ["| cosine − control | teacher | " + " | ".join(w for _, w in PARTS) + " |",
             "|---|---|" + "---|" * len(PARTS)]
    for control in CONTROLS:
        for teacher in ("good", "harmful"):
            cells = [cell(*compared(record, teacher, "cosine", control, part, MARGINS[part],
                                    reps)) for part, _ in PARTS]
            lines.append(f"| {control} | {teacher} | " + " | ".join(cells) + " |")
    uniform = ["| method | AUC − RL alone's (δ 5%) |", "|---|---|"]
    uniform += [f"| {method} | "
                + cell(*compared(record, "uniform", method, "rl_alone", "auc",
                                 MARGINS["harmful"], reps)) + " |"
                for method in METHODS if method != "rl_alone"
                and recorded_seeds(record, "uniform", method)]
    weights = ["| gate | teacher | seeds | gate weight, early | gate weight, late | "
               "cosine, late |", "|---|---|---|---:|---:|---:|"]
    for gate in COSINE_GATES:
        for teacher in TEACHERS:
            seeds = recorded_seeds(record, teacher, gate)
            if seeds:
                weight = runs(record, teacher, gate, seeds, "gate/weight")
                cosine = runs(record, teacher, gate, seeds, "gate/cosine")
                weights.append(f"| {gate} | {teacher} | {_span(seeds)} | "
                               f"{np.nanmean(part_means(weight, 'early')):.3f} | "
                               f"{np.nanmean(part_means(weight, 'late')):.3f} | "
                               f"{np.nanmean(part_means(cosine, 'late')):+.3f} |")
    return f"""### The cosine gate against its controls

The matched constant is RL + KL at λ·w̄, w̄ the cosine gate's mean weight over its recorded runs
with the same teacher ({", ".join(f"{t} {w:.3f}" for t, w in
record.meta.get("matched_weight", {}).items())}); cosine_shuffled applies the gate's own weights
in a random order. Each cell: Δ IQM (cosine − control) [95% CI], verdict (δ: 5% early, 2% late
and AUC), P(cosine > control), seeds. The gate is more than down-weighting only where it is
**better** than both controls.

{chr(10).join(lines)}

### The uniform teacher

KL to the uniform policy carries no information about the task. Each method's AUC with it
against RL alone's (Δ IQM [95% CI], verdict with δ 5%, P, seeds), and the cosine gates' weights
and late cosine with each teacher (mean over the seeds recorded so far; early and late as
above):

{chr(10).join(uniform)}

{chr(10).join(weights)}
"""


def per_seed_tables(rows: dict[str, Rows]) -> str:
    """Every condition's score per seed (the seeds in order), the reference's first, and for
    each method how many of its seeds fall below the reference's worst seed − δ: the failures
    an IQM, which trims the lowest quarter, can hide."""
    blocks = []
    for index, (label, _, reference, _, wording) in enumerate(CONDITIONS):
        table = [f"**({label}) {wording}**, per seed:", "",
                 "| method | seeds | below the reference's worst − δ | per seed |",
                 "|---|---|---:|---|"]
        shown = False
        for method, method_rows in rows.items():
            _, comparison, seeds = method_rows[index]
            if comparison is None:
                continue
            if not shown:
                table.append(f"| {reference} (reference) | {_span(seeds)} | | "
                             + ", ".join(fmt(x) for x in comparison.b[:, 0]) + " |")
                shown = True
            table.append(f"| {method} | {_span(seeds)} | {comparison.failed} of "
                         f"{len(seeds)} | " + ", ".join(fmt(x) for x in comparison.a[:, 0])
                         + " |")
        if shown:
            blocks.append("\n".join(table))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _span(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


@dataclass(frozen=True)
class Rank:
    """One method's standing under the rule of issue 15, item 5."""

    method: str
    passes: dict[str, int]
    """Conditions passed (0-3) per task."""
    relative_auc: dict[str, float]
    """IQM (the 25% trimmed mean) of the whole-run mean return with the good teacher over RL
    alone's, per task."""

    @property
    def key(self) -> tuple[int, float]:
        """Most conditions passed over all tasks, ties broken by the mean relative AUC."""
        return sum(self.passes.values()), float(np.mean(list(self.relative_auc.values())))


def ranking(evaluations: list[Evaluation]) -> list[Rank]:
    """Every method recorded with the good teacher on every task, best first; a method with
    fewer than 3 seeds for a condition on a task does not pass it there."""
    ranks = []
    for method in (m for m in METHODS if m != "rl_alone"):
        if not all(recorded_seeds(e.record, "good", method) for e in evaluations):
            continue
        passes, relative = {}, {}
        for e in evaluations:
            passes[e.task.name] = passed(e.rows[method]) if method in e.rows else 0
            seeds = shared_seeds(e.record, "good", method, "rl_alone")
            relative[e.task.name] = float(
                trim_mean(scores(e.record, "good", method, "auc", seeds), 0.25)
                / trim_mean(scores(e.record, "good", "rl_alone", "auc", seeds), 0.25))
        ranks.append(Rank(method, passes, relative))
    return sorted(ranks, key=lambda r: r.key, reverse=True)


def default_method() -> str:
    """The method of :data:`METHODS` that ``python -m rl_auxgrad.train`` uses: the one whose
    gate, gate EMA and teacher schedule are the default config's (the experiment runs every
    method on top of :data:`~scripts.experiments.common.CONSTANT`)."""
    config = load_config(None, [])
    default = {"gate.name": config.gate.name, "gate.ema": str(config.gate.ema),
               "teacher.lam_schedule": config.teacher.lam_schedule}
    for method, overrides in METHODS.items():
        settings = {"gate.ema": "None"} | dict(o.split("=", 1) for o in (CONSTANT, *overrides))
        if method != "matched_constant" and settings == default:
            return method
    raise ValueError(f"the default config ({default}) is none of the usefulness methods")


def why_default(evaluations: list[Evaluation]) -> str:
    """The "Why this default" section: the :func:`ranking` and the default it gives."""
    ranks = ranking(evaluations)
    tasks = [e.task.name for e in evaluations]
    if not ranks:
        return "## Why this default\n\nNo method is recorded on every task yet.\n"
    lines = [f"| method | {' | '.join(f'passes on {t}' for t in tasks)} | total | "
             f"{' | '.join(f'AUC / RL alone on {t}' for t in tasks)} |",
             "|---|" + "---:|" * (2 * len(tasks) + 1)]
    lines += [f"| {r.method} | " + " | ".join(str(r.passes[t]) for t in tasks)
              + f" | {sum(r.passes.values())} | "
              + " | ".join(f"{r.relative_auc[t]:.3f}" for t in tasks) + " |" for r in ranks]
    best, now = ranks[0], default_method()
    verdict = (f"The default, `{now}`, is the one the rule ranks first."
               if best.method == now else
               f"The rule ranks `{best.method}` first, but the default is `{now}`: change "
               f"the default (rl_auxgrad/config.py) to `{' '.join(METHODS[best.method])}`.")
    return f"""## Why this default

`python -m rl_auxgrad.train` uses the method that passes the most of the conditions (i)-(iii)
above on {' and '.join(tasks)} together (at most {3 * len(tasks)}), ties broken by the mean
over the tasks of its AUC with the good teacher relative to RL alone's (IQM over the seeds
both recorded). {verdict}

{chr(10).join(lines)}
"""
