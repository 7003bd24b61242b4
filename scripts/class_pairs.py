"""Du et al. (2018), Section 3 (pairs of ImageNet classes), on scikit-learn's digits.

Main task ``A vs. rest``, auxiliary task ``B vs. rest`` for the nearest and the farthest pair of
digit classes by Fréchet distance (:mod:`rl_auxgrad.supervised.class_pairs`); single task,
multitask and the cosine gates (weighted, unweighted, and weighted against an EMA of the main
gradient), over seeds. Runs (with their per-epoch histories) are
saved to ``<out-dir>/supervised/<stem>_runs.json`` as they finish and skipped when rerun; the
figure and the markdown report are regenerated from that file. ``--full-batch`` trains the
noise-free variant instead (every step: the whole main and the whole auxiliary training set; one
step per epoch) into ``<stem>_full_batch_runs.json``; the report shows it in its own section and
figure whenever that file exists.

    python -m scripts.class_pairs [--seeds 20] [--workers 2] [--quick] [--full-batch]
"""

from __future__ import annotations

import argparse
import json
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

from rl_auxgrad.supervised import class_pairs
from rl_auxgrad.supervised.runlog import command, log_invocation, wall_time
from rl_auxgrad.supervised.trainer import TrainConfig, mean_ci95, train
from scripts.claims import Claim, bullet, write_claims

METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "single": ("single", {}),
    "multitask": ("multitask", {}),
    "cosine": ("cosine", {}),
    "cosine_unweighted": ("cosine_unweighted", {}),
    "cosine_ema": ("cosine", {"ema": 0.01}),
}
"""Method name -> (gate name, gate options) of :func:`rl_auxgrad.gating.make_gate`."""
LAM, BATCH, PATIENCE, LR = 1.0, 64, 20, 1e-3
FULL_METHODS = ("single", "multitask", "cosine", "cosine_unweighted")
FULL_PATIENCE, FULL_STEPS = 200, 10
"""Full batch: patience in steps (= epochs), and the step cap as a multiple of ``--max-epochs``."""


@dataclass(frozen=True)
class Job:
    pair: tuple[int, int]
    label: str
    method: str
    seed: int
    n_main: int
    max_epochs: int
    full_batch: bool = False

    @property
    def key(self) -> str:
        return f"{self.label}:{self.method}:{self.seed}"


