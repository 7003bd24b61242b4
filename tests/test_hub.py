"""Teachers from the Hugging Face Hub, offline: the tests write SB3 zips into a Hub cache laid
out as ``huggingface_hub`` lays it out (checked by its own ``scan_cache_dir``) and load them
through the real ``hf_hub_download``; nothing below ``huggingface_hub``'s API is replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from huggingface_hub import scan_cache_dir
from stable_baselines3 import PPO

from rl_auxgrad import evaluate
from rl_auxgrad import train as train_module
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.teachers import TeacherError, load_teacher
from rl_auxgrad.teachers.hub import HubFile, game_of, parse

CPU = torch.device("cpu")
CONFIG = str(Path(__file__).parents[1] / "configs" / "cartpole.yaml")
REPO = "someorg/ppo-CartPole-v1"
COMMIT, NEWER = "a" * 40, "b" * 40


def cache_file(cache: Path, repo: str, filename: str, content: Path, commit: str,
               ref: str | None = "main") -> None:
    """Puts ``content`` into the Hub cache ``cache`` as ``repo``'s ``filename`` at ``commit``,
    as ``hf_hub_download`` stores it: the bytes in ``blobs/<sha256>``, a relative symlink in
    ``snapshots/<commit>/`` and the commit in ``refs/<ref>``."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    data = content.read_bytes()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = folder / "snapshots" / commit / filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    if ref is not None:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / ref).write_text(commit)


