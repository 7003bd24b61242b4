"""CartPole with an imperfect teacher: the control-task experiment of ``control_teacher.py``.

    python -m scripts.experiments.cartpole_teacher [--seeds 10] [--steps 100000] [--workers 2]

PPO with ``configs/cartpole.yaml`` (shared 64-64 tanh torso). Teachers:
``teachers/cartpole_ppo_37k`` (231.6 points; PPO alone reaches 500),
``teachers/cartpole_harmful_pushright`` and ``teachers/cartpole_uniform``.
"""

from __future__ import annotations

import sys

from scripts.experiments.control_teacher import ControlTask, main

TASK = ControlTask(
    name="cartpole", title="CartPole", config="configs/cartpole.yaml",
    teachers={"good": "teachers/cartpole_ppo_37k",
              "harmful": "teachers/cartpole_harmful_pushright",
              "uniform": "teachers/cartpole_uniform"},
    steps=100_000,
    settings="PPO with `configs/cartpole.yaml` (8 envs x 32 steps, 20 epochs, lr 1e-3 "
             "annealed, shared 64-64 tanh torso)",
    good_note="PPO stopped at 36,864 steps; PPO alone reaches 500",
    harmful_note="pushes right wherever x > 0")

if __name__ == "__main__":
    sys.exit(main(TASK))
