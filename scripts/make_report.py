"""Write docs/RESULTS.md (and its figures under docs/figures/) from the runs' records.

    python -m scripts.make_report [--skip-supervised]

Every number and curve comes from the runs of the experiment scripts: the CartPole and MinAtar
sections from their records (docs/data/<task>_teacher.npz, binned curves of every run, written
by the experiment as each run finishes and committed, so the report can be rebuilt where runs/
is gone), the Atari sections from their runs' records (docs/data/<experiment>/<run>.npz,
every scalar of a finished run, :mod:`rl_auxgrad.records`), the supervised
sections by re-running their scripts, which reuse their stored runs (docs/supervised/). A run
still in progress is reported at the step it has reached. External reference points are quoted
with their source. Every claim is data: the RL experiments return theirs, the supervised
scripts write theirs next to their reports (``<name>_claims.json``), and the side-by-side list
of all of them is written to docs/data/claims.json as well as rendered.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from scripts.claims import Claim, read_claims, to_json
from scripts.experiments import (
    atari_budget,
    breakout_default,
    breakout_harmful,
    breakout_parity,
    breakout_stop,
    breakout_teacher,
    cartpole_teacher,
    control_teacher,
    minatar_teacher,
    multitask_teacher,
    precision_check,
    usefulness,
)
from scripts.experiments.breakout_parity import zoo_points
from scripts.experiments.common import scalars, smoothed, window_mean

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
BREAKOUT_RUN = DOCS / "data" / "breakout_ppo_noteacher.npz"
"""The record of the run behind ``agents/breakout_ppo_noteacher`` (its weights are shipped)."""

SUPERVISED = {"toy_du": (), "circle": (), "synthetic_regression": ("--seeds", "5"),
              "class_pairs": ("--seeds", "20")}
"""The supervised scripts and the arguments their reports were made with."""
PAPERS = {"toy_du": "Du et al. (2018), motivating example",
          "circle": "Tran-Thien (2020), unit circle (B.1)",
          "synthetic_regression": "Tran-Thien (2020), synthetic regression (4.4, D.3)",
          "class_pairs": "Du et al. (2018), class pairs (ImageNet there, digits here)"}
CLAIMS = DOCS / "data" / "claims.json"
"""Every claim of the report, side by side, as data: ``[{"source", "text", "measured",
"verdict", "why"}, ...]``."""
MEASURED_CELL = 400
"""The longest ``measured`` shown in the side-by-side table (cut with "…"; CLAIMS has it all)."""
CLEANRL_FINAL = 414.66
"""CleanRL ppo_atari.py, BreakoutNoFrameskip-v4, 10M agent steps (vwxyzjn/cleanrl
docs/rl-algorithms/ppo.md: 414.66 ± 28.09, 3 seeds)."""


def breakout_section() -> str:
    steps, returns = scalars(BREAKOUT_RUN, "charts/episodic_return")
    reached = int(steps.max())
    centres, means = smoothed(steps, returns, 50_000)
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(centres / 1e6, means, label="rl_auxgrad PPO (ALE v5, sticky actions 0.25)")
    zoo = np.array(sorted(zoo_points().items()), dtype=float)
    ax.plot(zoo[:, 0] / 1e6, zoo[:, 1], "o--", label="SB3 RL Zoo PPO (v4, no sticky actions)")
    ax.set_xlim(0, max(1.05, reached / 1e6 * 1.05))
    ax.set_ylim(0, max(np.nanmax(means), 30) * 1.15)
    ax.set_xlabel("agent steps (millions; x4 = frames)")
    ax.set_ylabel("episodic return (real game score)")
    ax.set_title("Breakout, PPO without a teacher")
    ax.legend()
    fig.tight_layout()
    fig.savefig(FIGURES / "breakout_ppo_noteacher.png", dpi=120)
    plt.close(fig)
    rows, ratios = [], []
    for at, zoo_value in sorted(zoo_points().items()):
        ours = (window_mean(BREAKOUT_RUN, "charts/episodic_return", int(at * 0.9),
                            int(at * 1.1) + 1) if at * 1.1 <= reached else float("nan"))
        ours_text = f"{ours:.1f}" if np.isfinite(ours) else f"not reached ({reached:,} steps)"
        rows.append(f"| {at:,} ({at * 4 / 1e6:g}M frames) | {ours_text} | {zoo_value:.1f} |")
        if np.isfinite(ours):
            ratios.append(f"{ours / zoo_value:.0%} of it at {at / 1e6:g}M steps")
    first = returns[:30].mean()
    last = returns[-30:].mean()
    return f"""## Breakout: PPO without a teacher, against the published PPO curve

