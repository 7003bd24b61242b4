"""Breakout parity (issue 17, item 1): PPO without a teacher under the RL Zoo's / CleanRL's
protocol, set against the RL Zoo's published PPO curve.

    python -m scripts.experiments.breakout_parity [--steps 1100000] [--seeds 1 2 3]
        [--zoo-losses-seeds 1] [--hours 2] [--workers 2] [--set cpu_threads=1 ...]

Runs ``rl_alone__seed<seed>``: ``configs/breakout.yaml`` (8 envs x 128 steps, 4 epochs, 4
minibatches, clip 0.1, lr 2.5e-4 annealed over the 10M-step schedule, entropy 0.01) with
``env.protocol=zoo env.sticky_actions=0`` (no sticky actions, FIRE after each lost life, a lost
life terminal for learning; rl_auxgrad/envs/atari.py), the first ``--steps`` agent steps of the
10M-step schedule, as the Zoo's curve is the first part of its 10M-step run (1.1M by default:
the 1M point takes in the episodes up to 1.1M). They train in the
ignored ``runs/experiments/breakout_parity/`` and are reduced to
``docs/data/breakout_parity/``. The reference is the RL Zoo's published PPO run, read from its
8 training monitor files (``docs/data/reference/rl_zoo_ppo_breakout/``, :func:`zoo_episodes`).
At 0.5M and 1M steps the report takes each side's mean score of the episodes that ended within
±10% of the step, and over the first 1M steps the mean of the 50k-step bins' means (the area
under the curve); it sets our seeds against the Zoo's one seed with :func:`against_zoo`.

``zoo_losses__seed<seed>`` (``--zoo-losses-seeds``, seeds 1 and 2 by default) is the same run
with the two loss settings in which the Zoo differs from ours (:data:`ZOO_LOSSES`), to tell
whether they are what puts our seeds below the Zoo's curve (:func:`shift` against our seeds).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from rl_auxgrad.records import is_record
from rl_auxgrad.runs import scalars
from scripts.experiments.breakout_teacher import CONFIG
from scripts.experiments.common import (
    Experiment,
    RunSpec,
    add_speed_option,
    reached_steps,
    smoothed,
    teacher_runs,
    with_speed,
)

ROOT = Path(__file__).parents[2]
EXPERIMENT = Experiment("breakout_parity")
RL_ALONE = ("gate.name=single", "teacher.path=none", "env.protocol=zoo", "env.sticky_actions=0")
ZOO_LOSSES = ("agent.anneal_clip=true", "agent.clip_vloss=false", "agent.vf_coef=1")
"""The Zoo's PPO losses on ours: the clip range annealed from 0.1 (``lin_0.1``) and SB3's value
loss, vf_coef 0.5 · mean((R − V)²) unclipped, which is ours at vf_coef 1 (ours halves the
square)."""
METHODS = {"rl_alone": RL_ALONE, "zoo_losses": RL_ALONE + ZOO_LOSSES}
STEPS = 1_100_000
"""1M steps and the ±WINDOW after it that the Zoo's 1M point takes in."""
SEEDS = (1, 2, 3)
ZOO_LOSSES_SEEDS = (1, 2)
"""The seeds of ``zoo_losses``, the check of whether the Zoo's loss settings close the gap."""
RETURN = "charts/episodic_return"
ZOO_MONITORS = ROOT / "docs" / "data" / "reference" / "rl_zoo_ppo_breakout"
"""SB3's Monitor logs of the RL Zoo's PPO run on BreakoutNoFrameskip-v4 (one seed, its 8
training envs; same hyperparameters as CleanRL's ppo_atari.py: 8 envs x 128 steps, 4 epochs,
clip 0.1 annealed, lr 2.5e-4 annealed, 10M steps), copied from DLR-RM/rl-trained-agents
``ppo/BreakoutNoFrameskip-v4_1/`` (SOURCE.md there)."""
HIDDEN_FRAMES = 15.5 + 5 * 2 * 4 + 4 * 4
"""The frames of one game that no agent step sees under SB3's AtariWrapper, which the monitor
(innermost) counts in ``l``: NoopResetEnv's 1 to 30 no-ops (15.5 on average), FireResetEnv's
FIRE and action 2 at the start of each of the 5 lives (4 frames each) and EpisodicLifeEnv's
NOOP after each of the 4 lives lost before the last. With it the 8 files add up to 9.99M agent
steps, the run's 10M less its last unfinished games."""
POINTS = (500_000, 1_000_000, 2_000_000, 5_000_000)
"""The steps at which the Zoo's curve is quoted; the report compares those our runs reach."""
WINDOW = 0.1
"""Episodes ending within ±WINDOW of a step make its score, on both sides."""
BIN = 50_000
AUC_END = 1_000_000
"""The area under the curve: the mean of the BIN-step bins' mean scores over [0, AUC_END]."""
MARGIN = 0.1
"""Non-inferiority margin δ, a share of the Zoo's value: ours is on par if the lower bound of
the difference's CI is above −δ · Zoo."""


