"""Teachers: SB3 zips read without pickle give SB3's own action distribution; unsafe or
unsupported zips are refused with a reason; native cards are checked; swapping by path."""

from __future__ import annotations

import hashlib
import importlib
import io
import zipfile
from pathlib import Path

import ale_py
import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecFrameStack

from rl_auxgrad import evaluate
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.teachers import (
    UNAVAILABLE,
    CardScore,
    TeacherError,
    card_score,
    load_sb3,
    load_teacher,
    read_card,
    save_teacher,
)

CPU = torch.device("cpu")
ROOT = Path(__file__).parents[1]
CARTPOLE_CONFIG = ROOT / "configs" / "cartpole.yaml"
Q_TEMPERATURE = 0.5


def _sb3_probs(model, obs: torch.Tensor) -> torch.Tensor:
    """SB3's own action distribution for ``obs`` (DQN: softmax of Q / temperature)."""
    with torch.no_grad():
        if isinstance(model, DQN):
            return torch.softmax(model.q_net(obs) / Q_TEMPERATURE, -1)
        return model.policy.get_distribution(obs).distribution.probs


def _our_probs(path: Path, spec, obs: torch.Tensor) -> torch.Tensor:
    teacher = load_sb3(path, spec, CPU, q_temperature=Q_TEMPERATURE)
    return torch.softmax(teacher(obs, torch.zeros(len(obs), dtype=torch.long)), -1)


@pytest.fixture(scope="module")
def breakout_spec():
    env = make_vector_env("Breakout", 1, seed=0)
    yield env.spec
    env.close()


@pytest.mark.parametrize(("algo", "kwargs"), [
    (PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 2,
           "policy_kwargs": {"net_arch": [32, 32], "activation_fn": torch.nn.ReLU}}),
    (A2C, {"n_steps": 8}),
    (DQN, {"buffer_size": 500, "learning_starts": 50, "train_freq": 4}),
], ids=["ppo", "a2c", "dqn"])
def test_sb3_mlp_policy_gives_sb3s_distribution(algo, kwargs, cartpole_spec, tmp_path):
    model = algo("MlpPolicy", "CartPole-v1", seed=0, device="cpu", **kwargs)
    model.learn(300)
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", device="cpu")
    obs = torch.randn(64, 4) * torch.tensor([1.0, 2.0, 0.2, 2.0])
    difference = (_our_probs(tmp_path / "model.zip", cartpole_spec, obs)
                  - _sb3_probs(loaded, obs)).abs().max()
    assert difference < 1e-5


class _TinyCNN(BaseFeaturesExtractor):
    """A custom extractor: its code lives only in the zip's pickle, so it must be refused."""

    def __init__(self, observation_space, features_dim: int = 8) -> None:
        super().__init__(observation_space, features_dim)
        self.net = torch.nn.Sequential(torch.nn.Flatten(),
                                       torch.nn.Linear(int(np.prod(observation_space.shape)),
                                                       features_dim))

    def forward(self, obs):
        return self.net(obs)


@pytest.fixture(scope="module")
def atari_env():
    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=1, seed=0), n_stack=4)
    yield env
    env.close()


@pytest.mark.parametrize(("algo", "kwargs"), [
    (PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 1,
           "policy_kwargs": {"features_extractor_kwargs": {"features_dim": 64}}}),
    (DQN, {"buffer_size": 200, "learning_starts": 50, "train_freq": 4,
           "optimize_memory_usage": False,
           "policy_kwargs": {"features_extractor_kwargs": {"features_dim": 64}}}),
], ids=["ppo_cnn", "dqn_cnn"])
def test_sb3_atari_cnn_policy_gives_sb3s_distribution(algo, kwargs, atari_env, breakout_spec,
                                                      tmp_path):
    model = algo("CnnPolicy", atari_env, seed=0, device="cpu", **kwargs)
    model.learn(128)
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", device="cpu")
    # SB3's policy sees (4, 84, 84) after its VecTransposeImage, as our env gives them.
    assert tuple(loaded.observation_space.shape) == breakout_spec.obs_shape
    obs = torch.randint(0, 256, (16, *breakout_spec.obs_shape), dtype=torch.uint8)
    ours = _our_probs(tmp_path / "model.zip", breakout_spec, obs)
    difference = (ours - _sb3_probs(loaded, obs)).abs().max()
    assert difference < 1e-5


