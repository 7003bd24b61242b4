"""``python -m rl_auxgrad.train``: exact resume, bad input, divergence, tensorboard tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from stable_baselines3 import DQN, PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rl_auxgrad import evaluate, training
from rl_auxgrad import train as train_module
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.checkpoint import load_state
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.teachers import save_teacher

CONFIG = str(Path(__file__).parents[1] / "configs" / "cartpole.yaml")


def run(tmp_path: Path, *args: str) -> int:
    return train_module.main(["--config", CONFIG, f"runs_dir={tmp_path}", "--no-progress",
                              *args])


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_state(directory / "checkpoint.safetensors")["learner"]["agent"]


def text(events: EventAccumulator, tag: str) -> str:
    """The markdown of a tensorboard text summary."""
    return events.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()


def make_teacher(tmp_path: Path, game: str = "CartPole-v1") -> Path:
    env = make_vector_env(game, 1, seed=0)
    torch.manual_seed(0)
    agent = ActorCritic(make_torso("mlp", env.spec.obs_shape), env.spec.num_actions)
    return save_teacher(tmp_path / "teacher", agent, env.spec, "mlp", {"score": 0.0})


def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    common = ["total_steps=3072", "deterministic=true", "checkpoint_every=1024"]
    assert run(tmp_path, *common, "name=full") == 0
    assert run(tmp_path, *common, "name=cut", "--stop-after", "1024") == 0
    assert load_state(tmp_path / "cut" / "checkpoint.safetensors")["learner"][
        "global_step"] == 1024
    assert train_module.main(["--resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_teacher_run_logs_the_gate_and_the_teacher(tmp_path):
    teacher = make_teacher(tmp_path)
    assert run(tmp_path, "total_steps=1024", "name=t", f"teacher.path={teacher}",
               "gate.name=projection", "gate.ema=0.01") == 0
    events = EventAccumulator(str(tmp_path / "t")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/SPS", "losses/policy", "losses/value",
            "losses/teacher_kl", "gate/cosine", "gate/weight", "teacher/lam"} <= tags
    assert "gate:\n  name: projection" in text(events, "config")
    assert f"`{teacher}`, sha256 `" in text(events, "teacher")
    record = json.loads((tmp_path / "t" / "teacher_record.json").read_text())
    assert record["path"] == str(teacher) and record["card"]["score"] == 0.0
    assert len(record["sha256"]) == 64


def test_teacher_swaps_by_path_and_a_changed_teacher_stops_a_resume(tmp_path, capsys):
    sb3_zip = tmp_path / "ppo.zip"
    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, seed=0, device="cpu").save(sb3_zip)
    assert run(tmp_path, "total_steps=512", "name=sb3", f"teacher.path={sb3_zip}",
               "--stop-after", "256") == 0
    assert json.loads((tmp_path / "sb3" / "teacher_record.json").read_text())["card"]["format"] \
        == "stable-baselines3"
    assert run(tmp_path, "total_steps=256", "name=alone", "teacher.path=none") == 0
    assert not (tmp_path / "alone" / "teacher_record.json").exists()
    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, seed=1, device="cpu").save(sb3_zip)
    capsys.readouterr()
    assert train_module.main(["--resume", str(tmp_path / "sb3"), "--no-progress"]) == 2
    assert "changed since" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["env.id=Pong9"], "unknown game 'Pong9'"),
    (["total_steps=-5"], "total_steps must be > 0"),
    (["gate.nme=cosine"], "unknown config key 'gate.nme'"),
    (["seed=one"], "bad value for seed"),
    (["teacher.path=/no/such/teacher"], "not found"),
    (["teacher.path=/no/such/teacher.zip"], "not found"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    assert run(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_teacher_for_another_observation_shape_is_refused(tmp_path, capsys):
    teacher = make_teacher(tmp_path, "Acrobot-v1")  # 6 numbers per observation, CartPole has 4
    assert run(tmp_path, f"teacher.path={teacher}") == 2
    assert "observations of shape (6,)" in capsys.readouterr().err


def test_an_existing_run_is_never_overwritten(tmp_path, capsys):
    assert run(tmp_path, "total_steps=512", "name=r") == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    assert run(tmp_path, "total_steps=512", "name=r") == 2
    assert "already exists: pass --resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch,
                                                                     capsys):
    assert run(tmp_path, "total_steps=1024", "checkpoint_every=512", "name=d",
               "--stop-after", "512") == 0
    good = weights(tmp_path / "d")
    monkeypatch.setattr(training.Learner, "learn", lambda self, rollout: {
        "losses/policy": float("nan")})
    assert train_module.main(["--resume", str(tmp_path / "d"), "--no-progress"]) == 1
    assert "losses/policy became NaN/inf" in capsys.readouterr().err
    after = weights(tmp_path / "d")
    assert all(torch.equal(good[k], after[k]) for k in good)


def test_evaluate_scores_a_run_and_a_teacher(tmp_path, capsys):
    assert run(tmp_path, "total_steps=512", "name=e") == 0
    assert evaluate.main([str(tmp_path / "e"), "--episodes", "3"]) == 0
    assert "over 3 episodes" in capsys.readouterr().out
    teacher = make_teacher(tmp_path)
    assert evaluate.main([str(teacher), "--episodes", "2", "--deterministic"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out
    assert evaluate.main([str(tmp_path / "nothing")]) == 2
    assert "neither a run directory" in capsys.readouterr().err
    sb3_zip = tmp_path / "dqn.zip"
    DQN("MlpPolicy", "CartPole-v1", buffer_size=100, seed=0, device="cpu").save(sb3_zip)
    assert evaluate.main([str(sb3_zip), "--game", "CartPole-v1", "--episodes", "2"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out
    assert evaluate.main([str(sb3_zip)]) == 2
    assert "pass --game" in capsys.readouterr().err
    assert evaluate.main([str(teacher), "--device", "gpu0"]) == 2
    assert "device must be" in capsys.readouterr().err


def test_embedded_default_uses_the_shipped_teacher_for_the_game(tmp_path, capsys):
    common = ["env.id=CartPole-v1", "total_steps=1024", f"runs_dir={tmp_path}", "--no-progress"]
    assert train_module.main([*common, "name=default"]) == 0
    record = json.loads((tmp_path / "default" / "teacher_record.json").read_text())
    assert Path(record["path"]).name == "cartpole_ppo_12k"
    assert "the shipped one for CartPole-v1" in capsys.readouterr().err
    assert train_module.main([*common, "name=none", "teacher.path=none"]) == 0
    assert not (tmp_path / "none" / "teacher_record.json").exists()
    assert run(tmp_path, "total_steps=256", "name=config") == 0  # a --config chooses its own
    assert not (tmp_path / "config" / "teacher_record.json").exists()


@pytest.mark.parametrize(("setting", "threads"), [((), 1), (("cpu_threads=2",), 2)])
def test_mlp_runs_use_one_torch_thread_unless_told(tmp_path, setting, threads):
    before = torch.get_num_threads()
    try:
        assert run(tmp_path, "total_steps=256", "teacher.path=none", *setting) == 0
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_minatar_run_is_checkpointed_and_resumed(tmp_path):
    minatar = ["--config", str(Path(CONFIG).with_name("minatar_breakout.yaml")),
               f"runs_dir={tmp_path}", "--no-progress", "total_steps=4096", "env.num_envs=4",
               "agent.num_steps=64", "teacher.path=none", "name=m"]
    assert train_module.main([*minatar, "--stop-after", "2048"]) == 0
    assert train_module.main(["--resume", str(tmp_path / "m"), "--no-progress"]) == 0
    assert load_state(tmp_path / "m" / "checkpoint.safetensors")["learner"]["global_step"] \
        == 4096
