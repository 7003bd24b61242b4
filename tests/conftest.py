import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from rl_auxgrad.envs import make_vector_env

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
