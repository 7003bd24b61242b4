"""The fault suite: every bad input gets one line and exit 2 and changes nothing; SIGINT,
SIGTERM and SIGKILL at random moments lose nothing (bitwise equal weights, no holes in the
scalars); a diverging run never keeps a non-finite checkpoint."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from rl_auxgrad import evaluate, records, training
from rl_auxgrad import train as train_module
from rl_auxgrad.checkpoint import load_state
from rl_auxgrad.run_dir import RunDir

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")
TEACHER = ROOT / "teachers" / "cartpole_ppo_12k"
EXACT = ["deterministic=true", "total_steps=3072", "checkpoint_every=1024"]
"""A short CartPole run that reruns bit for bit (12 updates of 256 steps)."""


def invoke(main, args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as stop:  # argparse errors exit from inside main
        return int(stop.code or 0)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``root``."""
    out: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root)] = None
        for f in files:
            out[os.path.relpath(os.path.join(folder, f), root)] = Path(folder, f).read_bytes()
    return out


def write_zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A finished CartPole run, teachers and SB3 zips, each also in broken variants."""
    w = tmp_path_factory.mktemp("world")
    assert invoke(train_module.main, ["--config", CONFIG, "--no-progress", f"runs_dir={w}/runs",
                                      "name=good", "total_steps=512"]) == 0
    good = w / "runs" / "good"
    for name, change in {
        "bad_yaml": lambda d: (d / "config.yaml").write_text("env: [CartPole\n"),
        "list_yaml": lambda d: (d / "config.yaml").write_text("- 1\n- 2\n"),
        "unknown_key": lambda d: (d / "config.yaml").write_text("colour: blue\n"),
        "inf_yaml": lambda d: (d / "config.yaml").write_text(
            (d / "config.yaml").read_text().replace("lam: 1.0", "lam: .inf")),
        "truncated_ckpt": lambda d: (d / "checkpoint.safetensors").write_bytes(
            (d / "checkpoint.safetensors").read_bytes()[:300]),
        "empty_ckpt": lambda d: (d / "checkpoint.safetensors").write_bytes(b""),
        "bad_record": lambda d: (d / "teacher_record.json").write_text("{"),
        "other_torso": lambda d: (d / "config.yaml").write_text(
            (d / "config.yaml").read_text().replace("torso: mlp", "torso: nature")),
    }.items():
        shutil.copytree(good, w / "runs" / name)
        change(w / "runs" / name)
    (w / "files").mkdir()
    for name, text in {"bad.yaml": "env: {id: CartPole-v1\n", "list.yaml": "- a\n- b\n",
                       "python.yaml": "seed: !!python/object/apply:os.system [echo hi]\n",
                       "scalar.yaml": "hello\n", "binary.yaml": "\udcff",
                       "tabs.yaml": "env:\n\tid: x\n"}.items():
        (w / "files" / name).write_text(text, errors="surrogateescape")
    (w / "files" / "folder.yaml").mkdir()
    (w / "files" / "afile").write_text("not a folder\n")
    teachers = w / "teachers"
    card = json.loads((TEACHER / "teacher.json").read_text())
    for name, change in {
        "truncated": lambda d: (d / "model.safetensors").write_bytes(
            (d / "model.safetensors").read_bytes()[:200]),
        "empty": lambda d: (d / "model.safetensors").write_bytes(b""),
        "card_list": lambda d: (d / "teacher.json").write_text("[1, 2]"),
        "card_not_json": lambda d: (d / "teacher.json").write_text("{games"),
        "card_no_games": lambda d: (d / "teacher.json").write_text(json.dumps(
            {k: v for k, v in card.items() if k != "games"})),
        "card_shape_str": lambda d: (d / "teacher.json").write_text(json.dumps(
            card | {"obs_shape": "four"})),
        "card_shape_lie": lambda d: (d / "teacher.json").write_text(json.dumps(
            card | {"obs_shape": [6]})),
        "card_actions_lie": lambda d: (d / "teacher.json").write_text(json.dumps(
            card | {"num_actions": 3})),
        "card_torso_lie": lambda d: (d / "teacher.json").write_text(json.dumps(
            card | {"torso": "nature"})),
        "card_meanings": lambda d: (d / "teacher.json").write_text(json.dumps(
            card | {"action_meanings": [["NOOP"]]})),
        "no_weights": lambda d: (d / "model.safetensors").unlink(),
    }.items():
        shutil.copytree(TEACHER, teachers / name)
        change(teachers / name)
    sb3 = w / "sb3"
    sb3.mkdir()
    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, seed=0,
        device="cpu").save(sb3 / "good.zip")
    with zipfile.ZipFile(sb3 / "good.zip") as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    policy = entries["policy.pth"]
    for name, change in {"data_list": {"data": b"[1, 2]"}, "data_text": {"data": b"{oops"},
                         "data_number": {"data": b"7"},
                         "pth_truncated": {"policy.pth": policy[: len(policy) // 2]},
                         "pth_empty": {"policy.pth": b""},
                         "pth_pickle": {"policy.pth": _pickled()}}.items():
        write_zip(sb3 / f"{name}.zip", entries | change)
    write_zip(sb3 / "no_policy.zip", {k: v for k, v in entries.items() if k != "policy.pth"})
    (sb3 / "not_zip.zip").write_text("hello")
    return w


def _pickled() -> bytes:
    """A policy.pth holding a Python object besides tensors (refused, never unpickled)."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2), "obj": Path("x")}, buffer)
    return buffer.getvalue()


