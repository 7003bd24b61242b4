"""The control-task experiment: does a gated teacher help early and get out of the way late,
and does a gate protect the student from a harmful teacher? Run on a cheap task that trains on
CPU in minutes (CartPole, MinAtar Breakout), declared by a :class:`ControlTask` in the task's
own script (``cartpole_teacher.py``, ``minatar_teacher.py``).

Four sets of runs, all under ``runs/<task>_teacher/<teacher>/<method>__lam<lam>__seed<seed>``
(finished runs are skipped, interrupted ones resume):

1. lambda sweep: RL + KL and cosine at lambda in LAMS, seeds 1-3, the good teacher. The lambda
   at which RL + KL gains most over the first EARLY share of the budget is used for the rest;
   the report evaluates on the other seeds only (4..N), so that no seed both chooses lambda
   and judges it.
2. main: the ten METHODS, seeds 1..N, the good teacher.
3. harmful: HARMFUL_METHODS with the harmful teacher.
4. control: Projection (with and without EMA) with the uniform teacher, which carries no
   information: what Projection gains with it is the gate's extra step along the main
   gradient, not the teacher.

Each finished run is reduced at once to binned curves in the task's record,
``docs/data/<task>_teacher.npz`` (committed): the experiment resumes from the record where
``runs/`` is gone, and ``scripts/make_report.py`` reads only the record. Its claims compare
methods by the CI of their difference against a stated margin (:class:`Check`,
:func:`scripts.experiments.aggregate.compare`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import torch

from rl_auxgrad.run_dir import default_runs_dir
from scripts.experiments.aggregate import (
    Comparison,
    Estimate,
    compare,
    fmt,
    iqm,
    plot_iqm_curves,
)
from scripts.experiments.common import (
    CONSTANT,
    INFLUENCE_HEADER,
    Claim,
    RunSpec,
    binned,
    passing_bin,
    run_all,
)

ROOT = Path(__file__).parents[2]
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
GATED = ("cosine", "cosine_unweighted", "cosine_ema", "projection", "projection_ema",
         "orthogonal")
HARMFUL_METHODS = ("rl+kl", "kl_only", "cosine", "cosine_ema", "projection", "projection_ema")
CONTROL_METHODS = ("projection", "projection_ema")
LAMS = (1.0, 3.0, 10.0, 30.0)
SWEEP_METHODS = ("rl+kl", "cosine")
SWEEP_SEEDS = (1, 2, 3)
EARLY = 0.2
"""Early = the first 20% of the budget; late = the last 10%."""
LATE = 0.1
MARGINS = {"early": 0.05, "late": 0.02, "auc": 0.02, "harmful": 0.05}
"""δ of each no-harm claim as a share of B's IQM (issue 15): early return against RL + KL 5%,
late return and AUC against RL alone 2%, AUC with the harmful teacher against RL alone 5%."""
BINS = 50
TAGS = ("charts/episodic_return", "losses/teacher_kl", "gate/cosine", "gate/weight")
RETURN = "charts/episodic_return"


@dataclass(frozen=True)
class ControlTask:
    """A cheap task with a good-but-imperfect, a harmful and a uniform teacher."""

    name: str
    """Names the runs (``runs/<name>_teacher``), the record and the figures."""
    title: str
    config: str
    """Relative to the checkout."""
    teachers: dict[str, str]
    """``good``, ``harmful`` and ``uniform``: teacher directories relative to the checkout."""
    steps: int
    """Agent steps per run: enough for RL alone to pass the good teacher well before the end."""
    settings: str
    """The learner's settings, for the report."""
    good_note: str
    """How the good teacher was made and what PPO alone reaches, for the report."""
    harmful_note: str
    """What the harmful teacher does, for the report."""

    @property
    def runs(self) -> Path:
        return default_runs_dir() / "experiments" / f"{self.name}_teacher"

    @property
    def record(self) -> Path:
        return ROOT / "docs" / "data" / f"{self.name}_teacher.npz"

    def command(self, seeds: int, steps: int) -> str:
        return (f"python -m scripts.experiments.{self.name}_teacher --seeds {seeds} "
                f"--steps {steps}")


