"""The typed run configuration: dataclasses with a docstring per field, YAML files and
``key=value`` overrides merged by OmegaConf, and validation in one place.

Precedence, lowest first: the defaults below, the defaults of the chosen algorithm
(:data:`ALGO_DEFAULTS`, e.g. A2C's), the YAML file, the command-line overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rl_auxgrad.teacher_weight import SCHEDULES

GATE_NAMES = ("single", "multitask", "kl_only", "cosine", "cosine_unweighted", "cosine_shuffled",
              "projection", "orthogonal", "pcgrad", "attittud")


class ConfigError(ValueError):
    """A bad configuration: the message names the key, the value and the fix."""


@dataclass
class EnvConfig:
    id: str = "Breakout"
    """Breakout, MsPacman, Breakout+MsPacman (num_envs of each, one batch), or a gymnasium id
    such as CartPole-v1."""
    num_envs: int = 8
    """Environments stepped as one batch (per game in multi-game mode)."""
    sticky_actions: float = 0.25
    """Probability that the ALE repeats the previous action (ALE v5 default: 0.25)."""
    life_loss_terminal: bool = True
    """Treat a lost life as the end of an episode for learning (never for the logged score)."""
    frame_stack: int = 4
    frameskip: int = 4
    noop_max: int = 30
    """Up to this many no-op actions at the start of an episode."""
    threads: int = 0
    """Threads of the ALE's C++ vector env; 0 lets it choose."""


@dataclass
class AgentConfig:
    algo: str = "ppo"
    """ppo or a2c; a2c starts from ALGO_DEFAULTS['a2c'] (SB3 zoo's Atari settings)."""
    torso: str = "auto"
    """nature, impala or mlp; auto picks nature for Atari frames, mlp for vectors."""
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over total_steps."""
    optimizer: str = "adam"
    """adam (PPO, eps 1e-5) or rmsprop (A2C, alpha 0.99, eps 1e-5)."""
    num_steps: int = 128
    """Rollout length per environment."""
    num_minibatches: int = 4
    update_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.1
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    norm_adv: bool = True
    clip_rewards: bool = True
    """Clip rewards to their sign for learning (Atari); logged returns stay real scores."""
    precision: str = "fp32"
    """fp32, or bf16: the torso's forward (and so its backward) under bfloat16 autocast, heads,
    losses, gradients and weights in fp32. About 2x faster for the Nature CNN on CPUs with AMX
    or AVX512-BF16 and on recent GPUs, 9x slower on CPUs that emulate it (docs/PERFORMANCE.md);
    compare runs of one precision."""


@dataclass
class TeacherConfig:
    path: str | None = None
    """A native teacher directory (teachers/<name>) or a Stable-Baselines3 .zip (PPO, A2C or
    DQN); none (or null) trains without a teacher."""
    lam: float = 1.0
    """Weight of the teacher's KL (lambda). Default 1 from docs/cartpole_defaults.md: with the
    cosine gate and a teacher the student soon passes, lam = 1 ended near RL alone (485 vs 500
    over the last quarter), lam = 10 was dragged down (338), because the per-minibatch cosine
    is noisy and lets about a quarter of the KL through even when its mean is negative."""
    lam_schedule: str = "constant"
    """How much of the teacher to use now, lambda_t per update (rl_auxgrad/teacher_weight.py):
    constant; linear: decays to 0 over lam_decay_steps (kickstarting); score: lam * max(0,
    1 - G_student / G_teacher) (QDagger); agreement: opened by the lower confidence bound of
    the advantage-preference correlation rho; gradient: by that of the gate's cosine."""
    lam_decay_steps: int = 0
    score_window: int = 20
    """score: G_student is the mean score of the student's last score_window episodes."""
    score_episodes: int = 10
    """score: a teacher without a score on its card (an SB3 zip) plays this many episodes of
    the training env at the start to measure G_teacher."""
    lcb_window: int = 8
    """agreement, gradient: the lower confidence bound runs over the signal of the last
    lcb_window rollouts. 8 makes the bound's 2 standard errors about 0.7 x the per-rollout
    noise (2 / sqrt(8)) while following the student within 8 rollouts."""
    lcb_scale: float = 0.05
    """agreement, gradient: lambda_t = lam * clip(LCB / lcb_scale, 0, 1), fully open once the
    bound reaches lcb_scale. 0.05 is of the order of rho's per-rollout noise: a bound that
    clears it is evidence, one below it opens the teacher in proportion."""
    temperature: float = 1.0
    """Softens both policies in KL(teacher || student)."""
    q_temperature: float = 1.0
    """For a DQN teacher (SB3 zip): its policy is softmax(Q / q_temperature). Atari Q-values
    with clipped rewards differ by ~0.1 between actions, so 0.01-0.1 is near-greedy and 1 is
    close to uniform."""
    head: str = "shared"
    """shared: the KL acts on the policy logits; separate: a distillation head of its own, so
    exactly the torso is shared."""

    def __post_init__(self) -> None:
        if self.path is not None and self.path.strip().lower() in ("none", "null", ""):
            self.path = None


