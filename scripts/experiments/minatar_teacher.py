"""MinAtar Breakout with an imperfect teacher: the control-task experiment of
``control_teacher.py`` on an Atari-like game that trains on CPU in minutes.

    python -m scripts.experiments.minatar_teacher [--seeds 10] [--steps 250000] [--workers 2]

PPO with ``configs/minatar_breakout.yaml`` (shared 64-64 torso on MinAtar's 400 boolean
inputs). Teachers: ``teachers/minatar_breakout_ppo_100k`` (2.5 points; the same PPO
reaches 5 by 500k steps), ``teachers/minatar_breakout_harmful_away`` and
``teachers/minatar_breakout_uniform``.
"""

from __future__ import annotations

import sys

from scripts.experiments.control_teacher import ControlTask, main

TASK = ControlTask(
    name="minatar", title="MinAtar Breakout", config="configs/minatar_breakout.yaml",
    teachers={"good": "teachers/minatar_breakout_ppo_100k",
              "harmful": "teachers/minatar_breakout_harmful_away",
              "uniform": "teachers/minatar_breakout_uniform"},
    steps=250_000,
    settings="PPO with `configs/minatar_breakout.yaml` (16 envs x 128 steps, 4 epochs, 4 "
             "minibatches, lr 5e-4 annealed, shared 64-64 torso on the 400 boolean inputs, "
             "MinAtar's sticky actions 0.1)",
    good_note="PPO stopped at 100,352 steps",
    harmful_note="moves the paddle away from the ball's column")

if __name__ == "__main__":
    sys.exit(main(TASK))