def run_name(method: str, lam: float, seed: int) -> str:
    return f"{method}__seed{seed}" if method == "rl_alone" else f"{method}__lam{lam:g}__seed{seed}"


def spec(task: ControlTask, teacher: str, method: str, lam: float, seed: int, steps: int,
         methods: dict[str, tuple[str, ...]] = METHODS) -> RunSpec:
    """The run of ``method`` (its overrides in ``methods``) with ``teacher``."""
    teacher_path = "none" if method == "rl_alone" else str(ROOT / task.teachers[teacher])
    decay = (f"teacher.lam_decay_steps={steps // 2}",) if method == "kickstarting" else ()
    return RunSpec(f"{teacher}/{run_name(method, lam, seed)}",
                   (CONSTANT, f"teacher.path={teacher_path}", *methods[method], *decay,
                    f"teacher.lam={lam:g}", f"seed={seed}", f"total_steps={steps}"),
                   str(ROOT / task.config))


def sweep_runs(task: ControlTask, steps: int) -> list[RunSpec]:
    return [spec(task, "good", m, lam, seed, steps) for lam in LAMS for m in SWEEP_METHODS
            for seed in SWEEP_SEEDS]


def planned_runs(task: ControlTask, steps: int, seeds: list[int], lam: float) -> list[RunSpec]:
    """The main, harmful and control runs at the sweep's lambda."""
    runs = [spec(task, "good", m, lam, seed, steps) for m in METHODS for seed in seeds]
    runs += [spec(task, "harmful", m, lam, seed, steps) for m in HARMFUL_METHODS
             for seed in seeds]
    return runs + [spec(task, "uniform", m, lam, seed, steps) for m in CONTROL_METHODS
                   for seed in seeds]


class Record:
    """Binned curves of every finished run of an experiment, ``<run>/<tag>`` -> (BINS,), and
    its settings (``meta``), in one compressed .npz written atomically after each run."""

    tags = TAGS
    """The scalars recorded per run."""

    def __init__(self, path: Path, meta: dict | None = None) -> None:
        self.path = path
        self.curves: dict[str, np.ndarray] = {}
        self.meta: dict = {}
        if path.exists():
            with np.load(path) as data:
                self.meta = json.loads(str(data["meta"]))
                self.curves = {k: data[k] for k in data.files if k != "meta"}
        self.meta.update(meta or {})

    def __contains__(self, run: str) -> bool:
        return f"{run}/{RETURN}" in self.curves

    def add(self, run: str, directory: Path) -> None:
        for tag in self.tags:
            self.curves[f"{run}/{tag}"] = binned(directory, tag, self.meta["steps"], BINS)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial.npz")
        np.savez_compressed(partial, meta=np.array(json.dumps(self.meta)), **self.curves)
        os.replace(partial, self.path)

    def runs(self, teacher: str, method: str, lam: float, seeds: list[int] | tuple[int, ...],
             tag: str = RETURN) -> np.ndarray:
        """(seeds, BINS) curves of one group of runs."""
        return np.stack([self.curves[f"{teacher}/{run_name(method, lam, seed)}/{tag}"]
                         for seed in seeds])


def run_recorded(specs: list[RunSpec], record: Record, runs_dir: Path, workers: int) -> None:
    """Trains the runs the record lacks and adds each to it as it finishes."""

    def keep(spec: RunSpec, directory: Path) -> None:
        record.add(spec.name, directory)
        record.save()
        print(f"recorded {spec.name}", flush=True)

    run_all([s for s in specs if s.name not in record], runs_dir, workers, keep)


def choose_lam(record: Record) -> float:
    """The sweep's lambda at which RL + KL's mean early return is highest (ties: smaller)."""
    early = int(BINS * EARLY)
    means = {lam: np.nanmean(record.runs("good", "rl+kl", lam, SWEEP_SEEDS)[:, :early])
             for lam in LAMS}
    return max(LAMS, key=lambda lam: (means[lam], -lam))


def complete(task: ControlTask, record: Record) -> bool:
    """Whether every run of the experiment is in the record."""
    m = record.meta
    return "lam" in m and all(
        r.name in record for r in sweep_runs(task, m["steps"])
        + planned_runs(task, m["steps"], m["seeds"], m["lam"]))