def zoo_episodes(folder: Path = ZOO_MONITORS) -> tuple[np.ndarray, np.ndarray]:
    """The Zoo run's games in the order they ended: the agent step (all envs together) at which
    each ended, and its score. The envs step in lockstep, so a game that ends after f agent
    steps of its own env ends at agent step n_envs · f, where f is the env's frames so far,
    less HIDDEN_FRAMES per game, over the 4 frames of an agent step."""
    files = sorted(folder.glob("*.monitor.csv"))
    steps, scores = [], []
    for file in files:
        score, frames = np.loadtxt(file, delimiter=",", skiprows=2, usecols=(0, 1),
                                   ndmin=2).T
        own = (np.cumsum(frames) - HIDDEN_FRAMES * np.arange(1, frames.size + 1)) / 4
        steps.append(own * len(files))
        scores.append(score)
    order = np.argsort(np.concatenate(steps), kind="stable")
    return np.concatenate(steps)[order], np.concatenate(scores)[order]


def score_at(steps: np.ndarray, scores: np.ndarray, step: int) -> float:
    """The mean score of the episodes that ended within ±WINDOW of ``step``; NaN if the
    episodes stop short of ``step`` (1 + WINDOW) (less one rollout)."""
    if not steps.size or steps.max() < step * (1 + WINDOW) - 2048:
        return float("nan")
    chosen = (steps >= step * (1 - WINDOW)) & (steps <= step * (1 + WINDOW))
    return float(scores[chosen].mean())


def area(steps: np.ndarray, scores: np.ndarray, end: int = AUC_END) -> float:
    """The mean of the BIN-step bins' mean scores over [0, ``end``]; NaN if the episodes stop
    short of ``end``."""
    if not steps.size or steps.max() < end - 2048:
        return float("nan")
    return float(smoothed(steps[steps <= end], scores[steps <= end], BIN)[1].mean())


@cache
def zoo_points() -> dict[int, float]:
    """The Zoo's score at each of POINTS (:func:`score_at` over all 8 envs)."""
    steps, scores = zoo_episodes()
    return {at: score_at(steps, scores, at) for at in POINTS}


@dataclass(frozen=True)
class AgainstZoo:
    """Our n seeds' mean against the Zoo's one seed: d = mean(ours) − Zoo, with the 95% CI
    d ± t(n−1) · s · √(1 + 1/n), s our seeds' standard deviation. That is the prediction
    interval of one more seed of ours, shifted by the Zoo's value: it treats the Zoo's seed as
    one draw from a spread like ours (same algorithm and settings; the Zoo gives one seed, so
    its own spread cannot be measured)."""

    difference: float
    low: float
    high: float
    zoo: float

    @property
    def within_spread(self) -> bool:
        """Whether the Zoo's value could be one more of our seeds (the CI holds 0)."""
        return self.low <= 0.0 <= self.high

    def verdict(self, margin: float = MARGIN) -> str:
        spread = ("the Zoo's value within our seeds' spread" if self.within_spread else
                  "ours below the Zoo's spread" if self.high < 0 else
                  "ours above the Zoo's spread")
        bound = -margin * self.zoo
        inferiority = ("non-inferior" if self.low > bound else
                       "inferior" if self.high < bound else "inconclusive")
        return f"{spread}; {inferiority} at δ = {margin:.0%}"


def against_zoo(ours: list[float], zoo: float) -> AgainstZoo:
    """:class:`AgainstZoo` from our seeds' values (at least 2) and the Zoo's."""
    zoo_less_ours, low, high = shift(ours, [zoo])
    return AgainstZoo(-zoo_less_ours, -high, -low, zoo)


