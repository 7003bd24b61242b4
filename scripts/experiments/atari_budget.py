"""The budget behind the Atari sections, in the open: every Atari run whose record is committed,
with its method, seed, the agent steps it reached, its protocol, hardware and wall time.

Wall time is exact for runs that log ``charts/wall_time`` (seconds of training summed over
sessions, carried by the checkpoint across resumes). Older runs logged only ``charts/SPS``,
each sitting's mean speed since it started, so their wall time is estimated by
:func:`sps_sessions`. Hardware comes from the record (``hardware.json`` of the run); records
made before runs wrote it were all trained on this workplace's 2-core CPU machines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rl_auxgrad.envs.games import is_atari
from rl_auxgrad.records import SUFFIX, read_record
from scripts.experiments import breakout_teacher
from scripts.experiments.common import RECORDS

RESTART_FACTOR = 10.0
"""A logged update that, read as part of the session so far, would have taken no time or more
than this many times the update before it starts a new session. In the committed records the
updates of one session stay within 3.4 times the one before; a resume gives a negative time
(the new session runs faster than the old one's mean) or 38 times or more (slower)."""
UNRECORDED_HARDWARE = "CPU (2 cores) †"
"""Shown for records made before runs recorded their hardware (see the section's text)."""
RUN_NAME = re.compile(r"(?P<method>.+)__seed(?P<seed>\d+)")


def sps_sessions(steps: np.ndarray, sps: np.ndarray) -> list[float]:
    """Seconds of each training session, estimated from a run's ``charts/SPS`` points (agent
    step, that session's mean speed since it started), in step order.

    Within a session started at step s, a point (step, SPS) was logged (step − s) / SPS seconds
    into it. A session starts one rollout (the smallest step between two points) before its
    first point; a point starts a new session when, read as part of the current one, its update
    would have taken no time or more than :data:`RESTART_FACTOR` times the update before (the
    speed counter restarts on resume). A session lasts until its last point; time after a
    session's last logged update (work a killed session lost) is not counted.
    """
    steps, sps = np.asarray(steps, dtype=np.float64), np.asarray(sps, dtype=np.float64)
    if not steps.size:
        return []
    stride = float(np.diff(steps).min()) if steps.size > 1 else float(steps[0])
    sessions: list[float] = []
    start, elapsed, last = steps[0] - stride, 0.0, None
    for step, speed in zip(steps, sps, strict=True):
        into = (step - start) / speed
        update = into - elapsed
        if last is not None and (update <= 0 or update > RESTART_FACTOR * last):
            sessions.append(elapsed)
            start = step - stride
            into = update = (step - start) / speed
        elapsed, last = into, update
    return [*sessions, elapsed]


@dataclass(frozen=True)
class Budget:
    """One Atari run's budget: where its record is, what it ran and what it took."""

    record: str
    """The record's path under docs/data, without its suffix."""
    method: str
    seed: int
    steps: int
    protocol: str
    hardware: str
    seconds: float | None
    """Wall time of training (None: the record logged neither wall time nor speed)."""
    timed_by: str
    """Where ``seconds`` comes from: ``charts/wall_time``, or the estimate from ``charts/SPS``
    and how many sessions it found."""


def wall_time(scalars: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float | None, str]:
    """A run's seconds of training and where they come from: the last ``charts/wall_time`` if
    it logged one, else the sum of :func:`sps_sessions`."""
    if "charts/wall_time" in scalars:
        return float(scalars["charts/wall_time"][1][-1]), "charts/wall_time"
    if "charts/SPS" not in scalars:
        return None, "not logged"
    sessions = sps_sessions(*scalars["charts/SPS"])
    return sum(sessions), f"estimate from charts/SPS, {len(sessions)} session" + \
        ("s" if len(sessions) > 1 else "")


def hardware(sessions: list[dict[str, Any]] | None) -> str:
    """The devices a run's sessions ran on, each once in order of first use
    (:data:`UNRECORDED_HARDWARE` for a record made before runs recorded it)."""
    if sessions is None:
        return UNRECORDED_HARDWARE
    return ", ".join(dict.fromkeys(str(s["device"]) for s in sessions))


def method_and_seed(path: Path, config: dict[str, Any]) -> tuple[str, int]:
    """From the record's name, ``<method>__seed<N>``; for a record breakout_teacher reuses, the
    method and seed it stands for; else the run's name and the config's seed."""
    reused = {p.resolve(): key for key, p in breakout_teacher.REUSED.items()}
    if path.resolve() in reused:
        return reused[path.resolve()]
    match = RUN_NAME.fullmatch(path.stem)
    if match:
        return match["method"], int(match["seed"])
    return path.stem, int(config["seed"])


def budget(path: Path, records: Path = RECORDS) -> Budget:
    """The budget of the run recorded at ``path``. Agent steps: the last step of an episode
    (of any scalar, for a run that logged none); protocol: ``env.protocol`` of its config (v5
    for configs made before the field existed)."""
    record = read_record(path)
    config = yaml.safe_load(record["config"])
    scalars = record["scalars"]
    if "charts/episodic_return" in scalars:
        steps = int(scalars["charts/episodic_return"][0].max())
    else:
        steps = max((int(s.max()) for s, _ in scalars.values() if s.size), default=0)
    method, seed = method_and_seed(path, config)
    seconds, timed_by = wall_time(scalars)
    return Budget(str(path.relative_to(records).with_suffix("")), method, seed, steps,
                  config["env"].get("protocol", "v5"), hardware(record["hardware"]), seconds,
                  timed_by)


def atari_records(records: Path = RECORDS) -> list[Path]:
    """Every committed record of an Atari run: the experiments' (``<experiment>/<run>.npz``)
    and the runs breakout_teacher reuses."""
    reused = [p for p in breakout_teacher.REUSED.values() if p.is_file() and p.parent == records]
    paths = sorted([*records.glob(f"*/*{SUFFIX}"), *reused])
    return [p for p in paths if is_atari(yaml.safe_load(read_record(p)["config"])["env"]["id"])]


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.2f}"