def test_sb3_atari_teacher_maps_into_the_multigame_action_set(atari_env, tmp_path):
    model = PPO("CnnPolicy", atari_env, n_steps=16, batch_size=16, n_epochs=1, seed=0,
                device="cpu", policy_kwargs={"features_extractor_kwargs": {"features_dim": 16}})
    model.save(tmp_path / "breakout.zip")
    env = make_vector_env("Breakout+MsPacman", 1, seed=0)
    teacher = load_teacher(tmp_path / "breakout.zip", env.spec, CPU)
    obs = torch.randint(0, 256, (env.spec.num_envs, *env.spec.obs_shape), dtype=torch.uint8)
    logits = teacher(obs, torch.tensor(env.spec.game_ids))
    env.close()
    meanings = env.spec.action_meanings[0]
    own = [meanings.index(m) for m in ("NOOP", "FIRE", "RIGHT", "LEFT")]
    sb3 = _sb3_probs(model, obs)
    assert torch.allclose(torch.softmax(logits, -1)[:, own], sb3, atol=1e-5)
    others = [i for i in range(len(meanings)) if i not in own]
    assert (logits[:, others] == UNAVAILABLE).all()


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, replace.get(name, old.read(name)))


@pytest.fixture(scope="module")
def cartpole_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("sb3") / "ppo.zip"
    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, seed=0, device="cpu").save(path)
    return path


class _Payload:
    """Stands for any Python object a malicious policy.pth could carry."""


def test_sb3_zip_with_pickled_objects_is_refused(cartpole_zip, cartpole_spec, tmp_path):
    buffer = io.BytesIO()
    torch.save({"action_net.weight": torch.zeros(2, 64), "payload": _Payload()}, buffer)
    _rewrite_zip(cartpole_zip, tmp_path / "evil.zip", {"policy.pth": buffer.getvalue()})
    with pytest.raises(TeacherError, match="pickled Python objects"):
        load_sb3(tmp_path / "evil.zip", cartpole_spec, CPU)


def test_sb3_custom_feature_extractor_is_refused(atari_env, breakout_spec, tmp_path):
    model = PPO("CnnPolicy", atari_env, n_steps=16, batch_size=16, device="cpu",
                policy_kwargs={"features_extractor_class": _TinyCNN})
    model.save(tmp_path / "custom.zip")
    with pytest.raises(TeacherError, match=r"features extractor .*_TinyCNN is not supported"):
        load_sb3(tmp_path / "custom.zip", breakout_spec, CPU)


@pytest.mark.parametrize(("content", "message"), [
    (b"not a zip", "not a zip file"),
    (None, "lacks \\['policy.pth'\\]"),
])
def test_broken_sb3_files_are_refused(content, message, cartpole_zip, cartpole_spec, tmp_path):
    path = tmp_path / "broken.zip"
    if content is None:
        with zipfile.ZipFile(cartpole_zip) as old, zipfile.ZipFile(path, "w") as new:
            new.writestr("data", old.read("data"))
    else:
        path.write_bytes(content)
    with pytest.raises(TeacherError, match=message):
        load_sb3(path, cartpole_spec, CPU)


def test_sb3_teacher_for_another_observation_is_refused(cartpole_zip, breakout_spec):
    with pytest.raises(TeacherError, match=r"shape \(4,\), the environment gives \(4, 84, 84\)"):
        load_sb3(cartpole_zip, breakout_spec, CPU)


def test_sb3_teacher_fingerprint_is_the_zips_hash(cartpole_zip, cartpole_spec):
    teacher = load_teacher(cartpole_zip, cartpole_spec, CPU)
    assert teacher.fingerprint() == hashlib.sha256(cartpole_zip.read_bytes()).hexdigest()
    assert teacher.card["format"] == "stable-baselines3"
    assert torch.isfinite(teacher(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long))).all()


