"""A teacher: a frozen policy network plus what it was made for, checked against the student's
environment and mapped into the student's action space.

Both formats (native directories and Stable-Baselines3 zips) load into :class:`Teacher`; they
differ only in how the network and its :class:`TeacherInfo` are read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from rl_auxgrad.envs import EnvSpec

UNAVAILABLE = -1e4
"""Logit of a student action the teacher does not have: probability exactly 0 after softmax,
and finite, so KL terms stay 0 instead of NaN."""


class TeacherError(ValueError):
    """A teacher that cannot be read or used with this environment: the message says why."""


class PolicyNetwork(Protocol):
    def __call__(self, obs: Tensor, heads: Tensor) -> Tensor:
        """Logits over the teacher's own actions for observations ``obs`` played with the
        teacher's policy heads ``heads`` (one index per row)."""
        ...


@dataclass(frozen=True)
class TeacherInfo:
    """What a teacher network was made for."""

    games: tuple[str, ...]
    """Canonical games, one policy head each."""
    obs_shape: tuple[int, ...]
    num_actions: int
    action_meanings: tuple[tuple[str, ...], ...]
    """ALE meanings of the teacher's actions per game; () for non-Atari games."""


def check_observation(path: Path | str, obs_shape: tuple[int, ...], spec: EnvSpec) -> None:
    if obs_shape != spec.obs_shape:
        raise TeacherError(f"teacher {path} sees observations of shape {obs_shape}, the "
                           f"environment gives {spec.obs_shape}: use a teacher made for this "
                           "observation")


class Teacher:
    """``teacher(obs, game_ids) -> logits`` over the student's actions, without grad.

    A game the teacher does not play (Ms. Pac-Man beside a Breakout teacher) still gets the
    teacher's policy, through its first head: Du et al.'s multi-task setting. A student action
    the teacher does not have gets the logit :data:`UNAVAILABLE`.
    """

    def __init__(self, path: Path | str, weights_file: Path, network: PolicyNetwork,
                 info: TeacherInfo, spec: EnvSpec, card: dict) -> None:
        self.path, self.weights_file, self.info, self.card = path, weights_file, info, card
        self.hub: dict[str, str] | None = None
        """For a teacher from the Hugging Face Hub: its repo, resolved revision and filename."""
        check_observation(path, info.obs_shape, spec)
        if not set(info.games) & set(spec.games) or (
                len(info.games) > 1 and info.games != spec.games):
            raise TeacherError(f"teacher {path} plays {'+'.join(info.games)}, the environment "
                               f"is {'+'.join(spec.games)}: choose a teacher for these games")
        self.network = network
        self.num_actions = spec.num_actions
        # Per student game: (teacher head, student action -> teacher action or -1).
        self._routes = [self._route(spec, g) for g in range(len(spec.games))]

    def _route(self, spec: EnvSpec, g: int) -> tuple[int, Tensor]:
        game, info = spec.games[g], self.info
        head = info.games.index(game) if game in info.games else 0
        if not spec.is_atari:
            if info.num_actions != spec.num_actions:
                raise TeacherError(f"teacher {self.path} has {info.num_actions} actions, {game} "
                                   f"has {spec.num_actions}: choose a teacher for this action set")
            return head, torch.arange(spec.num_actions)
        teacher_meanings, student_meanings = info.action_meanings[head], spec.action_meanings[g]
        missing = [m for m in teacher_meanings if m not in student_meanings]
        if missing:
            raise TeacherError(f"teacher {self.path} uses actions {missing} that {game} here "
                               "does not have: the student's action set must contain the "
                               "teacher's (env.full_action_space or a multi-game run has all 18)")
        mapping = [teacher_meanings.index(m) if m in teacher_meanings else -1
                   for m in student_meanings]
        return head, torch.tensor(mapping)

    @torch.no_grad()
    def __call__(self, obs: Tensor, game_ids: Tensor) -> Tensor:
        out = torch.empty(obs.shape[0], self.num_actions, device=obs.device)
        for g, (head, mapping) in enumerate(self._routes):
            rows = game_ids == g
            if not bool(rows.any()):
                continue
            heads = torch.full((int(rows.sum()),), head, device=obs.device)
            logits = self.network(obs[rows], heads)
            mapping = mapping.to(obs.device)
            chosen = logits[:, mapping.clamp(min=0)]
            out[rows] = torch.where(mapping >= 0, chosen, UNAVAILABLE)
        return out

    def fingerprint(self) -> str:
        """SHA-256 of the weights file, recorded in the run's config and tensorboard."""
        return hashlib.sha256(self.weights_file.read_bytes()).hexdigest()

    def record(self) -> dict[str, Any]:
        """What a run records of its teacher (``teacher_record.json``): path, SHA-256 of the
        weights, card, and for a Hub teacher where on the Hub it came from."""
        hub = {} if self.hub is None else {"hub": self.hub}
        return {"path": str(self.path), "sha256": self.fingerprint(), "card": self.card, **hub}
