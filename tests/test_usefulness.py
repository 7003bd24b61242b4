"""The usefulness experiment (scripts/experiments/usefulness.py) at a tiny budget."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rl_auxgrad.config import load_config
from scripts.experiments import usefulness
from scripts.experiments.cartpole_teacher import TASK


def test_records_each_run_and_resumes_from_the_record(tmp_path):
    record = tmp_path / "record.npz"
    args = ["--task", "cartpole", "--seeds", "11", "--steps", "512", "--workers", "1",
            "--lam", "3", "--methods", "agreement", "cosine_shuffled", "--runs-dir",
            str(tmp_path / "runs"), "--out", str(record)]
    assert usefulness.main(args) == 0
    kept = usefulness.UsefulnessRecord(record)
    assert kept.meta["steps"] == 512 and kept.meta["seeds"] == [11] and kept.meta["lam"] == 3
    runs = {key.rsplit("/", 2)[0] for key in kept.curves}
    assert runs == {f"{t}/{m}__lam3__seed11" for t in usefulness.TEACHERS
                    for m in ("agreement", "cosine_shuffled")}
    lam = kept.runs("harmful", "agreement", 3.0, [11], "teacher/lam")
    assert np.nanmax(lam) <= 3.0 and np.isfinite(
        kept.runs("good", "cosine_shuffled", 3.0, [11], "teacher/agreement")).any()
    shutil.rmtree(tmp_path / "runs")  # the record alone says the runs are done
    assert usefulness.main(args) == 0
    assert not (tmp_path / "runs").exists()


def test_matched_constant_runs_rl_plus_kl_at_lambda_times_the_cosine_weight():
    runs = usefulness.planned(TASK, ["matched_constant"], [11], 3.0, 512,
                              {"good": 0.5, "harmful": 0.1})
    assert [r.name for r in runs] == ["good/matched_constant__lam1.5__seed11",
                                      "harmful/matched_constant__lam0.3__seed11"]
    assert "gate.name=multitask" in runs[0].overrides and "teacher.lam=1.5" in runs[0].overrides


def test_mean_weight_reads_the_recorded_cosine_runs(tmp_path):
    record = usefulness.UsefulnessRecord(tmp_path / "r.npz")
    assert usefulness.mean_weight(record, "good", 3.0, [11]) == usefulness.FIXED_WEIGHT
    for seed, weight in ((11, 0.2), (12, 0.4)):
        record.curves[f"good/cosine__lam3__seed{seed}/charts/episodic_return"] = np.zeros(4)
        record.curves[f"good/cosine__lam3__seed{seed}/gate/weight"] = np.full(4, weight)
    assert usefulness.mean_weight(record, "good", 3.0, [11, 12, 13]) == pytest.approx(0.3)


def _curve(level: float, bins: int = 50) -> np.ndarray:
    return np.full(bins, level)


def test_the_pass_table_tests_each_condition_on_the_seeds_both_methods_recorded(tmp_path):
    """RL alone 100, RL + KL 80 (120 early); "score" matches RL + KL early and RL alone late
    and keeps 100 with the harmful teacher; "cosine" stays at RL + KL's level late; a method
    with 2 seeds gets no verdict."""
    record = usefulness.UsefulnessRecord(tmp_path / "r.npz",
                                         {"steps": 1000, "lam": 3.0, "bins": 50,
                                          "seeds": list(range(11, 17)), "command": "c",
                                          "hardware": "h"})
    rng = np.random.default_rng(0)

    def add(teacher: str, method: str, early: float, late: float, seeds=range(11, 17)) -> None:
        for seed in seeds:
            curve = np.concatenate([_curve(early, 10), _curve(late, 40)]) + rng.normal(0, 1, 50)
            name = usefulness.run_name(method, 3.0, seed)
            record.curves[f"{teacher}/{name}/{usefulness.RETURN}"] = curve

    add("good", "rl_alone", 60, 100)
    for teacher, (early, late) in {"good": (120, 80), "harmful": (10, 10)}.items():
        add(teacher, "rl+kl", early, late)
        add(teacher, "cosine", early, late)
    add("good", "score", 120, 100)
    add("harmful", "score", 60, 100)
    add("good", "kickstarting", 120, 100, seeds=(11, 12))
    rows = {m: usefulness.conditions(record, m, reps=200)
            for m in ("score", "cosine", "kickstarting")}
    assert usefulness.passed(rows["score"]) == 3
    assert usefulness.passed(rows["cosine"]) == 1  # (i) only
    assert [c.verdict for _, c, _ in rows["cosine"]][1:] == ["inferior"] * 3
    assert all(c is None for _, c, _ in rows["kickstarting"])
    for key in list(record.curves):  # the figure's other tags
        for tag in ("teacher/lam", "teacher/agreement", "gate/weight", "gate/cosine"):
            record.curves[key.replace(usefulness.RETURN, tag)] = rng.normal(0, 1, 50)
    record.save()
    evaluation = usefulness.evaluate(TASK, tmp_path / "r.npz", reps=200)
    text = usefulness.report(evaluation, figures=tmp_path)
    assert (tmp_path / f"{TASK.name}_usefulness.png").is_file()
    assert f"figures/{TASK.name}_usefulness.png" in text
    assert "| score |" in text and "3 of 3" in text and "| kickstarting |" not in text
    assert "| cosine |" in text and "1 of 3" in text
    assert "**(iii) harmful teacher" in text and "| score | 11-16 | 0 of 6 |" in text
    assert "| cosine | 11-16 | 6 of 6 |" in text  # every seed below RL alone's worst − δ, late
    ranks = usefulness.ranking([evaluation])
    assert ranks[0].method == "score" and {r.method for r in ranks[1:3]} == {"cosine", "rl+kl"}
    assert [sum(r.passes.values()) for r in ranks] == [3, 1, 1, 0]  # kickstarting: 2 seeds
    assert ranks[0].passes == {TASK.name: 3} and ranks[0].relative_auc[TASK.name] > 1


def test_controls_compare_the_cosine_gate_with_the_matched_constant_it_was_matched_to(tmp_path):
    """The matched constant's runs are named by λ·w̄ (w̄ in the record's meta): cosine at 100
    against the matched constant at 80 is better everywhere, against its shuffled weights (100)
    only inconclusive or non-inferior; a uniform-teacher run of one seed gets no verdict."""
    meta = {"steps": 1000, "lam": 3.0, "bins": 50, "seeds": list(range(11, 17)),
            "command": "c", "hardware": "h", "matched_weight": {"good": 0.25, "harmful": 0.5}}
    record = usefulness.UsefulnessRecord(tmp_path / "r.npz", meta)
    rng = np.random.default_rng(1)
    levels = {("good", "cosine"): 100, ("good", "matched_constant"): 80,
              ("good", "cosine_shuffled"): 100, ("uniform", "cosine"): 100,
              ("good", "rl_alone"): 100}
    for (teacher, method), level in levels.items():
        lam = usefulness.run_lam(record, teacher, method)
        for seed in (11,) if teacher == "uniform" else range(11, 17):
            key = f"{teacher}/{usefulness.run_name(method, lam, seed)}"
            record.curves[f"{key}/{usefulness.RETURN}"] = _curve(level) + rng.normal(0, 1, 50)
            record.curves[f"{key}/gate/weight"] = _curve(0.3)
            record.curves[f"{key}/gate/cosine"] = _curve(-0.1)
    assert usefulness.run_lam(record, "good", "matched_constant") == 0.75
    assert usefulness.run_lam(record, "uniform", "matched_constant") is None
    assert usefulness.recorded_seeds(record, "good", "matched_constant") == list(range(11, 17))
    text = usefulness.controls_section(record, reps=200)
    rows = {line.split(" | ")[0] + " | " + line.split(" | ")[1]: line
            for line in text.splitlines() if line.count(" | ") > 2}
    assert rows["| matched_constant | good"].count("better") == 3
    assert "n 6" in rows["| matched_constant | good"]
    assert "better" not in rows["| cosine_shuffled | good"]
    assert "| cosine | – (n 1) |" in text and "| cosine | uniform | 11 | 0.3" in text


def test_default_method_is_the_default_configs_gate_and_schedule():
    method = usefulness.default_method()
    settings = dict(o.split("=", 1) for o in usefulness.METHODS[method])
    config = load_config(None, [])
    assert settings.get("gate.name", config.gate.name) == config.gate.name
    assert settings.get("teacher.lam_schedule", "constant") == config.teacher.lam_schedule


def test_why_default_names_the_method_ranked_first(monkeypatch):
    evaluation = usefulness.Evaluation(TASK, usefulness.UsefulnessRecord.__new__(
        usefulness.UsefulnessRecord), {})
    monkeypatch.setattr(usefulness, "ranking", lambda evaluations: [
        usefulness.Rank("score", {TASK.name: 3}, {TASK.name: 1.04}),
        usefulness.Rank("cosine", {TASK.name: 1}, {TASK.name: 1.02})])
    monkeypatch.setattr(usefulness, "default_method", lambda: "cosine")
    text = usefulness.why_default([evaluation])
    assert "ranks `score` first, but the default is `cosine`" in text
    assert "| score | 3 | 3 | 1.040 |" in text
    monkeypatch.setattr(usefulness, "default_method", lambda: "score")
    assert "The default, `score`, is the one the rule ranks first." in \
        usefulness.why_default([evaluation])


@pytest.mark.slow
def test_the_default_is_the_method_the_committed_evidence_ranks_first():
    """Issue 15, item 5, on the records in docs/data: the default follows the evidence."""
    evaluations = [usefulness.evaluate(task) for task in usefulness.TASKS.values()]
    ranks = usefulness.ranking([e for e in evaluations if e.rows])
    assert ranks and ranks[0].method == usefulness.default_method()
