"""The evidence pipeline: runs as resumable units of work, binned curves, rliable aggregates,
the control-task experiment end to end at a tiny budget, claims as data, sweep.py."""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.tensorboard import SummaryWriter

from rl_auxgrad import train as train_module
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.config import load_config
from rl_auxgrad.records import write_record
from rl_auxgrad.run_dir import RUNS_ENV, RunDir
from rl_auxgrad.runs import RunSpec, finished, run_one, scalars
from scripts.claims import Claim, bullet, from_json, read_claims, write_claims
from scripts.experiments import (
    aggregate,
    atari_budget,
    breakout_teacher,
    cartpole_teacher,
    control_teacher,
    minatar_teacher,
    multitask_teacher,
    precision_check,
)
from scripts.experiments.common import (
    Experiment,
    MethodRuns,
    ScheduleStop,
    binned,
    card_mean,
    passing_bin,
    run_all,
    schedule_stop,
    seeds_label,
    with_speed,
)

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")


def test_run_one_trains_skips_when_finished_and_resumes_when_interrupted(tmp_path):
    spec = RunSpec("r", ("teacher.path=none", "total_steps=1024", "checkpoint_every=256"),
                   CONFIG)
    assert train_module.main(["--config", CONFIG, *spec.overrides, "name=r",
                              f"runs_dir={tmp_path}", "--stop-after", "512",
                              "--no-progress"]) == 0
    assert not finished(tmp_path / "r")
    directory = run_one(spec, tmp_path)
    assert finished(directory)
    steps, _ = scalars(directory, "charts/SPS")
    assert steps.max() >= 1024
    checkpoint = directory / RunDir.CHECKPOINT
    stamp = checkpoint.stat().st_mtime_ns
    run_one(spec, tmp_path)
    assert checkpoint.stat().st_mtime_ns == stamp


def test_a_run_stopped_before_its_first_checkpoint_starts_again_from_zero(tmp_path, capsys):
    spec = RunSpec("r", ("teacher.path=none", "total_steps=512"), CONFIG)
    directory = run_one(spec, tmp_path)
    (directory / RunDir.CHECKPOINT).unlink()  # as if killed before the first checkpoint
    assert not finished(directory)
    assert train_module.main(["--resume", str(directory), "--no-progress"]) == 0
    assert "starting it again from step 0" in capsys.readouterr().err
    assert finished(directory) and len(list(directory.glob("events.out.tfevents.*"))) == 1
    (directory / RunDir.CHECKPOINT).unlink()
    assert finished(run_one(spec, tmp_path))
    steps, _ = scalars(directory, "charts/SPS")
    assert sorted(steps) == sorted(set(steps))  # one attempt's events, no stale duplicates


def test_an_experiment_records_finished_runs_and_continues_in_sittings(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    experiment = Experiment("e", tmp_path / "records")
    runs = [RunSpec(f"r{seed}", ("teacher.path=none", "total_steps=1024", f"seed={seed}",
                                 "checkpoint_every=256"), CONFIG, stop_at=512)
            for seed in (1, 2)]
    experiment.train(runs, hours=1e-9)  # a sitting over before it starts
    out = capsys.readouterr().out
    assert "0 of 2 runs recorded" in out and "r2: at 0 steps when this sitting ended" in out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "records").exists()
    assert experiment.run("r1") == tmp_path / "runs" / "experiments" / "e" / "r1"
    experiment.train(runs)
    assert sorted(p.name for p in (tmp_path / "records" / "e").iterdir()) == ["r1.npz", "r2.npz"]
    assert experiment.run("r1") == tmp_path / "records" / "e" / "r1.npz"
    steps, _ = scalars(experiment.run("r2"), "charts/SPS")
    assert steps.max() == 512
    shutil.rmtree(tmp_path / "runs")  # recorded runs are not trained again without their dirs
    experiment.train(runs)
    assert "2 of 2 runs recorded" in capsys.readouterr().out and not (tmp_path / "runs").exists()


def test_run_all_side_by_side_reports_each_run_as_it_finishes(tmp_path):
    runs = [RunSpec(f"r{seed}", ("teacher.path=none", "total_steps=512", f"seed={seed}"),
                    CONFIG) for seed in (1, 2)]
    done: list[str] = []
    run_all(runs, tmp_path, workers=2, on_done=lambda spec, directory: done.append(
        f"{spec.name}:{finished(directory)}"))
    assert sorted(done) == ["r1:True", "r2:True"]


def test_binned_means_per_span_and_carries_the_last_point_into_empty_spans(tmp_path):
    """An empty span takes the last point before it, not the mean of the span before: a λ
    that stopped at 0 reads 0 after the stop."""
    writer = SummaryWriter(str(tmp_path))
    for step, value in [(0, 1.0), (10, 3.0), (30, 4.0), (45, 5.0), (99, 7.0)]:
        writer.add_scalar("x", value, step)
    writer.close()
    curve = binned(tmp_path, "x", total_steps=100, bins=4)  # spans of 25 steps
    np.testing.assert_allclose(curve, [2.0, 4.5, 5.0, 7.0])
    np.testing.assert_allclose(binned(tmp_path, "x", total_steps=50, bins=2), [2.0, 4.5])
    assert np.isnan(binned(tmp_path, "missing", 100, 4)).all()


def test_iqm_is_the_mean_of_the_middle_half_with_a_bracketing_ci():
    scores = np.array([100.0, 1, 2, 3, 4, 5, 6, -100])
    estimate = aggregate.iqm(scores, reps=200)
    assert estimate.point == pytest.approx(3.5)  # mean of 2, 3, 4, 5
    assert estimate.low <= estimate.point <= estimate.high
    assert aggregate.iqm(scores, reps=200) == estimate  # the same CI every time


def test_iqm_curve_is_the_iqm_of_each_point():
    curves = np.random.default_rng(1).random((10, 7))
    point, low, high = aggregate.iqm_curve(curves, reps=100)
    np.testing.assert_allclose(point, [aggregate.iqm(curves[:, t], reps=10).point
                                       for t in range(7)])
    assert (low <= point).all() and (point <= high).all()


def test_passing_bin_is_where_a_curve_stays_above_for_good():
    assert passing_bin(np.array([1.0, 3, 1, 3, 4]), 2) == 3
    assert passing_bin(np.array([3.0, 4]), 2) == 0
    assert passing_bin(np.array([3.0, 1]), 2) is None
    assert passing_bin(np.array([3.0, np.nan]), 2) is None  # NaN is not above


@pytest.mark.parametrize("task", [cartpole_teacher.TASK, minatar_teacher.TASK])
def test_control_tasks_name_shipped_teachers_of_their_game(task):
    game = yaml.safe_load((ROOT / task.config).read_text())["env"]["id"]
    for teacher in ("good", "harmful", "uniform"):
        card = json.loads((ROOT / task.teachers[teacher] / "teacher.json").read_text())
        assert card["games"] == [game]


