"""Native teachers: ``<dir>/model.safetensors`` + ``<dir>/teacher.json`` (the card).

The card says what the network is (torso, games, observation shape, action meanings), which
environment settings it was trained and scored with, how good it is (score mean ± std over N
episodes and the command that measured it) and how it was made. Loading checks it against the
student's environment (:class:`~rl_auxgrad.teachers.base.Teacher`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.checkpoint import save_tensors
from rl_auxgrad.envs import EnvSpec

from .base import Teacher, TeacherError, TeacherInfo, check_observation

CARD = "teacher.json"
WEIGHTS = "model.safetensors"


def save_teacher(directory: str | Path, agent: ActorCritic, spec: EnvSpec, torso: str,
                 card: dict[str, Any]) -> Path:
    """Writes ``agent`` as a native teacher with its card (extra ``card`` fields kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_tensors(directory / WEIGHTS, {k: v.contiguous() for k, v in agent.state_dict().items()})
    full = {"games": list(spec.games), "obs_shape": list(spec.obs_shape), "torso": torso,
            "num_actions": spec.num_actions,
            "action_meanings": [list(m) for m in spec.action_meanings],
            "separate_distill_head": agent.distill_heads is not None} | card
    (directory / CARD).write_text(json.dumps(full, indent=2) + "\n")
    return directory


def read_card(directory: str | Path) -> dict[str, Any]:
    """The card of the native teacher in ``directory``; TeacherError if there is none."""
    directory = Path(directory)
    if not (directory / CARD).is_file() or not (directory / WEIGHTS).is_file():
        raise TeacherError(f"teacher {directory} not found: expected a directory with {CARD} "
                           f"and {WEIGHTS}, a Stable-Baselines3 .zip, or teacher.path=none")
    try:
        card = json.loads((directory / CARD).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TeacherError(f"teacher card {directory / CARD} is not valid JSON ({error})") from None
    problem = _card_problem(card)
    if problem:
        raise TeacherError(f"teacher card {directory / CARD}: {problem}")
    return card


@dataclass(frozen=True)
class CardScore:
    """What a card says the teacher scores: ``mean`` (``score.mean``; None without one) and
    ``per_game`` (``score.per_game`` as scripts/train_teacher.py writes it, or, for a teacher
    of one game whose card has only ``score.mean``, such as the harmful and uniform Breakout
    teachers, that mean in its game)."""

    mean: float | None = None
    per_game: dict[str, float] = field(default_factory=dict)


def card_score(card: dict[str, Any]) -> CardScore:
    """The :class:`CardScore` of ``card`` (empty for a card without a score, e.g. an SB3
    zip's); values that are not numbers are left out."""
    score = card.get("score")
    if not isinstance(score, dict):
        return CardScore()
    mean = float(score["mean"]) if _is_number(score.get("mean")) else None
    per_game = score.get("per_game")
    if isinstance(per_game, dict):
        return CardScore(mean, {game: float(value) for game, value in per_game.items()
                                if _is_number(value)})
    games = card.get("games", [])
    return CardScore(mean, {games[0]: mean} if mean is not None and len(games) == 1 else {})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _card_problem(card: Any) -> str | None:
    """What is wrong with a card's network fields, or None."""
    if not isinstance(card, dict):
        return f"expected a JSON object, got a {type(card).__name__}"
    missing = [k for k in ("games", "obs_shape", "torso", "num_actions", "action_meanings")
               if k not in card]
    if missing:
        return f"missing {', '.join(missing)}"
    games, shape, actions, meanings = (card["games"], card["obs_shape"], card["num_actions"],
                                       card["action_meanings"])
    checks = [
        (isinstance(games, list) and bool(games) and all(isinstance(g, str) for g in games),
         f"games must be a non-empty list of game names, got {games!r}"),
        (isinstance(shape, list) and bool(shape)
         and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape),
         f"obs_shape must be a list of positive integers, got {shape!r}"),
        (isinstance(card["torso"], str), f"torso must be a name, got {card['torso']!r}"),
        (isinstance(actions, int) and not isinstance(actions, bool) and actions > 0,
         f"num_actions must be a positive integer, got {actions!r}"),
        (isinstance(meanings, list) and (meanings == [] or (
            len(meanings) == len(games) and all(
                isinstance(m, list) and len(m) == actions and all(isinstance(a, str) for a in m)
                for m in meanings))),
         f"action_meanings must be [] or one list of num_actions={actions!r} names per game"),
        (isinstance(card.get("separate_distill_head", False), bool),
         "separate_distill_head must be true or false"),
    ]
    return next((message for ok, message in checks if not ok), None)


def load_agent(directory: str | Path, card: dict[str, Any] | None = None) -> ActorCritic:
    """The teacher's network itself (an :class:`ActorCritic`), e.g. to fine-tune it;
    TeacherError if the weights are unreadable or do not match the card."""
    directory = Path(directory)
    card = read_card(directory) if card is None else card
    try:
        torso = make_torso(card["torso"], tuple(card["obs_shape"]))
    except ValueError as error:
        raise TeacherError(f"teacher card {directory / CARD}: {error}") from None
    net = ActorCritic(torso, card["num_actions"], len(card["games"]),
                      card.get("separate_distill_head", False))
    try:
        weights = load_file(directory / WEIGHTS)
    except Exception as error:  # safetensors raises its own error types for bad files
        raise TeacherError(f"teacher weights {directory / WEIGHTS} are truncated or not a "
                           f"safetensors file ({str(error).strip().splitlines()[0]})") from None
    try:
        net.load_state_dict(weights)
    except RuntimeError as error:
        raise TeacherError(f"teacher weights {directory / WEIGHTS} do not match its card "
                           f"({str(error).strip().splitlines()[0]})") from None
    return net


def load_native(directory: str | Path, spec: EnvSpec, device: torch.device) -> Teacher:
    """The native teacher in ``directory``, checked against ``spec``, on ``device``."""
    directory = Path(directory)
    card = read_card(directory)
    info = TeacherInfo(games=tuple(card["games"]), obs_shape=tuple(card["obs_shape"]),
                       num_actions=card["num_actions"],
                       action_meanings=tuple(tuple(m) for m in card["action_meanings"]))
    check_observation(directory, info.obs_shape, spec)  # before building the network
    net = load_agent(directory, card).to(device).eval()
    return Teacher(directory, directory / WEIGHTS, lambda obs, heads: net(obs, heads).logits,
                   info, spec, card)