@dataclass
class AttittudConfig:
    k: int = 10
    num_examples: int = 32
    eta: list[float] = field(default_factory=lambda: [1.0, 1.0, 0.0])
    """(eta_orth, eta_pos, eta_neg)."""
    eta_main: float = 1.0
    recompute_every: int = 5
    method: str = "exact"


@dataclass
class GateConfig:
    name: str = "cosine"
    """single (RL alone), multitask (RL + KL), kl_only, cosine, cosine_unweighted,
    cosine_shuffled (the cosine gate's weights shuffled in time: a control), projection,
    orthogonal, pcgrad or attittud."""
    ema: float | None = None
    """Compare with a bias-corrected EMA of the main gradient (e.g. 0.01) instead of the
    current one (cosine, cosine_unweighted, projection, orthogonal). Off by default: it removes
    the per-minibatch noise, so it shuts the gate much harder (gate weight 0.03-0.07 instead of
    0.25-0.34 in docs/cartpole_defaults.md); use it for a teacher you suspect is harmful."""
    per: str = "whole"
    """whole: one gate on all gated parameters; variable: one per parameter tensor."""
    threshold: float = 0.0
    """cosine_unweighted uses the teacher when cos > threshold."""
    scope: str = "shared"
    """shared: gate every parameter both losses reach; torso: only the torso."""
    reference: str = "policy"
    """policy: compare the KL gradient with the policy part of the RL loss (surrogate +
    entropy) and add the value gradient ungated; full: with the whole actor-critic loss (both
    cosines are logged: gate/cosine and gate/cosine_full). Default policy: the KL acts on the
    policy, and the value gradient, which dominates the shared torso, turns the cosine into
    noise (first-quarter mean cosine +0.08 with policy, +0.01 with full, on CartPole)."""
    attittud: AttittudConfig = field(default_factory=AttittudConfig)


