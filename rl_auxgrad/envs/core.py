"""What every vector env returns: its spec, step results, finished episodes; shared helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class EnvSpec:
    """Static facts about a vector env that a learner needs to build its networks."""

    games: tuple[str, ...]
    """Canonical game names: ("Breakout",), ("Breakout", "MsPacman"), ("CartPole-v1",)."""
    obs_shape: tuple[int, ...]
    """Shape of one observation: (frame_stack, 84, 84) for Atari, e.g. (4,) for CartPole."""
    obs_dtype: torch.dtype
    """torch.uint8 for Atari frames, torch.float32 otherwise."""
    num_actions: int
    """Actions of one game (its minimal set), or 18 (the full ALE set) for multi-game."""
    action_meanings: tuple[tuple[str, ...], ...]
    """ALE meanings ("NOOP", "FIRE", ...) per game; () for non-Atari games."""
    num_envs: int
    """Environments in the batch (all games together)."""
    game_ids: np.ndarray = field(compare=False)
    """(num_envs,) int64: index into ``games`` of each environment; read-only."""
    is_atari: bool


@dataclass(frozen=True)
class Episode:
    """One finished real episode (the whole game, all lives), for logging."""

    game: str
    score: float
    """Sum of the raw (unclipped) rewards."""
    length: int
    """Agent steps (one step = ``frameskip`` frames for Atari)."""


@dataclass
class StepResult:
    """What :meth:`VectorEnv.step` returns for the whole batch."""

    obs: np.ndarray
    """Next observations; where an episode ended, already the first obs of the next one."""
    reward: np.ndarray
    """(num_envs,) float32 raw game rewards (not clipped)."""
    done: np.ndarray
    """(num_envs,) bool episode boundary for learning: terminated | truncated | life lost (if
    ``life_loss_terminal``)."""
    episodes: list[Episode]
    """Real episodes that finished on this step."""


class VectorEnv(ABC):
    """A batch of environments stepped together, with autoreset on the same step."""

    spec: EnvSpec

    @abstractmethod
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset all environments; the same seed gives the same run. None: the seed given to
        :func:`~rl_auxgrad.envs.make_vector_env`. Returns the first observations."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> StepResult:
        """Apply one action per environment, (num_envs,) integers in [0, num_actions)."""

    @abstractmethod
    def close(self) -> None:
        """Release the environments."""

    def state_dict(self) -> dict[str, Any] | None:
        """The environments' state for an exact resume (JSON values), or None where it cannot be
        saved: the ALE's C++ vector env does not expose its emulators, so a resumed Atari run
        re-seeds its environments instead."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` after :meth:`reset`."""
        raise ValueError(f"{type(self).__name__} cannot restore environment state")

    def __enter__(self) -> VectorEnv:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class EpisodeTracker:
    """Accumulates raw rewards and lengths per env; emits an Episode when a real episode ends."""

    def __init__(self, games: tuple[str, ...], game_ids: np.ndarray) -> None:
        self.games, self.game_ids = games, game_ids
        self.score = np.zeros(len(game_ids), dtype=np.float64)
        self.length = np.zeros(len(game_ids), dtype=np.int64)

    def reset(self) -> None:
        self.score[:] = 0.0
        self.length[:] = 0

    def update(self, reward: np.ndarray, ended: np.ndarray) -> list[Episode]:
        """Add one step's rewards; ``ended`` marks real ends (terminated or truncated)."""
        self.score += reward
        self.length += 1
        episodes = [Episode(self.games[self.game_ids[i]], float(self.score[i]),
                            int(self.length[i])) for i in np.flatnonzero(ended)]
        self.score[ended] = 0.0
        self.length[ended] = 0
        return episodes


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed < 2**30):
        raise ValueError(f"seed must be an integer in [0, 2**30), got {seed!r}")
    return int(seed)


def check_actions(actions: np.ndarray, spec: EnvSpec) -> np.ndarray:
    """``actions`` as an int64 array, or a ValueError naming what is wrong with them."""
    actions = np.asarray(actions)
    if actions.shape != (spec.num_envs,) or actions.dtype.kind not in "iu":
        raise ValueError(f"actions must be an integer array of shape ({spec.num_envs},), one per "
                         f"env, got shape {actions.shape} and dtype {actions.dtype}")
    if actions.min() < 0 or actions.max() >= spec.num_actions:
        raise ValueError(f"actions must lie in [0, {spec.num_actions}) for {'+'.join(spec.games)}"
                         f", got values from {actions.min()} to {actions.max()}")
    return actions.astype(np.int64, copy=False)
