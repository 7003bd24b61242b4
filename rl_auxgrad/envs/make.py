"""make_vector_env: one entry point for Atari, multi-game Atari and gymnasium envs."""

from __future__ import annotations

import math

from .atari import PROTOCOLS, AtariGameEnv, ZooGameEnv
from .classic import ClassicEnv
from .core import VectorEnv, check_seed
from .games import is_atari, split_games
from .multi import MultiGameEnv


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def make_vector_env(game: str, num_envs: int, *, seed: int, sticky_actions: float = 0.25,
                    life_loss_terminal: bool = True, frame_stack: int = 4, frameskip: int = 4,
                    noop_max: int = 30, threads: int = 0, max_episode_frames: int = 108_000,
                    full_action_space: bool = False, protocol: str = "v5") -> VectorEnv:
    """A batch of ``num_envs`` environments of ``game`` (see :func:`canonical_game`).

    Atari (ALE v5 settings): ``sticky_actions`` is the probability of repeating the previous
    action; ``life_loss_terminal`` makes a lost life a ``done`` for learning (the logged score
    still covers the whole game); ``max_episode_frames`` counts emulator frames (agent steps x
    ``frameskip``); ``threads`` are the ALE's C++ threads per game (0: the ALE chooses);
    ``full_action_space`` gives all 18 actions instead of the game's minimal set;
    ``protocol`` is ``v5`` (ALE v5) or ``zoo`` (the RL Zoo's / CleanRL's: FIRE after each lost
    life too; it has no sticky actions, so ``sticky_actions`` must be 0; its C++ threads are one
    per env, whatever ``threads`` says); see :mod:`rl_auxgrad.envs.atari`.
    A multi-game "Breakout+MsPacman" has ``num_envs`` envs *of each game*, always with the full
    action set; game ``k`` is seeded from ``seed + 1000 k``.
    Gymnasium ids (CartPole-v1, ...): the Atari options are checked but not used.
    ``seed`` is the default of :meth:`VectorEnv.reset`.
    """
    games = split_games(game)
    _check_int("num_envs", num_envs, 1)
    check_seed(seed)
    if (isinstance(sticky_actions, bool) or not isinstance(sticky_actions, (int, float))
            or not (math.isfinite(sticky_actions) and 0.0 <= sticky_actions <= 1.0)):
        raise ValueError(f"sticky_actions must be a probability in [0, 1], got {sticky_actions!r}")
    _check_bool("life_loss_terminal", life_loss_terminal)
    _check_bool("full_action_space", full_action_space)
    _check_int("frame_stack", frame_stack, 1)
    _check_int("frameskip", frameskip, 1)
    _check_int("noop_max", noop_max, 0)
    _check_int("threads", threads, 0)
    _check_int("max_episode_frames", max_episode_frames, frameskip)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol == "zoo" and sticky_actions != 0:
        raise ValueError(f"protocol zoo has no sticky actions: sticky_actions must be 0, got "
                         f"{sticky_actions!r}")
    if not is_atari(games[0]):
        return ClassicEnv(games[0], num_envs, seed=seed)
    game_env = ZooGameEnv if protocol == "zoo" else AtariGameEnv
    envs = [game_env(g, num_envs, seed=seed, sticky_actions=float(sticky_actions),
                     life_loss_terminal=life_loss_terminal, frame_stack=frame_stack,
                     frameskip=frameskip, noop_max=noop_max, threads=threads,
                     max_episode_frames=max_episode_frames,
                     full_action_space=full_action_space or len(games) > 1)
            for g in games]
    return envs[0] if len(envs) == 1 else MultiGameEnv(envs, seed)