def run(job: Job) -> dict[str, Any]:
    torch.set_num_threads(1)
    start = time.perf_counter()
    x, y = class_pairs.load()
    data = class_pairs.make_data(x, y, job.pair, job.seed, job.n_main)
    gate, options = METHODS[job.method]
    batch = max(len(data.main_train), len(data.aux_train)) if job.full_batch else BATCH
    config = TrainConfig(gate=gate, lam=LAM, gate_options=options, batch_size=batch, lr=LR,
                         patience=FULL_PATIENCE if job.full_batch else PATIENCE,
                         max_epochs=job.max_epochs, seed=job.seed)
    result = train(class_pairs.make_model, data, class_pairs.bce, config, metric=class_pairs.auc)
    return dict(key=job.key, pair=list(job.pair), label=job.label, method=job.method,
                seed=job.seed, test_bce=result.test_loss, test_auc=result.test_metric,
                best_epoch=result.best_epoch, epochs=result.epochs, history=result.history,
                seconds=time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1")
    parser.add_argument("--n-main", type=int, default=50,
                        help="main-task training images (of the 40%% training split)")
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, 30 epochs; files named *_quick*")
    parser.add_argument("--full-batch", action="store_true",
                        help=f"train the full-batch variant ({FULL_STEPS} x max-epochs steps)")
    parser.add_argument("--out-dir", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    stem = "class_pairs" + ("_quick" if args.quick else "")
    seeds = list(range(2 if args.quick else args.seeds))
    max_epochs = 30 if args.quick else args.max_epochs
    x, y = class_pairs.load()
    distances = class_pairs.pair_distances(x, y)
    pairs = dict(zip(("near", "far"), class_pairs.near_far(distances), strict=True))
    base = args.out_dir / "supervised" / stem
    runs_path = base.with_name(stem + ("_full_batch" if args.full_batch else "") + "_runs.json")
    runs_path.parent.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    methods = FULL_METHODS if args.full_batch else tuple(METHODS)
    steps = FULL_STEPS * max_epochs if args.full_batch else max_epochs
    todo = [Job(pair, label, method, seed, args.n_main, steps, args.full_batch)
            for seed in seeds for label, pair in pairs.items() for method in methods]
    todo = [job for job in todo if job.key not in runs]
    print(f"{len(runs)} runs in {runs_path}, {len(todo)} to go", flush=True)
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for i, row in enumerate(pool.imap_unordered(run, todo), 1):
            runs[row["key"]] = row
            runs_path.write_text(json.dumps(runs))
            print(f"[{i}/{len(todo)}] {row['key']}: BCE {row['test_bce']:.4f}, AUC "
                  f"{row['test_auc']:.4f}, {row['epochs']} epochs, {row['seconds']:.1f} s",
                  flush=True)
    wall = time.perf_counter() - start
    log_invocation(runs_path.with_name(runs_path.name.replace("_runs.json", "_invocations.jsonl")),
                   wall, len(todo), args.workers)

    report = base.with_suffix(".md")
    text, found = "", []
    for variant, variant_methods in (("", tuple(METHODS)), ("_full_batch", FULL_METHODS)):
        path = base.with_name(f"{stem}{variant}_runs.json")
        if not path.exists():
            continue
        done = json.loads(path.read_text())
        complete = [s for s in seeds  # seeds with every run (an interrupted run leaves gaps)
                    if all(f"{label}:{m}:{s}" in done for label in pairs for m in variant_methods)]
        rows = [r for r in done.values() if r["seed"] in complete]
        invocations = log_invocation(path.with_name(f"{stem}{variant}_invocations.jsonl"), 0, 0, 0)
        figure = args.out_dir / "figures" / f"{stem}{variant}.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        plot(rows, pairs, figure, variant_methods)
        section, section_claims = (markdown if not variant else full_batch_markdown)(
            rows, pairs, distances, complete, args, max_epochs, invocations, path, figure, report)
        text += section
        found += [c._replace(text=c.text + " (full batch)") if variant else c
                  for c in section_claims]
    report.write_text(text)
    write_claims(base.with_name(f"{stem}_claims.json"), found)
    print(f"wrote {report} and its claims ({wall:.0f} s)")


def select(rows: list[dict[str, Any]], label: str, method: str) -> dict[int, dict[str, Any]]:
    return {r["seed"]: r for r in rows if r["label"] == label and r["method"] == method}


def per_seed(rows: list[dict[str, Any]], label: str, method: str, field: str
             ) -> dict[int, float]:
    """One number per seed: a test metric, or the mean over epochs of a history entry."""
    out = {}
    for seed, r in select(rows, label, method).items():
        out[seed] = float(np.mean(r["history"][field])) if field in r["history"] else r[field]
    return out


def mean_of(rows: list[dict[str, Any]], label: str, method: str, field: str) -> float:
    """Mean over seeds of :func:`per_seed`."""
    return float(np.mean(list(per_seed(rows, label, method, field).values())))


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, float]:
    """Mean per-seed difference ``a - b`` and its 95% t-interval ``(lo, hi)``."""
    mean, half = mean_ci95([a[s] - b[s] for s in sorted(a.keys() & b.keys())])
    return mean, mean - half, mean + half


def curve(runs: list[dict[str, Any]], field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-epoch mean and 95% t half-width over the runs, for the epochs that every run reached
    (early stopping ends runs at different epochs; later epochs would average survivors)."""
    shortest = min(len(r["history"][field]) for r in runs)
    table = np.array([r["history"][field][:shortest] for r in runs])
    stats = np.array([mean_ci95(column) for column in table.T])
    return np.arange(1, shortest + 1), stats[:, 0], np.nan_to_num(stats[:, 1])


def plot(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]], path: Path,
         methods: tuple[str, ...] = tuple(METHODS)) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0, 0]
    for k, (label, pair) in enumerate(pairs.items()):
        for method, ls in (("multitask", "-"), ("cosine", "--"), ("cosine_ema", "-."),
                           ("single", ":")):
            if method not in methods:
                continue
            epochs, mean, half = curve(list(select(rows, label, method).values()), "cosine")
            ax.plot(epochs, mean, ls=ls, color=f"C{k}", label=f"{label} {pair}, {method} run")
            ax.fill_between(epochs, mean - half, mean + half, color=f"C{k}", alpha=0.1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="epoch", ylabel="cos(g_main, g_aux) on the torso (epoch mean)",
           title="(a) gradient cosine over training" + (" (cosine_ema: against the EMA of "
                                                         "g_main)" if "cosine_ema" in methods
                                                         else ", full batch"))
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for k, label in enumerate(pairs):
        for j, method in enumerate(methods):
            mean, half = mean_ci95(list(per_seed(rows, label, method, "test_bce").values()))
            ax.errorbar(k + 0.15 * (j - (len(methods) - 1) / 2), mean, yerr=half, fmt="o",
                        color=f"C{j + 2}", label=method if k == 0 else None, capsize=3)
    ax.set_xticks(range(len(pairs)), [f"{label} {pair}" for label, pair in pairs.items()])
    ax.set(ylabel="main-task test BCE (mean, 95% t-CI)", title="(b) final test loss")
    ax.legend(fontsize=8)
    for ax, (label, pair) in zip(axes[1], pairs.items(), strict=True):
        for j, method in enumerate(methods):
            epochs, mean, half = curve(list(select(rows, label, method).values()), "val_loss")
            ax.plot(epochs, mean, color=f"C{j + 2}", label=method)
            ax.fill_between(epochs, mean - half, mean + half, color=f"C{j + 2}", alpha=0.15)
        ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel="main-task validation BCE",
               title=f"({'c' if label == 'near' else 'd'}) learning curves, {label} pair {pair}")
        ax.legend(fontsize=8)
    fig.suptitle("Class pairs on digits (Du et al. 2018, Sec. 3): main A-vs-rest, aux B-vs-rest"
                 + ("" if "cosine_ema" in methods else ", full batch (1 step = 1 epoch)")
                 + ";\ncurves: mean and 95% t-CI over seeds, up to the shortest run")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(values: dict[int, float], digits: int = 4) -> str:
    mean, half = mean_ci95(list(values.values()))
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if math.isfinite(half) else f"{mean:.{digits}f}"


def _diff(d: tuple[float, float, float]) -> str:
    return f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"


def _significant(d: tuple[float, float, float]) -> bool:
    return d[1] > 0 or d[2] < 0


def _closer(to_ref: tuple[float, float, float], to_other: tuple[float, float, float]) -> bool:
    """Whether the mean paired difference to the reference is the smaller one in size."""
    return abs(to_ref[0]) < abs(to_other[0])


def claims(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]],
           methods: tuple[str, ...] = tuple(METHODS)) -> list[Claim]:
    """Du et al.'s claims (a) and (b), on the per-batch cosines and test BCEs of ``methods``."""
    out = []
    cos = {(label, m): per_seed(rows, label, m, "cosine") for label in pairs for m in methods}
    per_batch = [m for m in methods if m != "cosine_ema"]  # cosine_ema's is against the EMA
    diffs = {m: paired(cos["near", m], cos["far", m]) for m in per_batch}
    verdict = ("Holds" if diffs["multitask"][1] > 0 else
               "Does not hold significantly" if diffs["multitask"][0] > 0 else "Does not hold")
    reversed_in = [m for m, d in diffs.items() if d[2] < 0]
    out.append(Claim(
        "(a) The gradient cosine is higher for the near pair than for the far pair",
        "Per-seed difference near − far of the mean (over epochs) cosine on the torso: "
        + "; ".join(f"{m} runs {_diff(d)}" for m, d in diffs.items()) + ".",
        "agrees" if verdict == "Holds" else "differs",
        f"{verdict} in the multitask runs (where both losses train the torso)"
        + (f"; reversed (significantly) in the {', '.join(reversed_in)} runs, so the ordering "
           "depends on which training run the cosine is measured in" if reversed_in else "")
        + (". The cosines are small in absolute value (per-batch gradients, the main and "
           "auxiliary batches being different images). Against the EMA of g_main (cosine_ema "
           f"runs) the cosine is near {_fmt(cos['near', 'cosine_ema'])}, far "
           f"{_fmt(cos['far', 'cosine_ema'])}, near − far "
           f"{_diff(paired(cos['near', 'cosine_ema'], cos['far', 'cosine_ema']))}."
           if "cosine_ema" in methods else
           ". Full-batch gradients: no sampling noise on either side.")))
    weight = {label: mean_of(rows, label, "cosine", "weight") for label in pairs}
    for label, reference, other in (("near", "multitask", "single"),
                                    ("far", "single", "multitask")):
        bce = {m: per_seed(rows, label, m, "test_bce") for m in methods}
        gap = paired(bce["multitask"], bce["single"])
        parts = []
        for gate in ("cosine", "cosine_unweighted"):  # cosine_ema: claim (c)
            to_ref, to_other = paired(bce[gate], bce[reference]), paired(bce[gate], bce[other])
            closer = reference if _closer(to_ref, to_other) else other
            parts.append(f"{gate} − {reference} {_diff(to_ref)}, {gate} − {other} "
                         f"{_diff(to_other)}: closer to {closer}")
        tracks = _closer(paired(bce["cosine"], bce[reference]), paired(bce["cosine"], bce[other]))
        out.append(Claim(
            f"(b) On the {label} pair the cosine gate tracks {reference}",
            f"Test BCE differences: multitask − single {_diff(gap)} "
            f"({'significant' if _significant(gap) else 'not significant'}); "
            + "; ".join(parts) + ".",
            "agrees" if tracks else "differs",
            ("Holds for the weighted cosine gate" if tracks else
               "Does not hold for the weighted cosine gate")
            + ("." if _significant(gap) else
               " (but multitask and single task do not differ significantly here, so which "
               "one it tracks says little).")
            + f" The weighted gate applied on average {weight[label]:.3f} of λ g_aux"
            + (f" ({'per-batch ' if 'cosine_ema' in methods else 'the '}cosines are small), so "
               "its update is close to single task's."
               if weight[label] < 0.1 else ".")
            + (" The auxiliary task does not hurt here (multitask − single ≤ 0), so the "
               "paper's far-pair situation, an auxiliary task that must be ignored, is absent."
               if label == "far" and gap[0] <= 0 else "")))
    return out


def ema_claim(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]], n_main: int
              ) -> Claim:
    """The project's hypothesis: against an EMA of g_main the weighted cosine gate passes the
    near pair's auxiliary gradient (tracks multitask there) although per-batch cosines are small.
    """
    bce = {(label, m): per_seed(rows, label, m, "test_bce") for label in pairs
           for m in ("single", "multitask", "cosine", "cosine_ema")}
    weight = {(label, m): mean_of(rows, label, m, "weight") for label in pairs
              for m in ("cosine", "cosine_ema")}
    cosine = {(label, m): mean_of(rows, label, m, "cosine") for label in pairs
              for m in ("cosine", "cosine_ema")}
    stats = {label: f"mean weight {weight[label, 'cosine_ema']:.3f} of λ g_aux (per-batch "
                    f"weighted cosine: {weight[label, 'cosine']:.3f}), mean cosine against the "
                    f"EMA {cosine[label, 'cosine_ema']:+.4f} (per-batch, in the cosine runs: "
                    f"{cosine[label, 'cosine']:+.4f})"
             for label in pairs}
    d = {(label, ref): paired(bce[label, "cosine_ema"], bce[label, ref])
         for label in pairs for ref in ("single", "multitask", "cosine")}
    near_tracks = _closer(d["near", "multitask"], d["near", "single"])
    word, verdict = (
        ("agrees", "Holds: closer to multitask and significantly better than single task")
        if near_tracks and d["near", "single"][2] < 0 else
        ("partly", "Holds only in the mean: closer to multitask, but not significantly better "
         "than single task") if near_tracks else
        ("differs", "Does not hold: closer to single task"))
    verdict += (", and significantly better than the per-batch weighted cosine gate."
                if d["near", "cosine"][2] < 0 else
                "; not significantly different from the per-batch weighted cosine gate."
                if d["near", "cosine"][1] <= 0 else
                ", and significantly worse than the per-batch weighted cosine gate.")
    far_closer = "multitask" if _closer(d["far", "multitask"], d["far", "single"]) else "single"
    far_sig = [f"significantly {'better' if d['far', ref][2] < 0 else 'worse'} than {ref}"
               for ref in ("single", "multitask") if _significant(d["far", ref])]
    return Claim(
        "(c) Against an EMA of g_main (α = 0.01) the weighted cosine gate tracks multitask on "
        "the near pair",
        "(the project's hypothesis from its RL runs: the EMA averages out the "
        "batch noise of g_main, so the cosine reflects the tasks' agreement"
        + (f"; but here every main batch is the whole main training set, n_main = {n_main} ≤ "
           f"batch {BATCH}, so g_main has no sampling noise for the EMA to remove and the EMA "
           "only lags it: the sampling noise is on the auxiliary side, a batch of "
           f"{BATCH} aux images" if n_main <= BATCH else "")
        + "). Near "
        f"{pairs['near']}: {stats['near']}; test BCE cosine_ema − multitask "
        f"{_diff(d['near', 'multitask'])}, cosine_ema − single {_diff(d['near', 'single'])}, "
        f"cosine_ema − cosine {_diff(d['near', 'cosine'])}.",
        word,
        f"{verdict} Far {pairs['far']}: "
        f"{stats['far']}; cosine_ema − single {_diff(d['far', 'single'])}, cosine_ema − "
        f"multitask {_diff(d['far', 'multitask'])}: closer to {far_closer}"
        + (f", {' and '.join(far_sig)}." if far_sig else
           ", not significantly different from either.")
        + (" On the far pair the gate passes less of g_aux than on the near pair."
           if weight["far", "cosine_ema"] < weight["near", "cosine_ema"]
           else " On the far pair the gate passes at least as much of g_aux as on the near "
           "pair, so its weight does not separate the pairs."))


