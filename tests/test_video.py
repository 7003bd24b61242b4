"""Videos: ``evaluate --video/--gif`` films the first episode on the game's own screen, at its
own speed, capped; ``video_every`` films during training without changing it."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

from rl_auxgrad import evaluate
from rl_auxgrad import train as train_module
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.envs.screen import AtariScreen
from rl_auxgrad.video import Film, save
from tests.test_train import make_teacher, run, weights

TEACHERS = Path(__file__).parents[1] / "teachers"


def uniform(spec):
    return lambda obs, games: torch.zeros(obs.shape[0], spec.num_actions)


def frames_of(path: Path) -> np.ndarray:
    return iio.imread(path)


def test_a_run_is_filmed_for_its_whole_first_episode_at_the_render_size(tmp_path, capsys):
    assert run(tmp_path, "total_steps=512", "name=e") == 0
    out = tmp_path / "e.mp4"
    assert evaluate.main([str(tmp_path / "e"), "--episodes", "1", "--deterministic",
                          "--video", str(out)]) == 0
    player = evaluate.find_player(tmp_path / "e", device=torch.device("cpu"))
    length = player.score(1, seed=12345, sticky_actions=0.25, deterministic=True).per_game[
        "CartPole-v1"][0]  # CartPole scores 1 per step
    video = frames_of(out)
    assert video.shape == (length + 1, 400, 600, 3)  # the first screen, then one per step
    assert iio.immeta(out)["fps"] == 50  # CartPole's render_fps
    assert f"{length + 1:.0f} frames at 50 fps" in capsys.readouterr().out


def test_teachers_and_sb3_zips_are_filmed_up_to_the_cap(tmp_path):
    gif = tmp_path / "teacher.gif"
    assert evaluate.main([str(make_teacher(tmp_path)), "--episodes", "1", "--gif", str(gif),
                          "--video-frames", "10"]) == 0
    with Image.open(gif) as image:  # identical frames are merged: count their durations
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
        assert image.size == (600, 400)
    assert sum(durations) == 10 * 20  # 10 frames of 20 ms: 50 fps (its episode has 23 steps)
    sb3_zip = tmp_path / "ppo.zip"
    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, seed=0, device="cpu").save(sb3_zip)
    out = tmp_path / "sb3.mp4"
    assert evaluate.main([str(sb3_zip), "--game", "CartPole-v1", "--episodes", "1",
                          "--video", str(out), "--video-frames", "10"]) == 0
    assert frames_of(out).shape == (10, 400, 600, 3)


def test_atari_is_filmed_on_the_ale_screen_at_15_fps(tmp_path):
    out = tmp_path / "breakout.mp4"
    assert evaluate.main([str(TEACHERS / "breakout_ppo_350k"), "--episodes", "1", "--video",
                          str(out), "--video-frames", "40"]) == 0
    assert frames_of(out).shape == (40, 210, 160, 3)  # the ALE's screen, not 84x84 gray
    assert iio.immeta(out)["fps"] == 15  # 60 Hz / frameskip 4: the game's real speed
    with Film("Breakout+MsPacman", uniform, seed=3, sticky_actions=0.25, deterministic=False,
              max_frames=12) as film:
        assert save(tmp_path / "multi.mp4", film, film.fps) == 12
    assert frames_of(tmp_path / "multi.mp4").shape == (12, 210, 320, 3)  # side by side


def test_the_atari_screen_plays_the_same_game_as_the_env_it_follows():
    env = make_vector_env("Breakout", 1, seed=5, sticky_actions=0.25, life_loss_terminal=False)
    screen = AtariScreen(env)
    env.reset(5)
    screen.reset(5)
    actions = np.random.default_rng(0).integers(0, 4, 2000)
    for t, action in enumerate(actions):
        step = env.step(action[None])
        _, reward, terminated, truncated, _ = screen._env.step(action[None])
        assert step.reward[0] == reward[0]
        assert step.done[0] == (terminated | truncated)[0], t
        if step.done[0]:
            break
    assert step.done[0]  # a random Breakout game ends well within 2000 steps
    env.close()
    screen.close()


def test_under_zoo_the_atari_screen_loses_its_lives_with_the_env_it_follows():
    """The screen plays the zoo env's NOOP, FIRE, action 2 after each lost life too: without
    them it would wait for the policy's FIRE and fall out of step."""
    env = make_vector_env("Breakout", 1, seed=5, sticky_actions=0.0, life_loss_terminal=False,
                          protocol="zoo")
    screen = AtariScreen(env)
    env.reset(5)
    screen.reset(5)
    lives = [5]
    for action in np.random.default_rng(0).integers(0, 4, 2000):
        step = env.step(action[None])
        screen.step(int(action))
        if step.done[0]:
            break
        assert screen._lives == env._lives[0]
        lives.append(screen._lives)
    assert step.done[0] and set(lives) == {1, 2, 3, 4, 5}
    env.close()
    screen.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--video", "missing/out.mp4"], "does not exist"),
    (["--video", "out.gif"], "name a .mp4 file"),
    (["--gif", "out.mp4"], "name a .gif file"),
    (["--video", "out.mp4", "--video-frames", "0"], "--video-frames must be >= 1"),
])
def test_bad_video_output_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert evaluate.main([str(make_teacher(tmp_path)), "--episodes", "1", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.glob("out.*"))


def test_a_game_that_cannot_render_is_one_line_and_exit_2(tmp_path, capsys):
    assert evaluate.main([str(TEACHERS / "minatar_breakout_uniform"), "--episodes", "1",
                          "--video", str(tmp_path / "m.mp4")]) == 2
    err = capsys.readouterr().err
    assert "cannot be filmed" in err and err.count("\n") == 1
    assert train_module.main(["env.id=MinAtar/Breakout-v1", "teacher.path=none",
                              "video_every=1000", f"runs_dir={tmp_path}"]) == 2  # at once
    err = capsys.readouterr().err
    assert "cannot be filmed" in err and err.count("\n") == 1
    assert not list(tmp_path.glob("MinAtar*"))


def test_video_every_writes_videos_and_gifs_and_leaves_training_unchanged(tmp_path):
    common = ["total_steps=512", "deterministic=true"]
    assert run(tmp_path, *common, "name=plain") == 0
    assert run(tmp_path, *common, "name=filmed", "video_every=256") == 0
    plain, filmed = weights(tmp_path / "plain"), weights(tmp_path / "filmed")
    assert all(torch.equal(plain[k], filmed[k]) for k in plain)
    videos = tmp_path / "filmed" / "videos"
    assert sorted(p.name for p in videos.iterdir()) == ["step_256.mp4", "step_512.mp4"]
    assert frames_of(videos / "step_256.mp4").shape[1:] == (400, 600, 3)
    events = EventAccumulator(str(tmp_path / "filmed"), size_guidance={IMAGES: 0}).Reload()
    gifs = events.Images("videos/episode")
    assert [g.step for g in gifs] == [256, 512]
    assert gifs[0].encoded_image_string.startswith(b"GIF89a")
    assert (gifs[0].height, gifs[0].width) == (200, 300)  # subsampled for tensorboard
    assert not (tmp_path / "plain" / "videos").exists()


def test_a_zoo_breakout_run_trains_and_films_under_its_protocol(tmp_path):
    breakout = str(Path(__file__).parents[1] / "configs" / "breakout.yaml")
    assert train_module.main(["--config", breakout, f"runs_dir={tmp_path}", "--no-progress",
                              "name=zoo", "env.protocol=zoo", "env.sticky_actions=0",
                              "env.num_envs=2", "env.threads=1", "agent.num_steps=32",
                              "total_steps=64", "video_every=64"]) == 0
    assert "protocol: zoo" in (tmp_path / "zoo" / "config.yaml").read_text()
    assert frames_of(tmp_path / "zoo" / "videos" / "step_64.mp4").shape[1:] == (210, 160, 3)