def run_experiment(task: ControlTask, seeds: int, steps: int, workers: int, runs_dir: Path,
                   record_path: Path) -> Record:
    """The sweep, then the main, harmful and control runs; each recorded as it finishes."""
    meta = {"steps": steps, "seeds": list(range(1, seeds + 1)), "bins": BINS,
            "command": task.command(seeds, steps),
            "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch "
                        f"{torch.__version__}, one torch thread per run"}
    record = Record(record_path)
    if record.meta and (record.meta["steps"], record.meta["bins"]) != (steps, BINS):
        raise SystemExit(f"error: {record_path} holds runs of {record.meta['steps']} steps: "
                         f"use --steps {record.meta['steps']} or another --out")
    record.meta.update(meta)
    run_recorded(sweep_runs(task, steps), record, runs_dir, workers)
    record.meta["lam"] = choose_lam(record)
    print(f"lambda from the sweep: {record.meta['lam']:g}", flush=True)
    run_recorded(planned_runs(task, steps, meta["seeds"], record.meta["lam"]), record,
                 runs_dir, workers)
    record.save()
    return record


def main(task: ControlTask, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"The {task.title} teacher experiment "
                                                 "(scripts/experiments/control_teacher.py).")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=task.steps, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--runs-dir", type=Path, default=task.runs)
    parser.add_argument("--out", type=Path, default=task.record, help="the record")
    args = parser.parse_args(argv)
    run_experiment(task, args.seeds, args.steps, args.workers, args.runs_dir, args.out)
    print(f"wrote {args.out}; python -m scripts.make_report turns it into docs/RESULTS.md")
    return 0


# ---- the report --------------------------------------------------------------------------


def part_means(curves: np.ndarray, part: str) -> np.ndarray:
    """One number per run of (runs, bins) curves: the mean over the first EARLY share of the
    bins (``early``), the last LATE share (``late``) or all of them (``auc``)."""
    bins = curves.shape[1]
    span = {"early": slice(0, int(bins * EARLY)), "late": slice(bins - int(bins * LATE), bins),
            "auc": slice(0, bins)}[part]
    return np.nanmean(curves[:, span], axis=1)


class Results:
    """A complete record, read as groups of runs at the chosen lambda, with summaries. Every
    number is on the evaluation seeds (:attr:`seeds`): the seeds that did not choose lambda."""

    def __init__(self, task: ControlTask, record: Record) -> None:
        self.task, self.record, self.meta = task, record, record.meta
        self.seeds = [seed for seed in self.meta["seeds"] if seed not in SWEEP_SEEDS]
        bins, steps = self.meta["bins"], self.meta["steps"]
        self.x = (np.arange(bins) + 0.5) * steps / bins

    def curves(self, teacher: str, method: str, tag: str = RETURN,
               seeds: list[int] | None = None) -> np.ndarray:
        """(seeds, bins) at the chosen lambda, the evaluation seeds unless ``seeds`` says
        otherwise; RL alone's runs have no teacher."""
        return self.record.runs("good" if method == "rl_alone" else teacher, method,
                                self.meta["lam"], seeds or self.seeds, tag)

    def early(self, curves: np.ndarray) -> np.ndarray:
        return part_means(curves, "early")

    def late(self, curves: np.ndarray) -> np.ndarray:
        return part_means(curves, "late")

    def scores(self, teacher: str, method: str, part: str, seeds: list[int] | None = None
               ) -> np.ndarray:
        """One number per seed: the early, late or whole-run (``auc``) mean return."""
        return part_means(self.curves(teacher, method, seeds=seeds), part)

    def summary(self, teacher: str, method: str) -> dict[str, Estimate]:
        """IQM [95% CI] of the early, late and whole-run (AUC) mean return."""
        return {part: iqm(self.scores(teacher, method, part))
                for part in ("early", "late", "auc")}

    def mean(self, teacher: str, method: str, tag: str, part: str) -> float:
        runs = self.curves(teacher, method, tag)
        return float(np.nanmean(self.early(runs) if part == "early" else self.late(runs)))

    def trend(self, teacher: str, method: str, tag: str) -> str:
        if np.isnan(self.curves(teacher, method, tag)).all():
            return "–"
        return (f"{fmt(self.mean(teacher, method, tag, 'early'))} → "
                f"{fmt(self.mean(teacher, method, tag, 'late'))}")

    def teacher_score(self, teacher: str) -> tuple[float, float]:
        card = json.loads((ROOT / self.task.teachers[teacher] / "teacher.json").read_text())
        return card["score"]["mean"], card["score"]["std"]