def _native_breakout_teacher(tmp_path: Path, full_action_space: bool = False) -> Path:
    env = make_vector_env("Breakout", 1, seed=0, full_action_space=full_action_space)
    agent = ActorCritic(make_torso("nature", env.spec.obs_shape), env.spec.num_actions)
    env.close()
    return save_teacher(tmp_path / f"breakout{int(full_action_space)}", agent, env.spec, "nature",
                        {"score": {"mean": 1.0}})


def test_native_card_is_checked_against_the_game_and_the_action_set(tmp_path):
    teacher = _native_breakout_teacher(tmp_path)
    ms_pacman = make_vector_env("MsPacman", 1, seed=0)
    with pytest.raises(TeacherError, match="plays Breakout, the environment is MsPacman"):
        load_teacher(teacher, ms_pacman.spec, CPU)
    ms_pacman.close()
    full = _native_breakout_teacher(tmp_path, full_action_space=True)
    breakout = make_vector_env("Breakout", 1, seed=0)
    with pytest.raises(TeacherError, match=r"uses actions .*'UP'.* that Breakout here does not"):
        load_teacher(full, breakout.spec, CPU)
    breakout.close()
    assert read_card(teacher)["score"] == {"mean": 1.0}


def test_train_teacher_writes_a_card_whose_score_evaluate_reproduces(tmp_path, capsys):
    script = importlib.import_module("scripts.train_teacher")
    out = tmp_path / "teacher"
    assert script.main(["--config", str(CARTPOLE_CONFIG), "--steps", "512", "--out", str(out),
                        "--why", "tiny", "--episodes", "3", "--runs-dir",
                        str(tmp_path / "runs")]) == 0
    card = read_card(out)
    assert card["training"]["agent_steps"] == 512 and card["why_imperfect"] == "tiny"
    assert card["games"] == ["CartPole-v1"] and card["size_bytes"] > 0
    capsys.readouterr()
    command = card["score"]["command"].split()
    assert command[:3] == ["python", "-m", "rl_auxgrad.evaluate"]
    assert evaluate.main(command[3:]) == 0
    assert f"mean {card['score']['mean']:.1f} ± {card['score']['std']:.1f}" \
        in capsys.readouterr().out
    assert script.main(["--steps", "512", "--out", str(out), "--why", "x"]) == 2  # no overwrite


@pytest.mark.parametrize(("card", "expected"), [
    ({}, CardScore()),
    ({"score": 9.0}, CardScore()),  # not the card's format: no score
    ({"score": {"mean": True}}, CardScore()),
    ({"score": {"mean": 2, "std": 1}, "games": ["Breakout"]}, CardScore(2.0, {"Breakout": 2.0})),
    ({"score": {"mean": 2}, "games": ["Breakout", "MsPacman"]}, CardScore(2.0, {})),
    ({"score": {"mean": 2, "per_game": {"Breakout": 9, "MsPacman": "n/a"}},
      "games": ["Breakout", "MsPacman"]}, CardScore(2.0, {"Breakout": 9.0})),
    ({"score": {"per_game": {"Breakout": 9}}, "games": ["Breakout"]},
     CardScore(None, {"Breakout": 9.0})),
])
def test_card_score_reads_the_mean_and_the_score_in_each_game(card, expected):
    assert card_score(card) == expected


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "teachers").iterdir()
                                        if (p / "teacher.json").is_file()))
def test_shipped_teachers_load_on_their_game_with_a_complete_card(name):
    path = ROOT / "teachers" / name
    card = read_card(path)
    assert card["size_bytes"] == (path / "model.safetensors").stat().st_size <= 10_000_000
    assert card["why_imperfect"] and card["score"]["command"].startswith(
        f"python -m rl_auxgrad.evaluate teachers/{name} ")
    env = make_vector_env("+".join(card["games"]), 1, seed=0)
    teacher = load_teacher(path, env.spec, CPU)
    obs = torch.as_tensor(env.reset(seed=0), dtype=torch.float32)
    logits = teacher(obs, torch.zeros(1, dtype=torch.long))
    env.close()
    assert logits.shape == (1, env.spec.num_actions) and torch.isfinite(logits).all()


def test_every_game_maps_to_a_shipped_teacher_directory():
    from rl_auxgrad.teachers import SHIPPED, shipped_teacher

    for game, name in SHIPPED.items():
        assert shipped_teacher(game) == ROOT / "teachers" / name
