"""Native teachers: ``<dir>/model.safetensors`` + ``<dir>/teacher.json`` (the card).

The card says what the network is (torso, games, observation shape, action meanings) and how
good it is; loading checks it against the student's environment and maps the teacher's
actions into the student's by ALE action meaning (a 4-action Breakout teacher into the
18-action multi-game set).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.envs import EnvSpec

CARD = "teacher.json"
WEIGHTS = "model.safetensors"
UNAVAILABLE = -1e4
"""Logit of a student action the teacher does not have: probability exactly 0 after softmax,
and finite, so KL terms stay 0 instead of NaN."""


class TeacherError(ValueError):
    """A teacher that cannot be used with this environment: the message says why."""


def save_teacher(directory: str | Path, agent: ActorCritic, spec: EnvSpec, torso: str,
                 card: dict[str, Any]) -> Path:
    """Writes ``agent`` as a native teacher with its card (extra ``card`` fields kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in agent.state_dict().items()}, directory / WEIGHTS)
    full = {"games": list(spec.games), "obs_shape": list(spec.obs_shape), "torso": torso,
            "num_actions": spec.num_actions,
            "action_meanings": [list(m) for m in spec.action_meanings],
            "separate_distill_head": agent.distill_heads is not None} | card
    (directory / CARD).write_text(json.dumps(full, indent=2) + "\n")
    return directory


class NativeTeacher:
    """``teacher(obs, game_ids) -> logits`` over the student's actions, without grad."""

    def __init__(self, directory: str | Path, spec: EnvSpec, device: torch.device) -> None:
        directory = Path(directory)
        if not (directory / CARD).is_file() or not (directory / WEIGHTS).is_file():
            raise TeacherError(f"teacher {directory} not found: expected a directory with "
                               f"{CARD} and {WEIGHTS} (or teacher.path=none)")
        self.card = json.loads((directory / CARD).read_text())
        self.path = directory
        games = tuple(self.card["games"])
        if tuple(self.card["obs_shape"]) != spec.obs_shape:
            raise TeacherError(f"teacher {directory} sees observations of shape "
                               f"{tuple(self.card['obs_shape'])}, the environment gives "
                               f"{spec.obs_shape}: use a teacher made for this observation")
        if not set(games) & set(spec.games) or (len(games) > 1 and games != spec.games):
            raise TeacherError(f"teacher {directory} plays {'+'.join(games)}, the environment "
                               f"is {'+'.join(spec.games)}: choose a teacher for these games")
        net = ActorCritic(make_torso(self.card["torso"], spec.obs_shape),
                          self.card["num_actions"], len(games),
                          self.card.get("separate_distill_head", False))
        net.load_state_dict(load_file(directory / WEIGHTS))
        self.net = net.to(device).eval()
        self.num_actions = spec.num_actions
        # Per student game: (teacher head, student action -> teacher action or -1).
        self._routes = [self._route(spec, g, games) for g in range(len(spec.games))]

    def _route(self, spec: EnvSpec, g: int, games: tuple[str, ...]) -> tuple[int, Tensor]:
        """A game the teacher does not play (Ms. Pac-Man beside a Breakout teacher) still gets
        the teacher's policy, through its only head: Du et al.'s multi-task setting."""
        game = spec.games[g]
        index = games.index(game) if game in games else 0
        if not spec.is_atari:
            if self.card["num_actions"] != spec.num_actions:
                raise TeacherError(f"teacher {self.path} has {self.card['num_actions']} actions,"
                                   f" {game} has {spec.num_actions}")
            return index, torch.arange(spec.num_actions)
        teacher_meanings = self.card["action_meanings"][index]
        student_meanings = spec.action_meanings[g]
        missing = [m for m in teacher_meanings if m not in student_meanings]
        if missing:
            raise TeacherError(f"teacher {self.path} uses actions {missing} that {game} here "
                               "does not have: the student's action set must contain the "
                               "teacher's")
        mapping = [teacher_meanings.index(m) if m in teacher_meanings else -1
                   for m in student_meanings]
        return index, torch.tensor(mapping)

    @torch.no_grad()
    def __call__(self, obs: Tensor, game_ids: Tensor) -> Tensor:
        """Teacher logits in the student's action space, :data:`UNAVAILABLE` where the teacher
        has no such action."""
        out = torch.empty(obs.shape[0], self.num_actions, device=obs.device)
        for g, (index, mapping) in enumerate(self._routes):
            rows = game_ids == g
            if not bool(rows.any()):
                continue
            games = torch.full((int(rows.sum()),), index, device=obs.device)
            logits = self.net(obs[rows], games).logits
            mapping = mapping.to(obs.device)
            chosen = logits[:, mapping.clamp(min=0)]
            out[rows] = torch.where(mapping >= 0, chosen, UNAVAILABLE)
        return out

    def fingerprint(self) -> str:
        """SHA-256 of the weights file, recorded in the run's config and tensorboard."""
        return hashlib.sha256((self.path / WEIGHTS).read_bytes()).hexdigest()
