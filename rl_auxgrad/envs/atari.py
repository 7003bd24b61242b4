"""One Atari game as a batch of ALE environments (ale_py's C++ vector env), under one of two
:data:`PROTOCOLS`: ``v5`` (the default) or ``zoo``.

Both: the ALE's preprocessing (84x84 gray, max-pool of the last two frames, frame skip, frame
stack, up to ``noop_max`` no-ops and FIRE at reset), unclipped rewards (the learner clips; logged
scores are real game scores) and a lost life read from ``info["lives"]`` instead of the ALE's
``episodic_life=True``, which would restart the whole game after each lost life (lives back to
5), so scores would never cover a full game.

``v5`` (:class:`AtariGameEnv`): ALE v5, sticky actions (0.25 by default). Nothing is pressed for
the agent after a lost life: in Breakout it must press FIRE itself to get the next ball.

``zoo`` (:class:`ZooGameEnv`): the protocol of the RL Zoo's ``AtariWrapper`` and CleanRL's
``ppo_atari.py`` on ``*NoFrameskip-v4`` games: no sticky actions, and after each lost life the
steps SB3 plays for the agent. What each does after a lost life:

- ale-py 0.12.1 (``src/ale/vector/preprocessed_env.cpp``): nothing. ``use_fire_reset`` presses
  FIRE only in ``reset()``, on a new game's first frame; with ``episodic_life`` a lost life ends
  the episode and the autoreset restarts the whole game (``reset_game``), so FIRE comes, but in a
  new game; ``life_loss_info`` only sets ``terminated``.
- SB3 (``stable_baselines3/common/atari_wrappers.py``): ``EpisodicLifeEnv`` returns
  ``terminated`` on a lost life; the autoreset calls ``FireResetEnv.reset`` (it wraps
  ``EpisodicLifeEnv``), whose inner ``EpisodicLifeEnv.reset`` plays one NOOP step instead of a
  real reset, then FIRE, then action 2: three frame-skipped steps the learner never sees, whose
  rewards count only in ``Monitor``'s episode score.
- CleanRL ``ppo_atari.py``: the same wrappers in the same order
  (``cleanrl_utils/atari_wrappers.py``), ``RecordEpisodeStatistics`` innermost, so scores cover
  the whole game. ``ppo_atari_envpool.py``: envpool's ``episodic_life`` (``Reset`` in
  ``envpool/atari/atari_env.h``) keeps the game, plays 0-29 no-op frames, then FIRE.
- ``zoo`` here: the env that lost a life (without ending the game) plays
  :attr:`~ZooGameEnv.life_loss_actions`, SB3's NOOP, FIRE, action 2 (NOOP alone in games without
  FIRE), on its own before its observation is returned. As in SB3, the learner's transition ends
  at the lost life (``done``) with the action it chose and that action's reward, and the hidden
  steps' rewards count in the episode's score only (without life-loss ends, the hidden steps are
  part of the agent's step, and so is their reward). A hidden step that ends the game stops them
  (the next game starts as every game does); a life lost during them is not reported (SB3's
  reset absorbs it too). A game starts with the ALE's reset, FIRE on its first frame and then
  0 to ``noop_max`` - 2 no-op frames, where SB3 plays 1 to ``noop_max`` no-op frames and then FIRE
  and action 2 as steps: both serve the ball after a random number of no-ops.

The ALE's batched env steps every env on each ``send``, so ``zoo`` runs one single-env
AtariVectorEnv per env (:class:`SoloEmulators`, each on a C++ thread of its own) to step only
those that lost a life; ``v5`` keeps one batched env, and its step does no more than before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from .core import EnvSpec, EpisodeTracker, StepResult, VectorEnv, check_actions, check_seed
from .games import GAMES

PROTOCOLS = ("v5", "zoo")
"""The Atari protocols (module docstring): ALE v5's, and the RL Zoo's / CleanRL's."""

Batch = tuple[Any, ...]
"""What the ALE's vector env returns: arrays with one row per env, then the info dict."""