def _table(r: Results, teacher: str, methods: list[str]) -> tuple[str, dict]:
    rows = ["| method | early return | late return | AUC (mean return) | gate weight, "
            "early → late | gate cosine, early → late | teacher KL, early → late |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    summaries = {}
    for m in methods:
        summaries[m] = s = r.summary(teacher, m)
        rows.append(f"| {m} | "
                    + "".join(f"{s[part]}; {fmt(r.scores(teacher, m, part).mean())} | "
                              for part in ("early", "late", "auc"))
                    + " | ".join(r.trend(teacher, m, tag) for tag in
                                 ("gate/weight", "gate/cosine", "losses/teacher_kl")) + " |")
    return "\n".join(rows), summaries


def _influence_table(r: Results, teacher_score: float) -> str:
    """Per method with a teacher: the bin from which its mean score stays above the
    teacher's, and its gate weight, cosine and teacher KL before -> after that bin."""
    rows = [INFLUENCE_HEADER]
    for m in ("rl+kl", "kickstarting", *GATED):
        at = passing_bin(np.nanmean(r.curves("good", m), axis=0), teacher_score)
        if at is None or at == 0:
            rows.append(f"| {m} | {'never' if at is None else 'from the start'} | | | |")
            continue
        cells = []
        for tag in ("gate/weight", "gate/cosine", "losses/teacher_kl"):
            mean = np.nanmean(r.curves("good", m, tag), axis=0)
            cells.append("–" if np.isnan(mean).all() else
                         f"{fmt(np.nanmean(mean[:at]))} → {fmt(np.nanmean(mean[at:]))}")
        rows.append(f"| {m} | {r.x[at] / 1e3:.0f}k | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _figure(r: Results, path: Path, panels: list[tuple[str, str, list[str], str]],
            teacher_line: tuple[float, str] | None = None) -> None:
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, teacher, methods, tag) in zip(axes[0], panels, strict=True):
        plot_iqm_curves(ax, r.x / 1e3, {m: r.curves(teacher, m, tag) for m in methods})
        if teacher_line and tag == RETURN:
            ax.axhline(teacher_line[0], color="k", ls=":", label=teacher_line[1])
        ax.set(title=title, xlabel="agent steps (thousands)", ylabel=tag)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class Check(NamedTuple):
    """One method's part of a claim, "A is at least as good as B" (``want="at least"``, up to
    the margin), "A is higher" or "A is lower", under the rule of issue 15 (``now``: the CI of
    the difference on the evaluation seeds) and under the rule it replaced (``before``:
    "higher" / "lower" when A's and B's own CIs are apart, else "same (CIs overlap)", on every
    seed, which counted "same" as "at least as good")."""

    claim: str
    a: str
    b: str
    want: str
    now: Comparison
    before: str

    @property
    def outcome(self) -> str:
        """``holds``, ``not shown`` or ``does not hold`` under the CI [L, U] of the difference:
        at least as good: L > −δ holds, U < −δ does not; higher: L > 0 holds, U < 0 does not;
        lower: the reverse."""
        low, high = self.now.difference.low, self.now.difference.high
        if self.want == "lower":
            low, high = -high, -low
        margin = self.now.margin if self.want == "at least" else 0.0
        return "holds" if low > -margin else "does not hold" if high < -margin else "not shown"

    @property
    def outcome_before(self) -> str:
        """The same under the rule this report used before issue 15."""
        if self.want == "at least":
            return "does not hold" if self.before == "lower" else "holds"
        other = "lower" if self.want == "higher" else "higher"
        return ("holds" if self.before == self.want else
                "does not hold" if self.before == other else "not shown")


