"""Game names: canonical Atari names, their ALE ROM ids, aliases and gymnasium ids."""

from __future__ import annotations

import functools
import re

import ale_py
import gymnasium as gym

GAMES: dict[str, str] = {"Breakout": "breakout", "MsPacman": "ms_pacman"}
"""Canonical Atari game name -> ALE ROM id. Adding a game is one line here."""

MULTI_SEP = "+"

_ALIASES = {re.sub(r"[^a-z0-9]", "", name.lower()): name for name in GAMES}


def _unknown(name: str) -> ValueError:
    atari = ", ".join(GAMES)
    return ValueError(f"unknown game {name!r}: choose {atari}, {MULTI_SEP.join(GAMES)} or a "
                      "gymnasium id such as CartPole-v1")


def _atari_name(name: str) -> str | None:
    """The canonical Atari name for an alias ('breakout', 'ms_pacman', 'ALE/MsPacman-v5',
    'BreakoutNoFrameskip-v4', 'Ms. Pac-Man'), or None."""
    key = re.sub(r"^ale/|(noframeskip)?-v\d+$", "", name.strip().lower())
    return _ALIASES.get(re.sub(r"[^a-z0-9]", "", key))


def _gym_id(name: str) -> str | None:
    """The registered gymnasium id matching ``name`` case-insensitively (not ALE ids), or None.
    MinAtar ids ("MinAtar/Breakout-v1": 10x10 Breakout, Young & Tian 2019) are registered from
    the ``minatar`` package on first use."""
    lowered = name.strip().lower()
    if lowered.startswith("minatar/") and not any(k.startswith("MinAtar/") for k in gym.registry):
        import minatar.gym

        minatar.gym.register_envs()
    for env_id, env_spec in gym.registry.items():
        if env_id.lower() == lowered and not str(env_spec.entry_point).startswith("ale_py"):
            return env_id
    return None


def canonical_game(name: str) -> str:
    """The canonical name of a game: "Breakout", "MsPacman", "Breakout+MsPacman" (Atari games
    joined by "+", in the given order) or a registered gymnasium id such as "CartPole-v1".

    Case and punctuation do not matter for Atari names ("ms_pacman", "Ms. Pac-Man" and
    "ALE/MsPacman-v5" all give "MsPacman"); the environment settings are always ours
    (see :func:`~rl_auxgrad.envs.make_vector_env`), whatever version suffix is given.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"game must be a non-empty string, got {name!r}")
    if MULTI_SEP in name:
        parts = name.split(MULTI_SEP)
        games = [_atari_name(p) for p in parts]
        for part, game in zip(parts, games, strict=True):
            if game is None:
                raise ValueError(f"multi-game {name!r}: {part.strip()!r} is not an Atari game; "
                                 f"a multi-game run combines Atari games ({', '.join(GAMES)})")
        if len(set(games)) != len(games):
            raise ValueError(f"multi-game {name!r} names a game twice: list each game once")
        return MULTI_SEP.join(games)  # type: ignore[arg-type]
    game = _atari_name(name) or _gym_id(name)
    if game is None:
        raise _unknown(name)
    return game


def split_games(name: str) -> tuple[str, ...]:
    """The canonical games in ``name``: ("Breakout", "MsPacman") for "breakout+ms_pacman"."""
    return tuple(canonical_game(name).split(MULTI_SEP))


def is_atari(name: str) -> bool:
    """Whether ``name`` (canonical) is an Atari game or a multi-game of Atari games."""
    return all(game in GAMES for game in name.split(MULTI_SEP))


@functools.cache
def minimal_action_meanings(game: str) -> tuple[str, ...]:
    """ALE meanings of ``game``'s minimal action set, in the ALE's order (what a single-game env
    and a Stable-Baselines3 Atari agent use): ("NOOP", "FIRE", "RIGHT", "LEFT") for Breakout."""
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.loadROM(ale_py.roms.get_rom_path(GAMES[game]))
    return tuple(action.name for action in ale.getMinimalActionSet())


FULL_ACTION_MEANINGS: tuple[str, ...] = tuple(action.name for action in ale_py.Action)
"""The ALE's full 18-action set, in order (NOOP, FIRE, UP, RIGHT, ...)."""