def table(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]],
          methods: tuple[str, ...]) -> list[str]:
    lines = ["| pair | method | test BCE | test AUC | mean cosine | mean weight | epochs |",
             "|---|---|---|---|---|---|---|"]
    for label, pair in pairs.items():
        for method in methods:
            cells = [_fmt(per_seed(rows, label, method, f)) for f in
                     ("test_bce", "test_auc", "cosine", "weight")]
            cells.append(_fmt(per_seed(rows, label, method, "epochs"), 1))
            lines.append(f"| {label} {pair} | {method} | " + " | ".join(cells) + " |")
    return lines


def full_batch_markdown(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]],
                        distances: dict[tuple[int, int], float], seeds: list[int],
                        args: argparse.Namespace, max_epochs: int,
                        invocations: list[dict[str, Any]], runs_path: Path, figure: Path,
                        report: Path) -> tuple[str, list[Claim]]:
    """The report's section on the full-batch (noise-free gradient) variant, and its claims."""
    steps = FULL_STEPS * max_epochs
    capped = sum(1 for r in rows if r["epochs"] >= steps)
    methods = tuple(m for m in FULL_METHODS if select(rows, "near", m))
    lines = [
        "", "## Variant: full-batch gradients (noise-free)", "",
        f"From `{runs_path}` ({len(rows)} runs: seeds {seeds[0]}–{seeds[-1]}, {len(seeds)}; "
        "trained by `python -m scripts.class_pairs --full-batch --workers 1`).", "",
        f"- As above, except: every step uses the whole main training set ({args.n_main} images) "
        "and the whole auxiliary training set (all training images, about 718), so g_main and "
        "g_aux have no sampling noise; full-batch gradient descent with Adam (lr "
        f"{LR:g}, eps 1e-7), one step per epoch, early stopping on the main validation BCE "
        f"after every step with patience {FULL_PATIENCE} steps (best weights restored), at most "
        f"{steps} steps ({capped} runs hit the cap). Methods: {', '.join(methods)}; λ = {LAM:g}. "
        "Seeds as above, paired with the minibatch runs' splits and initial weights.",
        f"- {wall_time(invocations) if invocations else 'Wall time not logged.'} Sum of per-run "
        "times: "
        f"{sum(r['seconds'] for r in rows) / 60:.1f} process-minutes (1 worker process, "
        "1 torch thread, machine shared with another job).", "",
        f"![class pairs, full batch]({Path('..') / figure.relative_to(report.parent.parent)})",
        "", *table(rows, pairs, methods), "",
        "'epochs' = Adam steps. Paired test-BCE differences (per seed, mean [95% t-CI]):", "",
        "| pair | method | − single | − multitask |", "|---|---|---|---|"]
    for label, pair in pairs.items():
        bce = {m: per_seed(rows, label, m, "test_bce") for m in methods}
        lines += [f"| {label} {pair} | {m} | {_diff(paired(bce[m], bce['single']))} | "
                  f"{_diff(paired(bce[m], bce['multitask']))} |"
                  for m in methods if m not in ("single", "multitask")]
        lines.append(f"| {label} {pair} | multitask | "
                     f"{_diff(paired(bce['multitask'], bce['single']))} | |")
    found = claims(rows, pairs, methods)
    holds = all(claim.verdict == "agrees" for claim in found[1:])
    found.append(Claim(
        "Overall: cosine gating tracks multitask on the near pair and single task on the far "
        "pair", "", "agrees" if holds else "differs",
        f"{'Holds' if holds else 'Does not hold'} for the weighted cosine gate with noise-free "
        "gradients (both pair verdicts above must hold)."))
    lines += ["", "### Comparison with the paper (full batch)", "", *map(bullet, found), ""]
    return "\n".join(lines), found


