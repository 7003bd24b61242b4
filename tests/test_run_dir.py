"""The run directory's one owner: where runs go, what "reached" means, evaluating every kind of
path, and reduced records that read back exactly what the events hold."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rl_auxgrad import evaluate, records, training
from rl_auxgrad import train as train_module
from rl_auxgrad.config import load_config
from rl_auxgrad.run_dir import RUNS_ENV, RunDir
from rl_auxgrad.runs import scalars

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")
TEACHER = ROOT / "teachers" / "cartpole_ppo_12k"


def train(*args: str) -> int:
    return train_module.main(["--config", CONFIG, "--no-progress", *args])


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory) -> RunDir:
    """A short CartPole run that distils the shipped teacher."""
    parent = tmp_path_factory.mktemp("runs")
    assert train(f"runs_dir={parent}", "name=t", "total_steps=1024", "checkpoint_every=512",
                 f"teacher.path={TEACHER}") == 0
    return RunDir(parent / "t")


def test_new_runs_go_to_runs_dir_flag_then_env_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "from_env"))
    assert train("name=a", "total_steps=256", "teacher.path=none") == 0
    assert RunDir(tmp_path / "from_env" / "a").has_checkpoint()
    assert train("name=b", "total_steps=256", "teacher.path=none",
                 "--runs-dir", str(tmp_path / "from_flag")) == 0
    assert RunDir(tmp_path / "from_flag" / "b").has_checkpoint()
    assert not (tmp_path / "from_env" / "b").exists()


def test_reached_reads_the_step_from_the_checkpoint_header(teacher_run):
    assert teacher_run.reached() == 1024
    assert teacher_run.remaining() == 0 and teacher_run.remaining(2048) == 1024
    assert RunDir(teacher_run.path.parent / "missing").remaining() is None


def test_the_teacher_record_is_read_under_its_name_and_the_legacy_one(teacher_run, tmp_path):
    record = teacher_run.teacher_record()
    assert record is not None and record["path"] == str(TEACHER) and len(record["sha256"]) == 64
    legacy = RunDir(tmp_path / "legacy")
    shutil.copytree(teacher_run.path, legacy.path)
    (legacy.path / RunDir.TEACHER_RECORD).rename(legacy.path / RunDir.LEGACY_TEACHER_RECORD)
    assert legacy.teacher_record() == record


@pytest.mark.parametrize("legacy_name", [False, True])
def test_evaluate_scores_a_run_with_a_teacher_not_the_teacher(teacher_run, tmp_path, capsys,
                                                              legacy_name):
    path = teacher_run.path
    if legacy_name:  # a run whose teacher record looks like a teacher's card
        path = tmp_path / "legacy"
        shutil.copytree(teacher_run.path, path)
        (path / RunDir.TEACHER_RECORD).rename(path / RunDir.LEGACY_TEACHER_RECORD)
    assert evaluate.main([str(path), "--episodes", "2"]) == 0
    assert f"{path}: mean" in capsys.readouterr().out


def test_evaluate_scores_an_evidence_agent_stored_as_float16_weights(teacher_run, tmp_path,
                                                                     capsys):
    agent = tmp_path / "agent"
    agent.mkdir()
    shutil.copy(teacher_run.config_file, agent / RunDir.CONFIG)
    weights = teacher_run.agent_weights()
    save_file({k: v.half() for k, v in weights.items()}, agent / RunDir.WEIGHTS)
    loaded = RunDir(agent).agent_weights()
    assert all(loaded[k].dtype == weights[k].dtype for k in weights)
    assert all(np.allclose(loaded[k], weights[k], atol=1e-2, rtol=1e-2) for k in weights)
    assert evaluate.main([str(agent), "--episodes", "2"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out


def test_evaluate_a_run_without_weights_says_to_train_it(tmp_path, capsys):
    run = RunDir(tmp_path / "empty")
    run.path.mkdir()
    shutil.copy(CONFIG, run.config_file)
    assert evaluate.main([str(run.path)]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint.safetensors" in err and "--resume" in err


def test_evaluate_scores_a_native_teacher_with_its_card(tmp_path, capsys):
    assert evaluate.main([str(TEACHER), "--episodes", "2", "--deterministic"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out


def test_evaluate_under_zoo_presses_fire_after_each_lost_life():
    """A policy that never moves or fires finishes Breakout games under zoo (the protocol
    serves each ball) within a few thousand steps, where v5 would wait for FIRE until the
    108,000-frame truncation (27,000 steps)."""
    steps = []

    def noop_policy(spec):
        def logits(obs, games):
            steps.append(1)
            return torch.zeros(len(obs), spec.num_actions).index_fill_(1, torch.tensor([0]), 9.0)
        return logits
    scores = evaluate.score("Breakout", noop_policy, 2, seed=1, sticky_actions=0.0,
                            deterministic=True, protocol="zoo")
    assert len(scores.per_game["Breakout"]) == 2 and len(steps) < 5000


@pytest.mark.parametrize(("protocol", "given", "expected"), [
    ("v5", None, 0.25), ("v5", 0.0, 0.0), ("v5", 0.1, 0.1), ("zoo", None, 0.0), ("zoo", 0.0, 0.0)])
def test_scoring_sticky_actions_default_to_the_protocols_own(protocol, given, expected):
    assert evaluate.sticky_actions(protocol, given) == expected


def test_evaluate_refuses_sticky_actions_under_zoo(capsys):
    assert evaluate.main([str(TEACHER), "--protocol", "zoo", "--sticky-actions", "0.25"]) == 2
    err = capsys.readouterr().err
    assert "--protocol zoo plays without sticky actions" in err and "Traceback" not in err


def test_a_record_reads_back_every_scalar_exactly(teacher_run, tmp_path):
    record = records.write_record(teacher_run, tmp_path / "t.npz")
    from_events = records.run_scalars(teacher_run.path)
    from_record = records.run_scalars(record)
    assert from_events.keys() == from_record.keys() and "teacher/lam" in from_record
    for tag, (steps, values) in from_events.items():
        assert np.array_equal(steps, from_record[tag][0])
        assert np.array_equal(values, from_record[tag][1])
    steps, values = scalars(record, "charts/episodic_return")
    assert steps.size and np.array_equal(values, from_events["charts/episodic_return"][1])
    read = records.read_record(record)
    assert read["config"] == teacher_run.config_file.read_text()
    assert read["teacher"] == teacher_run.teacher_record()
    with np.load(record, allow_pickle=False) as data:  # no object arrays: nothing to unpickle
        assert all(data[key].dtype != object for key in data.files)


def test_a_sitting_past_its_deadline_stops_after_one_update_with_a_checkpoint(tmp_path):
    config = load_config(CONFIG, ["total_steps=4096", "teacher.path=none"])
    run = training.start(config, RunDir(tmp_path / "d"))
    directory = training.train(run, deadline=time.time(), show_progress=False)
    batch = config.env.num_envs * config.agent.num_steps
    assert directory.reached() == batch and directory.remaining() == 4096 - batch