def _overlap(a: Estimate, b: Estimate) -> str:
    """The rule before issue 15, kept only to list the verdicts that changed."""
    return "higher" if a.low > b.high else "lower" if a.high < b.low else "same (CIs overlap)"


def _check(r: Results, claim: str, a: tuple[str, str], b: tuple[str, str], part: str,
           want: str, share: float = 0.0) -> Check:
    """Method a[1] with teacher a[0] against b on ``part`` (early, late, auc)."""
    every = r.meta["seeds"]
    return Check(claim, a[1], b[1], want,
                 compare(r.scores(*a, part), r.scores(*b, part), share),
                 _overlap(iqm(r.scores(*a, part, every)), iqm(r.scores(*b, part, every))))


def _says(check: Check) -> str:
    """A one-method claim's verdict."""
    return {"holds": "agrees", "does not hold": "differs",
            "not shown": "not resolved (the CI of the difference contains 0)"}[check.outcome]


def _diff(check: Check) -> str:
    c = check.now
    return f"Δ IQM {c.difference}, Δ mean {fmt(c.mean_difference.point)}, P(A > B) " \
           f"{c.probability:.2f}"


def _no_harm_table(r: Results, claim: str, checks: list[Check]) -> str:
    """A no-harm claim's comparisons and every seed's score, B's first."""
    b = checks[0]
    rows = [f"**{NO_HARM[claim]}.** δ = {MARGINS[claim]:.0%} of B's IQM = "
            f"{fmt(b.now.margin)}; B = {b.b}, seeds {', '.join(map(str, r.seeds))}: "
            + ", ".join(fmt(x) for x in b.now.b[:, 0]) + ".", "",
            "| A | verdict | IQM(A) − IQM(B) [95% CI] | mean(A) − mean(B) [95% CI] | "
            "P(A > B) | runs below B's worst − δ | per seed |",
            "|---|---|---:|---:|---:|---:|---|"]
    rows += [f"| {c.a} | {c.now.verdict} | {c.now.difference} | {c.now.mean_difference} | "
             f"{c.now.probability:.2f} | {c.now.failed} of {len(c.now.a)} | "
             + ", ".join(fmt(x) for x in c.now.a[:, 0]) + " |" for c in checks]
    return "\n".join(rows)


LOWER = ("worse", "inferior")
NO_HARM = {"early": "Gated methods are at least as fast as RL + KL early",
           "late": "Gated methods are at least as good as RL alone late",
           "auc": "Gated methods are at least as good as RL alone over the run (AUC)",
           "harmful": "Harmful teacher: the gates stay near RL alone (AUC)"}
"""The no-harm claims, by the key of their margin in :data:`MARGINS`."""


def _changed_table(checks: list[Check]) -> str:
    rows = [f"| {c.claim} | {c.a} vs {c.b} | {c.before} | {c.now.verdict}, {_diff(c)} | "
            f"{c.outcome_before} → {c.outcome} |" for c in checks
            if c.outcome != c.outcome_before]
    return ("| claim | A vs B | before: CIs of A and B, seeds 1-10 | now: CI of A − B, "
            "evaluation seeds | claim for this method |\n|---|---|---|---|---|\n"
            + "\n".join(rows) if rows else "None.")