Run `agents/breakout_ppo_noteacher` (`configs/breakout.yaml`: 8 envs x 128 steps, 4 epochs, 4
minibatches, clip 0.1, lr 2.5e-4 annealed over 10M steps, entropy 0.01, sticky actions 0.25, life
loss terminal for learning only), seed 1, CPU only (2 cores shared with other jobs), trained in
several sessions with `python -m rl_auxgrad.train --resume agents/breakout_ppo_noteacher
--stop-after N`. **Reached {reached:,} agent steps ({reached * 4 / 1e6:.1f}M frames)**; mean
real game score of the first 30 episodes {first:.1f}, of the last 30 {last:.1f}.

![Breakout curve](figures/breakout_ppo_noteacher.png)

| agent steps | ours: mean episodic return (episodes within ±10%) | SB3 RL Zoo PPO |
|---|---:|---:|
{chr(10).join(rows)}

**Reference.** CleanRL publishes only the final score of `ppo_atari.py` on Breakout
(`{CLEANRL_FINAL}` at 10M agent steps, v4, `docs/rl-algorithms/ppo.md`) and a curve image, not
the values along the curve. The points used here come from the SB3 RL Zoo's published training
logs of PPO with the same hyperparameters (DLR-RM/rl-trained-agents,
`ppo/BreakoutNoFrameskip-v4_1/*.monitor.csv`, one seed, all 8 envs, mean of the training
episodes that ended within ±10% of each step; the next section says how a game's end is placed
at an agent step); its final score, 398.0 at 10M steps
(rl-baselines3-zoo `benchmark.md`), is close to CleanRL's. Both use `NoFrameskip-v4` without
sticky actions; ours uses ALE v5's sticky actions (0.25), which Machado et al. (2018) show
lower scores, so ours should sit at or somewhat below these points.

**Verdict.** Ours learns along the same curve but below the Zoo's: {", ".join(ratios)}. One
seed on each side and the sticky actions leave this short of a like-for-like comparison; the
next section runs ours under the Zoo's own protocol (no sticky actions) at the same budget.
"""


def sweep_section() -> str:
    """The Ray Tune sweep's report (``scripts/sweep.py --report``, made from its runs' events),
    inlined one heading level down."""
    path = DOCS / "sweep_cartpole.md"
    if not path.exists():
        return ("## Sweeps through Ray Tune\n\nNot run yet: `python scripts/sweep.py --report "
                "docs/sweep_cartpole.md ...` (README).\n")
    body = re.sub(r"^(#+) ", r"##\1 ", path.read_text(), flags=re.MULTILINE)
    return body.replace("### Sweep", "## Sweeps through Ray Tune: the CartPole grid", 1)


def supervised_section(rerun: bool) -> tuple[str, list[tuple[str, Claim]]]:
    """The supervised reports (re-made by their scripts from their stored runs, unless
    ``rerun`` is False), inlined one heading level down, and the claims they check (written by
    each script next to its report, ``docs/supervised/<name>_claims.json``)."""
    parts, claims = ["## Supervised gating (the core without RL)\n"], []
    for name, args in SUPERVISED.items():
        if rerun:
            subprocess.run([sys.executable, "-m", f"scripts.{name}", *args],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        text = (DOCS / "supervised" / f"{name}.md").read_text()
        text = re.sub(r"^(#+) ", r"##\1 ", text, flags=re.MULTILINE)
        parts.append(text.replace("](../figures/", "](figures/"))
        claims += [(PAPERS[name], claim)
                   for claim in read_claims(DOCS / "supervised" / f"{name}_claims.json")]
    return "\n".join(parts), claims


def write_claims_data(rows: list[tuple[str, Claim]], path: Path = CLAIMS) -> None:
    """Writes every claim with its source to ``path`` (JSON), as the report lists them."""
    path.write_text(json.dumps([{"source": source, **to_json(claim)} for source, claim in rows],
                               ensure_ascii=False, indent=1) + "\n")


def papers_section(rows: list[tuple[str, Claim]]) -> str:
    """The side-by-side table of every claim, and the list of those that do not (yet) agree
    with the papers, each with its numbers and why."""
    table = "\n".join(f"| {source} | {c.text} | {measured_cell(c)} | {c.verdict} |"
                      for source, c in rows)
    differs = "\n".join(
        f"- {source}: *{c.text}* ({c.verdict}) — {measured_cell(c)}"
        + (f"\n  *Why:* {c.why}" if c.why else "")
        for source, c in rows if not c.verdict.startswith("agrees"))
    return f"""## Side by side with the papers