def markdown(rows: list[dict[str, Any]], pairs: dict[str, tuple[int, int]],
             distances: dict[tuple[int, int], float], seeds: list[int], args: argparse.Namespace,
             max_epochs: int, invocations: list[dict[str, Any]], runs_path: Path,
             figure: Path, report: Path) -> tuple[str, list[Claim]]:
    """The report's settings, results and claims (the minibatch runs), and those claims."""
    ranked = sorted(distances, key=distances.__getitem__)
    cpu = platform.processor() or platform.machine()
    capped = sum(1 for r in rows if r["epochs"] >= max_epochs)
    lines = [
        "# Class pairs on digits (Du et al. 2018, Section 3)", "",
        f"Made by `{command()}` from `{runs_path}` ({len(rows)} runs).", "",
        "## Settings", "",
        "- Data: `sklearn.datasets.load_digits` (1,797 8×8 images, pixels / 16). Per seed a "
        "split stratified by digit: 40% train, 20% validation, 40% test. Main task A vs. rest "
        f"trains on {args.n_main} of the training images (stratified by digit, so about "
        f"{args.n_main // 10} positives); aux task B vs. rest trains on all training images; "
        "validation (early stopping) and test score the main task. A = the smaller digit of "
        "the pair.",
        "- Pairs: Fréchet distance between Gaussian fits of the two classes' 64-pixel vectors "
        "(all 1,797 images), nearest and farthest of the 45 pairs. "
        + ", ".join(f"{label} = {pair} (d = {distances[pair]:.3f})"
                    for label, pair in pairs.items())
        + ". Nearest five: " + ", ".join(f"{p} {distances[p]:.3f}" for p in ranked[:5])
        + "; farthest five: " + ", ".join(f"{p} {distances[p]:.3f}" for p in ranked[-5:]) + ".",
        f"- Network: torso 64 → {class_pairs.WIDTH} → {class_pairs.WIDTH} (ReLU), one logit "
        "head per task, binary cross-entropy.",
        f"- Adam (lr {LR:g}, eps 1e-7), batch {BATCH} main + {BATCH} aux per step, "
        "ceil(n_aux / batch) steps per epoch, early stopping on the main validation BCE with "
        f"patience {PATIENCE} (best weights restored), at most {max_epochs} epochs ({capped} "
        f"runs hit the cap). λ = {LAM:g} (Du et al. use λ = 1).",
        "- Methods: single, multitask, cosine (weighted: g_main + λ max(0, cos) g_aux on the "
        "torso), cosine_unweighted (g_main + λ g_aux if cos > 0, else g_main), cosine_ema "
        f"(weighted, with the cosine against the bias-corrected EMA of g_main, α = "
        f"{METHODS['cosine_ema'][1]['ema']:g}; the update still adds g_main itself). The cosine "
        "is measured on each step's batches (main batch and aux batch are different images; "
        "cosine_ema: the aux batch against the EMA) and averaged per epoch.",
        f"- Seeds {seeds[0]}–{seeds[-1]} ({len(seeds)}); split, main subset, initial weights and "
        "batch order fixed per seed (paired across methods). Cells: mean ± half-width of the "
        "95% Student-t interval over seeds; claims use per-seed paired differences with their "
        "95% t-interval, mean [lo, hi].",
        f"- Hardware: CPU only ({cpu}, 1 torch thread per process, {args.workers} worker "
        f"processes, machine shared with other jobs). {wall_time(invocations)} Sum of per-run "
        f"times: {sum(r['seconds'] for r in rows) / 60:.1f} process-minutes.", "",
        f"![class pairs]({Path('..') / figure.relative_to(report.parent.parent)})", "",
        "## Results", "", *table(rows, pairs, tuple(METHODS))]
    found = [*claims(rows, pairs), ema_claim(rows, pairs, args.n_main)]
    lines += ["", "'mean cosine' and 'mean weight': the epoch means of the gate's statistics, "
              "averaged over the epochs of each run (weight = share of λ g_aux applied: 1 for "
              "multitask, 0 for single task).", "",
              "## Comparison with the paper", "", *map(bullet, found), ""]
    return "\n".join(lines), found


if __name__ == "__main__":
    main()