def new(*overrides: str) -> list[str]:
    return ["--config", CONFIG, "--no-progress", "runs_dir={w}/new", *overrides]


def res(run: str, *args: str) -> list[str]:
    return ["--resume", f"{{w}}/runs/{run}", "--no-progress", *args]


T, E = "train", "evaluate"
CASES: list[tuple[str, str, list[str], str]] = [
    # config files
    ("yaml-malformed", T, ["--config", "{w}/files/bad.yaml"], "is not valid YAML at line"),
    ("yaml-python-tag", T, ["--config", "{w}/files/python.yaml"], "could not determine a constr"),
    ("yaml-list", T, ["--config", "{w}/files/list.yaml"], "holds a list, not a mapping"),
    ("yaml-scalar", T, ["--config", "{w}/files/scalar.yaml"], "unknown config key 'hello'"),
    ("yaml-binary", T, ["--config", "{w}/files/binary.yaml"], "binary.yaml"),
    ("yaml-tabs", T, ["--config", "{w}/files/tabs.yaml"], "is not valid YAML"),
    ("yaml-directory", T, ["--config", "{w}/files/folder.yaml"], "is a directory"),
    ("yaml-missing", T, ["--config", "{w}/files/none.yaml"], "does not exist"),
    # values
    ("unknown-key", T, new("gate.nme=cosine"), "unknown config key 'gate.nme'"),
    ("not-a-number", T, new("seed=one"), "bad value for seed"),
    ("float-for-int", T, new("agent.num_steps=1.5"), "bad value for agent.num_steps"),
    ("no-equals", T, new("total_steps"), "total_steps"),
    ("total-steps", T, new("total_steps=-5"), "total_steps must be > 0"),
    ("lam-inf", T, new("teacher.lam=inf"), "teacher.lam must be a finite number"),
    ("lam-nan", T, new("teacher.lam=nan"), "teacher.lam must be a finite number"),
    ("lam-negative", T, new("teacher.lam=-1"), "teacher.lam must be >= 0"),
    ("lr-inf", T, new("agent.learning_rate=inf"), "agent.learning_rate must be a finite"),
    ("lr-zero", T, new("agent.learning_rate=0"), "agent.learning_rate must be > 0"),
    ("clip-negative", T, new("agent.clip_coef=-1"), "agent.clip_coef must be > 0"),
    ("grad-norm-negative", T, new("agent.max_grad_norm=-1"), "agent.max_grad_norm must be > 0"),
    ("vf-negative", T, new("agent.vf_coef=-0.5"), "agent.vf_coef must be >= 0"),
    ("ent-negative", T, new("agent.ent_coef=-0.1"), "agent.ent_coef must be >= 0"),
    ("gamma-zero", T, new("agent.gamma=0"), "agent.gamma must be in (0, 1]"),
    ("gae-above-one", T, new("agent.gae_lambda=1.5"), "agent.gae_lambda must be in [0, 1]"),
    ("num-envs-zero", T, new("env.num_envs=0"), "env.num_envs must be >= 1"),
    ("sticky-nan", T, new("env.sticky_actions=nan"), "env.sticky_actions must be a finite"),
    ("ema-two", T, new("gate.ema=2"), "gate.ema must be in (0, 1]"),
    ("threshold", T, new("gate.threshold=5"), "gate.threshold must be in [-1, 1]"),
    ("temperature-zero", T, new("teacher.temperature=0"), "teacher.temperature must be > 0"),
    ("eta-inf", T, new("gate.attittud.eta=[1,inf,0]"), "gate.attittud.eta must be a finite"),
    ("checkpoint-every", T, new("checkpoint_every=0"), "checkpoint_every must be > 0"),
    ("checkpoint-minutes", T, new("checkpoint_minutes=-1"), "checkpoint_minutes must be >= 0"),
    ("cpu-threads", T, new("cpu_threads=-1"), "cpu_threads must be >= 0"),
    ("seed-negative", T, new("seed=-1"), "seed must be in [0, 1.07374e+09)"),
    ("gate-name", T, new("gate.name=cos"), "gate.name='cos' is unknown"),
    ("algo", T, new("agent.algo=dqn"), "agent.algo='dqn' is unknown"),
    ("minibatches", T, new("agent.num_minibatches=3"), "must split into"),
    ("linear-lam", T, new("teacher.lam_schedule=linear"), "lam_decay_steps > 0"),
    ("device", T, new("device=tpu"), "device must be auto, cpu, cuda or cuda:N"),
    # names and folders
    ("name-parent", T, new("name=../escape"), "must be a folder name inside the runs folder"),
    ("name-absolute", T, new("name={w}/abs"), "must be a folder name inside the runs folder"),
    ("name-hidden", T, new("name=a/.b"), "must be a folder name inside the runs folder"),
    ("runs-dir-file", T, new("runs_dir={w}/files/afile/sub"), "cannot create run directory"),
    ("runs-dir-proc", T, new("runs_dir=/proc/rl_auxgrad_runs"), "cannot create run directory"),
    ("run-exists", T, [*new("name=good"), "--runs-dir", "{w}/runs"], "already exists"),
    # environments
    ("env-unknown", T, new("env.id=Pong9"), "unknown game 'Pong9'"),
    ("env-missing-package", T, new("env.id=LunarLander-v3"), "Box2D is not installed"),
    ("env-continuous", T, new("env.id=Pendulum-v1"), "needs discrete actions"),
    ("env-multi-gym", T, new("env.id=Breakout+CartPole-v1"), "is not an Atari game"),
    # teachers
    ("teacher-missing", T, new("teacher.path={w}/none"), "not found"),
    ("teacher-missing-zip", T, new("teacher.path={w}/none.zip"), "not found"),
    ("teacher-truncated", T, new("teacher.path={w}/teachers/truncated"), "are truncated"),
    ("teacher-empty", T, new("teacher.path={w}/teachers/empty"), "are truncated"),
    ("teacher-no-weights", T, new("teacher.path={w}/teachers/no_weights"), "not found"),
    ("card-list", T, new("teacher.path={w}/teachers/card_list"), "expected a JSON object"),
    ("card-not-json", T, new("teacher.path={w}/teachers/card_not_json"), "is not valid JSON"),
    ("card-no-games", T, new("teacher.path={w}/teachers/card_no_games"), "missing games"),
    ("card-shape-str", T, new("teacher.path={w}/teachers/card_shape_str"), "obs_shape must be"),
    ("card-shape-lie", T, new("teacher.path={w}/teachers/card_shape_lie"),
     "observations of shape (6,)"),
    ("card-actions-lie", T, new("teacher.path={w}/teachers/card_actions_lie"),
     "do not match its card"),
    ("card-torso-lie", T, new("teacher.path={w}/teachers/card_torso_lie"), "torso takes"),
    ("card-meanings", T, new("teacher.path={w}/teachers/card_meanings"), "action_meanings"),
    ("sb3-not-zip", T, new("teacher.path={w}/sb3/not_zip.zip"), "is not a zip file"),
    ("sb3-no-policy", T, new("teacher.path={w}/sb3/no_policy.zip"), "lacks ['policy.pth']"),
    ("sb3-data-list", T, new("teacher.path={w}/sb3/data_list.zip"), "'data' entry is a JSON list"),
    ("sb3-data-number", T, new("teacher.path={w}/sb3/data_number.zip"), "is a JSON int"),
    ("sb3-data-text", T, new("teacher.path={w}/sb3/data_text.zip"), "'data' entry is not JSON"),
    ("sb3-pth-truncated", T, new("teacher.path={w}/sb3/pth_truncated.zip"),
     "pth_truncated.zip: its policy.pth is truncated or corrupt"),
    ("sb3-pth-empty", T, new("teacher.path={w}/sb3/pth_empty.zip"), "is truncated or corrupt"),
    ("sb3-pth-pickle", T, new("teacher.path={w}/sb3/pth_pickle.zip"), "pickled Python objects"),
    # the command line
    ("arg-unknown-flag", T, new("--bogus"), "unrecognized arguments: --bogus"),
    ("arg-stop-after-text", T, new("--stop-after", "ten"), "invalid int value: 'ten'"),
    ("arg-stop-after-zero", T, new("--stop-after", "0"), "--stop-after must be > 0"),
    ("arg-fork-alone", T, new("--fork", "x"), "--fork NEW_NAME branches off an existing run"),
    # resume
    ("resume-missing", T, res("nothing"), "it has no config.yaml"),
    ("resume-config", T, [*res("good"), "--config", CONFIG], "drop --config"),
    ("resume-seed", T, res("good", "seed=5"), "seed cannot change on resume (1 -> 5)"),
    ("resume-num-envs", T, res("good", "env.num_envs=4"), "env.num_envs cannot change"),
    ("resume-env", T, res("good", "env.id=Acrobot-v1"), "env.id cannot change"),
    ("resume-gate", T, res("good", "gate.name=projection"), "gate.name cannot change"),
    ("resume-teacher-added", T, res("good", f"teacher.path={TEACHER}"),
     "teacher.path cannot change on resume (None -> "),
    ("resume-lam", T, res("good", "teacher.lam=2"), "teacher.lam cannot change"),
    ("resume-algo", T, res("good", "agent.algo=a2c"), "cannot change on resume"),
    ("resume-torso", T, res("good", "agent.torso=impala"), "agent.torso cannot change"),
    ("resume-lr", T, res("good", "agent.learning_rate=0.1"), "agent.learning_rate cannot"),
    ("resume-name", T, res("good", "name=other"), "name cannot change"),
    ("resume-unknown-key", T, res("good", "colour=blue"), "unknown config key 'colour'"),
    ("resume-bad-safe-value", T, res("good", "total_steps=-1"), "total_steps must be > 0"),
    ("resume-bad-yaml", T, res("bad_yaml"), "bad_yaml/config.yaml is not valid YAML"),
    ("resume-list-yaml", T, res("list_yaml"), "list_yaml/config.yaml holds a list"),
    ("resume-unknown-yaml", T, res("unknown_key"), "unknown config key 'colour'"),
    ("resume-inf-yaml", T, res("inf_yaml"), "teacher.lam must be a finite number"),
    ("resume-truncated-ckpt", T, res("truncated_ckpt"), "is not a readable safetensors"),
    ("resume-empty-ckpt", T, res("empty_ckpt"), "is not a readable safetensors"),
    ("resume-bad-record", T, res("bad_record"), "teacher_record.json is not valid JSON"),
    ("resume-other-torso", T, res("other_torso"), "torso takes"),
    ("fork-exists", T, res("good", "--fork", "bad_yaml"), "already exists"),
    ("fork-escape", T, res("good", "--fork", "../x"), "must be a folder name"),
    ("fork-bad-teacher", T, res("good", "--fork", "f", "teacher.path={w}/teachers/empty"),
     "are truncated"),
    ("fork-no-checkpoint", T, res("bad_yaml", "--fork", "f"), "is not valid YAML"),
    # evaluate
    ("eval-missing", E, ["{w}/nothing"], "is neither a run directory"),
    ("eval-episodes-zero", E, ["{w}/runs/good", "--episodes", "0"], "--episodes must be >= 1"),
    ("eval-episodes-text", E, ["{w}/runs/good", "--episodes", "x"], "invalid int value: 'x'"),
    ("eval-no-path", E, [], "the following arguments are required: path"),
    ("eval-device", E, ["{w}/runs/good", "--device", "gpu0"], "device must be"),
    ("eval-sticky", E, ["{w}/runs/good", "--sticky-actions", "2"], "sticky_actions must be"),
    ("eval-sticky-nan", E, ["{w}/runs/good", "--sticky-actions", "nan"], "sticky_actions"),
    ("eval-seed", E, ["{w}/runs/good", "--seed", "-3"], "seed must be"),
    ("eval-bad-yaml", E, ["{w}/runs/bad_yaml"], "config.yaml is not valid YAML"),
    ("eval-list-yaml", E, ["{w}/runs/list_yaml"], "holds a list"),
    ("eval-truncated-ckpt", E, ["{w}/runs/truncated_ckpt"], "is not a readable safetensors"),
    ("eval-empty-ckpt", E, ["{w}/runs/empty_ckpt"], "is not a readable safetensors"),
    ("eval-other-torso", E, ["{w}/runs/other_torso"], "torso takes"),
    ("eval-teacher-truncated", E, ["{w}/teachers/truncated"], "are truncated"),
    ("eval-card-list", E, ["{w}/teachers/card_list"], "expected a JSON object"),
    ("eval-card-meanings", E, ["{w}/teachers/card_meanings"], "action_meanings"),
    ("eval-sb3-no-game", E, ["{w}/sb3/good.zip"], "pass --game"),
    ("eval-sb3-bad-game", E, ["{w}/sb3/good.zip", "--game", "Pong9"], "unknown game 'Pong9'"),
    ("eval-sb3-data-list", E, ["{w}/sb3/data_list.zip", "--game", "CartPole-v1"],
     "'data' entry is a JSON list"),
    ("eval-sb3-truncated", E, ["{w}/sb3/pth_truncated.zip", "--game", "CartPole-v1"],
     "policy.pth is truncated or corrupt"),
]


