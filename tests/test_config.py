"""Configuration: precedence, algorithm defaults and one clear error per mistake."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from rl_auxgrad.config import (
    GATE_NAMES,
    RANGES,
    ConfigError,
    TrainConfig,
    build_gate,
    load_config,
    to_yaml,
)
from rl_auxgrad.gating import GATES, Attittud, Cosine, CosineShuffled


def test_precedence_defaults_algo_yaml_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("agent:\n  algo: a2c\n  num_steps: 6\nenv:\n  id: MsPacman\n")
    config = load_config(path, ["agent.num_steps=9"])
    assert config.agent.num_steps == 9  # override beats the file
    assert config.agent.optimizer == "rmsprop"  # A2C's defaults under the file
    assert config.env.num_envs == 16 and config.env.id == "MsPacman"
    assert (config.gate.name, config.teacher.lam_schedule) == ("multitask", "stop")  # defaults


def test_resolved_config_round_trips_through_yaml(tmp_path):
    config = load_config(None, ["gate.name=cosine", "gate.ema=0.01", "teacher.lam=3"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(config))
    assert load_config(path) == config


def test_the_zoo_protocol_is_chosen_with_no_sticky_actions():
    breakout = Path(__file__).parents[1] / "configs" / "breakout.yaml"
    assert load_config(breakout).env.protocol == "v5"
    config = load_config(breakout, ["env.protocol=zoo", "env.sticky_actions=0"])
    assert (config.env.protocol, config.env.sticky_actions) == ("zoo", 0.0)


def test_the_env_config_makes_its_env_with_every_setting():
    breakout = Path(__file__).parents[1] / "configs" / "breakout.yaml"
    config = load_config(breakout, ["env.full_action_space=true", "env.num_envs=3",
                                    "env.protocol=zoo", "env.sticky_actions=0"])
    with config.env.make(0) as env:
        assert (env.spec.num_envs, env.spec.num_actions) == (3, 18)
    with load_config(breakout).env.make(0, num_envs=1) as env:
        assert (env.spec.num_envs, env.spec.num_actions) == (1, 4)


def test_teacher_path_none_means_no_teacher():
    assert load_config(None, ["teacher.path=none"]).teacher.path is None


@pytest.mark.parametrize(("overrides", "message"), [
    (["gate.nam=cosine"], "unknown config key 'gate.nam'"),
    (["total_steps=-1"], "total_steps must be > 0"),
    (["agent.num_steps=many"], "bad value for agent.num_steps"),
    (["gate.name=cos"], "gate.name='cos' is unknown"),
    (["agent.algo=dqn"], "agent.algo='dqn' is unknown"),
    (["env.sticky_actions=1.5"], "env.sticky_actions must be in"),
    (["env.protocol=v6"], "env.protocol='v6' is unknown: choose one of v5, zoo"),
    (["env.protocol=zoo"], "env.protocol=zoo plays without sticky actions, got "
                           "env.sticky_actions=0.25: add env.sticky_actions=0"),
    (["agent.num_minibatches=3"], "must split into"),
    (["teacher.lam_schedule=linear"], "lam_decay_steps > 0"),
    (["gate.ema=0"], "gate.ema must be in"),
    (["agent.precision=fp16"], "agent.precision='fp16' is unknown"),
    (["teacher.lam=inf"], "teacher.lam must be a finite number, got inf"),
    (["agent.learning_rate=nan"], "agent.learning_rate must be a finite number"),
    (["agent.clip_coef=-1"], "agent.clip_coef must be > 0, got -1"),
    (["agent.max_grad_norm=-1"], "agent.max_grad_norm must be > 0"),
    (["gate.attittud.eta=[1,inf,0]"], "gate.attittud.eta must be a finite number"),
    (["gate.threshold=2"], "gate.threshold must be in [-1, 1]"),
    (["name=../x"], "must be a folder name inside the runs folder"),
    (["name=/tmp/x"], "must be a folder name inside the runs folder"),
])
def test_bad_values_raise_one_config_error(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, overrides)


@pytest.mark.parametrize("gate", GATE_NAMES)
def test_gate_ema_loads_exactly_for_the_gates_whose_factory_takes_ema(gate):
    """One list of gates: the registry. gate.ema loads for a gate of GATES whose factory has an
    ``ema`` parameter, and the gate gets it; any other gate (and kl_only) is refused at load."""
    overrides = [f"gate.name={gate}", "gate.ema=0.01"]
    if gate in GATES and "ema" in inspect.signature(GATES[gate]).parameters:
        assert build_gate(load_config(None, overrides).gate, seed=1).ema == 0.01
    else:
        with pytest.raises(ConfigError, match=rf"gate\.ema applies to .*, not {gate}"):
            load_config(None, overrides)


def test_gate_names_are_the_registry_and_kl_only():
    assert set(GATE_NAMES) == set(GATES) | {"kl_only"}
    assert build_gate(load_config(None, ["gate.name=kl_only"]).gate, seed=1) is None


def test_build_gate_passes_the_options_each_gate_takes():
    def gate(*overrides: str):
        config = load_config(None, ["seed=7", *overrides])
        return build_gate(config.gate, config.seed)

    unweighted = gate("gate.name=cosine_unweighted", "gate.threshold=0.3", "gate.per=variable")
    assert isinstance(unweighted, Cosine) and not unweighted.weighted
    assert (unweighted.threshold, unweighted.per) == (0.3, "variable")
    weighted = gate("gate.name=cosine", "gate.threshold=0.3")  # no threshold: weighted
    assert weighted.weighted and weighted.threshold == 0.0
    shuffled = gate("gate.name=cosine_shuffled")
    assert isinstance(shuffled, CosineShuffled) and shuffled.seed == 7
    attittud = gate("gate.name=attittud", "gate.attittud.k=3", "gate.attittud.eta=[0.5,1,0]",
                    "gate.attittud.method=randomized")
    assert isinstance(attittud, Attittud)
    assert (attittud.k, attittud.eta_orth, attittud.method) == (3, 0.5, "randomized")


def test_every_numeric_field_has_a_range():
    """RANGES covers each int / float field (and list of floats) of every config dataclass."""
    def numeric_keys(cls: type, prefix: str = "") -> set[str]:
        keys: set[str] = set()
        for f in dataclasses.fields(cls):
            kind = str(f.type)
            if dataclasses.is_dataclass(f.default_factory):  # type: ignore[arg-type]
                keys |= numeric_keys(f.default_factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]
            elif re.search(r"\b(int|float)\b", kind):
                keys.add(prefix + f.name)
        return keys

    assert numeric_keys(TrainConfig) == set(RANGES)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_every_shipped_config_loads():
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert {p.stem for p in configs} >= {"breakout", "ms_pacman", "multitask", "cartpole"}
    for path in configs:
        load_config(path)