def save_ppo(path: Path, env: str | gym.Env = "CartPole-v1", seed: int = 0) -> Path:
    policy = "CnnPolicy" if isinstance(env, gym.Env) else "MlpPolicy"
    PPO(policy, env, n_steps=16, batch_size=16, seed=seed, device="cpu").save(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cartpole_zips(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("zips")
    return save_ppo(folder / "first.zip"), save_ppo(folder / "second.zip", seed=1)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hub cache, offline."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub"


@pytest.mark.parametrize(("address", "expected"), [
    ("hf://sb3/ppo-BreakoutNoFrameskip-v4",
     HubFile("sb3/ppo-BreakoutNoFrameskip-v4", "ppo-BreakoutNoFrameskip-v4.zip", None)),
    ("hf://sb3/dqn-MsPacmanNoFrameskip-v4@main",
     HubFile("sb3/dqn-MsPacmanNoFrameskip-v4", "dqn-MsPacmanNoFrameskip-v4.zip", "main")),
    ("hf://me/teachers/breakout/best.zip@" + COMMIT,
     HubFile("me/teachers", "breakout/best.zip", COMMIT)),
])
def test_addresses_parse_and_print_back(address, expected):
    assert parse(address) == expected
    assert parse(expected.url()) == expected


@pytest.mark.parametrize(("address", "message"), [
    ("hf://sb3", "hf://ORG/REPO[/FILE.zip][@REVISION]"),
    ("hf://sb3/x@", "hf://ORG/REPO[/FILE.zip][@REVISION]"),
    ("hf://../x", "hf://ORG/REPO[/FILE.zip][@REVISION]"),
    ("hf://sb3/x/model.pt", "model.pt is not a .zip"),
])
def test_bad_addresses_are_refused(address, message):
    with pytest.raises(TeacherError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(address)


@pytest.mark.parametrize(("repo", "game"), [
    ("sb3/ppo-BreakoutNoFrameskip-v4", "Breakout"), ("sb3/a2c-MsPacmanNoFrameskip-v4", "MsPacman"),
    ("sb3/qrdqn-MsPacmanNoFrameskip-v4", "MsPacman"), ("someorg/ppo-CartPole-v1", "CartPole-v1"),
    ("me/my-teacher", None), ("me/teacher", None),
])
def test_the_game_comes_from_the_repo_name(repo, game):
    assert game_of(HubFile(repo, "x.zip", None)) == game


def test_a_repo_for_a_game_we_do_not_have_is_refused():
    with pytest.raises(TeacherError, match="plays PongNoFrameskip-v4, which this framework"):
        game_of(parse("hf://sb3/ppo-PongNoFrameskip-v4"))


def test_a_cached_teacher_trains_offline_records_its_commit_and_resumes_from_it(
        cache, cartpole_zips, tmp_path):
    first, second = cartpole_zips
    cache_file(cache, REPO, "ppo-CartPole-v1.zip", first, COMMIT)
    assert [r.repo_id for r in scan_cache_dir(cache).repos] == [REPO]  # hf's own reading
    runs = tmp_path / "runs"
    assert train_module.main(["--config", CONFIG, f"runs_dir={runs}", "--no-progress", "name=h",
                              f"teacher.path=hf://{REPO}", "total_steps=512",
                              "--stop-after", "256"]) == 0
    record = json.loads((runs / "h" / "teacher_record.json").read_text())
    assert record["path"] == f"hf://{REPO}" and record["sha256"] == sha256(first)
    assert record["hub"] == {"repo": REPO, "revision": COMMIT, "filename": "ppo-CartPole-v1.zip"}
    assert record["card"]["games"] == ["CartPole-v1"]
    # main moves on to another commit: the resumed run keeps the teacher it started with.
    cache_file(cache, REPO, "ppo-CartPole-v1.zip", second, NEWER)
    assert train_module.main(["--resume", str(runs / "h"), "--no-progress"]) == 0


def test_a_file_and_revision_of_a_repo_load_by_tag(cache, cartpole_zips, cartpole_spec):
    cache_file(cache, "me/teachers", "cartpole/best.zip", cartpole_zips[1], NEWER, ref="v1")
    teacher = load_teacher("hf://me/teachers/cartpole/best.zip@v1", cartpole_spec, CPU)
    assert teacher.hub == {"repo": "me/teachers", "revision": NEWER,
                           "filename": "cartpole/best.zip"}
    assert teacher.fingerprint() == sha256(cartpole_zips[1])


def test_not_cached_offline_is_one_line_naming_the_repo_and_the_cache(cache, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert train_module.main(["--config", CONFIG, f"runs_dir={runs}", "--no-progress",
                              f"teacher.path=hf://{REPO}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: teacher hf://")
    assert REPO in err and str(cache) in err and "HF_HUB_OFFLINE" in err
    assert not runs.exists() and not cache.exists()


def test_a_teacher_for_another_game_is_refused(cache, tmp_path):
    image = gym.make("CartPole-v1")
    image.observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    image.action_space = gym.spaces.Discrete(4)  # Breakout's minimal action set
    breakout = save_ppo(tmp_path / "breakout.zip", image)
    for repo in ("someorg/ppo-BreakoutNoFrameskip-v4", "someorg/ppo-MsPacmanNoFrameskip-v4"):
        cache_file(cache, repo, f"{repo.split('/')[1]}.zip", breakout, COMMIT)
    env = make_vector_env("MsPacman", 1, seed=0)
    try:
        with pytest.raises(TeacherError, match="plays Breakout, the environment is MsPacman"):
            load_teacher("hf://someorg/ppo-BreakoutNoFrameskip-v4", env.spec, CPU)
        with pytest.raises(TeacherError, match="has 4 actions, but MsPacman has 9"):
            load_teacher("hf://someorg/ppo-MsPacmanNoFrameskip-v4", env.spec, CPU)
    finally:
        env.close()


def test_evaluate_scores_a_hub_teacher_with_the_game_from_its_name(cache, cartpole_zips,
                                                                  capsys):
    cache_file(cache, REPO, "ppo-CartPole-v1.zip", cartpole_zips[0], COMMIT)
    cache_file(cache, "me/teacher", "ppo.zip", cartpole_zips[0], COMMIT)
    assert evaluate.main([f"hf://{REPO}", "--episodes", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"hf://{REPO}: mean ")
    assert evaluate.main(["hf://me/teacher/ppo.zip", "--episodes", "2"]) == 2
    assert "pass --game" in capsys.readouterr().err
    assert evaluate.main(["hf://me/teacher/ppo.zip", "--game", "CartPole-v1",
                          "--episodes", "2"]) == 0


def _evaluate_without_a_network(cache: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m rl_auxgrad.evaluate ARGS`` not offline but with the Hub unreachable (a closed
    local port as its endpoint): the real network path of ``hf_hub_download``, in a process
    that has the variables when it imports ``huggingface_hub``."""
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": "http://127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "rl_auxgrad.evaluate", *args], env=env,
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[1])


def test_without_a_network_a_cached_teacher_is_used(cartpole_zips, tmp_path):
    cache_file(tmp_path / "hub", REPO, "ppo-CartPole-v1.zip", cartpole_zips[0], COMMIT)
    done = _evaluate_without_a_network(tmp_path / "hub", f"hf://{REPO}", "--episodes", "1")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow  # huggingface_hub retries for about 25 s before it gives up
def test_without_a_network_a_missing_teacher_is_one_line(tmp_path):
    done = _evaluate_without_a_network(tmp_path / "hub", f"hf://{REPO}", "--episodes", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "the Hub cannot be reached" in done.stderr
    assert REPO in done.stderr and str(tmp_path / "hub") in done.stderr
