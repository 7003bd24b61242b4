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
import os
import platform
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from aggregate import Estimate, compare, iqm, iqm_curve, plot_iqm_curves
from common import RunSpec, binned, finished, run_all

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


def planned_runs(steps: int, seeds: list[int], lam: float) -> list[RunSpec]:
    """The main, harmful and control runs at the sweep's lambda."""
    runs = [spec("good", m, lam, seed, steps) for m in METHODS for seed in seeds]
    runs += [spec("harmful", m, lam, seed, steps) for m in HARMFUL_METHODS for seed in seeds]
    return runs + [spec("uniform", m, lam, seed, steps) for m in CONTROL_METHODS
                   for seed in seeds]


def sweep_runs(steps: int) -> list[RunSpec]:
    return [spec("good", m, lam, seed, steps) for lam in LAMS for m in SWEEP_METHODS
            for seed in SWEEP_SEEDS]


def complete(runs_dir: Path, steps: int, seeds: list[int], lam: float) -> bool:
    """Whether every run of the experiment has finished in ``runs_dir``."""
    return all(finished(runs_dir / r.name)
               for r in sweep_runs(steps) + planned_runs(steps, seeds, lam))


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
            "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch "
                        f"{torch.__version__}, one torch thread per run",
            "command": f"python scripts/experiments/cartpole_teacher.py --seeds {len(seeds)} "
                       f"--steps {steps}"}
    np.savez_compressed(out, meta=np.array(json.dumps(meta)),
                        **extract(runs_dir, steps, seeds, lam))


class Extract:
    """The binned curves of :func:`write_extract`, with per-run summaries."""

    def __init__(self, path: Path) -> None:
        data = np.load(path)
        self.meta = json.loads(str(data["meta"]))
        self.arrays = {k: data[k] for k in data.files if k != "meta"}
        bins, steps = self.meta["bins"], self.meta["steps"]
        self.x = (np.arange(bins) + 0.5) * steps / bins
        self.early_bins = int(bins * self.meta["early"])
        self.late_bins = int(bins * self.meta["late"])

    def curves(self, teacher: str, method: str, lam: float | None = None,
               tag: str = "charts/episodic_return") -> np.ndarray:
        lam = self.meta["lam"] if lam is None else lam
        return self.arrays[f"{teacher}/{method}/{lam:g}/{tag}"]

    def early(self, curves: np.ndarray) -> np.ndarray:
        return np.nanmean(curves[:, : self.early_bins], axis=1)

    def late(self, curves: np.ndarray) -> np.ndarray:
        return np.nanmean(curves[:, -self.late_bins:], axis=1)

    def summary(self, teacher: str, method: str) -> dict[str, Estimate]:
        """IQM [95% CI] of the early, late and whole-run (AUC) mean return."""
        runs = self.curves("good" if method == "rl_alone" else teacher, method)
        return {"early": iqm(self.early(runs)), "late": iqm(self.late(runs)),
                "auc": iqm(np.nanmean(runs, axis=1))}

    def gate_trend(self, teacher: str, method: str, tag: str) -> str:
        runs = self.curves(teacher, method, tag=tag)
        if np.isnan(runs).all():
            return "–"
        return f"{np.nanmean(self.early(runs)):.2f} → {np.nanmean(self.late(runs)):.2f}"


def _teacher_score(name: str) -> tuple[float, float]:
    score = json.loads((ROOT / TEACHERS[name] / "teacher.json").read_text())["score"]
    return score["mean"], score["std"]


def _table(e: Extract, teacher: str, methods: list[str]) -> tuple[str, dict]:
    header = ("| method | early return | late return | AUC (mean return) | gate weight, "
              "early → late | gate cosine, early → late | teacher KL, early → late |\n"
              "|---|---:|---:|---:|---:|---:|---:|")
    rows, summaries = [header], {}
    for m in methods:
        summaries[m] = s = e.summary(teacher, m)
        source = "good" if m == "rl_alone" else teacher
        rows.append(f"| {m} | {s['early']} | {s['late']} | {s['auc']} | "
                    f"{e.gate_trend(source, m, 'gate/weight')} | "
                    f"{e.gate_trend(source, m, 'gate/cosine')} | "
                    f"{e.gate_trend(source, m, 'losses/teacher_kl')} |")
    return "\n".join(rows), summaries


