"""Vector environments: Atari (ALE v5 through ale_py's C++ vector env), several Atari games as
one batch, and gymnasium envs such as CartPole-v1; all with the same small interface.

``make_vector_env(game, num_envs, seed=...)`` returns a :class:`VectorEnv`; ``reset(seed)``
gives numpy observations and ``step(actions)`` a :class:`StepResult` with raw rewards, the
``done`` used for learning (life loss included) and the real :class:`Episode` s that ended.
"""

from .atari import PROTOCOLS
from .core import EnvSpec, Episode, StepResult, VectorEnv
from .games import GAMES, canonical_game
from .make import make_vector_env

__all__ = [
    "GAMES",
    "PROTOCOLS",
    "EnvSpec",
    "Episode",
    "StepResult",
    "VectorEnv",
    "canonical_game",
    "make_vector_env",
]