@dataclass
class TrainConfig:
    name: str = ""
    """Run name: <runs_dir>/<name>/; empty derives one from env, gate and seed."""
    seed: int = 1
    total_steps: int = 10_000_000
    """Agent steps summed over environments (frames = 4x for Atari)."""
    device: str = "auto"
    """auto (cuda when available), cpu or cuda."""
    deterministic: bool = False
    """torch deterministic algorithms and one thread: bit-exact reruns on CPU."""
    cpu_threads: int = 0
    """torch's intra-op threads. 0: one for the MLP torso, whose small kernels only wait on each
    other across threads, torch's default (one per core) for the CNNs. Measured on 2 cores
    (docs/PERFORMANCE.md): two CartPole runs side by side, 20k steps each, took 135 s with
    torch's default and 7.6 s with one thread each; one run alone took 6.7 s either way."""
    checkpoint_every: int = 100_000
    """Agent steps between checkpoints (always one at the end)."""
    runs_dir: str = ""
    """Folder for new runs; empty: $RL_AUXGRAD_RUNS, else runs (an ignored folder)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    gate: GateConfig = field(default_factory=GateConfig)


ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {},
    "a2c": {"agent": {"learning_rate": 7e-4, "optimizer": "rmsprop", "num_steps": 5,
                      "num_minibatches": 1, "update_epochs": 1, "gae_lambda": 1.0,
                      "vf_coef": 0.25, "norm_adv": False}, "env": {"num_envs": 16}},
}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None
                ) -> TrainConfig:
    """Merges the defaults, the algorithm's defaults, a YAML file and ``key=value`` overrides,
    then validates. Raises :class:`ConfigError` with one clear message."""
    try:
        layers = [OmegaConf.load(path)] if path is not None else []
        layers.append(OmegaConf.from_dotlist(overrides or []))
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), *layers)
        algo = merged.agent.algo
        if algo not in ALGO_DEFAULTS:
            raise ConfigError(f"agent.algo={algo!r} is unknown: choose ppo or a2c")
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), ALGO_DEFAULTS[algo], *layers)
        config: TrainConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OmegaConfBaseException as error:
        raise ConfigError(_describe(error)) from None
    validate(config)
    return config


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    first = str(error).splitlines()[0]
    if "not in" in first and key:
        return f"unknown config key {key!r}: check the spelling (see configs/ for examples)"
    return f"bad value for {key}: {first}" if key else first


def validate(config: TrainConfig) -> None:
    """Checks values that types cannot: ranges and choices. Raises :class:`ConfigError`."""
    checks: list[tuple[bool, str]] = [
        (config.total_steps > 0, f"total_steps must be > 0, got {config.total_steps}"),
        (config.checkpoint_every > 0,
         f"checkpoint_every must be > 0, got {config.checkpoint_every}"),
        (config.cpu_threads >= 0, f"cpu_threads must be >= 0, got {config.cpu_threads}"),
        (config.device in ("auto", "cpu", "cuda") or config.device.startswith("cuda:"),
         f"device must be auto, cpu or cuda, got {config.device!r}"),
        (config.env.num_envs >= 1, f"env.num_envs must be >= 1, got {config.env.num_envs}"),
        (0.0 <= config.env.sticky_actions <= 1.0,
         f"env.sticky_actions must be in [0, 1], got {config.env.sticky_actions}"),
        (config.agent.torso in ("auto", "nature", "impala", "mlp"),
         f"agent.torso must be auto, nature, impala or mlp, got {config.agent.torso!r}"),
        (config.agent.optimizer in ("adam", "rmsprop"),
         f"agent.optimizer must be adam or rmsprop, got {config.agent.optimizer!r}"),
        (config.agent.precision in ("fp32", "bf16"),
         f"agent.precision must be fp32 or bf16, got {config.agent.precision!r}"),
        (config.agent.learning_rate > 0,
         f"agent.learning_rate must be > 0, got {config.agent.learning_rate}"),
        (config.agent.num_steps >= 1,
         f"agent.num_steps must be >= 1, got {config.agent.num_steps}"),
        (config.agent.num_minibatches >= 1 and config.agent.update_epochs >= 1,
         "agent.num_minibatches and agent.update_epochs must be >= 1"),
        ((config.env.num_envs * config.agent.num_steps) % config.agent.num_minibatches == 0,
         f"the batch (env.num_envs x agent.num_steps = "
         f"{config.env.num_envs * config.agent.num_steps}) must split into "
         f"agent.num_minibatches={config.agent.num_minibatches} equal minibatches"),
        (0.0 < config.agent.gamma <= 1.0 and 0.0 <= config.agent.gae_lambda <= 1.0,
         "agent.gamma must be in (0, 1] and agent.gae_lambda in [0, 1]"),
        (config.teacher.lam >= 0, f"teacher.lam must be >= 0, got {config.teacher.lam}"),
        (config.teacher.lam_schedule in SCHEDULES,
         f"teacher.lam_schedule={config.teacher.lam_schedule!r} is unknown: choose one of "
         f"{', '.join(SCHEDULES)}"),
        (config.teacher.lam_schedule != "linear" or config.teacher.lam_decay_steps > 0,
         "teacher.lam_schedule=linear needs teacher.lam_decay_steps > 0"),
        (config.teacher.score_window >= 1,
         f"teacher.score_window must be >= 1, got {config.teacher.score_window}"),
        (config.teacher.score_episodes >= 1,
         f"teacher.score_episodes must be >= 1, got {config.teacher.score_episodes}"),
        (config.teacher.lcb_window >= 2,
         f"teacher.lcb_window must be >= 2 (a standard error needs two rollouts), got "
         f"{config.teacher.lcb_window}"),
        (config.teacher.lcb_scale > 0,
         f"teacher.lcb_scale must be > 0, got {config.teacher.lcb_scale}"),
        (config.teacher.lam_schedule != "gradient" or config.gate.name != "kl_only",
         "teacher.lam_schedule=gradient needs the gate's cosine: gate.name=kl_only has none; "
         "choose a gate (multitask for the plain sum)"),
        (config.teacher.temperature > 0,
         f"teacher.temperature must be > 0, got {config.teacher.temperature}"),
        (config.teacher.q_temperature > 0,
         f"teacher.q_temperature must be > 0, got {config.teacher.q_temperature}"),
        (config.teacher.head in ("shared", "separate"),
         f"teacher.head must be shared or separate, got {config.teacher.head!r}"),
        (config.gate.name in GATE_NAMES,
         f"gate.name={config.gate.name!r} is unknown: choose one of {', '.join(GATE_NAMES)}"),
        (config.gate.ema is None or 0.0 < config.gate.ema <= 1.0,
         f"gate.ema must be in (0, 1] or null, got {config.gate.ema}"),
        (config.gate.per in ("whole", "variable"),
         f"gate.per must be whole or variable, got {config.gate.per!r}"),
        (config.gate.scope in ("shared", "torso"),
         f"gate.scope must be shared or torso, got {config.gate.scope!r}"),
        (config.gate.reference in ("policy", "full"),
         f"gate.reference must be policy or full, got {config.gate.reference!r}"),
        (len(config.gate.attittud.eta) == 3,
         "gate.attittud.eta must have three entries: [eta_orth, eta_pos, eta_neg]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if config.teacher.path is not None and config.teacher.path.lower() == "none":
        config.teacher.path = None


def to_yaml(config: TrainConfig) -> str:
    """The resolved configuration as YAML (written to runs/<name>/config.yaml)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; ConfigError
    for anything else or for CUDA on a machine without it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and name != "cuda" and not re.fullmatch(r"cuda:\d+", name):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but CUDA is not available: use cpu or auto")
    return torch.device(name)
