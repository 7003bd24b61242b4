"""Tran-Thien (2020), Experiment 2 (Section 4.4, B.3, Figures 5 and 11): synthetic regression.

Main task ``tanh(B_main x)``, auxiliary task ``tanh(B_aux x)`` with ``B_aux`` the same, similar
or unrelated (:mod:`rl_auxgrad.supervised.synthetic`); test MSE on the main task for each gate
and ``λ``, over seeds. Runs are appended to ``<out-dir>/supervised/<stem>_runs.csv`` as they
finish and skipped when rerun (resumable); the figure and the markdown report are regenerated
from that file.

    python -m scripts.synthetic_regression [--seeds 5] [--workers 2] [--quick] [--out-dir docs]
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from rl_auxgrad.supervised import synthetic
from rl_auxgrad.supervised.runlog import command, log_invocation, wall_time
from rl_auxgrad.supervised.trainer import TrainConfig, mean_ci95, train
from scripts.claims import Claim, bullet, write_claims

METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "single": ("single", {}),
    "multitask": ("multitask", {}),
    "cosine": ("cosine", {}),
    "projection": ("projection", {}),
    "projection_ema": ("projection", {"ema": 0.01}),
    "orthogonal": ("orthogonal", {}),
}
STYLES: dict[str, dict[str, Any]] = {
    "single": dict(ls="--"),
    "multitask": dict(marker="o", ms=8),
    "cosine": dict(marker="^"),
    "projection": dict(marker="s", ls=":", ms=5),
    "projection_ema": dict(marker="D", ms=5),
    "orthogonal": dict(marker="v"),
}
LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0)
QUICK_LAMBDAS = (0.1, 10.0)
FIELDS = ("seed", "aux", "method", "lam", "test_mse", "best_epoch", "epochs", "max_epochs",
          "mean_cosine", "mean_weight", "seconds")
NONE = "-"
"""``aux`` and ``lam`` of the single-task runs, which use neither."""


@dataclass(frozen=True)
class Job:
    seed: int
    aux: str
    method: str
    lam: float | None
    max_epochs: int

    @property
    def key(self) -> tuple[int, str, str, str]:
        return self.seed, self.aux, self.method, NONE if self.lam is None else f"{self.lam:g}"


def run(job: Job) -> dict[str, Any]:
    """Trains one configuration; the single-task run uses the "same" data (its aux is unused)."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    gate, options = METHODS[job.method]
    data = synthetic.make_data(job.seed, "same" if job.aux == NONE else job.aux)  # type: ignore[arg-type]
    config = TrainConfig(gate=gate, lam=1.0 if job.lam is None else job.lam, gate_options=options,
                         batch_size=100, lr=1e-3, patience=10, max_epochs=job.max_epochs,
                         seed=job.seed)
    result = train(synthetic.make_model, data, synthetic.mse, config)
    seed, aux, method, lam = job.key
    return dict(seed=seed, aux=aux, method=method, lam=lam, test_mse=result.test_loss,
                best_epoch=result.best_epoch, epochs=result.epochs, max_epochs=job.max_epochs,
                mean_cosine=float(np.mean(result.history["cosine"])),
                mean_weight=float(np.mean(result.history["weight"])),
                seconds=time.perf_counter() - start)


