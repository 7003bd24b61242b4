"""It learns: PPO with the default CartPole config solves CartPole within 150k steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.config import load_config
from rl_auxgrad.envs import make_vector_env

CONFIG = Path(__file__).parents[1] / "configs" / "cartpole.yaml"


def test_ppo_solves_cartpole_within_150k_steps():
    config = load_config(CONFIG, ["total_steps=150000", "seed=1"])
    torch.manual_seed(config.seed)
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"))
    obs, scores = env.reset(), []
    while learner.global_step < config.total_steps:
        rollout, obs, episodes = learner.collect(env, obs)
        learner.learn(rollout)
        scores += [e.score for e in episodes]
        if len(scores) >= 20 and np.mean(scores[-20:]) >= 475:
            break
    assert np.mean(scores[-20:]) >= 475, f"mean of the last 20 episodes: {np.mean(scores[-20:])}"