def shift(ours: list[float], others: list[float]) -> tuple[float, float, float]:
    """mean(others) − mean(ours) with Student's two-sample 95% CI ± t(n+m−2) · s · √(1/n + 1/m),
    s² = ((n−1) s_ours² + (m−1) s_others²) / (n+m−2) the pooled variance of our n seeds and
    the m others. With m = 1 the others add no spread (s = s_ours, t(n−1)): our prediction
    interval for one more seed, as in :func:`against_zoo`."""
    n, m = len(ours), len(others)
    pooled = ((n - 1) * np.var(ours, ddof=1) + (m - 1) * (np.var(others, ddof=1) if m > 1 else 0)
              ) / (n + m - 2)
    half = stats.t.ppf(0.975, n + m - 2) * np.sqrt(pooled * (1 / n + 1 / m))
    difference = float(np.mean(others) - np.mean(ours))
    return difference, difference - half, difference + half


def planned_runs(steps: int, seeds: list[int],
                 zoo_losses_seeds: tuple[int, ...] = ZOO_LOSSES_SEEDS) -> list[RunSpec]:
    """``rl_alone`` for ``seeds``, ``zoo_losses`` for ``zoo_losses_seeds``."""
    skip = frozenset(("rl_alone", seed) for seed in zoo_losses_seeds if seed not in seeds) | \
        frozenset(("zoo_losses", seed) for seed in seeds if seed not in zoo_losses_seeds)
    return teacher_runs(METHODS, "none", 0.0, CONFIG,
                        sorted(set(seeds) | set(zoo_losses_seeds)), steps, skip)