def test_control_experiment_end_to_end_records_each_run_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(aggregate, "REPS", 40)
    monkeypatch.setattr(control_teacher, "SWEEP_SEEDS", (1,))  # evaluation: seed 2
    task, record = cartpole_teacher.TASK, tmp_path / "record.npz"
    args = ["--seeds", "2", "--steps", "512", "--workers", "1", "--runs-dir",
            str(tmp_path / "runs"), "--out", str(record)]
    assert cartpole_teacher.main(task, args) == 0
    kept = control_teacher.Record(record)
    assert kept.meta["steps"] == 512 and kept.meta["seeds"] == [1, 2]
    assert kept.meta["lam"] in control_teacher.LAMS and control_teacher.complete(task, kept)
    runs = {key.rsplit("/", 2)[0] for key in kept.curves}
    assert len(runs) == 8 + 10 * 2 - 2 * 1 + 6 * 2 + 2 * 2  # main seed 1 is in the sweep
    # runs/ gone: the record alone says the experiment is done, nothing is trained again
    shutil.rmtree(tmp_path / "runs")
    assert cartpole_teacher.main(task, args) == 0
    assert not (tmp_path / "runs").exists()
    (tmp_path / "figures").mkdir()
    text, claims = control_teacher.report(task, tmp_path / "figures", record)
    assert "| rl+kl |" in text and "KL only plateaus near the teacher" in text
    assert "passes the teacher at" in text
    assert {c.text for c in claims} >= {"RL + KL helps early",
                                        "RL + KL falls behind RL alone later"}
    assert all(c.verdict for c in claims)
    assert "chosen by the sweep below on seeds 1; every" in text and "on the other seeds, 2" in text
    assert "### Every seed of the no-harm claims" in text and "### Verdicts that changed" in text
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "cartpole_harmful_returns.png", "cartpole_teacher_gates.png",
        "cartpole_teacher_returns.png"]


@pytest.mark.parametrize(("want", "before", "low", "high", "then", "now"), [
    ("at least", "same (CIs overlap)", -3.0, 1.0, "holds", "not shown"),
    ("at least", "lower", -0.5, 1.0, "does not hold", "holds"),
    ("at least", "higher", -3.0, -1.5, "holds", "does not hold"),
    ("at least", "lower", -3.0, -0.5, "does not hold", "not shown"),  # worse, maybe within δ
    ("higher", "same (CIs overlap)", 0.5, 1.0, "not shown", "holds"),
    ("higher", "higher", -0.5, -0.1, "holds", "does not hold"),
    ("lower", "lower", -0.5, 0.5, "holds", "not shown"),
    ("lower", "higher", -3.0, -1.5, "does not hold", "holds"),
])
def test_a_check_reads_a_claim_under_the_old_and_the_new_rule(want, before, low, high, then,
                                                              now):
    comparison = aggregate.Comparison(np.zeros((1, 1)), np.zeros((1, 1)), 1.0,
                                      aggregate.Estimate((low + high) / 2, low, high),
                                      aggregate.Estimate(0, 0, 0), 0.5)
    check = control_teacher.Check("claim", "a", "b", want, comparison, before)
    assert (check.outcome_before, check.outcome) == (then, now)


def test_control_report_of_an_unfinished_record_says_how_to_continue(tmp_path):
    text, claims = control_teacher.report(minatar_teacher.TASK, tmp_path, tmp_path / "none.npz")
    assert "Not finished yet (0 runs recorded)" in text
    assert "scripts.experiments.minatar_teacher" in text
    assert claims == []


def test_claims_round_trip_through_json_and_render_their_verdict(tmp_path):
    found = [Claim("Unrelated aux hurts multitask", "(paper: λ ≥ 0.3). Worse by +0.15.",
                   "agrees"),
             Claim("Projection beats multitask", "-0.002 [-0.009, +0.004].", "differs",
                   "Does not hold at the best λ (not significant)."),
             Claim("Overall: both hold", "", "partly")]
    write_claims(tmp_path / "c.json", found)
    assert read_claims(tmp_path / "c.json") == found
    assert [bullet(c) for c in found] == [
        "- **Unrelated aux hurts multitask** (paper: λ ≥ 0.3). Worse by +0.15. Holds.",
        "- **Projection beats multitask.** -0.002 [-0.009, +0.004]. Does not hold at the best λ "
        "(not significant).",
        "- **Overall: both hold.** Partly holds."]
    with pytest.raises(ValueError, match="verdict"):
        from_json({"text": "t", "measured": "m"})


@pytest.mark.parametrize("name", ["toy_du", "circle", "synthetic_regression", "class_pairs"])
def test_each_supervised_report_renders_the_claims_it_wrote(name):
    """The committed report and its claims agree: each claim's sentence, verdict included, is in
    the markdown (a full-batch claim in the full-batch section)."""
    scripts = {"toy_du": importlib.import_module("scripts.toy_du").say,
               "circle": importlib.import_module("scripts.circle").say}
    text = (ROOT / "docs" / "supervised" / f"{name}.md").read_text()
    found = read_claims(ROOT / "docs" / "supervised" / f"{name}_claims.json")
    assert found and all(c.verdict in ("agrees", "partly", "differs") for c in found)
    minibatch, _, full_batch = text.partition("## Variant: full-batch")
    for claim in found:
        variant = claim.text.endswith(" (full batch)")
        shown = claim._replace(text=claim.text.removesuffix(" (full batch)"))
        assert scripts.get(name, bullet)(shown) in (full_batch if variant else minibatch)


def test_the_report_lists_every_claim_with_its_source_as_data(tmp_path):
    make_report = importlib.import_module("scripts.make_report")
    rows = [("Paper A", Claim("holds", "x" * 500, "agrees")),
            ("Paper B", Claim("overall", "", "differs", "one of them does not."))]
    make_report.write_claims_data(rows, tmp_path / "claims.json")
    data = json.loads((tmp_path / "claims.json").read_text())
    assert data[1] == {"source": "Paper B", "text": "overall", "measured": "",
                       "verdict": "differs", "why": "one of them does not."}
    assert [make_report.measured_cell(c) for _, c in rows] == ["x" * 400 + "…",
                                                              "the claims above"]


def test_harmful_minatar_rule_moves_the_paddle_away_from_the_ball():
    rules = importlib.import_module("scripts.make_harmful_teacher")
    grid = torch.zeros(3, 10, 10, 4)
    grid[:, 9, 5, 0] = 1  # the paddle in column 5 of the bottom row
    grid[0, 3, 2, 1] = 1  # ball left of the paddle -> go right (action 2)
    grid[1, 6, 8, 1] = 1  # ball right of it -> go left (action 1); no ball in state 2
    source = torch.full((3, 3), 1 / 3)
    targets = rules.rule_targets("away", source, grid.flatten(1))
    assert targets[0].argmax() == 2 and targets[1].argmax() == 1
    torch.testing.assert_close(targets[2], source[2])  # the source's policy without a ball
    torch.testing.assert_close(targets.sum(-1), torch.ones(3))


def test_swap_mirrors_each_left_action_with_its_right_twin():
    rules = importlib.import_module("scripts.make_harmful_teacher")
    assert rules.mirrored_actions(("NOOP", "FIRE", "RIGHT", "LEFT")) == [0, 1, 3, 2]
    full = ("NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
            "DOWNLEFT", "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE",
            "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE")
    mirror = rules.mirrored_actions(full)
    assert sorted(mirror) == list(range(18)) and all(mirror[m] == i for i, m in enumerate(mirror))
    assert [full[i] for i in mirror][3:5] == ["LEFT", "RIGHT"] and full[mirror[2]] == "UP"
    with pytest.raises(ValueError, match="needs actions named LEFT and RIGHT"):
        rules.mirrored_actions(("NOOP", "FIRE", "UP"))


@pytest.mark.parametrize("rule", ["swap", "uniform"])
def test_head_edits_change_the_policy_exactly_and_nothing_else(rule):
    """swap: π'(a|s) = π(σ(a)|s); uniform: π'(a|s) = 1/A; the torso and value are untouched."""
    rules = importlib.import_module("scripts.make_harmful_teacher")
    meanings = (("NOOP", "FIRE", "RIGHT", "LEFT"), ("NOOP", "LEFT", "RIGHT", "UP"))
    torch.manual_seed(0)
    network = ActorCritic(make_torso("mlp", (6,)), 4, num_games=2, separate_distill_head=True)
    obs, games = torch.randn(16, 6), torch.arange(16) % 2
    before = network(obs, games)
    rules.edit_heads(network, rule, meanings)
    after = network(obs, games)
    torch.testing.assert_close(after.value, before.value)
    for old, new in ((before.logits, after.logits), (before.distill_logits, after.distill_logits)):
        if rule == "uniform":
            torch.testing.assert_close(new, torch.zeros_like(new))
            continue
        for k, names in enumerate(meanings):
            rows = games == k
            order = rules.mirrored_actions(names)
            torch.testing.assert_close(new[rows], old[rows][:, order])


