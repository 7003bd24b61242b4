"""Breakout + Ms. Pac-Man as one multi-task agent, with the Breakout teacher only: multitask RL,
multitask RL + KL, per-game cosine gating (each game's KL against that game's RL loss) and the
default per game (``stop`` with one schedule per game); beside them, single-task Breakout with
the multi-task runs' 18 actions.

    python -m scripts.experiments.multitask_teacher [--seeds 2] [--steps 500000] [--workers 1]
        [--set env.threads=4 ...]

``configs/multitask.yaml`` (8 envs of each game, the ALE's 18 actions, a policy and value head
per game, shared Nature-CNN torso), the first ``--steps`` agent steps (both games together) of
its 20M-step schedule, teacher ``teachers/breakout_ppo_350k`` mapped into the 18 actions by
ALE action meaning, lambda = LAM, fp32. The poster's claims: multitask RL learns Ms. Pac-Man
at the expense of Breakout; RL + KL helps Breakout but hurts Ms. Pac-Man; with the cosine gate
Ms. Pac-Man ignores the teacher (its gate weight stays below Breakout's) and both games learn
well. The last is measured a second way with the per-game signal: under ``stop_per_game`` each
game's λ is full until that game's student reaches the teacher's card score (Breakout 9.0; the
card has no Ms. Pac-Man score) or the upper bound of that game's agreement ρ falls below 0.

The control ``breakout18_rl``: single-task RL alone on ``configs/breakout.yaml`` with
``env.full_action_space=true`` for half the budget (a multi-task run's Breakout steps), so
that "at the expense of Breakout" is measured against a single-task Breakout with the same
18 actions, beside the Breakout experiment's 4-action RL alone.

Runs train in ``runs/experiments/multitask_teacher/<run>`` (``<method>__seed<seed>``, and
``breakout18_rl__seed<seed>``; sittings of about ``--hours``, resumed there); each finished run
is reduced to ``docs/data/multitask_teacher/<run>.npz``, the only part committed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from scripts.experiments import breakout_teacher
from scripts.experiments.breakout_teacher import early_late
from scripts.experiments.common import (
    ATARI_BIN,
    Claim,
    Experiment,
    MethodRuns,
    RunSpec,
    add_speed_option,
    bin_centres,
    measured_claim,
    reached_curves,
    reached_steps,
    scalars,
    schedule_stop,
    teacher_runs,
    window_mean,
    with_speed,
)

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "configs" / "multitask.yaml")
EXPERIMENT = Experiment("multitask_teacher")
TEACHER = "teachers/breakout_ppo_350k"
LAM = 1.0
GAMES = ("Breakout", "MsPacman")
PER_GAME = "stop_per_game"
METHODS: dict[str, tuple[str, ...]] = {
    "cosine": ("gate.name=cosine",),
    PER_GAME: ("gate.name=multitask", "teacher.lam_schedule=stop", "teacher.per_game=true"),
    "multitask_rl+kl": ("gate.name=multitask",),
    "multitask_rl": ("gate.name=single", "teacher.path=none"),
}
"""In the order they are trained (per seed) and tabulated: first the two ways for Ms. Pac-Man
to ignore the teacher, the cosine gate (its per-game weights are the poster's claim) and right
after it the default per game (its per-game λ measures the same claim with the per-game
signal, so the two read side by side; added once the other three were recorded, it is the
method a new sitting trains first)."""
CONTROL = "breakout18_rl"
CONTROL_OVERRIDES = ("gate.name=single", "teacher.path=none", "env.full_action_space=true")
"""The control: single-task Breakout RL alone on breakout_teacher's config with the 18 actions
of the multi-task runs, for half their steps (a multi-task run's Breakout steps)."""
DIAGNOSTICS = {f"gate/cosine/{g}": f"{g} cos(g_RL, g_KL)" for g in GAMES} | {
    f"losses/teacher_kl/{g}": f"{g} KL to the teacher" for g in GAMES}
"""Per-game scalars of the runs with a teacher, tabulated beside the curves."""
SCHEDULE = {f"teacher/lam/{g}": f"{g} λ" for g in GAMES} | {
    f"teacher/agreement/{g}": f"{g} ρ" for g in GAMES}
"""Each game's teacher weight λ_t (logged with ``teacher.per_game``) and agreement ρ over that
game's envs (logged by runs with a teacher made since per-game ρ was), tabulated for the runs
that log them."""


def planned_runs(seeds: list[int], steps: int) -> list[RunSpec]:
    """Per seed: every method for ``steps`` agent steps, then the control for ``steps // 2``."""
    return [run for seed in seeds for run in (
        *teacher_runs(METHODS, TEACHER, LAM, CONFIG, [seed], steps),
        *teacher_runs({CONTROL: CONTROL_OVERRIDES}, TEACHER, LAM, breakout_teacher.CONFIG,
                      [seed], steps // 2))]


PANELS = {**{f"charts/episodic_return/{g}": f"{g} score" for g in GAMES},
          **{f"gate/weight/{g}": f"{g} gate weight" for g in GAMES}}
"""The figure's panels (in order) and the main table's columns: per-game scores and weights."""


@dataclass(frozen=True)
class GameStop:
    """One game's ``stop`` schedule in one ``stop_per_game`` run."""

    at: int | None
    """The agent step (both games) at which it set the game's λ to 0 for good; None: still on."""
    by_score: bool
    """Whether the game's student had reached the teacher's card score then (else the upper
    bound of the game's ρ had fallen below 0)."""
    agreement: float
    """The game's mean ρ over the run's rollouts on which the teacher was queried (until every
    game had stopped), within the budget."""

    def describe(self) -> str:
        if self.at is None:
            return "λ still on"
        rule = "the teacher's score reached" if self.by_score else "ρ's upper bound below 0"
        return f"λ → 0 at {self.at:,} steps ({rule})"


def game_stop(path: Path, game: str, steps: int) -> GameStop:
    """How ``game``'s schedule went in the run at ``path`` over its first ``steps``
    (:func:`~scripts.experiments.common.schedule_stop`; the teacher's score is logged only for
    a game its card scores)."""
    stop = schedule_stop(path, game)
    return GameStop(stop.at, stop.by_score,
                    window_mean(path, f"teacher/agreement/{game}", 0, steps))


def pacman_ignores(stops: dict[str, GameStop]) -> bool:
    """Whether in one run the per-game signal tells the games apart: Ms. Pac-Man's λ stopped
    while Breakout's was still on, or Breakout's stopped because its student reached the
    teacher's score (not on the bound, as it would for a teacher that hurts both games)."""
    pacman, breakout = stops["MsPacman"], stops["Breakout"]
    return pacman.at is not None and (breakout.at is None or breakout.at > pacman.at
                                      or breakout.by_score)


@dataclass(frozen=True)
class Measured:
    """What the multi-task section shows: the runs of ``seeds`` found so far at a budget of
    ``steps`` agent steps (both games), and the numbers its claims compare."""

    seeds: tuple[int, ...]
    steps: int
    runs: dict[str, MethodRuns]
    """The methods with a run so far (in METHODS' order), their curves of PANELS, DIAGNOSTICS
    and SCHEDULE."""
    summary: dict[tuple[str, str], tuple[float, float]]
    """Early and late value of each (method, tag) the method logs (:func:`early_late`)."""
    single_breakout: float
    """Single-task RL alone's late Breakout score with Breakout's 4 actions (the Breakout
    experiment's runs) at the same Breakout steps (:func:`single_task_breakout`)."""
    control_breakout: float
    """The same with the multi-task runs' 18 actions (CONTROL; NaN until it has run there)."""
    control_reached: dict[int, int]
    """The seeds of CONTROL found so far, with the agent step each has reached (its own)."""
    stops: dict[int, dict[str, GameStop]]
    """Per seed of PER_GAME found so far, each game's schedule (:func:`game_stop`)."""
    unfinished: list[str]
    """The methods (and CONTROL) not run yet, or short of their seeds or of the budget."""

    @property
    def x(self) -> np.ndarray:
        """The centres of the 25k-step bins, in thousands of agent steps (both games)."""
        return bin_centres(self.steps) / 1e3


def measure(seeds: tuple[int, ...] = (1, 2), steps: int = 500_000) -> Measured:
    """Reads every method's runs and the control's (records, or live runs still training)."""
    bins = steps // ATARI_BIN
    runs, summary, unfinished = {}, {}, []
    for method in METHODS:
        dirs = [EXPERIMENT.run(f"{method}__seed{s}") for s in seeds]
        _, found = reached_curves(dirs, "charts/episodic_return", steps, bins)
        if not found:
            unfinished.append(method)
            continue
        reached = reached_steps([dirs[i] for i in found])
        if len(found) < len(seeds) or min(reached) < steps:
            unfinished.append(method)
        curves = {tag: reached_curves(dirs, tag, steps, bins)[0]
                  for tag in [*PANELS, *DIAGNOSTICS, *SCHEDULE]}
        summary |= {(method, tag): early_late(values, reached, steps)
                    for tag, values in curves.items() if not np.isnan(values).all()}
        runs[method] = MethodRuns([seeds[i] for i in found], reached, curves)
    stops = {s: {g: game_stop(EXPERIMENT.run(f"{PER_GAME}__seed{s}"), g, steps) for g in GAMES}
             for s in (runs[PER_GAME].seeds if PER_GAME in runs else [])}
    controls = {s: EXPERIMENT.run(f"{CONTROL}__seed{s}") for s in seeds}
    found = [s for s, d in controls.items() if scalars(d, "charts/episodic_return")[0].size]
    control_reached = dict(zip(found, reached_steps([controls[s] for s in found]), strict=True))
    if len(found) < len(seeds) or min(control_reached.values(), default=0) < steps // 2:
        unfinished.append(CONTROL)
    four_actions = [breakout_teacher.run_dir("rl_alone", s) for s in seeds]
    return Measured(seeds, steps, runs, summary, single_task_breakout(four_actions, steps),
                    single_task_breakout(list(controls.values()), steps), control_reached,
                    stops, unfinished)


def plot(measured: Measured, figures: Path) -> None:
    """``figures``/multitask_teacher.png: per-game score and gate weight, mean per method."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for method, runs in measured.runs.items():
        for ax, tag in zip(axes.flat, PANELS, strict=True):
            if not np.isnan(runs.curves[tag]).all():
                ax.plot(measured.x, np.nanmean(runs.curves[tag], axis=0), label=method)
    for ax, label in zip(axes.flat, PANELS.values(), strict=True):
        ax.set(xlabel="agent steps, both games (thousands)", ylabel=label)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(f"Breakout + Ms. Pac-Man, teacher {TEACHER} (mean over the seeds run so far)")
    fig.tight_layout()
    fig.savefig(figures / "multitask_teacher.png", dpi=110)
    plt.close(fig)


def _header(labels: list[str], first: tuple[str, ...] = ("method",)) -> str:
    """A table's header and separator rows: the ``first`` columns left-aligned, ``labels``
    right-aligned."""
    return (f"| {' | '.join([*first, *labels])} |\n|" + "---|" * len(first)
            + "---:|" * len(labels))


def _number(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.3g}"


def prose(measured: Measured) -> str:
    """The section's text: the settings, the per-game table, the diagnostics table, the
    per-game schedules of the default and the single-task references for Breakout."""
    seeds, steps = measured.seeds, measured.steps

    def cell(method: str, tag: str) -> str:
        if (method, tag) not in measured.summary:
            return "–"
        early, late = measured.summary[method, tag]
        return f"{early:.3g} → {_number(late)}"

    def row(method: str, tags: dict[str, str], *first: str) -> str:
        return f"| {' | '.join([method, *first, *(cell(method, t) for t in tags)])} |"

    rows, diagnostics, schedule = [], [], []
    for method, overrides in METHODS.items():
        if method not in measured.runs:
            rows.append(f"| {method} | not run yet |" + " |" * len(PANELS))
            continue
        runs = measured.runs[method]
        found = ", ".join(f"{s} ({r:,})" for s, r in zip(runs.seeds, runs.reached, strict=True))
        rows.append(row(method, PANELS, found))
        if "teacher.path=none" not in overrides:
            diagnostics.append(row(method, DIAGNOSTICS))
        if any((method, tag) in measured.summary for tag in SCHEDULE):
            schedule.append(row(method, SCHEDULE))
    reached = (dict(zip(measured.runs[PER_GAME].seeds, measured.runs[PER_GAME].reached,
                        strict=True)) if PER_GAME in measured.runs else {})
    stops = [f"- seed {seed}"
             + ("" if reached[seed] >= steps else f" (at {reached[seed]:,} steps so far)") + ": "
             + "; ".join(f"{game} {stop.describe()}, mean ρ {_number(stop.agreement)}"
                         for game, stop in games.items())
             for seed, games in measured.stops.items()]
    control = (f"{_number(measured.control_breakout)} (seeds, steps reached: "
               + ", ".join(f"{s} ({r:,})" for s, r in measured.control_reached.items()) + ")"
               if measured.control_reached else "not run yet")
    reference = ("The first claim compares multi-task RL with this 18-action control."
                 if not np.isnan(measured.control_breakout) else "Until the 18-action control "
                 "has run, the first claim rests on the 4-action reference.")
    return f"""## Multi-task Breakout + Ms. Pac-Man with the Breakout teacher

Made by `python -m scripts.experiments.multitask_teacher --seeds {len(seeds)} --steps {steps}`
(CPU only; resumed across sessions from checkpoints in the ignored runs folder). Each run
is the first {steps:,} agent steps (both games) of `configs/multitask.yaml`'s schedule;
teacher `{TEACHER}`, λ = {LAM:g}; fp32. `cosine` gates each game's KL against that game's
policy loss at a constant λ; `{PER_GAME}` is the default (`teacher.lam_schedule=stop` on the
plain sum) with one schedule per game (`teacher.per_game=true`): each game's λ is full
until that game's student reaches the teacher's card score (Breakout
{breakout_teacher.TEACHER_SCORE:.1f}; the card has no Ms. Pac-Man score, so Ms. Pac-Man
stops only on the bound) or the upper 2σ bound of that game's ρ over its last rollouts
falls below 0. Early = first 100k steps, late = last 50k of {steps:,} (the seeds that
reached it; –: none yet). Claims are measured on the seeds that
reached {steps:,} steps; while some have not, their verdicts say "so far".

Single-task Breakout over the same Breakout steps ({(steps - 50_000) // 2:,} to {steps // 2:,}
of its own: each game gets half of a multi-task run's steps), RL alone with Breakout's 4
actions (the Breakout experiment's `rl_alone`): {_number(measured.single_breakout)}; with the
multi-task runs' 18 actions (`{CONTROL}`: `configs/breakout.yaml` with
`env.full_action_space=true`, {steps // 2:,} steps): {control}. {reference}

![multi-task](figures/multitask_teacher.png)

{_header([label + ", early → late" for label in PANELS.values()],
         ("method", "seeds (steps reached)"))}
{chr(10).join(rows)}

How each game's policy gradient and the teacher's agree, and how close each game's policy stays
to the Breakout teacher (early → late; the gate weight is above). `{PER_GAME}` measures them
only while the teacher is queried, so its late values are the last ones before its last game
dropped the teacher (below):

{_header(list(DIAGNOSTICS.values()))}
{chr(10).join(diagnostics)}

Each game's teacher weight λ and agreement ρ (over that game's envs), early → late, for the
runs that log them (once every game has stopped the teacher is no longer queried, and the last
values carry on):

{_header(list(SCHEDULE.values()))}
{chr(10).join(schedule) or f"| {PER_GAME} | not run yet |" + " |" * (len(SCHEDULE) - 1)}

When each game's schedule stopped in `{PER_GAME}` (mean ρ over the rollouts on which the
teacher was queried):

{chr(10).join(stops) or f"- {PER_GAME} not run yet"}
"""


def report(figures: Path, seeds: tuple[int, ...] = (1, 2), steps: int = 500_000
           ) -> tuple[str, list[Claim]]:
    """The multi-task section of docs/RESULTS.md and its claims."""
    measured = measure(seeds, steps)
    plot(measured, figures)
    return prose(measured), claims(measured)


def single_task_breakout(runs: list[Path], steps: int) -> float:
    """Single-task PPO's Breakout score in ``runs`` (mean over those that logged episodes there;
    NaN if none did) over the Breakout steps a multi-task run spends in its last 50k steps:
    each game gets half of them, so [(steps - 50k) / 2, steps / 2)."""
    scores = [window_mean(run, "charts/episodic_return", (steps - 50_000) // 2, steps // 2)
              for run in runs]
    found = [score for score in scores if not np.isnan(score)]
    return float(np.mean(found)) if found else float("nan")


def claims(measured: Measured) -> list[Claim]:
    """The poster's three multi-task claims on late per-game scores, gate weights and KLs to
    the teacher, the first against the 18-action control once it is measured; and the third's
    "Ms. Pac-Man ignores the teacher" measured again with the per-game signal of the default
    (:func:`pacman_ignores`). Each is measured once every method it compares has a run at the
    budget."""
    summary, unfinished = measured.summary, measured.unfinished

    def late(method: str, tag: str, game: str) -> float:
        return summary.get((method, f"{tag}/{game}"), (np.nan, np.nan))[1]

    def claim(text: str, methods: tuple[str, ...], numbers: dict[str, float],
              holds: Callable[[dict[str, float]], bool],
              partly: Callable[[dict[str, float]], bool] | None = None,
              why: Callable[[dict[str, float]], str] | None = None) -> Claim:
        return measured_claim(
            text, methods, unfinished, not any(np.isnan(v) for v in numbers.values()),
            lambda: "late: " + ", ".join(f"{k} {v:.3g}" for k, v in numbers.items()),
            lambda: holds(numbers), None if partly is None else lambda: partly(numbers),
            None if why is None else lambda: why(numbers))

    score, weight, cosine, kl = ("charts/episodic_return", "gate/weight", "gate/cosine",
                                 "losses/teacher_kl")
    mt, rl_kl = "multitask_rl", "multitask_rl+kl"

    def at_expense_of_breakout() -> Claim:
        """Against the 18-action control once it is measured (the multi-task runs have 18
        actions); until then against 4-action RL alone, which the numbers then say the verdict
        rests on (and the verdict says "so far": the control is unfinished). A multi-task
        Breakout below the 4-action reference only is "partly": the gap is the action set's."""
        breakout, pacman = late(mt, score, "Breakout"), late(mt, score, "MsPacman")
        four, eighteen = measured.single_breakout, measured.control_breakout
        reference = four if np.isnan(eighteen) else eighteen
        control = ("not run yet, so the verdict rests on the 4-action reference"
                   if np.isnan(eighteen) else f"{eighteen:.3g}")

        def why() -> str:
            if breakout < four:
                return (f"Multi-task Breakout ({breakout:.3g}) is below single-task Breakout "
                        f"with its 4 actions ({four:.3g}) but not with the multi-task runs' 18 "
                        f"({eighteen:.3g}): the gap is the action set's, not Ms. Pac-Man's.")
            return (f"Multi-task Breakout ({breakout:.3g}) is not below single-task Breakout "
                    f"at the same Breakout steps (4 actions {four:.3g}, 18 actions {control}).")

        return measured_claim(
            "Multi-task RL learns Ms. Pac-Man at the expense of Breakout", (mt, CONTROL),
            unfinished, not np.isnan([breakout, pacman, reference]).any(),
            lambda: (f"late: multitask RL Breakout {breakout:.3g}, Ms. Pac-Man {pacman:.3g}; "
                     f"single-task RL alone at the same Breakout steps, 4 actions {four:.3g}, "
                     f"18 actions {control}"),
            lambda: breakout < reference, lambda: not np.isnan(eighteen) and breakout < four,
            why)

    def pacman_ignores_per_game() -> Claim:
        """On the seeds of the default per game at the budget: in every one Ms. Pac-Man's λ
        stops as :func:`pacman_ignores` says, and Ms. Pac-Man's late score is not below
        multitask RL's ("partly" when only the first holds)."""
        runs = measured.runs.get(PER_GAME)
        seeds = [] if runs is None else [s for s, r in zip(runs.seeds, runs.reached, strict=True)
                                         if r >= measured.steps]
        stops = {s: measured.stops[s] for s in seeds}
        pacman, rl_pacman = late(PER_GAME, score, "MsPacman"), late(mt, score, "MsPacman")

        def numbers() -> str:
            return "; ".join([*(f"seed {s}: Ms. Pac-Man {g['MsPacman'].describe()}, mean ρ "
                                f"{_number(g['MsPacman'].agreement)}; Breakout "
                                f"{g['Breakout'].describe()}" for s, g in stops.items()),
                              f"late Ms. Pac-Man {pacman:.3g}, multitask RL {rl_pacman:.3g}"])

        def separated() -> bool:
            return all(pacman_ignores(g) for g in stops.values())

        def why() -> str:
            reasons = [f"seed {s}: " + ("Ms. Pac-Man's λ never stopped" if g["MsPacman"].at is None
                                        else f"Breakout's λ stopped on the bound at "
                                        f"{g['Breakout'].at:,} steps, not after Ms. Pac-Man's")
                       for s, g in stops.items() if not pacman_ignores(g)]
            if pacman < rl_pacman:
                reasons.append(f"Ms. Pac-Man ends at {pacman:.3g}, below multitask RL's "
                               f"{rl_pacman:.3g}")
            on_bound = [f"{g['Breakout'].at:,}" for g in stops.values()
                        if g["Breakout"].at is not None and not g["Breakout"].by_score]
            if on_bound:
                reasons.append(
                    f"Breakout's λ stopped on the bound too ({len(on_bound)} of {len(stops)} "
                    f"seeds, at {', '.join(on_bound)} steps), so Breakout ends at "
                    f"{late(PER_GAME, score, 'Breakout'):.3g}, below multitask RL + KL's "
                    f"{late(rl_kl, score, 'Breakout'):.3g} (multitask RL "
                    f"{late(mt, score, 'Breakout'):.3g})")
            return "; ".join(reasons) + "."

        return measured_claim(
            "The default per game: Ms. Pac-Man ignores the Breakout teacher (its λ stops while "
            "Breakout's is on, or Breakout's stops at the teacher's score) and learns Ms. "
            "Pac-Man as well as multitask RL", (PER_GAME, mt), unfinished,
            bool(stops) and not np.isnan([pacman, rl_pacman]).any(), numbers,
            lambda: separated() and pacman >= rl_pacman, separated, why)

    cosine_numbers = {
        "cosine gate weight Breakout": late("cosine", weight, "Breakout"),
        "cosine gate weight Ms. Pac-Man": late("cosine", weight, "MsPacman"),
        "cosine Breakout": late("cosine", score, "Breakout"),
        "multitask RL Breakout": late(mt, score, "Breakout"),
        "cosine Ms. Pac-Man": late("cosine", score, "MsPacman"),
        "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman"),
        "RL + KL Ms. Pac-Man": late(rl_kl, score, "MsPacman"),
        "cosine Ms. Pac-Man KL to the teacher": late("cosine", kl, "MsPacman"),
        "RL + KL Ms. Pac-Man KL to the teacher": late(rl_kl, kl, "MsPacman"),
        "cosine gate cosine Ms. Pac-Man": late("cosine", cosine, "MsPacman")}

    def shields_pacman(n: dict[str, float]) -> bool:
        """Ms. Pac-Man's gate passes less of the teacher than Breakout's, Breakout keeps the
        teacher's help and Ms. Pac-Man ends above RL + KL's."""
        return (n["cosine gate weight Ms. Pac-Man"] < n["cosine gate weight Breakout"]
                and n["cosine Breakout"] >= n["multitask RL Breakout"]
                and n["cosine Ms. Pac-Man"] > n["RL + KL Ms. Pac-Man"])

    def pacman_still_pulled(n: dict[str, float]) -> str:
        lost = n["multitask RL Ms. Pac-Man"] - n["RL + KL Ms. Pac-Man"]
        recovered = (f"Ms. Pac-Man recovers "
                     f"{100 * (n['cosine Ms. Pac-Man'] - n['RL + KL Ms. Pac-Man']) / lost:.0f}% "
                     f"of the score RL + KL loses to multitask RL" if lost > 0 else
                     "RL + KL does not lose Ms. Pac-Man score to multitask RL here")
        return (f"Ms. Pac-Man's gate does not shut: it still passes "
                f"{n['cosine gate weight Ms. Pac-Man']:.2f} of λ·g_KL late (Breakout's "
                f"{n['cosine gate weight Breakout']:.2f}) although its mean cosine is "
                f"{n['cosine gate cosine Ms. Pac-Man']:+.2f}: the weight max(0, cos) is taken "
                f"per minibatch, and on the minibatches where the Breakout teacher's gradient "
                f"happens to agree with Ms. Pac-Man's it goes through. That keeps Ms. Pac-Man's "
                f"policy {n['cosine Ms. Pac-Man KL to the teacher']:.3g} nats from the "
                f"teacher's (RL + KL: {n['RL + KL Ms. Pac-Man KL to the teacher']:.3g}); "
                f"{recovered} (cosine {n['cosine Ms. Pac-Man']:.0f}, RL + KL "
                f"{n['RL + KL Ms. Pac-Man']:.0f}, multitask RL "
                f"{n['multitask RL Ms. Pac-Man']:.0f}).")

    return [
        at_expense_of_breakout(),
        claim("Multi-task RL + KL: the teacher helps Breakout but hurts Ms. Pac-Man",
              (mt, rl_kl),
              {"RL + KL Breakout": late(rl_kl, score, "Breakout"),
               "multitask RL Breakout": late(mt, score, "Breakout"),
               "RL + KL Ms. Pac-Man": late(rl_kl, score, "MsPacman"),
               "multitask RL Ms. Pac-Man": late(mt, score, "MsPacman"),
               "RL + KL Ms. Pac-Man KL to the teacher": late(rl_kl, kl, "MsPacman")},
              lambda n: n["RL + KL Breakout"] > n["multitask RL Breakout"]
              and n["RL + KL Ms. Pac-Man"] < n["multitask RL Ms. Pac-Man"]),
        claim("Cosine: Ms. Pac-Man ignores the Breakout teacher when it hurts; both games "
              "learn well (Ms. Pac-Man as well as in multitask RL)", ("cosine", mt, rl_kl),
              cosine_numbers,
              lambda n: shields_pacman(n)
              and n["cosine Ms. Pac-Man"] >= n["multitask RL Ms. Pac-Man"],
              partly=shields_pacman, why=pacman_still_pulled),
        pacman_ignores_per_game(),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..N per method")
    parser.add_argument("--steps", type=int, default=500_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side")
    parser.add_argument("--hours", type=float, default=2.0,
                        help="length of this sitting; run again to continue")
    parser.add_argument("--runs-dir", type=Path, help="where the runs train (default: "
                        "$RL_AUXGRAD_RUNS or runs, /experiments/multitask_teacher)")
    add_speed_option(parser)
    args = parser.parse_args(argv)
    runs = with_speed(planned_runs(list(range(1, args.seeds + 1)), args.steps), args.set)
    EXPERIMENT.train(runs, args.workers, args.hours, args.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