def _figure(e: Extract, path: Path, panels: list[tuple[str, str, list[str], str]],
            teacher_line: tuple[float, str] | None = None) -> None:
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, teacher, methods, tag) in zip(axes[0], panels, strict=True):
        plot_iqm_curves(ax, e.x / 1e3, {m: e.curves("good" if m == "rl_alone" else teacher, m,
                                                     tag=tag) for m in methods})
        if teacher_line and tag == "charts/episodic_return":
            ax.axhline(teacher_line[0], color="k", ls=":", label=teacher_line[1])
        ax.set(title=title, xlabel="agent steps (thousands)", ylabel=tag)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(extract: Path, figures: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The CartPole section of docs/RESULTS.md and its claims (claim, measured, verdict)."""
    e = Extract(extract)
    m = e.meta
    lam, steps = m["lam"], m["steps"]
    good_mean, good_std = _teacher_score("good")
    harmful_mean, _ = _teacher_score("harmful")
    ret = "charts/episodic_return"
    baselines = ["rl_alone", "rl+kl", "kl_only", "kickstarting"]
    gates = ["rl_alone", "rl+kl", "cosine", "cosine_unweighted", "cosine_ema", "projection",
             "projection_ema", "orthogonal"]
    teacher_label = f"teacher {good_mean:.0f}"
    rl_curve = iqm_curve(e.curves("good", "rl_alone"))[0]
    above = np.nonzero(rl_curve > good_mean)[0]
    passes = (f"RL alone's IQM curve passes the teacher's score in the bin centred at "
              f"{e.x[above[0]] / 1e3:.0f}k steps" if above.size else
              "RL alone's IQM curve never passes the teacher's score")
    _figure(e, figures / "cartpole_teacher_returns.png",
            [("baselines", "good", baselines, ret), ("gates", "good", gates, ret)],
            (good_mean, teacher_label))
    _figure(e, figures / "cartpole_teacher_gates.png",
            [("gate weight, good teacher", "good", gates[2:], "gate/weight"),
             ("gate cosine, good teacher", "good", gates[2:], "gate/cosine"),
             ("gate weight, harmful teacher", "harmful", list(HARMFUL_METHODS[2:]),
              "gate/weight")])
    _figure(e, figures / "cartpole_harmful_returns.png",
            [("harmful teacher", "harmful", ["rl_alone", *HARMFUL_METHODS], ret),
             ("uniform (uninformative) teacher", "uniform",
              ["rl_alone", *CONTROL_METHODS], ret)],
            (harmful_mean, f"harmful teacher {harmful_mean:.0f}"))

    sweep_rows = ["| method | " + " | ".join(f"λ = {x:g}" for x in m["lams"]) + " |",
                  "|---|" + "---:|" * len(m["lams"])]
    for method in SWEEP_METHODS:
        cells = []
        for x in m["lams"]:
            runs = e.curves("good", method, x)
            cells.append(f"{e.early(runs).mean():.0f} / {e.late(runs).mean():.0f}")
        sweep_rows.append(f"| {method} | " + " | ".join(cells) + " |")
    main_table, s = _table(e, "good", list(METHODS))
    harmful_table, h = _table(e, "harmful", ["rl_alone", *HARMFUL_METHODS])
    control_table, c = _table(e, "uniform", ["rl_alone", *CONTROL_METHODS])
    shares = []
    for method in CONTROL_METHODS:
        gain = s[method]["auc"].point - s["rl_alone"]["auc"].point
        step_only = c[method]["auc"].point - s["rl_alone"]["auc"].point
        share = (1 - step_only / gain) if gain > 0 else float("nan")
        shares.append(f"{method}: AUC gain over RL alone {gain:+.1f} with the teacher, "
                      f"{step_only:+.1f} with the uniform teacher"
                      + (f" → the teacher's share {share:.0%}" if gain > 0 else
                         " (no gain to attribute)"))

    gated = ["cosine", "cosine_unweighted", "cosine_ema", "projection", "projection_ema",
             "orthogonal"]

    def verdict(ok: bool | None) -> str:
        return {True: "agrees", False: "differs", None: "not resolved (CIs overlap)"}[ok]

    def side(a: Estimate, b: Estimate, want: str) -> bool | None:
        got = compare(a, b)
        return None if got == "overlapping CIs" else got == want

    def at_least(a: Estimate, b: Estimate) -> str:
        return compare(a, b).replace("overlapping CIs", "same (CIs overlap)")

    kl_only_late = s["kl_only"]["late"]
    claims = [
        ("KL only plateaus near the teacher",
         f"KL only late {kl_only_late} vs teacher {good_mean:.1f} ± {good_std:.1f}",
         verdict(abs(kl_only_late.point - good_mean) <= good_std)),
        ("RL + KL helps early",
         f"early: RL + KL {s['rl+kl']['early']} vs RL alone {s['rl_alone']['early']}",
         verdict(side(s["rl+kl"]["early"], s["rl_alone"]["early"], "higher"))),
        ("RL + KL falls behind RL alone later",
         f"late: RL + KL {s['rl+kl']['late']} vs RL alone {s['rl_alone']['late']}",
         verdict(side(s["rl+kl"]["late"], s["rl_alone"]["late"], "lower"))),
    ]
    early_cmp = {g: at_least(s[g]["early"], s["rl+kl"]["early"]) for g in gated}
    late_cmp = {g: at_least(s[g]["late"], s["rl_alone"]["late"]) for g in gated}
    claims.append(("Gated methods are at least as fast as RL + KL early",
                   "; ".join(f"{g} {s[g]['early'].point:.0f} ({early_cmp[g]})" for g in gated)
                   + f"; RL + KL {s['rl+kl']['early'].point:.0f}",
                   "agrees" if all(v != "lower" for v in early_cmp.values()) else
                   "differs for " + ", ".join(g for g, v in early_cmp.items() if v == "lower")))
    claims.append(("Gated methods are at least as good as RL alone late",
                   "; ".join(f"{g} {s[g]['late'].point:.0f} ({late_cmp[g]})" for g in gated)
                   + f"; RL alone {s['rl_alone']['late'].point:.0f}",
                   "agrees" if all(v != "lower" for v in late_cmp.values()) else
                   "differs for " + ", ".join(g for g, v in late_cmp.items() if v == "lower")))
    harmful_gates = [g for g in HARMFUL_METHODS if g not in ("rl+kl", "kl_only")]
    dragged = side(h["rl+kl"]["auc"], s["rl_alone"]["auc"], "lower")
    near = {g: at_least(h[g]["auc"], s["rl_alone"]["auc"]) for g in harmful_gates}
    below = [g for g, v in near.items() if v == "lower"]
    kept = [g for g in harmful_gates if g not in below]
    harmful_verdict = verdict(dragged) if dragged is not True or not below else (
        f"partly: {', '.join(kept) or 'none'} stay near RL alone, {', '.join(below)} fall "
        "below it")
    claims.append(("Harmful teacher: RL + KL is dragged down, the gates stay near RL alone",
                   f"AUC: RL alone {s['rl_alone']['auc'].point:.0f}, RL + KL "
                   f"{h['rl+kl']['auc'].point:.0f}; "
                   + "; ".join(f"{g} {h[g]['auc'].point:.0f} ({near[g]})"
                               for g in harmful_gates), harmful_verdict))
    claim_rows = "\n".join(f"| {a} | {b} | {v} |" for a, b, v in claims)

    def mean_gate(teacher: str, method: str, tag: str, part: str) -> float:
        runs = e.curves(teacher, method, tag=tag)
        return float(np.nanmean(e.early(runs) if part == "early" else e.late(runs)))

    why = [f"{g} is slower than RL + KL early: it passes on average "
           f"{mean_gate('good', g, 'gate/weight', 'early'):.2f} of λ·g_KL over the first "
           f"{m['early']:.0%} (RL + KL: 1), its cosine with "
           + ("the EMA of the main gradient" if g.endswith("_ema") else
              "each minibatch's main gradient")
           + f" being {mean_gate('good', g, 'gate/cosine', 'early'):+.2f} on average there: the "
           "teacher's gradient does not agree with PPO's even while the teacher is ahead."
           for g in gated if early_cmp[g] == "lower"]
    why += [f"{g} ends below RL alone: against the EMA its cosine is "
            f"{mean_gate('good', g, 'gate/cosine', 'late'):+.2f} late, so it projects most of "
            f"g_KL away and adds λ·|c|·ref along the EMA; with the uniform teacher (no "
            f"information) the same gate's AUC is {c[g]['auc'].point:.0f} against RL alone's "
            f"{s['rl_alone']['auc'].point:.0f}: here the extra step costs rather than helps."
            if g in c else f"{g} ends below RL alone."
            for g in gated if late_cmp[g] == "lower"]
    for g in (g for g in harmful_gates if near[g] == "lower"):
        weight = mean_gate("harmful", g, "gate/weight", "early")
        head = (f"With the harmful teacher {g} falls below RL alone (AUC "
                f"{h[g]['auc'].point:.0f} vs {s['rl_alone']['auc'].point:.0f}): ")
        if g.startswith("cosine"):
            why.append(head + f"it still passes {weight:.2f} of λ·g_KL early, as the "
                       "per-minibatch cosine "
                       f"({mean_gate('harmful', g, 'gate/cosine', 'early'):+.2f} on average) is "
                       "positive on many noisy minibatches; against the EMA, cosine passes "
                       f"{mean_gate('harmful', 'cosine_ema', 'gate/weight', 'early'):.2f}.")
        else:
            why.append(head + f"it keeps the part of g_KL orthogonal to the main gradient "
                       f"({weight:.2f} of λ·g_KL's norm early), and that part still pulls the "
                       "policy towards the harmful teacher in directions PPO's loss is locally "
                       "indifferent to: a per-step conflict test cannot see harm that builds "
                       "up there.")
    text = f"""## CartPole: an imperfect teacher, gated

Made by `{m["command"]}` ({m["hardware"]}). PPO with `configs/cartpole.yaml` (8 envs x 32
steps, 20 epochs, lr 1e-3 annealed, shared 64-64 tanh torso, `gate.reference=policy`),
{steps:,} agent steps per run, seeds 1-{len(m["seeds"])} for every method
({len(m["seeds"])} runs each), λ = {lam:g} (chosen by the sweep below). Teacher
`{TEACHERS["good"]}`: {good_mean:.1f} ± {good_std:.1f} (PPO stopped at 36,864 steps; PPO
alone reaches 500); {passes}. Kickstarting: λ decays linearly to 0 over the first
half. EMA: α = 0.01. Early = mean episodic return over the first {m["early"]:.0%} of the
steps, late = over the last {m["late"]:.0%}, AUC = over the whole run; each cell is the IQM
over runs with its 95% stratified-bootstrap CI (rliable). Gate weight, cosine and teacher KL:
mean over runs of the early and late means (–: not logged).

### λ sweep

RL + KL and cosine at each λ, seeds {", ".join(map(str, m["sweep_seeds"]))}: mean over seeds of
the early / late return. λ = {lam:g} is where RL + KL's early return is highest, i.e. where the
teacher matters most.

{chr(10).join(sweep_rows)}

### Good-but-imperfect teacher

![CartPole returns](figures/cartpole_teacher_returns.png)

{main_table}

![gate diagnostics](figures/cartpole_teacher_gates.png)

### Harmful teacher and the uninformative control

`{TEACHERS["harmful"]}` ({harmful_mean:.1f} points: pushes right wherever x > 0) and
`{TEACHERS["uniform"]}` (the uniform policy: KL to it carries no information about the task).

![harmful and control](figures/cartpole_harmful_returns.png)

{harmful_table}

**Control for Projection's extra step.** When ⟨g_aux, ref⟩ < 0, Projection adds λ·|c|·ref, a
step along the (EMA of the) main gradient. With the uniform teacher that step is all a gate
can add:

{control_table}

{chr(10).join("- " + x for x in shares)}.

### Claims

| claim | measured | verdict |
|---|---|---|
{claim_rows}

### Why some claims differ

{chr(10).join("- " + w for w in why) or "All claims above agree."}
"""
    return text, claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=100_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--runs-dir", type=Path, default=RUNS)
    parser.add_argument("--out", type=Path, default=EXTRACT)
    args = parser.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    run_all(sweep_runs(args.steps), args.runs_dir, args.workers)
    lam = choose_lam(args.runs_dir, args.steps)
    print(f"lambda from the sweep: {lam:g}", flush=True)
    run_all(planned_runs(args.steps, seeds, lam), args.runs_dir, args.workers)
    write_extract(args.runs_dir, args.out, args.steps, seeds, lam)
    print(f"wrote {args.out}; python scripts/make_report.py turns it into docs/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
