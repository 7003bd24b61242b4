"""Several Atari games as one batch: N envs of each game, one shared 18-action set."""

from __future__ import annotations

import numpy as np

from .atari import AtariGameEnv
from .core import EnvSpec, StepResult, VectorEnv, check_actions, check_seed

SEED_STRIDE = 1000
"""Game ``k`` is reset with ``seed + k * SEED_STRIDE`` so that no two sub-envs share a seed."""


class MultiGameEnv(VectorEnv):
    """Concatenates single-game envs: obs stacked in game order, actions split back to them.

    Each game must use the full action set (18 actions) so that one policy head fits all.
    All games step in parallel: the actions go to every game before any result is collected.
    """

    def __init__(self, envs: list[AtariGameEnv], seed: int) -> None:
        if any(env.spec.num_actions != 18 for env in envs):
            raise ValueError("multi-game envs need full_action_space=True (18 actions each)")
        specs = [env.spec for env in envs]
        game_ids = np.repeat(np.arange(len(envs), dtype=np.int64), [s.num_envs for s in specs])
        game_ids.flags.writeable = False
        self.spec = EnvSpec(games=tuple(s.games[0] for s in specs), obs_shape=specs[0].obs_shape,
                            obs_dtype=specs[0].obs_dtype, num_actions=18,
                            action_meanings=tuple(s.action_meanings[0] for s in specs),
                            num_envs=len(game_ids), game_ids=game_ids, is_atari=True)
        self.seed, self._envs = seed, envs
        self._splits = np.cumsum([s.num_envs for s in specs])[:-1]

    @property
    def game_envs(self) -> list[AtariGameEnv]:
        """The single-game envs, in game order; game ``k`` is reset with ``seed + k *``
        :data:`SEED_STRIDE`."""
        return self._envs

    def reset(self, seed: int | None = None) -> np.ndarray:
        seed = check_seed(self.seed if seed is None else seed)
        return np.concatenate([env.reset(seed + k * SEED_STRIDE)
                               for k, env in enumerate(self._envs)])

    def step(self, actions: np.ndarray) -> StepResult:
        actions = check_actions(actions, self.spec)
        for env, part in zip(self._envs, np.split(actions, self._splits), strict=True):
            env.send(part)
        results = [env.recv() for env in self._envs]
        return StepResult(obs=np.concatenate([r.obs for r in results]),
                          reward=np.concatenate([r.reward for r in results]),
                          done=np.concatenate([r.done for r in results]),
                          episodes=[e for r in results for e in r.episodes])

    def close(self) -> None:
        for env in self._envs:
            env.close()