def report(task: ControlTask, figures: Path, record_path: Path | None = None
           ) -> tuple[str, list[Claim]]:
    """The task's section of docs/RESULTS.md and its claims."""
    record = Record(record_path or task.record)
    if not complete(task, record):
        done = len({k.rsplit("/", 2)[0] for k in record.curves})
        return (f"## {task.title}: an imperfect teacher, gated\n\nNot finished yet ({done} runs "
                f"recorded): `{task.command(10, task.steps)}` continues it.\n", [])
    r = Results(task, record)
    m, lam, steps, name = r.meta, r.meta["lam"], r.meta["steps"], task.name
    good_mean, good_std = r.teacher_score("good")
    harmful_mean, _ = r.teacher_score("harmful")
    baselines = ["rl_alone", "rl+kl", "kl_only", "kickstarting"]
    gates = ["rl_alone", "rl+kl", *GATED]
    at = passing_bin(np.nanmean(r.curves("good", "rl_alone"), axis=0), good_mean)
    passes = ("RL alone's mean return stays above the teacher's from the bin centred at "
              f"{r.x[at] / 1e3:.0f}k steps" if at is not None else
              "RL alone's mean return does not stay above the teacher's")
    _figure(r, figures / f"{name}_teacher_returns.png",
            [("baselines", "good", baselines, RETURN), ("gates", "good", gates, RETURN)],
            (good_mean, f"teacher {fmt(good_mean)}"))
    _figure(r, figures / f"{name}_teacher_gates.png",
            [("gate weight, good teacher", "good", list(GATED), "gate/weight"),
             ("gate cosine, good teacher", "good", list(GATED), "gate/cosine"),
             ("gate weight, harmful teacher", "harmful", list(HARMFUL_METHODS[2:]),
              "gate/weight")])
    _figure(r, figures / f"{name}_harmful_returns.png",
            [("harmful teacher", "harmful", ["rl_alone", *HARMFUL_METHODS], RETURN),
             ("uniform (uninformative) teacher", "uniform", ["rl_alone", *CONTROL_METHODS],
              RETURN)],
            (harmful_mean, f"harmful teacher {fmt(harmful_mean)}"))

    sweep_rows = ["| method | " + " | ".join(f"λ = {x:g}" for x in LAMS) + " |",
                  "|---|" + "---:|" * len(LAMS)]
    for method in SWEEP_METHODS:
        cells = []
        for x in LAMS:
            runs = record.runs("good", method, x, SWEEP_SEEDS)
            cells.append(f"{fmt(r.early(runs).mean())} / {fmt(r.late(runs).mean())}")
        sweep_rows.append(f"| {method} | " + " | ".join(cells) + " |")
    main_table, s = _table(r, "good", list(METHODS))
    harmful_table, h = _table(r, "harmful", ["rl_alone", *HARMFUL_METHODS])
    control_table, c = _table(r, "uniform", ["rl_alone", *CONTROL_METHODS])
    base_auc = s["rl_alone"]["auc"].point
    shares = []
    for method in CONTROL_METHODS:
        gain = s[method]["auc"].point - base_auc
        step_only = c[method]["auc"].point - base_auc
        shares.append(f"{method}: AUC gain over RL alone {gain:+.3g} with the teacher, "
                      f"{step_only:+.3g} with the uniform teacher"
                      + (f" → the teacher's share {1 - step_only / gain:.0%}." if gain > 0 else
                         " (no gain to attribute)."))

    harmful_gates = [g for g in HARMFUL_METHODS if g not in ("rl+kl", "kl_only")]
    no_harm = {
        claim: [_check(r, NO_HARM[claim], (teacher, g), ("good", versus), part, "at least",
                       MARGINS[claim]) for g in gated]
        for claim, teacher, gated, versus, part in (
            ("early", "good", GATED, "rl+kl", "early"), ("late", "good", GATED, "rl_alone", "late"),
            ("auc", "good", GATED, "rl_alone", "auc"),
            ("harmful", "harmful", harmful_gates, "rl_alone", "auc"))}
    helps = _check(r, "RL + KL helps early", ("good", "rl+kl"), ("good", "rl_alone"), "early",
                   "higher")
    behind = _check(r, "RL + KL falls behind RL alone later", ("good", "rl+kl"),
                    ("good", "rl_alone"), "late", "lower")
    dragged = _check(r, "Harmful teacher: RL + KL is dragged down below RL alone (AUC)",
                     ("harmful", "rl+kl"), ("good", "rl_alone"), "auc", "lower")
    why = _why(r, s, h, c, no_harm)
    kl_only_late = s["kl_only"]["late"]
    claims = [
        Claim("KL only plateaus near the teacher",
              f"KL only late {kl_only_late} vs teacher {fmt(good_mean)} ± {fmt(good_std)}",
              "agrees" if abs(kl_only_late.point - good_mean) <= good_std else "differs"),
        *(Claim(x.claim, f"{x.a} vs {x.b}: {_diff(x)} ({x.now.verdict})", _says(x))
          for x in (helps, behind, dragged)),
        *(Claim(NO_HARM[claim], f"Δ IQM vs {checks[0].b} (δ = {fmt(checks[0].now.margin)}): "
                + "; ".join(f"{x.a} {x.now.difference} {x.now.verdict}" for x in checks),
                _all(checks), " ".join(why[claim])) for claim, checks in no_harm.items())]
    claim_rows = "\n".join(f"| {c.text} | {c.measured} | {c.verdict} |" for c in claims)
    why_items = [w for part in NO_HARM for w in why[part]]
    per_seed = "\n\n".join(_no_harm_table(r, claim, x) for claim, x in no_harm.items())
    changed = _changed_table([helps, behind, dragged, *(x for v in no_harm.values() for x in v)])
    sweep, evaluated = ", ".join(map(str, SWEEP_SEEDS)), ", ".join(map(str, r.seeds))
    command = task.command(len(m["seeds"]), steps)  # today's, which continues it
    text = f"""## {task.title}: an imperfect teacher, gated

Made by `{command}` ({m["hardware"]}). {task.settings}, `gate.reference=policy`;
{steps:,} agent steps per run, λ = {lam:g}, chosen by the sweep below on seeds {sweep}; every
number below except the sweep's is on the other seeds, {evaluated} ({len(r.seeds)} runs per
method), so that no seed both chooses λ and evaluates it. Teacher
`{task.teachers["good"]}`: {fmt(good_mean)} ± {fmt(good_std)} ({task.good_note}); {passes}.
Kickstarting: λ decays linearly to 0 over the first half. EMA: α = 0.01. Early = mean
episodic return over the first {EARLY:.0%} of the steps, late = over the last {LATE:.0%},
AUC = over the whole run; each cell is the IQM over runs with its 95% stratified-bootstrap CI
(rliable), then the mean over runs. Gate weight, cosine and teacher KL: mean over runs of
the early and late means (–: not logged).

### λ sweep

RL + KL and cosine at each λ, seeds {", ".join(map(str, SWEEP_SEEDS))}: mean over seeds of the
early / late return. λ = {lam:g} is where RL + KL's early return is highest, i.e. where the
teacher matters most.

{chr(10).join(sweep_rows)}

### Good-but-imperfect teacher

![{task.title} returns](figures/{name}_teacher_returns.png)

{main_table}

![gate diagnostics](figures/{name}_teacher_gates.png)

**The teacher's influence as the student passes it.** For each method with a teacher, the bin
from which its mean return stays above the teacher's {fmt(good_mean)}, and the mean gate
weight (share of λ·g_KL applied), gate cosine and teacher KL before → after that bin:

{_influence_table(r, good_mean)}

### Harmful teacher and the uninformative control

`{task.teachers["harmful"]}` ({fmt(harmful_mean)} points: {task.harmful_note}) and
`{task.teachers["uniform"]}` (the uniform policy: KL to it carries no information about the
task).

![harmful and control](figures/{name}_harmful_returns.png)

{harmful_table}

**Control for Projection's extra step.** When ⟨g_aux, ref⟩ < 0, Projection adds λ·|c|·ref, a
step along the (EMA of the) main gradient. With the uniform teacher that step is all a gate
can add:

{control_table}

{chr(10).join("- " + x for x in shares)}

### Claims

A claim compares method A with B by the 95% stratified-bootstrap CI [L, U] of
IQM(A) − IQM(B) (rliable, A's and B's runs resampled independently;
`scripts/experiments/aggregate.py`): "A is at least as good as B" holds when L > −δ
(non-inferior, or better when L > 0), with δ a stated share of B's IQM (early return against
RL + KL {MARGINS["early"]:.0%}, late return and AUC against RL alone {MARGINS["late"]:.0%},
AUC with the harmful teacher against RL alone {MARGINS["harmful"]:.0%}); "A is higher" needs
L > 0 and "A is lower" U < 0. Verdicts: better (L > 0), non-inferior (L > −δ), inferior
(U < −δ), worse (U < 0), inconclusive (otherwise). Overlapping CIs of A and B decide nothing.
Beside the IQM difference: the difference of means and rliable's probability of improvement
P(A > B).

| claim | measured | verdict |
|---|---|---|
{claim_rows}

### Every seed of the no-harm claims

"runs below B's worst − δ" counts the runs of A that fail where every run of B succeeds: the
IQM trims the lowest quarter of the runs and can hide them.

{per_seed}

### Verdicts that changed

The claims above under the rule this report used before (A's and B's own 95% CIs on seeds
1-{len(m["seeds"])}: "higher" / "lower" when apart, "same (CIs overlap)" otherwise, which counted as
"at least as good"), against the rule above on seeds {evaluated}, for each method whose
outcome differs (holds / not shown / does not hold):

{changed}

### Why some claims differ

{chr(10).join("- " + w for w in why_items) or "All claims above agree."}
"""
    return text, claims