Each claim of the seed papers that an experiment above checks, with what we measured (the
sections above give the settings and the full numbers). "so far": the experiment is still
running and the verdict is on the runs that reached its budget.

| source | claim | measured | verdict |
|---|---|---|---|
{table}

## What we could not reproduce and why

Claims measured above that differ from the papers, only partly agree or are not measured yet,
with the numbers and, where the experiment's statistics explain it, why.

{differs}

Not attempted, or not at the papers' scale: ImageNet class pairs (digits instead: the
supervised section says why), Atari runs at the papers' budgets (these machines have 2 CPU
cores; the Atari sections state the budgets reached, and the Atari budget section lists every
run's steps and wall time).
"""


def measured_cell(claim: Claim) -> str:
    """A claim's numbers in the table: cut at MEASURED_CELL characters, "the claims above" for
    a claim that only combines others (no numbers of its own)."""
    measured = claim.measured or "the claims above"
    return measured[:MEASURED_CELL] + ("…" if len(measured) > MEASURED_CELL else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-supervised", action="store_true",
                        help="inline the supervised reports as they are, without re-making them")
    args = parser.parse_args(argv)
    controls = [(task, *control_teacher.report(task, FIGURES))
                for task in (cartpole_teacher.TASK, minatar_teacher.TASK)]
    breakout, breakout_claims = breakout_teacher.report(FIGURES)
    multitask, multitask_claims = multitask_teacher.report(FIGURES)
    supervised, supervised_claims = supervised_section(not args.skip_supervised)
    rows = [(f"Du et al. (2018), RL: imperfect teacher, on {task.title}", claim)
            for task, _, claims in controls for claim in claims]
    rows += [("Du et al. (2018), RL: imperfect teacher, on Breakout", claim)
             for claim in breakout_claims]
    rows += [("Du et al. (2018), RL: multi-task Breakout + Ms. Pac-Man", claim)
             for claim in multitask_claims]
    write_claims_data(rows + supervised_claims)
    text = ("# Results\n\nWritten by `python -m scripts.make_report` from the runs' event files."
            "\n\nThe learning-rate anneal: every run below annealed one update late (update u "
            "of U at lr (1 − u/U), the last at 0), except the usefulness runs made after it was "
            "fixed to CleanRL's lr (1 − (u − 1)/U); `docs/data/usefulness_lagged_anneal.json` "
            "lists the usefulness runs made the old way. The shift is 1/U of the rate per update "
            "(0.26% on CartPole, 0.8% on MinAtar, 0.01% on Breakout).\n\n")
    evaluations = [usefulness.evaluate(task) for task, _, _ in controls]
    signals = [*(usefulness.report(e, figures=FIGURES) for e in evaluations),
               breakout_stop.report(), breakout_harmful.report(),
               breakout_default.report(FIGURES),
               usefulness.why_default(evaluations)]
    text += "\n".join([*(section for _, section, _ in controls), *signals, breakout,
                        precision_check.report(), multitask,
                        breakout_section(), breakout_parity.report(FIGURES),
                        atari_budget.report(), sweep_section(), supervised,
                        papers_section(rows + supervised_claims)])
    (DOCS / "RESULTS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
