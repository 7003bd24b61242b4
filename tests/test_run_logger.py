"""What a run shows: tensorboard's custom-scalars layout, the config and teacher card as text,
the teacher's card score as a line, its wall time and hardware across sittings, and the
end-of-run lines of ``python -m rl_auxgrad.train``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2, metadata

from rl_auxgrad import records, training
from rl_auxgrad import train as train_module
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.checkpoint import load_state, save_state
from rl_auxgrad.envs import Episode, make_vector_env
from rl_auxgrad.run_dir import STEP_KEY, RunDir
from rl_auxgrad.run_logger import LAYOUT, RunLogger, Scores, card_scores
from rl_auxgrad.teachers import save_teacher

CONFIG = str(Path(__file__).parents[1] / "configs" / "cartpole.yaml")


def run(tmp_path: Path, *args: str) -> int:
    return train_module.main(["--config", CONFIG, f"runs_dir={tmp_path}", "--no-progress",
                              *args])


def text(events: EventAccumulator, tag: str) -> list[str]:
    """The markdown of every text summary under ``tag``."""
    return [e.tensor_proto.string_val[0].decode() for e in events.Tensors(f"{tag}/text_summary")]


def test_layout_texts_and_card_score_are_written_once_and_survive_a_resume(tmp_path):
    env = make_vector_env("CartPole-v1", 1, seed=0)
    torch.manual_seed(0)
    agent = ActorCritic(make_torso("mlp", env.spec.obs_shape), env.spec.num_actions)
    teacher = save_teacher(tmp_path / "teacher", agent, env.spec, "mlp",
                           {"score": {"mean": 42.5, "per_game": {"CartPole-v1": 42.5}}})
    assert run(tmp_path, "total_steps=768", "name=t", f"teacher.path={teacher}",
               "--stop-after", "256") == 0
    assert train_module.main(["--resume", str(tmp_path / "t"), "--no-progress"]) == 0
    events = EventAccumulator(str(tmp_path / "t")).Reload()  # both sittings' event files

    configs = events.Tensors(metadata.CONFIG_SUMMARY_TAG)
    assert len(configs) == 1 and configs[0].step == 0
    layout = layout_pb2.Layout.FromString(configs[0].tensor_proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    assert charts == {title: tags for title, (_, tags) in LAYOUT["rl_auxgrad"].items()}
    scalars = events.Tags()["scalars"]
    for title, tags in charts.items():  # each chart draws something of this run
        assert any(re.match(tag, s) for tag in tags for s in scalars), title
    assert {"charts/episodic_return", "teacher/card_score", "teacher/lam", "gate/weight",
            "losses/teacher_kl"} <= set(scalars)

    card_score = events.Scalars("teacher/card_score")
    assert [e.step for e in card_score] == [256, 512, 768]  # every update: a line
    assert {e.value for e in card_score} == {42.5}
    [config] = text(events, "config")
    assert config.startswith("```yaml\nname: t\n") and "total_steps: 768" in config
    [card] = text(events, "teacher")
    assert f"`{teacher}`, sha256 `" in card and '"mean": 42.5' in card


@pytest.mark.parametrize(("card", "games", "expected"), [
    ({}, ("CartPole-v1",), {}),
    ({"score": 0.0}, ("CartPole-v1",), {}),
    ({"score": {"mean": 3}}, ("CartPole-v1",), {"teacher/card_score": 3.0}),
    ({"score": {"mean": 3, "per_game": {"Pong": 1}}}, ("Pong",), {"teacher/card_score": 3.0}),
    ({"score": {"mean": 3, "per_game": {"Breakout": 1, "MsPacman": 5}}},
     ("Breakout", "MsPacman"), {"teacher/card_score": 3.0, "teacher/card_score/Breakout": 1.0,
                                "teacher/card_score/MsPacman": 5.0}),
    # a one-game teacher in a multi-game run: its mean is its score in its game
    ({"score": {"mean": 3}, "games": ["Breakout"]}, ("Breakout", "MsPacman"),
     {"teacher/card_score": 3.0, "teacher/card_score/Breakout": 3.0}),
])
def test_card_scores_come_from_the_cards_score(card, games, expected):
    assert card_scores(card, games) == expected


def test_final_and_best_mean_score_over_windows_of_20(tmp_path):
    logger = RunLogger(RunDir(tmp_path / "r"), 1000, 0, 256, ("CartPole-v1",), {}, {},
                       show_progress=False)
    logger.episodes(256, [Episode("CartPole-v1", 1.0, 1)] * 19)
    assert logger.scores() == Scores(19, 1.0, None)  # no window of 20 yet
    logger.episodes(512, [Episode("CartPole-v1", 10.0, 1)] * 20
                    + [Episode("CartPole-v1", 0.0, 1)] * 10)
    logger.close()
    assert logger.scores() == Scores(49, 5.0, 10.0)
    assert logger.steps_text(1000) == "1,000/1,000 steps"
    assert logger.steps_text(1024) == "1,024/1,000 steps (whole rollouts of 256)"


def test_the_last_lines_say_where_the_run_is_its_scores_and_how_to_look_at_it(tmp_path, capsys):
    assert run(tmp_path, "total_steps=1000", "name=done", "teacher.path=none") == 0
    err = capsys.readouterr().err.splitlines()
    directory = tmp_path / "done"
    assert err[0] == (f"finished: {directory} at 1,024 agent steps: whole rollouts of 256 "
                      "(num_envs × num_steps), the first boundary past total_steps=1,000")
    assert re.fullmatch(r"  score: mean \d+\.\d over the last 20 episodes, best \d+\.\d \(mean "
                        r"of 20 consecutive\); \d+ episodes in this sitting", err[1])
    assert re.fullmatch(r"  time: +\d+\.\ds \(this sitting, from step 0\)", err[2])
    assert err[3].startswith(f"  look:  tensorboard --logdir {tmp_path}   (CUSTOM SCALARS")
    assert err[4].strip() == f"python -m rl_auxgrad.evaluate {directory}"
    assert len(err) == 5

    assert run(tmp_path, "total_steps=1024", "name=cut", "teacher.path=none",
               "--stop-after", "256") == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"stopped: {tmp_path / 'cut'} at 256 agent steps of total_steps=1,024, " \
                     "with a checkpoint"
    assert err[-1] == f"  continue: python -m rl_auxgrad.train --resume {tmp_path / 'cut'}"


def test_wall_time_counts_every_sitting_and_a_resume_continues_from_the_checkpoints(tmp_path):
    assert run(tmp_path, "total_steps=768", "name=w", "teacher.path=none",
               "--stop-after", "256") == 0
    directory = RunDir(tmp_path / "w")
    before = directory.load_checkpoint()[training.WALL_TIME]
    assert train_module.main(["--resume", str(directory.path), "--no-progress"]) == 0
    scalars = records.run_scalars(directory.path)
    steps, wall = scalars["charts/wall_time"]
    assert steps.tolist() == [256, 512, 768]
    assert 0 < wall[0] <= before < wall[1] < wall[2]
    assert directory.load_checkpoint()[training.WALL_TIME] >= wall[2]
    sps_steps, sps = scalars["charts/SPS"]  # the second sitting's speed counts from step 256
    np.testing.assert_allclose((wall[1:] - before) * sps[1:], sps_steps[1:] - 256, rtol=1e-4)


def test_a_resume_from_a_checkpoint_without_wall_time_logs_none(tmp_path):
    assert run(tmp_path, "total_steps=768", "name=old", "teacher.path=none",
               "--stop-after", "256") == 0
    directory = RunDir(tmp_path / "old")
    state = directory.load_checkpoint()
    del state[training.WALL_TIME]  # as written before wall time was counted
    save_state(directory.checkpoint_file, state, {STEP_KEY: "256"})
    assert train_module.main(["--resume", str(directory.path), "--no-progress"]) == 0
    assert directory.reached() == 768
    steps, _ = records.run_scalars(directory.path)["charts/wall_time"]
    assert steps.tolist() == [256]  # the first sitting's; unknown from the resume on
    assert training.WALL_TIME not in load_state(directory.checkpoint_file)


def test_each_sitting_records_its_hardware_and_a_fork_keeps_its_sources(tmp_path):
    cpu = training.device_name(torch.device("cpu"))
    assert re.fullmatch(r"CPU \(\d+ cores\)", cpu)
    assert run(tmp_path, "total_steps=768", "name=h", "teacher.path=none",
               "--stop-after", "256") == 0
    directory = RunDir(tmp_path / "h")
    assert train_module.main(["--resume", str(directory.path), "--no-progress"]) == 0
    sessions = [{"step": 0, "device": cpu}, {"step": 256, "device": cpu}]
    assert directory.hardware() == sessions
    record = records.write_record(directory, tmp_path / "h.npz")
    assert records.read_record(record)["hardware"] == sessions
    assert train_module.main(["--resume", str(directory.path), "--fork", "f", "--no-progress",
                              "total_steps=1024"]) == 0
    fork = RunDir(tmp_path / "f")
    assert fork.hardware() == [*sessions, {"step": 768, "device": cpu}]
    assert fork.load_checkpoint()[training.WALL_TIME] > \
        directory.load_checkpoint()[training.WALL_TIME]


def test_a_session_replaces_those_whose_work_its_checkpoint_discards(tmp_path):
    directory = RunDir(tmp_path)
    assert directory.hardware() is None
    for step, device in [(0, "a"), (256, "b"), (512, "c"), (256, "d")]:
        directory.record_session(step, device)
    assert directory.hardware() == [{"step": 0, "device": "a"}, {"step": 256, "device": "d"}]
    directory.record_session(0, "e")  # started again from step 0
    assert directory.hardware() == [{"step": 0, "device": "e"}]


def test_a_sitting_opened_in_the_same_second_as_the_last_sorts_after_it(tmp_path):
    """Tensorboard reads event files in name order; a resumed sitting's file must come after
    the killed one's even when both were opened in the same second (and whatever the host)."""
    directory = RunDir(tmp_path / "r")
    directory.path.mkdir()
    earlier = directory.path / f"events.out.tfevents.{int(time.time())}.~host.1.0"
    earlier.touch()  # '~' sorts after any letter or digit of this machine's name
    logger = RunLogger(directory, 1000, 256, 256, ("CartPole-v1",), {}, {}, show_progress=False)
    logger.close()
    files = directory.event_files()
    assert len(files) == 2 and files[0] == earlier