def report(records: Path = RECORDS) -> str:
    """The budget section of docs/RESULTS.md: one row per Atari record, and the total."""
    rows = [budget(path, records) for path in atari_records(records)]
    table = "\n".join(
        f"| `{b.record}` | {b.method} | {b.seed} | {b.steps:,} | {b.protocol} | {b.hardware} | "
        f"{_hours(b.seconds)} | {b.timed_by} |" for b in rows)
    total = sum(b.seconds or 0.0 for b in rows)
    steps = sum(b.steps for b in rows)
    estimated = sum(1 for b in rows if b.timed_by.startswith("estimate"))
    unrecorded = sum(1 for b in rows if b.hardware == UNRECORDED_HARDWARE)
    return f"""## Atari budget

Every Atari run whose record is committed (`docs/data/<experiment>/<run>.npz`, and
`docs/data/breakout_ppo_noteacher.npz`, which the Breakout experiment reuses as RL alone, seed
1): the method and seed, the agent steps it reached (its last episode; × 4 = frames), the
Atari protocol (`env.protocol`; v5 for runs made before the field existed: ALE v5 with sticky
actions 0.25), the hardware and the wall time of its training. **{len(rows)} runs,
{steps:,} agent steps, {total / 3600:.1f} wall hours in all** (runs trained side by side
overlap in time, so this is the compute, not the calendar time).

| record | method | seed | agent steps | protocol | hardware | wall time (h) | wall time from |
|---|---|---:|---:|---|---|---:|---|
{table}

Wall time: runs log `charts/wall_time`, the seconds of training summed over their sessions
(the checkpoint carries it across a resume; a fork counts its source's training up to the fork).
{estimated} of these runs were made before that and logged only `charts/SPS`, each session's
mean speed since it started; their wall time is an **estimate**: a point (step, SPS) was logged
(step − s) / SPS seconds into a session that started at step s, a new session starts where the
speed counter restarts (a point whose update, read as part of the session so far, took no time
or over {RESTART_FACTOR:g} times the update before), and the sessions' last points are summed.
Time a killed session spent past its last checkpoint (its events are dropped on resume) and
start-up before the first update are not counted either way.

Hardware: runs record the device of each session (`hardware.json`, carried into the record).
† {unrecorded} of these records were made before that: they do not say, and "CPU (2 cores)" is
known from the sessions that trained them (every run before 2026-12-04 was trained on this
workplace's 2-core CPU machines, shared with other runs). The runs on an NVIDIA H200 were
trained side by side on one lent GPU machine (16 CPU cores), three at a time.
"""
