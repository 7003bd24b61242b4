"""The game's own screen, for videos: a twin of one env of a vector env that shows what a person
sees (the ALE's 210x160 RGB screen, a gymnasium env's ``rgb_array``), not the network's input.

A twin is built with the same settings as the env it follows, is reset with the same seed and is
stepped with the same actions, so it plays the same game (the emulators and classic-control
dynamics are deterministic given the seed and the actions; sticky actions and no-op starts draw
from the seeded env's own generator). The vector env itself cannot render: the ALE's C++ vector
env returns only the preprocessed observation.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from .atari import AtariGameEnv
from .classic import ClassicEnv
from .core import VectorEnv
from .games import GAMES
from .multi import SEED_STRIDE, MultiGameEnv

ALE_SCREEN = (210, 160)
"""Height and width of every ALE game's screen."""
ALE_FPS = 60
"""The Atari 2600's frame rate (NTSC)."""


class Screen(ABC):
    """One environment that returns its rendered frame, (H, W, 3) uint8, after each action."""

    fps: float
    """Frames per second at which the frames play at the game's own speed."""

    @abstractmethod
    def reset(self, seed: int) -> np.ndarray:
        """Starts an episode; returns its first frame."""

    @abstractmethod
    def step(self, action: int) -> np.ndarray:
        """Plays one agent step; returns the frame after it (the last one once it ended)."""

    @abstractmethod
    def close(self) -> None:
        """Releases the environment."""


class AtariScreen(Screen):
    """The ALE screen of an Atari game, one frame per agent step at ``60 / frameskip`` fps.

    One frame per agent step (every ``frameskip``-th emulator frame, shown ``frameskip`` / 60 s)
    rather than every emulator frame at 60 fps: these are the moments the agent decided on, the
    game runs at its real speed, the file is ``frameskip`` times smaller, and the twin steps
    exactly as the env it follows. Each frame is the maximum of the last two emulator frames,
    per channel, as for the 84x84 observation: games that draw sprites on alternate frames
    (Ms. Pac-Man's ghosts) would otherwise lose them in every frame. After a lost life it plays
    the env's :attr:`~rl_auxgrad.envs.atari.AtariGameEnv.life_loss_actions` as the env does
    (``zoo``), and shows the frame after them.
    """

    def __init__(self, env: AtariGameEnv) -> None:
        options = env.emulator_options
        self.fps = ALE_FPS / options["frameskip"]
        # NEXT_STEP: the step that ends the episode returns its last frame, not the next game's.
        self._env = AtariVectorEnv(GAMES[env.spec.games[0]], 1, num_threads=1,
                                   autoreset_mode=AutoresetMode.NEXT_STEP,
                                   img_height=ALE_SCREEN[0], img_width=ALE_SCREEN[1],
                                   grayscale=False, stack_num=1, maxpool=True, **options)
        self._after_life_loss = env.life_loss_actions
        self._lives = 0

    def reset(self, seed: int) -> np.ndarray:
        obs, info = self._env.reset(seed=seed)
        self._lives = info["lives"][0]
        return obs[0, -1]

    def step(self, action: int) -> np.ndarray:
        obs, _, terminated, truncated, info = self._env.step(np.array([action]))
        lost = info["lives"][0] < self._lives
        for hidden in self._after_life_loss if lost else ():
            if terminated[0] or truncated[0]:  # a game's end: no more steps to play
                break
            obs, _, terminated, truncated, info = self._env.step(np.array([hidden]))
        self._lives = info["lives"][0]
        return obs[0, -1]

    def close(self) -> None:
        self._env.close()


class GymScreen(Screen):
    """A gymnasium env's ``rgb_array`` render at its ``metadata["render_fps"]``."""

    def __init__(self, env_id: str) -> None:
        # rgb_array needs no display; without this, SDL prints an error line on headless hosts.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        try:
            self._env = gym.make(env_id, render_mode="rgb_array")
        except gym.error.Error as error:
            raise ValueError(f"{env_id} cannot render frames for a video: "
                             f"{str(error).strip().splitlines()[0]}") from None
        fps = self._env.metadata.get("render_fps")
        if not fps or self._env.render_mode != "rgb_array":
            self._env.close()
            raise ValueError(f"{env_id} does not render rgb_array frames at a known "
                             "render_fps: it cannot be filmed")
        self.fps = float(fps)
        try:
            self.reset(0)  # a missing renderer (pygame) shows here, not mid-video
        except BaseException:
            self._env.close()
            raise

    def reset(self, seed: int) -> np.ndarray:
        self._env.reset(seed=seed)
        return self._frame()

    def step(self, action: int) -> np.ndarray:
        self._env.step(action)
        return self._frame()

    def _frame(self) -> np.ndarray:
        try:
            return np.asarray(self._env.render(), dtype=np.uint8)
        except gym.error.DependencyNotInstalled as error:  # pygame for classic control
            raise ValueError(f"cannot render {self._env.spec.id} for a video: "
                             f"{str(error).strip().splitlines()[0]}") from None

    def close(self) -> None:
        self._env.close()


@dataclass(frozen=True)
class Twin:
    """The screen of one game of a vector env, following the env at ``index`` of its batch."""

    game: str
    index: int
    """The env (in the vector env's batch) whose actions the screen replays."""
    seed_offset: int
    """The screen is reset with the vector env's seed plus this (the followed env's seed)."""
    screen: Screen


def screens(env: VectorEnv) -> list[Twin]:
    """One twin per game of ``env``, following the game's first env (env 0 of a single game)."""
    if isinstance(env, MultiGameEnv):
        starts = np.flatnonzero(np.diff(env.spec.game_ids, prepend=-1))
        return [Twin(game.spec.games[0], int(start), k * SEED_STRIDE, AtariScreen(game))
                for k, (start, game) in enumerate(zip(starts, env.game_envs, strict=True))]
    if isinstance(env, AtariGameEnv):
        return [Twin(env.spec.games[0], 0, 0, AtariScreen(env))]
    if isinstance(env, ClassicEnv):
        return [Twin(env.spec.games[0], 0, 0, GymScreen(env.spec.games[0]))]
    raise ValueError(f"{type(env).__name__} has no screen to film")
