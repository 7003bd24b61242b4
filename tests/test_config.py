"""Configuration: precedence, algorithm defaults and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from rl_auxgrad.config import ConfigError, load_config, to_yaml


def test_precedence_defaults_algo_yaml_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("agent:\n  algo: a2c\n  num_steps: 6\nenv:\n  id: MsPacman\n")
    config = load_config(path, ["agent.num_steps=9"])
    assert config.agent.num_steps == 9  # override beats the file
    assert config.agent.optimizer == "rmsprop"  # A2C's defaults under the file
    assert config.env.num_envs == 16 and config.env.id == "MsPacman"
    assert config.gate.name == "cosine"  # untouched default


def test_resolved_config_round_trips_through_yaml(tmp_path):
    config = load_config(None, ["gate.ema=0.01", "teacher.lam=3"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(config))
    assert load_config(path) == config


def test_teacher_path_none_means_no_teacher():
    assert load_config(None, ["teacher.path=none"]).teacher.path is None


@pytest.mark.parametrize(("overrides", "message"), [
    (["gate.nam=cosine"], "unknown config key 'gate.nam'"),
    (["total_steps=-1"], "total_steps must be > 0"),
    (["agent.num_steps=many"], "bad value for agent.num_steps"),
    (["gate.name=cos"], "gate.name='cos' is unknown"),
    (["agent.algo=dqn"], "agent.algo='dqn' is unknown"),
    (["env.sticky_actions=1.5"], "env.sticky_actions must be in"),
    (["agent.num_minibatches=3"], "must split into"),
    (["teacher.lam_schedule=linear"], "lam_decay_steps > 0"),
    (["gate.ema=0"], "gate.ema must be in"),
    (["agent.precision=fp16"], "agent.precision must be fp32 or bf16"),
])
def test_bad_values_raise_one_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_every_shipped_config_loads():
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert {p.stem for p in configs} >= {"breakout", "ms_pacman", "multitask", "cartpole"}
    for path in configs:
        load_config(path)