def _all(checks: list[Check]) -> str:
    """A claim over several methods: agrees when it holds for each, else for which it does
    not hold and for which it is not shown."""
    parts = [f"{head} " + ", ".join(f"{x.a} ({x.now.verdict})" for x in checks
                                    if x.outcome == outcome)
             for head, outcome in (("differs for", "does not hold"),
                                   ("not shown for", "not shown"))
             if any(x.outcome == outcome for x in checks)]
    return "; ".join(parts) or "agrees"


def _why(r: Results, s: dict, h: dict, c: dict, no_harm: dict[str, list[Check]]
         ) -> dict[str, list[str]]:
    """Explanations, from the gates' statistics, of the gated methods shown lower (verdict
    worse or inferior) in a no-harm claim: slower than RL + KL early ("early"), below RL alone
    late ("late") and below it with the harmful teacher ("harmful"); none for the AUC."""
    lower = {claim: [x.a for x in checks if x.now.verdict in LOWER]
             for claim, checks in no_harm.items()}
    why: dict[str, list[str]] = {claim: [] for claim in NO_HARM}
    for g in lower["early"]:
        weight = r.mean("good", g, "gate/weight", "early")
        cosine = r.mean("good", g, "gate/cosine", "early")
        against = ("the EMA of the main gradient" if g.endswith("_ema") else
                   "each minibatch's main gradient")
        why["early"].append(
            f"{g} is slower than RL + KL early: it passes on average {fmt(weight)} of "
            f"λ·g_KL's norm over the first {EARLY:.0%} (RL + KL: 1), its cosine with "
            f"{against} being {cosine:+.2f} on average there: "
            + ("the teacher's gradient mostly disagrees with PPO's even while the teacher is "
               "ahead." if cosine < 0 else
               "the two agree on average, but the gate still drops the part of g_KL that "
               "conflicts on each step."))
    for g in lower["late"]:
        cosine = r.mean("good", g, "gate/cosine", "late")
        text = (f"{g} ends below RL alone ({fmt(s[g]['late'].point)} vs "
                f"{fmt(s['rl_alone']['late'].point)}): its late cosine is {cosine:+.2f} and it "
                f"still applies {fmt(r.mean('good', g, 'gate/weight', 'late'))} of λ·g_KL's "
                "norm, which keeps pulling the policy towards the teacher it has passed")
        if g in c:
            text += (f"; with the uniform teacher (no information) the same gate's AUC is "
                     f"{fmt(c[g]['auc'].point)} against RL alone's "
                     f"{fmt(s['rl_alone']['auc'].point)}")
        why["late"].append(text + ".")
    for g in lower["harmful"]:
        weight = r.mean("harmful", g, "gate/weight", "early")
        head = (f"With the harmful teacher {g} falls below RL alone (AUC "
                f"{fmt(h[g]['auc'].point)} vs {fmt(s['rl_alone']['auc'].point)}): ")
        if g.startswith("cosine"):
            why["harmful"].append(
                head + f"it still passes {fmt(weight)} of λ·g_KL early, its cosine being "
                f"{r.mean('harmful', g, 'gate/cosine', 'early'):+.2f} on average: on many noisy "
                "minibatches the harmful teacher's gradient happens to agree with PPO's.")
        else:
            why["harmful"].append(
                head + f"it keeps the part of g_KL orthogonal to the main gradient "
                f"({fmt(weight)} of λ·g_KL's norm early), and that part still pulls the policy "
                "towards the harmful teacher in directions PPO's loss is locally indifferent "
                "to: a per-step conflict test cannot see harm that builds up there.")
    return why