def jobs(seeds: list[int], lambdas: tuple[float, ...], max_epochs: int) -> list[Job]:
    out = []
    for seed in seeds:
        out.append(Job(seed, NONE, "single", None, max_epochs))
        out += [Job(seed, aux, method, lam, max_epochs) for aux in synthetic.AUX_KINDS
                for method in METHODS if method != "single" for lam in lambdas]
    return out


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["seed"] = int(row["seed"])
        for name in ("test_mse", "mean_cosine", "mean_weight", "seconds"):
            row[name] = float(row[name])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, λ in {0.1, 10}, 20 epochs; files named *_quick*")
    parser.add_argument("--out-dir", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    stem = "synthetic_regression" + ("_quick" if args.quick else "")
    seeds = list(range(1 if args.quick else args.seeds))
    lambdas = QUICK_LAMBDAS if args.quick else LAMBDAS
    max_epochs = 20 if args.quick else args.max_epochs
    runs_path = args.out_dir / "supervised" / f"{stem}_runs.csv"
    runs_path.parent.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    done = {(r["seed"], r["aux"], r["method"], r["lam"]) for r in load(runs_path)}
    todo = [job for job in jobs(seeds, lambdas, max_epochs) if job.key not in done]
    print(f"{len(done)} runs in {runs_path}, {len(todo)} to go", flush=True)
    new_file = not runs_path.exists()
    with runs_path.open("a", newline="") as f, multiprocessing.get_context("spawn").Pool(
            args.workers) as pool:
        writer = csv.DictWriter(f, FIELDS)
        if new_file:
            writer.writeheader()
        for i, row in enumerate(pool.imap_unordered(run, todo), 1):
            writer.writerow(row)
            f.flush()
            print(f"[{i}/{len(todo)}] {row['seed']} {row['aux']} {row['method']} "
                  f"λ={row['lam']}: MSE {row['test_mse']:.4f}, {row['epochs']} epochs, "
                  f"{row['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - start
    invocations = log_invocation(runs_path.with_name(f"{stem}_invocations.jsonl"), wall,
                                 len(todo), args.workers)

    wanted = {job.key for job in jobs(seeds, lambdas, max_epochs)}
    rows = [r for r in load(runs_path) if (r["seed"], r["aux"], r["method"], r["lam"]) in wanted]
    figure = args.out_dir / "figures" / f"{stem}.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, lambdas, figure)
    report = args.out_dir / "supervised" / f"{stem}.md"
    found = claims(rows, lambdas)
    write_claims(report.with_name(f"{stem}_claims.json"), found)
    report.write_text(markdown(rows, lambdas, seeds, max_epochs, invocations, args.workers,
                               runs_path, figure, report, found))
    print(f"wrote {figure}, {report} and its claims ({wall:.0f} s)")


def values(rows: list[dict[str, Any]], aux: str, method: str, lam: float | None
           ) -> dict[int, float]:
    """Test MSE by seed of one configuration."""
    if method == "single":
        aux, lam = NONE, None
    lam_key = NONE if lam is None else f"{lam:g}"
    return {r["seed"]: r["test_mse"] for r in rows
            if (r["aux"], r["method"], r["lam"]) == (aux, method, lam_key)}


def summary(rows: list[dict[str, Any]], aux: str, method: str, lam: float | None
            ) -> tuple[float, float, int]:
    v = values(rows, aux, method, lam)
    return (*mean_ci95(list(v.values())), len(v))


def paired(rows: list[dict[str, Any]], aux: str, a: str, b: str, lam: float,
           lam_b: float | None = None) -> tuple[float, float, float]:
    """Mean of the per-seed difference ``MSE(a, lam) - MSE(b, lam_b)`` (``lam_b`` defaults to
    ``lam``) and its 95% t-interval ``(lo, hi)``."""
    va, vb = values(rows, aux, a, lam), values(rows, aux, b, lam if lam_b is None else lam_b)
    diff = [va[s] - vb[s] for s in sorted(va.keys() & vb.keys())]
    mean, half = mean_ci95(diff)
    return mean, mean - half, mean + half


def plot(rows: list[dict[str, Any]], lambdas: tuple[float, ...], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    x = np.array(lambdas)
    for ax, aux in zip(axes, synthetic.AUX_KINDS, strict=True):
        for k, method in enumerate(METHODS):
            stats = np.array([summary(rows, aux, method, lam)[:2] for lam in lambdas])
            mean, half = stats[:, 0], np.nan_to_num(stats[:, 1])
            color = "black" if method == "single" else f"C{k}"
            ax.plot(x, mean, label=method, color=color, **STYLES[method])
            ax.fill_between(x, mean - half, mean + half, alpha=0.15, color=color)
        ax.set_xscale("log")
        ax.set_xlabel("λ")
        ax.set_title(f"aux task: {aux}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("main-task test MSE (mean, 95% t-CI)")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Synthetic regression (Tran-Thien 2020, Exp. 2): y = tanh(Bx)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(mean: float, half: float) -> str:
    return f"{mean:.4f} ± {half:.4f}" if math.isfinite(half) else f"{mean:.4f}"


def _diff(d: tuple[float, float, float]) -> str:
    return f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"


def _lams(ls: list[float]) -> str:
    return "{" + ", ".join(f"{x:g}" for x in ls) + "}" if ls else "no λ"


def claims(rows: list[dict[str, Any]], lambdas: tuple[float, ...]) -> list[Claim]:
    """Paper's qualitative claims, each checked with per-seed paired differences."""
    def worse(aux: str, a: str, b: str) -> list[float]:
        return [lam for lam in lambdas if paired(rows, aux, a, b, lam)[1] > 0]

    def better(aux: str, a: str, b: str) -> list[float]:
        return [lam for lam in lambdas if paired(rows, aux, a, b, lam)[2] < 0]

    def ema_rarely_acts(aux: str) -> str:
        """Why projection with EMA behaves like multitask: it rarely finds a conflict."""
        return (f" Projection with EMA kept on average "
                f"{gate_mean(rows, aux, 'projection_ema', 'mean_weight'):.3f} of λ g_aux on the "
                f"{aux} aux (its cosine against the EMA being "
                f"{gate_mean(rows, aux, 'projection_ema', 'mean_cosine'):+.3f}), so its update "
                f"is nearly multitask's (see \"Why projection rarely acts here\").")

    top = lambdas[-1]
    out = []
    harm = worse("unrelated", "multitask", "single")
    mt_top = paired(rows, "unrelated", "multitask", "single", top)
    out.append(Claim(
        "Unrelated aux hurts multitask at large λ",
        f"(paper: detrimental for λ ≥ 0.3). Multitask is significantly worse than single task "
        f"at λ ∈ {_lams(harm)}; at λ = {top:g} by {_diff(mt_top)} MSE.",
        *(("agrees", "") if top in harm else ("differs", "Does not hold at the largest λ."))))
    ema_gap = [paired(rows, "unrelated", "projection_ema", "single", lam) for lam in lambdas]
    mt_gap = [paired(rows, "unrelated", "multitask", "single", lam) for lam in lambdas]
    single = summary(rows, "unrelated", "single", None)[0]
    worst_ema, worst_mt = max(d[0] for d in ema_gap), max(d[0] for d in mt_gap)
    out.append(Claim(
        "Projection with EMA (α = 0.01) stays close to single task on the unrelated aux",
        f"Its worst mean gap to single task over λ is {worst_ema:+.4f} MSE "
        f"({100 * worst_ema / single:+.1f}% of single task's {single:.4f}), against "
        f"{worst_mt:+.4f} ({100 * worst_mt / single:+.1f}%) for multitask.",
        *(("agrees", "Holds (less than half of multitask's worst gap).")
          if worst_ema < worst_mt / 2 else
          ("differs", "Does not hold (not less than half of multitask's worst gap)."
           + ema_rarely_acts("unrelated")))))
    same_help = better("same", "multitask", "single")
    out.append(Claim(
        "Identical aux helps at all λ",
        f"(multitask and projection). Multitask is significantly better than single task at "
        f"λ ∈ {_lams(same_help)}, projection at "
        f"λ ∈ {_lams(better('same', 'projection', 'single'))}.",
        *(("agrees", "") if len(same_help) == len(lambdas) else ("differs", "")
          if not same_help else ("partly", "Holds only at the λ listed."))))
    sim_help, sim_harm = better("similar", "multitask", "single"), worse("similar", "multitask",
                                                                          "single")
    small, large = {lam for lam in lambdas if lam <= 1}, {lam for lam in lambdas if lam >= 3}
    out.append(Claim(
        "Similar aux helps for λ ≤ 1, neutral or harmful for λ ≥ 3",
        f"Multitask is significantly better than single task at λ ∈ {_lams(sim_help)} and "
        f"significantly worse at λ ∈ {_lams(sim_harm)}.",
        "agrees" if small <= set(sim_help) and not large & set(sim_help) else
        "partly" if small & set(sim_help) else "differs"))
    seeds = sorted({r["seed"] for r in rows})
    choose, judge = seeds[: len(seeds) // 2], seeds[len(seeds) // 2:]
    chosen_on = [r for r in rows if r["seed"] in choose]
    judged_on = [r for r in rows if r["seed"] in judge]
    for aux in ("same", "similar"):
        ema_better = better(aux, "projection_ema", "multitask")
        ema_worse = worse(aux, "projection_ema", "multitask")
        best = {m: min(lambdas, key=lambda lam, m=m: summary(chosen_on, aux, m, lam)[0])
                for m in ("projection_ema", "multitask")}
        at_best = paired(judged_on, aux, "projection_ema", "multitask", best["projection_ema"],
                         best["multitask"])
        out.append(Claim(
            f"Projection with EMA beats multitask ({aux} aux)",
            f"(paper: markedly better). Significantly lower MSE at λ ∈ {_lams(ema_better)}, "
            f"significantly higher at λ ∈ {_lams(ema_worse)}. Each at its best λ, chosen on "
            f"seeds {', '.join(map(str, choose))} (projection_ema λ = "
            f"{best['projection_ema']:g}, multitask λ = {best['multitask']:g}) and compared on "
            f"the other seeds, {', '.join(map(str, judge))}: projection_ema − multitask = "
            f"{_diff(at_best)}.",
            *(("agrees", "") if at_best[2] < 0 else
              ("differs", ("Does not hold at the best λ (not significant)." if at_best[0] < 0
                           else "Does not hold.") + ema_rarely_acts(aux)))))
    return out


def gate_mean(rows: list[dict[str, Any]], aux: str, method: str, name: str) -> float:
    """Mean of a gate statistic over the runs of one method on one aux task (all λ, seeds)."""
    return float(np.mean([r[name] for r in rows if (r["aux"], r["method"]) == (aux, method)]))


def notes(rows: list[dict[str, Any]], lambdas: tuple[float, ...]) -> list[str]:
    """The bullets after the claims: why projection rarely acts, and the numbers of D.3."""
    def mean(method: str, name: str, sign: str = "") -> str:
        return ", ".join(f"{aux} {gate_mean(rows, aux, method, name):{sign}.3f}"
                         for aux in synthetic.AUX_KINDS)

    why = ("- **Why projection rarely acts here.** Mean over runs (all λ, seeds) of the "
           f"epoch-mean torso cosine in the multitask runs: {mean('multitask', 'mean_cosine', '+')}"
           ". Share of λ g_aux that projection applies (mean gate weight, 1 = unchanged): "
           f"{mean('projection', 'mean_weight')}; with the EMA reference (cosine against the EMA: "
           f"{mean('projection_ema', 'mean_cosine', '+')}): {mean('projection_ema', 'mean_weight')}"
           ". Weighted cosine applies a mean share max(0, cos) of λ g_aux of "
           f"{mean('cosine', 'mean_weight')}, so it acts mostly as a smaller effective λ.")
    if (gate_mean(rows, "unrelated", "multitask", "mean_cosine") > 0
            and gate_mean(rows, "unrelated", "projection", "mean_weight") > 0.9):
        why += (" The unrelated task's gradient agrees with the main one on average, so "
                "projection leaves it almost unchanged: the harm it does is not a per-step "
                "gradient conflict (it must come from what the shared features are spent "
                "on), which a sign test on each step's gradients cannot see.")

    def worse(aux: str, a: str, b: str) -> str:
        return _lams([lam for lam in lambdas if paired(rows, aux, a, b, lam)[1] > 0])

    top = lambdas[-1]
    d = {m: _diff(paired(rows, "unrelated", m, "single", top))
         for m in ("cosine", "orthogonal", "multitask")}
    cosine_less_harmed = _lams([lam for lam in lambdas
                                if paired(rows, "unrelated", "cosine", "multitask", lam)[2] < 0])
    d3 = (f"- **D.3: weighted cosine is resilient to the unrelated aux; orthogonal is poor at "
          f"high λ.** At λ = {top:g} (unrelated), cosine − single = {d['cosine']}, "
          f"orthogonal − single = {d['orthogonal']}, multitask − single = {d['multitask']}. "
          f"Cosine is significantly less harmed than multitask at λ ∈ {cosine_less_harmed} and "
          f"significantly worse than single task at λ ∈ "
          f"{worse('unrelated', 'cosine', 'single')}; orthogonal is significantly worse than "
          f"multitask at λ ∈ {worse('unrelated', 'orthogonal', 'multitask')} (unrelated), "
          f"{worse('same', 'orthogonal', 'multitask')} (same), "
          f"{worse('similar', 'orthogonal', 'multitask')} (similar).")
    return [why, d3]


def markdown(rows: list[dict[str, Any]], lambdas: tuple[float, ...], seeds: list[int],
             max_epochs: int, invocations: list[dict[str, Any]], workers: int, runs_path: Path,
             figure: Path, report: Path, found: list[Claim]) -> str:
    """The report: settings, the test-MSE tables, then the bullets of the claims ``found``
    and :func:`notes`."""
    capped = sum(1 for r in rows if int(r["epochs"]) >= max_epochs)
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Synthetic regression (Tran-Thien 2020, Experiment 2)", "",
        f"Made by `{command()}` from `{runs_path}` ({len(rows)} runs).", "",
        "## Settings", "",
        "- Data: `y = tanh(B x)`, x ∈ R^250 i.i.d. N(0, 1), B ∈ R^(100×250); B_main and the "
        "unrelated B i.i.d. N(0, 10), ε i.i.d. N(0, 3.5), the second argument read as the "
        "variance. Aux: same (B_main), similar (B_main + ε), unrelated (B). 1,000 main and "
        "1,000 separate aux training inputs, 1,000 validation, 10,000 test. Data, initial "
        "weights and batch order are fixed per seed (paired across methods).",
        "- Network: 4 shared ReLU layers of width 100, one linear 100-output head per task; MSE.",
        f"- Adam (lr 1e-3, eps 1e-7, β = (0.9, 0.999)), batch 100 main + 100 aux per step, "
        f"10 steps per epoch, early stopping on the main validation MSE with patience 10 "
        f"(best weights restored), at most {max_epochs} epochs ({capped} of {len(rows)} runs "
        "hit the cap).",
        "- Methods (`rl_auxgrad.gating`): single, multitask, cosine (weighted, Du et al.), "
        "projection, projection_ema (projection against the bias-corrected EMA of g_main, "
        "α = 0.01), orthogonal; gated on all shared (torso) parameters as one vector. Single "
        "task ignores λ and the aux type: one run per seed, the same number in every panel.",
        f"- λ ∈ {{{', '.join(f'{x:g}' for x in lambdas)}}}; seeds {seeds[0]}–{seeds[-1]} "
        f"({len(seeds)}). Cells: mean ± half-width of the 95% Student-t interval over seeds. "
        "Claims below use the per-seed paired difference (same data and initialisation) with "
        "its 95% t-interval; 'significantly' means that interval excludes 0.",
        f"- Hardware: CPU only ({cpu}, {torch.get_num_threads()} torch thread per process, "
        f"{workers} worker processes, machine shared with other jobs). {wall_time(invocations)} "
        f"Sum of per-run times over the {len(rows)} runs: "
        f"{sum(r['seconds'] for r in rows) / 60:.1f} process-minutes.", "",
        f"![test MSE]({Path('..') / figure.relative_to(report.parent.parent)})", "",
        "## Main-task test MSE", ""]
    for aux in synthetic.AUX_KINDS:
        lines += [f"### Aux task: {aux}", "",
                  "| method | " + " | ".join(f"λ = {x:g}" for x in lambdas) + " |",
                  "|---|" + "---|" * len(lambdas)]
        for method in METHODS:
            cells = [_fmt(*summary(rows, aux, method, lam)[:2]) for lam in lambdas]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Comparison with the paper", "",
              "Tran-Thien (2020), Section 4.4 and D.3 (Figures 5 and 11), checked on our "
              "numbers (differences are MSE(method) − MSE(reference), mean [95% CI]):", "",
              *map(bullet, found), *notes(rows, lambdas), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