@pytest.mark.parametrize(("tool", "args", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(world, capsys, tool, args, message):
    before = snapshot(world)
    main = train_module.main if tool == T else evaluate.main
    code = invoke(main, [a.replace("{w}", str(world)) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and message.replace("{w}", str(world)) in err, err
    assert snapshot(world) == before


def test_the_catalogue_is_large():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


# ------------------------------------------------------------------- interrupts and kills
def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_state(directory / RunDir.CHECKPOINT)["learner"]["agent"]


def assert_same_run(run: Path, reference: Path) -> None:
    """Bitwise equal weights, and the same scalars at the same steps (speed and wall time
    aside): no holes."""
    a, b = weights(run), weights(reference)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ours, theirs = records.run_scalars(run), records.run_scalars(reference)
    assert ours.keys() == theirs.keys()
    for tag, (steps, values) in theirs.items():
        assert np.array_equal(ours[tag][0], steps), tag
        if tag not in ("charts/SPS", "charts/wall_time"):
            assert np.array_equal(ours[tag][1], values), tag


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run the interrupted ones must equal."""
    parent = tmp_path_factory.mktemp("reference")
    assert train_module.main(["--config", CONFIG, "--no-progress", f"runs_dir={parent}",
                              "name=ref", *EXACT]) == 0
    return parent / "ref"


def launch(*args: str, held_writes: bool = False) -> subprocess.Popen:
    """``python -m rl_auxgrad.train`` in a process of its own, importing this checkout; with
    ``held_writes``, each checkpoint write pauses before its rename (tests/held_writes.py)."""
    command = [str(ROOT / "tests" / "held_writes.py")] if held_writes else ["-m",
                                                                            "rl_auxgrad.train"]
    return subprocess.Popen([sys.executable, *command, "--no-progress", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_then_resume_equals_an_uninterrupted_run(tmp_path, reference,
                                                                      signum):
    run = RunDir(tmp_path / "cut")
    process = launch("--config", CONFIG, f"runs_dir={tmp_path}", "name=cut", *EXACT)
    wait_for(lambda: run.reached() > 0)  # the first checkpoint, at 1024 of 3072
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"--resume {run.path}" in err and 1024 <= run.reached() < 3072
    assert train_module.main(["--resume", str(run.path), "--no-progress"]) == 0
    assert_same_run(run.path, reference)


def test_a_second_signal_stops_at_once_without_a_traceback(tmp_path):
    run = RunDir(tmp_path / "twice")
    process = launch("--config", CONFIG, f"runs_dir={tmp_path}", "name=twice",
                     "agent.update_epochs=400", "total_steps=4096", "checkpoint_every=256")
    wait_for(lambda: run.reached() > 0)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # inside an update of 400 epochs: far from its end
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.count("\n") == 1 and "Traceback" not in err and "SIGINT again" in err, err
    assert run.reached() == 256 and not list(run.path.glob(".*.tmp"))


def test_resume_applies_safe_overrides_and_fork_records_its_origin(tmp_path, reference):
    base = ["--config", CONFIG, "--no-progress", f"runs_dir={tmp_path}", "name=r", *EXACT]
    assert train_module.main([*base, "total_steps=2048"]) == 0
    run = RunDir(tmp_path / "r")
    assert train_module.main(["--resume", str(run.path), "--no-progress",
                              "total_steps=3072", "checkpoint_minutes=5"]) == 0
    assert run.config().total_steps == 3072 and run.reached() == 3072
    assert train_module.main(["--resume", str(run.path), "--fork", "f", "--no-progress",
                              "total_steps=4096", "teacher.lam=0.5", "seed=2"]) == 0
    fork = RunDir(tmp_path / "f")
    origin = json.loads((fork.path / RunDir.FORK_RECORD).read_text())
    assert origin["source"] == str(run.path) and origin["step"] == 3072
    assert len(origin["sha256"]) == 64 and fork.reached() == 4096
    assert fork.config().seed == 2 and fork.config().name == "f" and run.config().seed == 1
    teacher = ROOT / "teachers" / "cartpole_ppo_12k"  # a teacher, its gate and schedule added
    assert train_module.main(["--resume", str(run.path), "--fork", "g", "--no-progress",
                              "total_steps=4096", f"teacher.path={teacher}", "gate.name=cosine",
                              "teacher.lam_schedule=score"]) == 0
    state = RunDir(tmp_path / "g").load_checkpoint()["learner"]
    assert state["teacher_weight"]["teacher_return"] > 0


def test_divergence_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch, capsys):
    base = ["--config", CONFIG, "--no-progress", f"runs_dir={tmp_path}", "name=d",
            "total_steps=2048", "checkpoint_every=256"]
    assert train_module.main([*base, "--stop-after", "512"]) == 0
    run = RunDir(tmp_path / "d")
    good = run.checkpoint_file.read_bytes()
    learn = training.Learner.learn

    def poisoned(self, rollout):  # the losses stay finite, a weight does not
        stats = learn(self, rollout)
        with torch.no_grad():
            next(self.agent.parameters())[0, 0] = float("nan")
        return stats

    monkeypatch.setattr(training.Learner, "learn", poisoned)
    assert train_module.main(["--resume", str(run.path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "became NaN/inf at step 768" in err and "agent." in err
    assert f"the last finite checkpoint is {run.checkpoint_file} (step 512)" in err
    assert run.checkpoint_file.read_bytes() == good
    state = run.load_checkpoint()["learner"]
    assert all(torch.isfinite(t).all() for t in state["agent"].values())
    monkeypatch.undo()
    assert train_module.main([*base, "name=lr", "agent.learning_rate=1e38"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the optimizer step overflowed at step 256" in err
    assert f"no checkpoint of {tmp_path / 'lr'} was written" in err
    assert not RunDir(tmp_path / "lr").has_checkpoint()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """12 SIGKILLs during training: at random moments, and every other one inside a checkpoint
    write (its temporary file written, not yet renamed); the run still ends exactly as an
    uninterrupted one, and the next start removes the killed writes' temporary files."""
    exact = ["deterministic=true", "total_steps=16384", "checkpoint_every=256",  # every update
             "agent.update_epochs=2"]
    start = ["--config", CONFIG, f"runs_dir={tmp_path}", *exact]
    assert train_module.main([*start, "--no-progress", "name=ref"]) == 0
    rng = random.Random(0)
    run = RunDir(tmp_path / "k")
    kills = during_writes = 0
    while kills < 12:
        at_launch = run.reached()
        process = launch(*(["--resume", str(run.path)] if run.is_run() else
                           [*start, "name=k"]), held_writes=True)
        wait_for(lambda p=process, s=at_launch: run.reached() > s or p.poll() is not None)
        if kills % 2:  # inside the next checkpoint write
            wait_for(lambda p=process: bool(list(run.path.glob(".checkpoint*.tmp")))
                     or p.poll() is not None)
        else:
            time.sleep(rng.uniform(0.0, 0.5))
        process.kill()
        process.communicate()
        assert process.returncode == -signal.SIGKILL and run.reached() < 16384
        kills += 1
        during_writes += bool(list(run.path.glob(".checkpoint*.tmp")))
    process = launch("--resume", str(run.path))
    assert process.wait(timeout=300) == 0
    assert during_writes >= 5, during_writes
    assert not list(run.path.glob(".*.tmp"))
    assert_same_run(run.path, tmp_path / "ref")
