"""Grid sweeps (gate x lambda x seed) through Ray Tune, on this machine or on a Ray cluster.

    pip install -e ".[sweep]"       # ray[tune]
    python scripts/sweep.py --config configs/cartpole.yaml --gates cosine projection \\
        --lams 1 10 --seeds 1 2 3 --teacher teachers/cartpole_ppo_37k total_steps=100000
    python scripts/sweep.py ... --address ray://head:10001    # on a running Ray cluster

Each trial is one training run, ``<runs-dir>/<gate>__lam<lam>__seed<seed>``, in the layout of
the experiment scripts (a finished run is skipped, an interrupted one resumes), so tensorboard
and ``scripts/make_report.py`` read it like any other run. Ray Tune only schedules: one trial
per ``--cpus-per-trial`` CPUs, each reporting its mean episodic return over the last 10% of its
steps, and a table of all trials (with the first 8 characters of the id of the Ray node
each ran on) at the end. On a cluster, ``--runs-dir`` must be a path every
node sees (shared storage), and every node needs this package installed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.run_dir import RunDir, default_runs_dir
from rl_auxgrad.runs import CONSTANT, RunSpec, run_one, window_mean
from rl_auxgrad.teachers import is_hub_path

ROOT = Path(__file__).parents[1]


def trial_name(gate: str, lam: float, seed: int) -> str:
    return f"{gate}__lam{lam:g}__seed{seed}"


def trial(params: dict) -> None:
    """One Ray Tune trial: train the run (or finish / skip it) and report its final return and
    the Ray node it ran on."""
    import ray
    from ray import tune

    runs_dir = Path(params["runs_dir"])
    spec = RunSpec(trial_name(params["gate"], params["lam"], params["seed"]),
                   (CONSTANT, f"gate.name={params['gate']}", f"teacher.lam={params['lam']:g}",
                    f"seed={params['seed']}", *params["overrides"]), params["config"])
    directory = run_one(spec, runs_dir)
    total = RunDir(directory).config().total_steps
    tune.report({"final_return": window_mean(directory, "charts/episodic_return",
                                             int(total * 0.9), total + 1),
                 "node": ray.get_runtime_context().get_node_id()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="experiment YAML (default: the embedded default)")
    parser.add_argument("--gates", nargs="+", default=["multitask", "cosine"])
    parser.add_argument("--lams", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--teacher", help="teacher.path for every trial")
    parser.add_argument("--runs-dir", type=Path, default=default_runs_dir() / "sweep")
    parser.add_argument("--address", help="Ray cluster address (default: start Ray here)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--report", type=Path, help="also write the table, with the command "
                        "and the wall time, to this markdown file")
    parser.add_argument("overrides", nargs="*", help="key=value for every trial")
    args = parser.parse_args(argv)
    where = args.teacher if args.teacher is None or is_hub_path(args.teacher) \
        else Path(args.teacher).resolve()
    teacher = [f"teacher.path={where}"] if args.teacher else []
    overrides = [*args.overrides, *teacher]
    try:  # fail here, with one line, rather than in every trial
        for gate in args.gates:
            load_config(args.config, [*overrides, f"gate.name={gate}"])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        import ray
        from ray import tune
    except ImportError:
        print('error: scripts/sweep.py needs Ray Tune: pip install -e ".[sweep]"',
              file=sys.stderr)
        return 2
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")  # relative paths mean the same
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    runs_dir = args.runs_dir.resolve()
    space = {"gate": tune.grid_search(args.gates), "lam": tune.grid_search(args.lams),
             "seed": tune.grid_search(args.seeds), "runs_dir": str(runs_dir),
             "config": str(Path(args.config).resolve()) if args.config else None,
             "overrides": overrides}
    tuner = tune.Tuner(
        tune.with_resources(trial, {"cpu": args.cpus_per_trial}), param_space=space,
        run_config=tune.RunConfig(name="sweep", storage_path=str(runs_dir / "_tune"),
                                  verbose=0))
    start = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - start
    lines = ["| gate | λ | seed | final return | run | node |", "|---|---:|---:|---:|---|---|"]
    for result in sorted(results, key=lambda r: (r.config["gate"], r.config["lam"],
                                                 r.config["seed"])):
        c = result.config
        metrics = result.metrics or {}
        value, node = metrics.get("final_return", float("nan")), metrics.get("node", "?")
        lines.append(f"| {c['gate']} | {c['lam']:g} | {c['seed']} | {value:.1f} | "
                     f"`{trial_name(c['gate'], c['lam'], c['seed'])}` | {node[:8]} |")
    table = "\n".join(lines)
    print(table)
    if args.report:
        where = args.address or f"this machine ({os.cpu_count()} CPUs)"
        shown = sys.argv[1:] if argv is None else argv
        shown_dir = runs_dir.relative_to(ROOT) if runs_dir.is_relative_to(ROOT) else runs_dir
        args.report.write_text(
            f"# Sweep\n\nMade by `python {shlex.join(['scripts/sweep.py', *shown])}` "
            f"through Ray Tune {ray.__version__} on {where}, {len(lines) - 2} trials in "
            f"{wall / 60:.1f} min. Final return: mean episodic return over the last 10% of "
            f"each run's steps. Runs in `{shown_dir}`.\n\n{table}\n")
    failed = [r for r in results if r.error]
    for result in failed:
        print(f"error: trial {result.config} failed: {result.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