class AtariGameEnv(VectorEnv):
    """``num_envs`` copies of one Atari game, stepped as a batch; autoreset on the same step.
    The ``v5`` protocol."""

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
        self._env = self._emulators(GAMES[game], num_envs, threads=threads,
                                    autoreset_mode=AutoresetMode.SAME_STEP,
                                    stack_num=frame_stack, **self.emulator_options)
        meanings = tuple(action.name for action in self._env.ale.get_action_set())
        game_ids = np.zeros(num_envs, dtype=np.int64)
        game_ids.flags.writeable = False
        self.spec = EnvSpec(games=(game,), obs_shape=(frame_stack, 84, 84), obs_dtype=torch.uint8,
                            num_actions=len(meanings), action_meanings=(meanings,),
                            num_envs=num_envs, game_ids=game_ids, is_atari=True)
        self.seed, self.life_loss_terminal = seed, life_loss_terminal
        self._tracker = EpisodeTracker(self.spec.games, game_ids)
        self._lives: np.ndarray | None = None

    @staticmethod
    def _emulators(rom: str, num_envs: int, *, threads: int, **options: Any) -> AtariVectorEnv:
        """The ALE's batched vector env of ``num_envs`` emulators on ``threads`` threads."""
        return AtariVectorEnv(rom, num_envs, num_threads=threads, **options)

    @property
    def life_loss_actions(self) -> tuple[int, ...]:
        """The actions played for the agent after a lost life: none in ``v5``."""
        return ()

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


class SoloEmulators:
    """``num_envs`` single-env AtariVectorEnvs behind the reset / send / recv of one batched
    env, plus :meth:`step_some`, which steps some envs while the others wait: the batched env
    cannot, its ``send`` takes an action for every env. Each runs on a C++ thread of its own, so
    a step of all of them still runs in parallel."""

    def __init__(self, rom: str, num_envs: int, **options: Any) -> None:
        self._envs = [AtariVectorEnv(rom, 1, num_threads=1, **options) for _ in range(num_envs)]
        self.ale = self._envs[0].ale

    def reset(self, seed: int) -> Batch:
        """Resets every env; env ``i`` is seeded with ``seed + i``, as in the batched env."""
        return _concatenate([env.reset(seed=seed + i) for i, env in enumerate(self._envs)])

    def send(self, actions: np.ndarray) -> None:
        for env, action in zip(self._envs, actions, strict=True):
            env.send(action[None])

    def recv(self) -> Batch:
        return _concatenate([env.recv() for env in self._envs])

    def step_some(self, indices: np.ndarray, action: int) -> Batch:
        """Steps the envs at ``indices`` with ``action``; rows in the order of ``indices``."""
        for i in indices:
            self._envs[i].send(np.array([action]))
        return _concatenate([self._envs[i].recv() for i in indices])

    def close(self) -> None:
        for env in self._envs:
            env.close()


def _concatenate(results: list[Batch]) -> Batch:
    """One batch from single-env results: each array concatenated, then ``{"lives": ...}``."""
    *arrays, infos = zip(*results, strict=True)
    return (*(np.concatenate(a) for a in arrays),
            {"lives": np.concatenate([info["lives"] for info in infos])})


class ZooGameEnv(AtariGameEnv):
    """The ``zoo`` protocol (module docstring): after a lost life, the env that lost it plays
    :attr:`life_loss_actions` on its own before its observation is returned."""

    @staticmethod
    def _emulators(rom: str, num_envs: int, *, threads: int, **options: Any) -> SoloEmulators:
        """One single-env AtariVectorEnv per env, on a thread each (``threads`` is not used)."""
        return SoloEmulators(rom, num_envs, **options)

    @property
    def life_loss_actions(self) -> tuple[int, ...]:
        """SB3's NOOP step (``EpisodicLifeEnv.reset``), then its FIRE and action 2
        (``FireResetEnv.reset``) where the game has FIRE, as indices into its action set: the
        ALE lists actions in id order, so NOOP is 0 and FIRE, where present, 1."""
        return (0, 1, 2) if "FIRE" in self.spec.action_meanings[0] else (0,)

    def recv(self) -> StepResult:
        """Wait for the step started by :meth:`send`, then play :attr:`life_loss_actions` in
        the envs that lost a life."""
        obs, reward, terminated, truncated, info = self._env.recv()
        ended = terminated | truncated
        lives = info["lives"]
        life_lost = (lives < self._lives) & ~ended
        reward = reward.astype(np.float32)
        score = reward.copy()
        for action in self.life_loss_actions:
            playing = np.flatnonzero(life_lost & ~ended)
            if playing.size == 0:
                break
            after, hidden, terminated, truncated, info = self._env.step_some(playing, action)
            obs[playing] = after
            score[playing] += hidden
            ended[playing] |= terminated | truncated
            lives[playing] = info["lives"]
        self._lives = lives
        episodes = self._tracker.update(score, ended)
        if self.life_loss_terminal:  # the hidden steps fall between two episodes of learning
            return StepResult(obs, reward, ended | life_lost, episodes)
        return StepResult(obs, score, ended, episodes)
