"""Torsos (Nature-CNN, IMPALA-CNN, MLP) and the actor-critic with one head pair per game.

The torso is what the RL loss and the teacher's KL share, so it is what the gate sees; the
policy and value heads (and an optional separate distillation head) sit on top of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

TorsoName = Literal["nature", "impala", "mlp"]


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights with gain ``std`` and constant bias, as in CleanRL / baselines."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class NatureCNN(nn.Module):
    """Mnih et al. (2015): 3 convolutions and a 512-unit layer on 4x84x84 uint8 frames."""

    def __init__(self, in_channels: int = 4) -> None:
        super().__init__()
        self.out_dim = 512
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(), nn.Flatten(),
            layer_init(nn.Linear(64 * 7 * 7, 512)), nn.ReLU())

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs.float() / 255.0)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ImpalaCNN(nn.Module):
    """Espeholt et al. (2018): three stacks (conv, max-pool, two residual blocks), 256 units."""

    def __init__(self, in_channels: int = 4, channels: tuple[int, ...] = (16, 32, 32)) -> None:
        super().__init__()
        self.out_dim = 256
        layers: list[nn.Module] = []
        size = 84
        for out in channels:
            layers += [nn.Conv2d(in_channels, out, 3, padding=1),
                       nn.MaxPool2d(3, stride=2, padding=1), _ResidualBlock(out),
                       _ResidualBlock(out)]
            in_channels, size = out, (size + 1) // 2
        layers += [nn.Flatten(), nn.ReLU(), nn.Linear(in_channels * size * size, 256), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs.float() / 255.0)


class MLP(nn.Module):
    """Two tanh layers of 64 units, for vector observations (CleanRL's CartPole agent)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.out_dim = hidden[-1]
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [layer_init(nn.Linear(in_features, width)), nn.Tanh()]
            in_features = width
        self.net = nn.Sequential(*layers)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs.float())


def make_torso(name: TorsoName, obs_shape: tuple[int, ...]) -> nn.Module:
    """The torso called ``name`` for observations of shape ``obs_shape``."""
    if name == "mlp":
        if len(obs_shape) != 1:
            raise ValueError(f"the mlp torso takes flat observations, got shape {obs_shape}: "
                             "use agent.torso=nature or impala for images")
        return MLP(obs_shape[0])
    if len(obs_shape) != 3 or obs_shape[1:] != (84, 84):
        raise ValueError(f"the {name} torso takes (stack, 84, 84) frames, got shape {obs_shape}: "
                         "use agent.torso=mlp for vector observations")
    if name == "nature":
        return NatureCNN(obs_shape[0])
    if name == "impala":
        return ImpalaCNN(obs_shape[0])
    raise ValueError(f"unknown torso {name!r}; choose nature, impala or mlp")


@dataclass(frozen=True)
class AgentOutput:
    """Per-sample outputs: policy logits, state value and the logits distilled to the teacher."""

    logits: Tensor
    value: Tensor
    distill_logits: Tensor


class ActorCritic(nn.Module):
    """A torso with a policy head and a value head per game (CleanRL init: 0.01 and 1).

    With ``separate_distill_head`` the teacher's KL is computed on a head of its own per game,
    so the torso is exactly what the RL loss and the KL share; otherwise the KL is on the
    policy logits and the policy head is shared too. With ``bf16_torso`` the torso runs under
    bfloat16 autocast and its features are cast back to float32 for the heads.
    """

    def __init__(self, torso: nn.Module, num_actions: int, num_games: int = 1,
                 separate_distill_head: bool = False, bf16_torso: bool = False) -> None:
        super().__init__()
        self.torso = torso
        self.num_games = num_games
        self.bf16_torso = bf16_torso

        def heads(out: int, std: float) -> nn.ModuleList:
            return nn.ModuleList(layer_init(nn.Linear(torso.out_dim, out), std)
                                 for _ in range(num_games))

        self.policy_heads = heads(num_actions, 0.01)
        self.value_heads = heads(1, 1.0)
        self.distill_heads = heads(num_actions, 0.01) if separate_distill_head else None

    def forward(self, obs: Tensor, game_ids: Tensor | None = None) -> AgentOutput:
        with torch.autocast(obs.device.type, torch.bfloat16, enabled=self.bf16_torso):
            features = self.torso(obs)
        features = features.float()
        logits = self._per_game(self.policy_heads, features, game_ids)
        value = self._per_game(self.value_heads, features, game_ids).squeeze(-1)
        distill = (logits if self.distill_heads is None
                   else self._per_game(self.distill_heads, features, game_ids))
        return AgentOutput(logits, value, distill)

    def _per_game(self, heads: nn.ModuleList, features: Tensor, game_ids: Tensor | None
                  ) -> Tensor:
        if self.num_games == 1:
            return heads[0](features)
        if game_ids is None:
            raise ValueError("a multi-game agent needs the game id of each observation")
        every = torch.stack([head(features) for head in heads], dim=1)  # (B, games, out)
        index = game_ids.view(-1, 1, 1).expand(-1, 1, every.shape[-1])
        return every.gather(1, index).squeeze(1)
