"""Teachers: pretrained policies whose KL is the auxiliary loss.

``load_teacher(path, spec, device)`` reads a native teacher directory (``teachers/<name>``,
see :mod:`.native`), a Stable-Baselines3 ``.zip`` (see :mod:`.sb3`, read without pickle) or
such a zip on the Hugging Face Hub, ``hf://ORG/REPO[/FILE.zip][@REVISION]`` (see :mod:`.hub`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from rl_auxgrad.envs import EnvSpec, canonical_game

from .base import UNAVAILABLE, Teacher, TeacherError, TeacherInfo
from .hub import is_hub_path, load_hub
from .native import CardScore, card_score, load_agent, load_native, read_card, save_teacher
from .sb3 import load_sb3

SHIPPED_DIR = Path(__file__).parents[2] / "teachers"
SHIPPED = {"Breakout": "breakout_ppo_350k", "MsPacman": "ms_pacman_ppo_100k",
           "Breakout+MsPacman": "breakout_ppo_350k", "CartPole-v1": "cartpole_ppo_12k",
           "MinAtar/Breakout-v1": "minatar_breakout_ppo_100k"}
"""The teacher the embedded default run (no --config) uses for each game, in teachers/."""


def shipped_teacher(game: str) -> Path | None:
    """Our shipped teacher for ``game``, if there is one in this checkout."""
    game = canonical_game(game)
    path = SHIPPED_DIR / SHIPPED[game] if game in SHIPPED else None
    return path if path is not None and path.is_dir() else None


def load_teacher(path: str | Path, spec: EnvSpec, device: torch.device, *,
                 q_temperature: float = 1.0) -> Teacher:
    """The teacher at ``path`` (a directory, an SB3 ``.zip`` or a Hub address
    ``hf://ORG/REPO[/FILE.zip][@REVISION]``), checked against ``spec``. ``q_temperature`` turns
    a DQN's Q-values into logits (Q / q_temperature)."""
    if is_hub_path(path):
        return load_hub(str(path), spec, device, q_temperature=q_temperature)
    path = Path(path)
    if path.suffix == ".zip":
        return load_sb3(path, spec, device, q_temperature=q_temperature)
    return load_native(path, spec, device)


__all__ = ["UNAVAILABLE", "CardScore", "Teacher", "TeacherError", "TeacherInfo", "card_score",
           "is_hub_path", "load_agent", "load_hub", "load_native", "load_sb3", "load_teacher",
           "read_card", "save_teacher", "shipped_teacher"]
