"""A policy as scoring and filming use it: logits from observations, and the action chosen."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Policy = Callable[[Tensor, Tensor], Tensor]
"""``policy(obs, game_ids) -> logits``."""


def choose_actions(logits: Tensor, deterministic: bool, generator: torch.Generator) -> Tensor:
    """The argmax action of each row (``deterministic``), else one sampled from its softmax with
    ``generator`` (a CPU generator of its own: the global and training streams are untouched)."""
    if deterministic:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits.float().cpu(), -1), 1,
                             generator=generator).squeeze(-1)