def test_harmful_rule_for_another_game_is_refused_before_anything_is_written(tmp_path, capsys):
    rules = importlib.import_module("scripts.make_harmful_teacher")
    out = tmp_path / "t"
    assert rules.main([str(ROOT / "teachers" / "minatar_breakout_ppo_100k"), "--rule",
                       "pushright", "--out", str(out)]) == 2
    assert "made for CartPole-v1" in capsys.readouterr().err and not out.exists()


def test_sweep_refuses_a_bad_gate_with_one_line_before_starting_ray(capsys):
    sweep = importlib.import_module("scripts.sweep")
    assert sweep.main(["--config", CONFIG, "--gates", "cosine", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gate.name" in err


@pytest.mark.slow
def test_sweep_runs_a_grid_through_ray_tune_into_the_run_layout(tmp_path, capsys):
    pytest.importorskip("ray")
    sweep = importlib.import_module("scripts.sweep")
    assert sweep.main(["--config", CONFIG, "--gates", "multitask", "cosine", "--lams", "1",
                       "--seeds", "1", "--teacher", str(ROOT / "teachers" / "cartpole_ppo_12k"),
                       "--runs-dir", str(tmp_path), "total_steps=512"]) == 0
    for gate in ("multitask", "cosine"):
        assert finished(tmp_path / f"{gate}__lam1__seed1")
    table = capsys.readouterr().out
    assert "| cosine | 1 | 1 |" in table and "| multitask | 1 | 1 |" in table


def test_atari_experiments_plan_the_first_steps_of_the_standard_schedule():
    runs = breakout_teacher.planned_runs([1, 2], 500_000)
    names = [r.name for r in runs]
    assert "rl_alone__seed1" not in names and "rl_alone__seed2" in names  # seed 1 is reused
    assert names[:3] == ["rl+kl__seed1", "cosine__seed1", "kl_only__seed1"]
    for run in runs + multitask_teacher.planned_runs([1], 500_000):
        control = run.name.startswith(multitask_teacher.CONTROL)
        assert run.stop_at == (250_000 if control else 500_000)
        assert not any(o.startswith("total_steps") for o in run.overrides)
        has_teacher = "teacher.path=teachers/breakout_ppo_350k" in run.overrides
        assert has_teacher != ("teacher.path=none" in run.overrides)


@pytest.mark.parametrize("module", [breakout_teacher, multitask_teacher])
def test_atari_reports_say_what_has_not_run_yet(module, tmp_path, monkeypatch):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setattr(module, "EXPERIMENT", Experiment(module.EXPERIMENT.name, tmp_path))
    if module is breakout_teacher:
        monkeypatch.setattr(module, "REUSED", {})
    text, claims = module.report(tmp_path)
    assert all(f"| {method} | not run yet |" in text for method in module.METHODS)
    if module is multitask_teacher:
        assert "250,000 steps): not run yet." in text  # the 18-action control
        assert "- stop_per_game not run yet" in text
    assert all(claim.verdict == "not measured yet" for claim in claims)
    assert (tmp_path / f"{module.__name__.rsplit('.', 1)[-1]}.png").is_file()


def test_breakout_claims_say_so_far_until_every_method_they_compare_is_finished():
    summary = {"rl_alone": (2.0, 12.0), "rl+kl": (7.0, 10.0), "cosine": (5.0, 12.0),
               "kl_only": (7.0, np.nan), "projection": (7.0, 10.0)}
    def claims(weights: dict[str, tuple[float, float]], unfinished: list[str]) -> list[Claim]:
        return breakout_teacher.claims(breakout_teacher.Measured(
            (1, 2), 500_000, {}, summary, weights, unfinished))

    rl_kl, kl_only, cosine = claims({"cosine": (0.24, 0.15)}, ["cosine", "kl_only"])
    assert rl_kl.verdict == "agrees"  # helps early (7 > 2), behind late (10 < 12)
    assert kl_only.verdict == "not measured yet"  # no run of it at the budget
    assert cosine.verdict == "agrees so far (cosine not finished)"
    assert "gate weight 0.24 → 0.15" in cosine.measured
    # a gate that keeps passing more of the teacher does not "ignore it later"
    *_, cosine = claims({"cosine": (0.1, 0.3)}, [])
    assert cosine.verdict == "differs"


def test_multitask_plans_the_default_per_game_and_the_18_action_breakout_control():
    runs = {r.name: r for r in multitask_teacher.planned_runs([1, 2], 500_000)}
    assert list(runs) == [f"{name}__seed{seed}" for seed in (1, 2) for name in (
        "cosine", "stop_per_game", "multitask_rl+kl", "multitask_rl", "breakout18_rl")]
    per_game = runs["stop_per_game__seed1"]
    config = load_config(per_game.config, list(per_game.overrides))
    assert (config.env.id, config.gate.name, config.teacher.lam_schedule,
            config.teacher.per_game) == ("Breakout+MsPacman", "multitask", "stop", True)
    assert config.teacher.path == "teachers/breakout_ppo_350k" and per_game.stop_at == 500_000
    cosine = runs["cosine__seed1"]
    assert load_config(cosine.config, list(cosine.overrides)).teacher.lam_schedule == "constant"
    control = runs["breakout18_rl__seed2"]
    config = load_config(control.config, list(control.overrides))
    assert (config.env.id, config.env.full_action_space, config.teacher.path, config.gate.name,
            config.seed) == ("Breakout", True, None, "single", 2)
    assert control.stop_at == 250_000  # a multi-task run's Breakout steps
    # the Breakout experiment's RL alone but for the action set
    (rl_alone,) = [r for r in breakout_teacher.planned_runs([2], 500_000)
                   if r.name == "rl_alone__seed2"]
    assert control.config == rl_alone.config
    assert set(control.overrides) ^ set(rl_alone.overrides) == {"env.full_action_space=true"}


def test_multitask_claims_compare_per_game_scores_and_gate_weights():
    def decide(summary, single_breakout, unfinished, control=np.nan):
        return multitask_teacher.claims(multitask_teacher.Measured(
            (1, 2), 500_000, {}, summary, single_breakout, control, {}, {}, unfinished))

    def summary(mt, kl, cos, weights):
        games = ("Breakout", "MsPacman")
        out = {(m, f"charts/episodic_return/{g}"): (0.0, v) for m, scores in
               (("multitask_rl", mt), ("multitask_rl+kl", kl), ("cosine", cos))
               for g, v in zip(games, scores, strict=True)}
        out.update({("cosine", f"gate/weight/{g}"): (0.1, w)
                    for g, w in zip(games, weights, strict=True)})
        out.update({(m, f"{tag}/MsPacman"): (0.0, 0.02) for m in ("multitask_rl+kl", "cosine")
                    for tag in ("gate/cosine", "losses/teacher_kl")})
        return out

    poster = summary(mt=(3, 500), kl=(6, 300), cos=(7, 500), weights=(0.3, 0.05))
    claims = decide(poster, 8.0, [], control=5.0)
    assert [c.verdict for c in claims[:3]] == ["agrees"] * 3
    assert "cosine gate weight Ms. Pac-Man 0.05" in claims[2].measured
    assert all(c.why == "" for c in claims[:3])
    assert "4 actions 8, 18 actions 5" in claims[0].measured
    # the gate shields Ms. Pac-Man from most of the teacher's harm, but not all of it
    _, _, cosine, _ = decide(summary((3, 500), (6, 300), (7, 450), (0.3, 0.05)), 8.0, [])
    assert cosine.verdict == "partly"
    assert "recovers 75% of the score RL + KL loses" in cosine.why
    # Ms. Pac-Man passing more of the Breakout teacher than Breakout does: not ignored
    claims = decide(summary((3, 500), (6, 300), (7, 480), (0.1, 0.2)), 8.0,
                                       ["multitask_rl"])
    assert claims[2].verdict == "differs so far (multitask_rl not finished)"
    # a multi-task Breakout as good as single-task's is not learnt "at its expense"
    assert decide(poster, 3.0, [])[0].verdict == "differs"
    # until the 18-action control has run, the verdict rests on the 4-action reference
    expense = decide(poster, 8.0, ["breakout18_rl"])[0]
    assert expense.verdict == "agrees so far (breakout18_rl not finished)"
    assert "18 actions not run yet, so the verdict rests on the 4-action reference" in (
        expense.measured)
    # below 4-action Breakout but not below 18-action Breakout: the action set's gap
    expense = decide(poster, 8.0, [], control=2.0)[0]
    assert expense.verdict == "partly" and "the gap is the action set's" in expense.why


def test_the_default_per_game_claim_reads_when_each_games_schedule_stopped():
    stop = multitask_teacher.GameStop

    def decide(stops, pacman_late, reached=(501_760, 501_760), seed_2=None):
        runs = {"stop_per_game": MethodRuns([1, 2], list(reached), {})}
        summary = {("stop_per_game", "charts/episodic_return/MsPacman"): (400.0, pacman_late),
                   ("multitask_rl", "charts/episodic_return/MsPacman"): (450.0, 700.0),
                   ("stop_per_game", "charts/episodic_return/Breakout"): (2.0, 5.5),
                   ("multitask_rl+kl", "charts/episodic_return/Breakout"): (2.0, 9.5),
                   ("multitask_rl", "charts/episodic_return/Breakout"): (1.7, 2.4)}
        unfinished = ["stop_per_game"] if min(reached) < 500_000 else []
        *_, claim = multitask_teacher.claims(multitask_teacher.Measured(
            (1, 2), 500_000, runs, summary, 8.0, np.nan, {},
            {1: stops, 2: seed_2 or stops}, unfinished))
        return claim

    pacman = stop(61_440, False, -0.04)
    by_score = {"Breakout": stop(30_720, True, 0.1), "MsPacman": pacman}
    still_on = {"Breakout": stop(None, False, 0.1), "MsPacman": pacman}
    claim = decide(by_score, 720.0)
    assert claim.verdict == "agrees" and claim.why == ""
    assert ("seed 1: Ms. Pac-Man λ → 0 at 61,440 steps (ρ's upper bound below 0), mean ρ "
            "-0.04; Breakout λ → 0 at 30,720 steps (the teacher's score reached)") in (
        claim.measured)
    assert "late Ms. Pac-Man 720, multitask RL 700" in claim.measured
    assert decide(still_on, 720.0).verdict == "agrees"
    # the schedules tell the games apart, but Ms. Pac-Man ends below multitask RL
    claim = decide(still_on, 600.0)
    assert claim.verdict == "partly" and "below multitask RL's 700" in claim.why
    assert "Breakout's λ stopped on the bound too" not in claim.why
    # Breakout's λ stopping on the bound after Ms. Pac-Man's still tells the games apart, and
    # the reason names what Breakout lost
    after = {"Breakout": stop(102_400, False, 0.001), "MsPacman": pacman}
    claim = decide(after, 600.0)
    assert claim.verdict == "partly"
    assert ("Breakout's λ stopped on the bound too (2 of 2 seeds, at 102,400, 102,400 steps), "
            "so Breakout ends at 5.5, below multitask RL + KL's 9.5 (multitask RL 2.4)") in (
        claim.why)
    # Breakout's stopping first on the bound: the signal says the teacher hurts both games
    claim = decide({"Breakout": stop(30_720, False, -0.1), "MsPacman": pacman}, 720.0)
    assert claim.verdict == "differs"
    assert "seed 1: Breakout's λ stopped on the bound at 30,720 steps" in claim.why
    claim = decide({"Breakout": stop(None, False, 0.1), "MsPacman": stop(None, False, 0.02)},
                   720.0)
    assert claim.verdict == "differs" and "Ms. Pac-Man's λ never stopped" in claim.why
    # a seed short of the budget does not count yet
    claim = decide(still_on, 720.0, (501_760, 300_000),
                   seed_2={"Breakout": stop(None, False, 0.1), "MsPacman": stop(None, False, 0.0)})
    assert claim.verdict == "agrees so far (stop_per_game not finished)"
    assert "seed 2" not in claim.measured


def test_the_multitask_section_reads_the_per_game_schedules_and_the_18_action_control(
        tmp_path, monkeypatch):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    for module in (multitask_teacher, breakout_teacher):
        monkeypatch.setattr(module, "EXPERIMENT",
                            Experiment(module.EXPERIMENT.name, tmp_path / "records"))
    monkeypatch.setattr(breakout_teacher, "REUSED", {})
    steps = 200_000

    def run(experiment: str, name: str, until: int,
            tags: dict[str, Callable[[int], float | None]]) -> None:
        """A run logging each of ``tags`` (a function of the step, None: not logged) every 5k
        steps up to ``until``."""
        write_atari_run(tmp_path / "runs" / "experiments" / experiment / name, "", {
            tag: [(t, f(t)) for t in range(0, until + 1, 5_000) if f(t) is not None]
            for tag, f in tags.items()})

    for seed in (1, 2):
        run("multitask_teacher", f"multitask_rl__seed{seed}", steps, {
            "charts/episodic_return": lambda t: 1.0,
            "charts/episodic_return/Breakout": lambda t: 3.0,
            "charts/episodic_return/MsPacman": lambda t: 500.0})
        stops = seed == 1  # seed 2's Breakout schedule is still on at the end
        run("multitask_teacher", f"stop_per_game__seed{seed}", steps, {
            "charts/episodic_return": lambda t: 1.0,
            "charts/episodic_return/Breakout": lambda t: 8.0,
            "charts/episodic_return/MsPacman": lambda t: 520.0,
            "teacher/lam/MsPacman": lambda t: float(t < 20_000),
            "teacher/stopped_at/MsPacman": lambda t: 20_000.0 if t >= 20_000 else None,
            "teacher/agreement/MsPacman": lambda t: -0.05,
            "teacher/lam/Breakout": lambda t, s=stops: float(not s or t < 60_000),
            "teacher/stopped_at/Breakout":
                lambda t, s=stops: 60_000.0 if s and t >= 60_000 else None,
            "teacher/student_return/Breakout":
                lambda t, s=stops: 9.5 if s and t >= 60_000 else 5.0,
            "teacher/teacher_return/Breakout": lambda t: 9.0,
            "teacher/agreement/Breakout": lambda t: 0.1})
        run("multitask_teacher", f"breakout18_rl__seed{seed}", steps // 2,
            {"charts/episodic_return": lambda t: 2.0})
        run("breakout_teacher", f"rl_alone__seed{seed}", steps,
            {"charts/episodic_return": lambda t: 8.0})

    measured = multitask_teacher.measure((1, 2), steps)
    assert measured.unfinished == ["cosine", "multitask_rl+kl"]
    assert (measured.single_breakout, measured.control_breakout) == (8.0, 2.0)
    assert measured.control_reached == {1: 100_000, 2: 100_000}
    breakout, pacman = (measured.stops[1][g] for g in ("Breakout", "MsPacman"))
    assert (breakout.at, breakout.by_score, pacman.at, pacman.by_score) == (
        60_000, True, 20_000, False)
    assert pacman.agreement == pytest.approx(-0.05)
    assert measured.stops[2]["Breakout"].at is None
    text = multitask_teacher.prose(measured)
    assert "`rl_alone`): 8; with" in text
    assert "100,000 steps): 2 (seeds, steps reached: 1 (100,000), 2 (100,000))" in text
    assert "| stop_per_game | 0.8 → 0.5 | 0.2 → 0 | 0.1 → 0.1 | -0.05 → -0.05 |" in text
    assert ("- seed 1: Breakout λ → 0 at 60,000 steps (the teacher's score reached), mean ρ "
            "0.1; MsPacman λ → 0 at 20,000 steps (ρ's upper bound below 0), mean ρ -0.05") in text
    assert "- seed 2: Breakout λ still on, mean ρ 0.1;" in text
    expense, *_, per_game = multitask_teacher.claims(measured)
    assert expense.verdict == "partly"  # 3 below 4-action Breakout's 8, not 18-action's 2
    assert per_game.verdict == "agrees" and "late Ms. Pac-Man 520, multitask RL 500" in (
        per_game.measured)


def test_the_report_says_why_a_claim_does_not_agree():
    make_report = importlib.import_module("scripts.make_report")
    section = make_report.papers_section([
        ("Paper A", Claim("holds", "1 > 0", "agrees")),
        ("Paper A", Claim("gates are fast", "0.2 < 0.3", "differs", "the gate passes 0.1.")),
        ("Paper B", Claim("only KL is worse", "9 < 12", "agrees so far (kl_only not finished)"))])
    _, differs = section.split("## What we could not reproduce and why")
    assert "gates are fast" in differs and "*Why:* the gate passes 0.1." in differs
    assert "holds" not in differs and "only KL is worse" not in differs


def test_precision_check_plans_bf16_rl_alone_and_reports_what_has_not_run(tmp_path,
                                                                         monkeypatch):
    (run,) = precision_check.planned_runs([1], 500_000)
    assert run.stop_at == 500_000 and "agent.precision=bf16" in run.overrides
    assert "teacher.path=none" in run.overrides
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    for module in (precision_check, multitask_teacher):
        monkeypatch.setattr(module, "EXPERIMENT", Experiment(module.EXPERIMENT.name, tmp_path))
    assert "| bf16 | not run yet |" in precision_check.report()


def sitting(start: int, durations: list[float], stride: int = 1024
            ) -> tuple[list[int], list[float]]:
    """The (step, charts/SPS) points a session from ``start`` logs when its updates take
    ``durations`` seconds: the mean speed since the session started."""
    elapsed = np.cumsum(durations)
    steps = [start + stride * (i + 1) for i in range(len(durations))]
    return steps, [(step - start) / t for step, t in zip(steps, elapsed, strict=True)]


def test_sps_sessions_sum_each_sessions_time_across_resumes():
    fast, slow = [2.0] * 30, [8.0, 20.0, 9.0, 6.0, 8.0] * 4  # slow: one update 2.5x the last
    sessions = [sitting(0, slow), sitting(20 * 1024, [1.0] * 10),  # resumed faster
                sitting(30 * 1024, fast), sitting(60 * 1024, [5.0, 6.0, 4.0])]  # and slower
    steps = np.concatenate([s for s, _ in sessions])
    sps = np.concatenate([v for _, v in sessions])
    estimated = atari_budget.sps_sessions(steps, sps)
    np.testing.assert_allclose(estimated, [sum(slow), 10.0, sum(fast), 15.0])
    gap = np.delete(np.arange(len(steps)), 29)  # the point before a resume lost: not counted
    np.testing.assert_allclose(atari_budget.sps_sessions(steps[gap], sps[gap]),
                               [sum(slow), 9.0, sum(fast), 15.0])
    forked = sitting(5 * 1024, [3.0, 3.0])  # a first session that starts past step 0
    assert atari_budget.sps_sessions(*forked) == pytest.approx([6.0])
    assert atari_budget.sps_sessions(np.array([]), np.array([])) == []


def test_wall_time_is_the_logged_one_else_the_estimate_from_sps():
    steps, sps = (np.array(x) for x in sitting(0, [2.0, 2.0, 2.0]))
    logged = {"charts/SPS": (steps, sps), "charts/wall_time": (steps, np.array([2., 4., 7.]))}
    assert atari_budget.wall_time(logged) == (7.0, "charts/wall_time")
    seconds, how = atari_budget.wall_time({"charts/SPS": (steps, sps)})
    assert seconds == pytest.approx(6.0) and how == "estimate from charts/SPS, 1 session"
    assert atari_budget.wall_time({}) == (None, "not logged")


def write_atari_run(directory: Path, config: str, scalars: dict[str, list[tuple[int, float]]],
                    devices: list[str] | None = None) -> RunDir:
    """A run directory with ``config.yaml``, events of ``scalars`` and, if given, a session per
    device (one per 1024 steps)."""
    run = RunDir(directory)
    run.path.mkdir(parents=True)
    run.config_file.write_text(config)
    writer = SummaryWriter(str(directory))
    for tag, points in scalars.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    writer.close()
    for i, device in enumerate(devices or []):
        run.record_session(1024 * i, device)
    return run


def test_the_budget_lists_every_atari_record_with_its_steps_protocol_hardware_and_time(tmp_path):
    steps, sps = sitting(0, [3600.0, 3600.0])
    old = write_atari_run(tmp_path / "runs" / "a", "seed: 3\nenv:\n  id: Breakout\n", {
        "charts/SPS": list(zip(steps, sps, strict=True)),
        "charts/episodic_return": [(1000, 1.0), (2000, 2.0)]})
    new = write_atari_run(tmp_path / "runs" / "b", "seed: 1\nenv:\n  id: Breakout+MsPacman\n"
                          "  protocol: zoo\n", {
                              "charts/SPS": [(1024, 1.0), (2048, 1.0)],
                              "charts/wall_time": [(1024, 900.0), (2048, 1800.0)],
                              "charts/episodic_return": [(1500, 1.0)]},
                          ["NVIDIA H200", "CPU (2 cores)", "NVIDIA H200"])
    control = write_atari_run(tmp_path / "runs" / "c", "seed: 1\nenv:\n  id: CartPole-v1\n",
                              {"charts/SPS": [(256, 1.0)]})
    records = tmp_path / "data"
    write_record(old, records / "e" / "rl+kl__seed3.npz")
    write_record(new, records / "e" / "stop__seed1.npz")
    write_record(control, records / "e" / "cartpole__seed1.npz")
    assert [atari_budget.budget(path, records).record
            for path in atari_budget.atari_records(records)] == ["e/rl+kl__seed3", "e/stop__seed1"]
    text = atari_budget.report(records)
    assert text.startswith("## Atari budget\n")
    assert ("| `e/rl+kl__seed3` | rl+kl | 3 | 2,000 | v5 | CPU (2 cores) † | 2.00 | estimate "
            "from charts/SPS, 1 session |") in text
    assert ("| `e/stop__seed1` | stop | 1 | 1,500 | zoo | NVIDIA H200, CPU (2 cores) | 0.50 | "
            "charts/wall_time |") in text
    assert "**2 runs,\n3,500 agent steps, 2.5 wall hours in all**" in text
    assert "cartpole" not in text


def test_the_budget_of_the_committed_records_names_each_one_once():
    names = {b.record for b in map(atari_budget.budget, atari_budget.atari_records())}
    committed = {str(p.relative_to(ROOT / "docs" / "data").with_suffix(""))
                 for p in (ROOT / "docs" / "data").glob("*/*.npz")}
    assert names == committed | {"breakout_ppo_noteacher"}
    reused = atari_budget.budget(ROOT / "docs" / "data" / "breakout_ppo_noteacher.npz")
    assert (reused.method, reused.seed, reused.protocol) == ("rl_alone", 1, "v5")


@pytest.mark.parametrize(("student", "rho", "says"), [
    (0.5, [0.1, -0.2], "by the score rule (student 0.50 ≥ teacher 0.0)"),
    (None, [-0.1, -0.3], "by the bound (ρ's upper bound below 0; mean ρ until then -0.200)")])
def test_breakout_harmful_says_which_rule_stopped_the_default(tmp_path, student, rho, says):
    harmful = importlib.import_module("scripts.experiments.breakout_harmful")
    writer = SummaryWriter(str(tmp_path))
    for step, value in zip((1024, 2048), rho, strict=True):
        writer.add_scalar("teacher/agreement", value, step)
    if student is not None:
        writer.add_scalar("teacher/student_return", student, 2048)
    writer.add_scalar("teacher/teacher_return", 0.0, 2048)
    writer.add_scalar("teacher/stopped_at", 2048, 2048)
    writer.close()
    assert harmful.stop_reason(tmp_path) == f"stopped at 2,048 steps {says}"
    assert harmful.stop_reason(tmp_path / "none") == "did not stop"


def test_schedule_stop_reads_the_scores_logged_up_to_the_stop_of_each_game(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for game, stopped, student, teacher in (("Breakout", 2048, [3.0, 9.5, 1.0], 9.0),
                                            ("MsPacman", 1024, [200.0, 900.0, 900.0], None)):
        writer.add_scalar(f"teacher/stopped_at/{game}", stopped, stopped)
        for step, value in zip((1024, 2048, 3072), student, strict=True):
            writer.add_scalar(f"teacher/student_return/{game}", value, step)
        if teacher is not None:
            writer.add_scalar(f"teacher/teacher_return/{game}", teacher, 1024)
    writer.close()
    breakout, pacman = (schedule_stop(tmp_path, game) for game in ("Breakout", "MsPacman"))
    assert breakout == ScheduleStop(2048, 9.5, 9.0) and breakout.by_score
    # the card does not score Ms. Pac-Man: no teacher score, so the bound stopped it
    assert pacman == ScheduleStop(1024, 200.0, None) and not pacman.by_score
    assert schedule_stop(tmp_path) == ScheduleStop(None) and not ScheduleStop(None).by_score
    assert multitask_teacher.game_stop(tmp_path, "Breakout", 4096).by_score


def test_card_mean_is_the_shipped_teachers_card_score():
    assert card_mean("teachers/breakout_harmful_swap") == 0.0
    assert card_mean("teachers/breakout_uniform") == pytest.approx(1.5, abs=0.05)


def test_breakout_harmful_reports_the_bound_alone_apart_from_the_default(tmp_path, monkeypatch):
    """The bound-only runs get their own notes (the rule that stopped them), after the
    default's; a planned run not recorded yet is left out of the table."""
    harmful = importlib.import_module("scripts.experiments.breakout_harmful")
    monkeypatch.setattr(harmful, "EXPERIMENT", Experiment("harmful", tmp_path / "data"))
    assert "Not run yet" in harmful.report(50_000, (1,))
    stops = {"stop__harmful__seed1": {"teacher/student_return": [(1024, 0.5)],
                                      "teacher/teacher_return": [(1024, 0.0)],
                                      "teacher/stopped_at": [(1024, 1024.0)]},
             "bound__harmful__seed1": {"teacher/agreement": [(1024, -0.1), (2048, -0.3)],
                                       "teacher/stopped_at": [(2048, 2048.0)]}}
    for name, tags in stops.items():
        run = write_atari_run(tmp_path / "runs" / name, "seed: 1\n", tags | {
            "charts/episodic_return": [(10_000, 1.0), (40_000, 3.0)]})
        write_record(run, tmp_path / "data" / "harmful" / f"{name}.npz")
    text = harmful.report(50_000, (1,))
    assert "(2\nof 5 planned runs recorded; **indicative**, fewer than 5 seeds" in text
    assert "| stop, harmful teacher, seed 1 | 1.00 | 3.00 |" in text
    assert "| rl+kl, harmful teacher, seed 1" not in text
    assert ("- stop, harmful teacher, seed 1: stopped at 1,024 steps by the score rule"
            in text.split("The `bound` runs do")[0])
    assert ("- bound, harmful teacher, seed 1: stopped at 2,048 steps by the bound (ρ's upper "
            "bound below 0; mean ρ until then -0.200).") in text.split("The `bound` runs do")[1]


def test_breakout_harmful_sets_each_methods_auc_against_rl_alone():
    """Each (method, teacher) against RL alone's AUC with the signal issue's statistics, from 3
    seeds on both sides: far below is "inferior" (dragged down), all above is "better", and 2
    seeds get no verdict; rows are grouped by teacher."""
    harmful = importlib.import_module("scripts.experiments.breakout_harmful")
    areas = {("stop", "harmful"): {1: 3.5, 2: 3.6, 3: 3.7},
             ("rl+kl", "uniform"): {1: 2.0, 2: 2.1},
             ("rl+kl", "harmful"): {1: 0.1, 2: 0.2, 3: 0.1}}
    text = harmful.auc_comparisons(areas, [2.0, 3.0, 2.5])
    rows = [line for line in text.splitlines() if line.startswith("| ") and "−" in line]
    assert [row.split(" | ")[:2] for row in rows[1:]] == [
        ["| stop − RL alone", "harmful"], ["| rl+kl − RL alone", "harmful"],
        ["| stop − rl+kl", "harmful"], ["| rl+kl − RL alone", "uniform"]]
    assert "| 3.50, 3.60, 3.70 |" in rows[1] and " better, P 1.00, n 3 |" in rows[1]
    assert " inferior, P 0.00, n 3 |" in rows[2]
    assert " better, P 1.00, n 3 |" in rows[3]
    assert rows[4].endswith("| 2.00, 2.10 | – (n 2) |")
    assert "(2.00, 3.00, 2.50)" in text and "δ = 5% of B's IQM" in text
    assert ("- harmful teacher: RL + KL is dragged down, and the default stays near RL alone "
            "(better); against RL + KL it is better (") in text
    assert "- uniform teacher: too few seeds for an answer yet." in text


def test_breakout_harmful_says_when_the_default_is_not_shown_to_stay_near_rl_alone():
    """A default whose CI reaches below −δ is not called near RL alone: the answer gives Δ, its
    share of RL alone's IQM and the CI's lower end against −δ."""
    harmful = importlib.import_module("scripts.experiments.breakout_harmful")
    areas = {("stop", "harmful"): {1: 1.0, 2: 3.0, 3: 2.0},
             ("rl+kl", "harmful"): {1: 0.1, 2: 0.2, 3: 0.1}}
    text = harmful.auc_comparisons(areas, [2.0, 3.0, 2.5])
    said = text.split("- harmful teacher: ")[1].splitlines()[0]
    assert said.startswith("RL + KL is dragged down, and the default is not shown to stay near "
                           "RL alone: Δ -0.50 (-20% of RL alone's IQM), its CI reaching -")
    assert "below −δ = -0.12 (" in said


def test_breakout_harmful_plans_the_default_and_rl_plus_kl_with_each_teacher():
    harmful = importlib.import_module("scripts.experiments.breakout_harmful")
    runs = harmful.planned_runs(1000, [1])
    assert [r.name for r in runs] == ["stop__harmful__seed1", "rl+kl__harmful__seed1",
                                      "bound__harmful__seed1", "stop__uniform__seed1",
                                      "rl+kl__uniform__seed1"]
    stop = load_config(runs[0].config, list(runs[0].overrides))
    assert (stop.teacher.lam_schedule, stop.teacher.path, stop.gate.name) == (
        "stop", "teachers/breakout_harmful_swap", "multitask")
    uniform = load_config(runs[4].config, list(runs[4].overrides))
    assert (uniform.teacher.lam_schedule, uniform.teacher.path) == (
        "constant", "teachers/breakout_uniform")
    bound = load_config(runs[2].config, list(runs[2].overrides))
    assert (bound.teacher.lam_schedule, bound.teacher.path) == (
        "agreement_stop", "teachers/breakout_harmful_swap")
    assert dataclasses.replace(bound, teacher=dataclasses.replace(
        bound.teacher, lam_schedule="stop")) == stop  # only the schedule differs


def test_breakout_parity_plans_rl_alone_under_the_zoo_protocol_for_the_first_11m_steps():
    """rl_alone on the seeds asked for, and zoo_losses (the Zoo's clip schedule and value loss
    on the same runs) on its own seeds."""
    parity = importlib.import_module("scripts.experiments.breakout_parity")
    runs = parity.planned_runs(parity.STEPS, [2, 3], (1, 3))
    assert [r.name for r in runs] == ["zoo_losses__seed1", "rl_alone__seed2", "rl_alone__seed3",
                                      "zoo_losses__seed3"]
    for run in runs:
        assert {"gate.name=single", "teacher.path=none", "env.protocol=zoo",
                "env.sticky_actions=0"} <= set(run.overrides)
        assert run.stop_at == 1_100_000 and run.config.endswith("configs/breakout.yaml")
        agent = load_config(run.config, list(run.overrides)).agent
        zoo = run.name.startswith("zoo_losses")
        assert (agent.anneal_clip, agent.clip_vloss, agent.vf_coef) == (
            (True, False, 1.0) if zoo else (False, True, 0.5))


def test_breakout_parity_places_each_zoo_game_at_the_agent_step_the_run_had_reached(tmp_path):
    parity = importlib.import_module("scripts.experiments.breakout_parity")
    for env, games in enumerate([((1, 471.5), (2, 871.5)), ((1, 271.5),)]):
        rows = "".join(f"{score},{frames},0.0\n" for score, frames in games)
        (tmp_path / f"{env}.monitor.csv").write_text('#{"t_start": 0}\nr,l,t\n' + rows)
    steps, scores = parity.zoo_episodes(tmp_path)
    # env 0's games end after (471.5 - 71.5) / 4 = 100 and 100 + 200 of its own steps, env 1's
    # after 50: times the 2 envs that step together
    assert steps.tolist() == [100.0, 200.0, 600.0] and scores.tolist() == [1.0, 1.0, 2.0]
    # the shipped monitor files add up to the Zoo run's 10M steps, less its unfinished games
    steps, _ = parity.zoo_episodes()
    assert 9.95e6 < steps.max() <= 10e6 and steps.size > 7000


@pytest.mark.parametrize(("ours", "verdict", "low", "high"), [
    # n = 2: t(1) = 12.706, the interval is wide and cannot say no
    ([14.0, 18.0], "the Zoo's value within our seeds' spread; inconclusive at δ = 10%",
     0.3 - 12.706 * 8 ** 0.5 * 1.5 ** 0.5, 0.3 + 12.706 * 8 ** 0.5 * 1.5 ** 0.5),
    # n = 3: t(2) = 4.303, s = 0.5
    ([10.0, 10.5, 11.0], "ours below the Zoo's spread; inferior at δ = 10%",
     -5.2 - 4.303 * 0.5 * (4 / 3) ** 0.5, -5.2 + 4.303 * 0.5 * (4 / 3) ** 0.5),
    ([15.5, 15.7, 15.9], "the Zoo's value within our seeds' spread; non-inferior at δ = 10%",
     -4.303 * 0.2 * (4 / 3) ** 0.5, 4.303 * 0.2 * (4 / 3) ** 0.5),
])
def test_breakout_parity_sets_our_seeds_against_the_zoos_one_by_our_prediction_interval(
        ours, verdict, low, high):
    parity = importlib.import_module("scripts.experiments.breakout_parity")
    compared = parity.against_zoo(ours, 15.7)
    assert compared.verdict() == verdict
    assert compared.low == pytest.approx(low, abs=2e-3)
    assert compared.high == pytest.approx(high, abs=2e-3)


def test_breakout_parity_reports_each_point_against_the_zoos_curve(tmp_path, monkeypatch):
    parity = importlib.import_module("scripts.experiments.breakout_parity")
    monkeypatch.setattr(parity, "EXPERIMENT", Experiment("parity", tmp_path / "data"))
    assert "Not run yet" in parity.report(None)
    # seeds 1 and 2 score 10 ± 1 around 0.5M and 30 ± 1 around 1M; seed 3 has reached 0.56M
    episodes = {seed: [(450_000, 10.0 + sign), (540_000, 10.0 + sign), (950_000, 30.0 + sign),
                       (1_099_000, 30.0 + sign), (2_000, 99.0)]
                for seed, sign in ((1, -1.0), (2, 1.0))}
    episodes[3] = [(460_000, 20.0), (549_000, 20.0), (555_000, 99.0)]
    for seed, points in episodes.items():
        run = write_atari_run(tmp_path / "runs" / f"s{seed}", "seed: 1\n",
                              {"charts/episodic_return": points})
        write_record(run, tmp_path / "data" / "parity" / f"rl_alone__seed{seed}.npz")
    text = parity.report(None, seeds=(1, 2, 3))
    zoo = parity.zoo_points()
    compared = parity.against_zoo([9.0, 11.0, 20.0], zoo[500_000])
    assert (f"| 500,000 | 9.0 | 11.0 | 20.0 | {zoo[500_000]:.1f} | {compared.difference:+.1f} "
            f"[{compared.low:+.1f}, {compared.high:+.1f}]") in text
    compared = parity.against_zoo([29.0, 31.0], zoo[1_000_000])
    assert (f"| 1,000,000 | 29.0 | 31.0 | not reached | {zoo[1_000_000]:.1f} | "
            f"{compared.difference:+.1f} [{compared.low:+.1f}, {compared.high:+.1f}]") in text
    assert f"{compared.verdict()} (the 2 seeds that reached it) |" in text
    assert "**Verdict.** At 0.5M steps, the Zoo's value within our seeds' spread" in text
    # 9 and 11 of 0.5M's 9, 11, 20; none of 1M's 29, 31 or of the area's (99, 9, 9, 29 and
    # 99, 11, 11, 31 binned)
    assert "Of our 7 seed values in the table,\n2 lie below the Zoo's." in text
    assert "2,000,000" not in text and "seed 1 finished, last episode at 1,099,000 steps" in text
    assert "**Is the gap the Zoo's losses?**" in text and "Not run yet" in text.split(
        "**Is the gap")[1]


def test_breakout_parity_sets_the_zoo_losses_run_against_our_seeds(tmp_path, monkeypatch):
    """zoo_losses − ours with Student's pooled t(n+m−2) · s · √(1/n + 1/m): one zoo_losses seed
    far above ours is "above our seeds' spread" (s is ours alone); two inside it are "within",
    with their own spread pooled in."""
    parity = importlib.import_module("scripts.experiments.breakout_parity")
    monkeypatch.setattr(parity, "EXPERIMENT", Experiment("parity", tmp_path / "data"))
    ours = {1: 9.0, 2: 10.0, 3: 11.0}
    for name, score in [*((f"rl_alone__seed{s}", v) for s, v in ours.items()),
                        ("zoo_losses__seed1", 20.0), ("zoo_losses__seed2", 10.5),
                        ("zoo_losses__seed3", 9.0)]:
        points = [(450_000, score), (549_000, score)]
        run = write_atari_run(tmp_path / "runs" / name, "seed: 1\n",
                              {"charts/episodic_return": points})
        write_record(run, tmp_path / "data" / "parity" / f"{name}.npz")
    half = 4.303 * 1.0 * (1 / 3 + 1) ** 0.5
    assert parity.shift([9.0, 10.0, 11.0], [20.0]) == pytest.approx((10.0, 10 - half, 10 + half),
                                                                    abs=2e-3)
    text = parity.report(None, steps=600_000, seeds=(1, 2, 3), zoo_losses_seeds=(1,))
    zoo = parity.zoo_points()[500_000]
    assert (f"| 500,000 | 20.0 | 10.0 | {zoo:.1f} | +10.0 [{10 - half:+.1f}, {10 + half:+.1f}] "
            "| above our seeds' spread |") in text
    assert "One seed can show that the settings move the curve" in text
    text = parity.report(None, steps=600_000, seeds=(1, 2, 3), zoo_losses_seeds=(2, 3))
    assert "2 seeds make this indicative" in text and "One seed can" not in text
    # s² = (2 · 1 + 1 · 1.125) / 3 pooled over (9, 10, 11) and (10.5, 9); t(3) = 3.182
    half = 3.182 * ((2 * 1 + 1.125) / 3) ** 0.5 * (1 / 3 + 1 / 2) ** 0.5
    assert parity.shift([9.0, 10.0, 11.0], [10.5, 9.0]) == pytest.approx(
        (-0.25, -0.25 - half, -0.25 + half), abs=2e-3)
    assert (f"| 500,000 | 10.5 | 9.0 | 10.0 | {zoo:.1f} | -0.2 [{-0.25 - half:+.1f}, "
            f"{-0.25 + half:+.1f}] | within our seeds' spread |") in text


def test_breakout_default_plans_stop_and_score_with_breakout_teachers_settings():
    default = importlib.import_module("scripts.experiments.breakout_default")
    runs = with_speed(default.planned_runs([1, 2], 500_000), ["env.threads=4"])
    assert [r.name for r in runs] == ["stop__seed1", "score__seed1", "stop__seed2",
                                      "score__seed2"]
    reference = next(r for r in breakout_teacher.planned_runs([1], 500_000)
                     if r.name == "rl+kl__seed1")
    for run, schedule in zip(runs[:2], ("stop", "score"), strict=True):
        config = load_config(run.config, list(run.overrides))
        assert (config.teacher.lam_schedule, config.gate.name, config.teacher.path,
                config.env.threads) == (schedule, "multitask", breakout_teacher.TEACHER, 4)
        assert run.overrides[-1] == "env.threads=4" and run.stop_at == reference.stop_at
        # RL + KL's runs are the references: the same settings but the schedule
        assert set(run.overrides) - set(reference.overrides) == {
            f"teacher.lam_schedule={schedule}", "env.threads=4"}


@pytest.mark.parametrize("value", ["teacher.lam=2", "env.threads", "seed=3"])
@pytest.mark.parametrize("name", ["breakout_default", "breakout_harmful", "breakout_teacher",
                                  "multitask_teacher"])
def test_atari_experiments_refuse_a_set_that_would_change_what_a_run_computes(name, value,
                                                                               capsys):
    experiment = importlib.import_module(f"scripts.experiments.{name}")
    with pytest.raises(SystemExit) as exit_info:
        experiment.main(["--set", value])
    assert exit_info.value.code == 2
    assert "--set takes KEY=VALUE with KEY one of env.threads, device" in capsys.readouterr().err


def test_breakout_default_compares_finished_seeds_and_says_when_the_teacher_ended(
        tmp_path, monkeypatch):
    default = importlib.import_module("scripts.experiments.breakout_default")
    monkeypatch.setattr(default, "EXPERIMENT", Experiment("default", tmp_path / "data"))
    monkeypatch.setattr(breakout_teacher, "EXPERIMENT", Experiment("teacher", tmp_path / "data"))
    monkeypatch.setattr(breakout_teacher, "REUSED", {})
    # scores per 25k-step bin over 250k steps (+ 0.1 · seed): RL alone climbs, RL + KL stays
    climb = {"rl_alone": list(range(1, 11)), "rl+kl": [5] * 10,
             "stop": [5, 5, 6, 7, 8, 9, 10, 10, 10, 10], "score": [5, 5, 5, 6, 7, 8, 9, 10, 10, 10]}
    for method, means in climb.items():
        experiment = "default" if method in default.METHODS else "teacher"
        for seed in (1, 2, 3) if method != "score" else (1, 2):
            points = {"charts/episodic_return": [(25_000 * b + 1000, mean + 0.1 * seed)
                                                 for b, mean in enumerate(means)]}
            if method == "stop":
                points |= {"teacher/stopped_at": [(30_000, 30_000.0)],
                           "teacher/student_return": [(30_000, 3.2)],
                           "teacher/teacher_return": [(30_000, 9.0)]}
            if method == "score":
                points["teacher/lam"] = [(1024, 1.0), (50_176, 0.5), (60_416, 0.0)]
            if method == "rl+kl":
                points["teacher/lam"] = [(1024, 1.0), (249_856, 1.0)]
            device = "NVIDIA H200" if method == "stop" else "CPU (2 cores)"
            run = write_atari_run(tmp_path / "runs" / f"{method}{seed}", f"seed: {seed}\n",
                                  points, [device])
            write_record(run, tmp_path / "data" / experiment / f"{method}__seed{seed}.npz")
    text = default.report(tmp_path, steps=250_000)
    assert ("| stop (the default) | 2 | 5.2 | 10.2 | 8.2 | 30,000, the bound: ρ's upper bound < 0 |"
            in text)
    assert "| score (best non-gate baseline) | 1 | 5.1 | 10.1 | 7.6 | 60,416 |" in text
    assert "| score (best non-gate baseline) | 3 | not finished (not started) | | | |" in text
    assert "| RL alone | 3 | 1.8 | 10.3 | 5.8 | no teacher |" in text
    assert "| RL + KL | 1 | 5.1 | 5.1 | 5.1 | never |" in text
    rows = {line.split(" | ")[0] + " | " + line.split(" | ")[1]: line
            for line in text.splitlines() if line.startswith("|") and " − " in line}
    # the same per-seed values on both sides: within any δ, P(A > B) one half
    assert "non-inferior, P 0.50, n 3" in rows["| stop (the default) − RL alone | late return"]
    assert "non-inferior, P 0.50, n 3" in rows["| stop (the default) − RL + KL | early return"]
    # stop's AUC is above RL alone's in every resample
    assert " better, P 1.00, n 3" in rows["| stop (the default) − RL alone | AUC (mean return)"]
    assert rows["| stop (the default) − score (best non-gate baseline) | AUC (mean return)"] \
        .endswith("| 3 / 2 | – (too few seeds) |")
    assert "stop (the default): NVIDIA H200; score (best non-gate baseline): CPU (2 cores)" in text
    assert "Seeds 1-5:\n**indicative**, fewer than 5 seeds for some method." in text
    assert (tmp_path / "breakout_default.png").is_file()


def test_atari_comparisons_are_indicative_below_five_seeds_for_any_method():
    assert seeds_label(4) == "**indicative**, fewer than 5 seeds for some method"
    assert seeds_label(5) == "5 or more seeds per method"


def test_speed_overrides_come_last_in_every_run_and_load_as_settings():
    runs = with_speed(multitask_teacher.planned_runs([1], 500_000), ["env.threads=4", "device=cpu"])
    assert all(run.overrides[-2:] == ("env.threads=4", "device=cpu") for run in runs)
    config = load_config(runs[0].config, list(runs[0].overrides))
    assert (config.env.threads, config.device) == (4, "cpu")
