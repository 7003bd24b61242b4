import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.teachers import save_teacher

sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (gate_reference)
torch.set_num_threads(1)  # `make test` runs one pytest worker per core
# Tests never depend on timing: no deadline, and no "data generation is too slow" health
# check, which fires on a loaded 2-core machine and would make the suite flaky.
settings.register_profile("project", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


@pytest.fixture(scope="module")
def cartpole_spec():
    """The EnvSpec of CartPole-v1 (one env), for loading teachers against it."""
    env = make_vector_env("CartPole-v1", 1, seed=0)
    yield env.spec
    env.close()


@pytest.fixture(scope="session")
def breakout_teacher(tmp_path_factory):
    """A native Breakout teacher (an untrained Nature CNN) whose card scores Breakout, 9.0, as
    teachers/breakout_ppo_350k's does: for Breakout+MsPacman runs, where it scores one game."""
    env = make_vector_env("Breakout", 1, seed=0, threads=1)
    torch.manual_seed(0)
    net = ActorCritic(make_torso("nature", env.spec.obs_shape), env.spec.num_actions)
    card = {"score": {"mean": 9.0, "per_game": {"Breakout": 9.0}}}
    directory = save_teacher(tmp_path_factory.mktemp("teacher") / "breakout", net, env.spec,
                             "nature", card)
    env.close()
    return directory
