"""The actor-critic a run's config describes, built one way for training, scoring and export."""

from __future__ import annotations

import warnings

import torch

from rl_auxgrad.agents.networks import ActorCritic, TorsoName, make_torso
from rl_auxgrad.config import AgentConfig, TrainConfig
from rl_auxgrad.envs import EnvSpec


def torso_name(config: AgentConfig, spec: EnvSpec) -> TorsoName:
    """agent.torso, with ``auto`` resolved: the Nature CNN for Atari frames, the MLP for
    vectors."""
    if config.torso == "auto":
        return "nature" if spec.is_atari else "mlp"
    return config.torso  # type: ignore[return-value]  # validated: nature, impala or mlp


def channels_last(torso: TorsoName) -> bool:
    """Whether the torso takes its frames (and keeps its weights) in channels-last memory
    format: the CNNs do (faster convolutions), the MLP has no channels."""
    return torso != "mlp"


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 math runs natively on ``device`` (always assumed on accelerators; on a
    CPU, oneDNN's check for AVX512-BF16 / AMX)."""
    return device.type != "cpu" or torch.ops.mkldnn._is_mkldnn_bf16_supported()


def build_agent(config: TrainConfig, spec: EnvSpec, device: torch.device | str = "cpu"
                ) -> ActorCritic:
    """The freshly initialised actor-critic of ``config`` for ``spec``'s observations, actions
    and games, on ``device``: the :func:`torso_name` torso (under bfloat16 with
    agent.precision=bf16), a policy and a value head per game, and a distillation head of its
    own with teacher.head=separate. Warns when bf16 would be emulated on this CPU."""
    device = torch.device(device)
    torso = torso_name(config.agent, spec)
    bf16 = config.agent.precision == "bf16"
    if bf16 and not native_bf16(device):
        warnings.warn("agent.precision=bf16 on a CPU without native bfloat16 (AVX512-BF16 or "
                      "AMX): torch emulates it, several times slower than fp32 (9x for the "
                      "Nature CNN on an AMD EPYC); use agent.precision=fp32 on this machine",
                      stacklevel=2)
    agent = ActorCritic(make_torso(torso, spec.obs_shape), spec.num_actions, len(spec.games),
                        config.teacher.head == "separate", bf16_torso=bf16)
    return agent.to(device, memory_format=torch.channels_last if channels_last(torso)
                    else torch.contiguous_format)