def plot(runs: dict[int, Path], losses_runs: dict[int, Path], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for seed, run in runs.items():
        centres, means = smoothed(*scalars(run, RETURN), BIN)
        ax.plot(centres / 1e6, means, label=f"rl_auxgrad PPO, zoo protocol, seed {seed}")
    for seed, run in losses_runs.items():
        centres, means = smoothed(*scalars(run, RETURN), BIN)
        ax.plot(centres / 1e6, means, ":", label=f"same with the Zoo's losses, seed {seed}")
    steps, scores = zoo_episodes()
    shown = steps <= max(reached_steps(list(runs.values())))
    centres, means = smoothed(steps[shown], scores[shown], BIN)
    ax.plot(centres / 1e6, means, "k--", label="SB3 RL Zoo PPO (v4, one seed, 8 envs)")
    ax.set_xlabel("agent steps (millions; x4 = frames)")
    ax.set_ylabel("episodic return (real game score)")
    ax.set_title("Breakout, PPO without a teacher: the zoo protocol")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(figures: Path | None = None, steps: int = STEPS, seeds: tuple[int, ...] = SEEDS,
           zoo_losses_seeds: tuple[int, ...] = ZOO_LOSSES_SEEDS) -> str:
    """The experiment's section of docs/RESULTS.md, over the runs recorded so far (a run still
    training counts up to the step it reached)."""
    title = "## Breakout parity: the zoo protocol against the RL Zoo's PPO curve\n\n"
    runs = started("rl_alone", seeds)
    if not runs:
        return title + "Not run yet: `python -m scripts.experiments.breakout_parity`.\n"
    recorded = [seed for seed, run in runs.items() if is_record(run)]
    reached = dict(zip(runs, reached_steps(list(runs.values())), strict=True))
    losses_runs = started("zoo_losses", zoo_losses_seeds)
    if figures is not None:
        plot(runs, losses_runs, figures / "breakout_parity.png")
    episodes = {seed: scalars(run, RETURN) for seed, run in runs.items()}
    losses_episodes = [scalars(run, RETURN) for run in losses_runs.values()]
    zoo_steps, zoo_scores = zoo_episodes()
    measures = {f"{at:,}": (f"{at / 1e6:g}M steps", lambda s, v, at=at: score_at(s, v, at))
                for at in POINTS if at * (1 + WINDOW) <= steps}
    if steps >= AUC_END:
        measures[f"area, 0–{AUC_END / 1e6:g}M"] = ("the area under the first 1M steps", area)
    rows, verdicts, below, compared_values, losses_rows = [], [], 0, 0, []
    for label, (words, measure) in measures.items():
        ours = {seed: measure(*episodes[seed]) for seed in runs}
        zoo = measure(zoo_steps, zoo_scores)
        losses_rows.append(zoo_losses_row(
            label, ours, [measure(*e) for e in losses_episodes], zoo))
        cells = " | ".join(f"{v:.1f}" if np.isfinite(v) else "not reached"
                           for v in ours.values())
        measured = [v for v in ours.values() if np.isfinite(v)]
        if len(measured) < 2:
            said, interval = "not reached by 2 seeds", "–"
        else:
            compared = against_zoo(measured, zoo)
            said = compared.verdict() + (f" (the {len(measured)} seeds that reached it)"
                                         if len(measured) < len(runs) else "")
            interval = (f"{compared.difference:+.1f} [{compared.low:+.1f}, {compared.high:+.1f}]"
                        f" ({np.mean(measured) / zoo:.0%} of it)")
        rows.append(f"| {label} | {cells} | {zoo:.1f} | {interval} | {said} |")
        verdicts.append(f"{'at' if verdicts else 'At'} {words}, {said}")
        below += sum(v < zoo for v in measured)
        compared_values += len(measured)
    seeds_header = " | ".join(f"seed {seed}" for seed in runs)
    status = ", ".join(f"seed {seed} {'finished' if seed in recorded else 'still training'}, "
                       f"last episode at {reached[seed]:,} steps" for seed in runs)
    figure = "![Breakout parity](figures/breakout_parity.png)\n\n" if figures else ""
    return title + f"""Made by `python -m scripts.experiments.breakout_parity` ({status};
{len(runs)} seeds, so indicative only): PPO without a teacher, `configs/breakout.yaml` with
`env.protocol=zoo env.sticky_actions=0` (the RL Zoo's and CleanRL's protocol: no sticky
actions, FIRE after each lost life, a lost life terminal for learning, 4-frame max-pool skip,
rewards clipped for learning), the first {steps:,} agent steps of the 10M-step schedule, CPU
(one core per run).

**Reference.** The SB3 RL Zoo's published PPO run on BreakoutNoFrameskip-v4 (one seed, the same
hyperparameters as ours and CleanRL's but the clip range annealed from 0.1), from its 8
training envs' monitor files (DLR-RM/rl-trained-agents, copied to
`docs/data/reference/rl_zoo_ppo_breakout/`): each game's end is placed at the agent step the
run had reached (8 × its env's frames, less
{HIDDEN_FRAMES:g} frames per game that no agent step sees, / 4). Where the Zoo differs from ours
(and from CleanRL's ppo_atari.py): its clip range is annealed (0.09 at 1M steps) and its value
loss is not clipped and weighs twice ours (SB3 adds vf_coef · mean((R − V)²), CleanRL and we
vf_coef · ½ · mean(max of the clipped and unclipped squares)); the two anchors end at about
the same score (398.0 and 414.66 at 10M steps). **Compared:** at 0.5M and 1M
agent steps, each side's mean real game score of the episodes that ended within ±10% of the
step; over the first 1M steps, the mean of the 50k-step bins' mean scores (the area under the
curve). **Statistics:** ours − Zoo is our seeds' mean less the Zoo's value, with the 95% interval
t(n−1) · s · √(1 + 1/n) (s: our seeds' standard deviation): our prediction interval for one more
seed, so "within our seeds' spread" means the interval holds 0, i.e. the Zoo's seed could be one
of ours. The Zoo's own spread is not published (one seed), so the interval takes it to be ours.
At n = 2, t(1) = 12.7 makes the interval too wide to fail unless ours is far off; each seed
narrows it (t(2) = 4.3, t(4) = 2.8), and the area, whose seeds differ least, narrows it most.
Non-inferior at δ = {MARGIN:.0%}: the interval's lower bound lies above −{MARGIN:.0%} of the Zoo's
value.

{figure}| agent steps | {seeds_header} | SB3 RL Zoo PPO | ours − Zoo [95% CI] | verdict |
|---|{"---:|" * len(runs)}---:|---:|---|
{chr(10).join(rows)}

**Verdict.** {"; ".join(verdicts)}. Of our {compared_values} seed values in the table,
{below} lie below the Zoo's. The teacher experiments keep the ALE v5 protocol (sticky
actions 0.25, `env.protocol=v5`, the default of `configs/breakout.yaml`), which Machado et al.
(2018) recommend and which scores lower; this section only checks that the learner itself is
not behind the published PPO.

{zoo_losses_part(losses_runs, losses_rows)}"""


def started(method: str, seeds: tuple[int, ...]) -> dict[int, Path]:
    """The runs of ``method`` for ``seeds`` that have logged an episode (recorded or not)."""
    runs = {seed: EXPERIMENT.run(f"{method}__seed{seed}") for seed in seeds}
    return {seed: run for seed, run in runs.items() if scalars(run, RETURN)[0].size}


def zoo_losses_row(label: str, ours: dict[int, float], losses: list[float], zoo: float) -> str:
    """One row of the zoo_losses table: its seeds' values, ours' mean, the Zoo's, and
    zoo_losses − ours by :func:`shift` with its verdict."""
    measured_ours = [v for v in ours.values() if np.isfinite(v)]
    reached = [v for v in losses if np.isfinite(v)]
    cells = " | ".join(f"{v:.1f}" if np.isfinite(v) else "not reached" for v in losses)
    mean = f"{np.mean(measured_ours):.1f}" if measured_ours else "–"
    first = f"| {label} | {cells} | {mean} | {zoo:.1f} |"
    if not reached or len(measured_ours) < 2:
        return f"{first} – | – |"
    difference, low, high = shift(measured_ours, reached)
    said = ("above our seeds' spread" if low > 0 else "below our seeds' spread" if high < 0
            else "within our seeds' spread")
    return f"{first} {difference:+.1f} [{low:+.1f}, {high:+.1f}] | {said} |"


LOSSES_HEADER = ("| agent steps | {} | rl_alone, mean | SB3 RL Zoo PPO | "
                 "zoo_losses − ours [95% CI] | verdict |")


def zoo_losses_part(losses_runs: dict[int, Path], rows: list[str]) -> str:
    """Whether the Zoo's loss settings, on our learner, close the gap to the Zoo's curve."""
    head = ("**Is the gap the Zoo's losses?** `zoo_losses` is `rl_alone` with the Zoo's two "
            "loss settings (`" + " ".join(ZOO_LOSSES) + "`: the clip range annealed from 0.1, "
            "and SB3's unclipped value loss at its weight). ")
    if not losses_runs:
        return head + "Not run yet: `python -m scripts.experiments.breakout_parity`.\n"
    status = ", ".join(f"seed {seed} {'finished' if is_record(run) else 'not finished'}: last "
                       f"episode at {step:,} steps" for (seed, run), step in
                       zip(losses_runs.items(), reached_steps(list(losses_runs.values())),
                           strict=True))
    seeds_header = " | ".join(f"zoo_losses seed {seed}" for seed in losses_runs)
    few = ("One seed can show that the settings move the curve; it cannot measure by how much."
           if len(losses_runs) == 1 else
           f"{len(losses_runs)} seeds make this indicative: the interval is wide, and a verdict "
           "needs at least 5.")
    return head + f"""({status}.)
zoo_losses − ours is its m seeds' mean less our n `rl_alone` seeds' mean, with Student's
two-sample 95% interval t(n+m−2) · s · √(1/n + 1/m) (s: the two sides' pooled standard
deviation; with m = 1, ours alone, which makes it our prediction interval), so "above our seeds'
spread" says its seeds are not more of ours. {few}

{LOSSES_HEADER.format(seeds_header)}
|---|{"---:|" * len(losses_runs)}---:|---:|---:|---|
{chr(10).join(rows)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="agent steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--zoo-losses-seeds", type=int, nargs="*", default=list(ZOO_LOSSES_SEEDS),
                        help="seeds of zoo_losses (the Zoo's clip schedule and value loss)")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    add_speed_option(parser)
    args = parser.parse_args(argv)
    runs = with_speed(planned_runs(args.steps, args.seeds, tuple(args.zoo_losses_seeds)),
                      args.set)
    EXPERIMENT.train(runs, args.workers, args.hours)
    print(report(None, args.steps, tuple(args.seeds), tuple(args.zoo_losses_seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
