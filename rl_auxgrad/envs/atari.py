"""One Atari game as a batch of ALE v5 environments (ale_py's C++ vector env, no Python loop).

Preprocessing is the ALE's: 84x84 gray, max-pool of the last two frames, frame skip, frame stack,
up to ``noop_max`` no-ops and FIRE at reset. Two choices differ from the ALE's defaults, on
purpose: rewards are not clipped (the learner clips; logged scores are real game scores), and a
lost life is read from ``info["lives"]`` instead of ``episodic_life=True``, which would restart
the whole game after each lost life (lives back to 5), so scores would never cover a full game.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from .core import EnvSpec, EpisodeTracker, StepResult, VectorEnv, check_actions, check_seed
from .games import GAMES


class AtariGameEnv(VectorEnv):
    """``num_envs`` copies of one Atari game, stepped as a batch; autoreset on the same step."""

    def __init__(self, game: str, num_envs: int, *, seed: int, sticky_actions: float,
                 life_loss_terminal: bool, frame_stack: int, frameskip: int, noop_max: int,
                 threads: int, max_episode_frames: int, full_action_space: bool) -> None:
        self.emulator_options: dict[str, Any] = {
            "repeat_action_probability": sticky_actions, "full_action_space": full_action_space,
            "max_num_frames_per_episode": max_episode_frames, "frameskip": frameskip,
            "noop_max": noop_max, "episodic_life": False, "reward_clipping": False,
            "use_fire_reset": True}
        """What decides the game's course (everything but the observation's format): a
        :class:`~rl_auxgrad.envs.screen.AtariScreen` built with the same plays the same game."""
        self._env = AtariVectorEnv(GAMES[game], num_envs, num_threads=threads,
                                   autoreset_mode=AutoresetMode.SAME_STEP, stack_num=frame_stack,
                                   **self.emulator_options)
        meanings = tuple(action.name for action in self._env.ale.get_action_set())
        game_ids = np.zeros(num_envs, dtype=np.int64)
        game_ids.flags.writeable = False
        self.spec = EnvSpec(games=(game,), obs_shape=(frame_stack, 84, 84), obs_dtype=torch.uint8,
                            num_actions=len(meanings), action_meanings=(meanings,),
                            num_envs=num_envs, game_ids=game_ids, is_atari=True)
        self.seed, self.life_loss_terminal = seed, life_loss_terminal
        self._tracker = EpisodeTracker(self.spec.games, game_ids)
        self._lives: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every env; env ``i`` is seeded with ``seed + i``."""
        obs, info = self._env.reset(seed=check_seed(self.seed if seed is None else seed))
        self._lives = info["lives"].copy()
        self._tracker.reset()
        return obs

    def send(self, actions: np.ndarray) -> None:
        """Start a step (the ALE's threads run it); :meth:`recv` collects it."""
        if self._lives is None:
            raise RuntimeError("call reset(seed) before step(actions)")
        self._env.send(check_actions(actions, self.spec))

    def recv(self) -> StepResult:
        """Wait for the step started by :meth:`send`."""
        obs, reward, terminated, truncated, info = self._env.recv()
        ended = terminated | truncated
        lives = info["lives"]
        # On a real end, `lives` already belongs to the next game (same-step autoreset).
        life_lost = (lives < self._lives) & ~ended
        self._lives = lives.copy()
        reward = reward.astype(np.float32)
        episodes = self._tracker.update(reward, ended)
        done = ended | life_lost if self.life_loss_terminal else ended
        return StepResult(obs, reward, done, episodes)

    def step(self, actions: np.ndarray) -> StepResult:
        self.send(actions)
        return self.recv()

    def close(self) -> None:
        self._env.close()
