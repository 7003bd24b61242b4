"""The usefulness experiment (scripts/experiments/usefulness.py) at a tiny budget."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

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
