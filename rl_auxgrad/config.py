"""The typed run configuration: dataclasses with a docstring per field, YAML files and
``key=value`` overrides merged by OmegaConf, and validation in one place.

Precedence, lowest first: the defaults below, the defaults of the chosen algorithm
(:data:`ALGO_DEFAULTS`, e.g. A2C's), the YAML file, the command-line overrides.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rl_auxgrad.envs import PROTOCOLS, VectorEnv, make_vector_env
from rl_auxgrad.envs.games import MULTI_SEP
from rl_auxgrad.gating import GATES, Gate, gate_options, make_gate
from rl_auxgrad.teacher_weight import SCHEDULES

GATE_NAMES = (*GATES, "kl_only")
"""gate.name: a gate of :data:`rl_auxgrad.gating.GATES`, or kl_only (no gate: the KL alone)."""


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
    protocol: str = "v5"
    """The Atari protocol (rl_auxgrad/envs/atari.py). v5: ALE v5, sticky_actions as set, FIRE at
    a game's start only. zoo: the RL Zoo's AtariWrapper and CleanRL's ppo_atari, also FIRE
    (after SB3's NOOP) after each lost life; it has no sticky actions, so it needs
    env.sticky_actions=0 (an error otherwise, rather than a silent override, so that the run's
    config.yaml says what ran). Gymnasium envs ignore it."""
    life_loss_terminal: bool = True
    """Treat a lost life as the end of an episode for learning (never for the logged score)."""
    frame_stack: int = 4
    frameskip: int = 4
    noop_max: int = 30
    """Up to this many no-op actions at the start of an episode."""
    threads: int = 0
    """Threads of the ALE's C++ vector env; 0 lets it choose."""
    full_action_space: bool = False
    """All 18 ALE actions instead of the game's minimal set (a multi-game run always has them),
    e.g. single-game Breakout with the action set of the multi-task runs."""

    def make(self, seed: int, *, num_envs: int | None = None,
             life_loss_terminal: bool | None = None) -> VectorEnv:
        """The vector env of these settings (``num_envs`` and ``life_loss_terminal`` override
        the config's, e.g. for a scoring env)."""
        return make_vector_env(
            self.id, self.num_envs if num_envs is None else num_envs, seed=seed,
            sticky_actions=self.sticky_actions,
            life_loss_terminal=(self.life_loss_terminal if life_loss_terminal is None
                                else life_loss_terminal),
            frame_stack=self.frame_stack, frameskip=self.frameskip, noop_max=self.noop_max,
            threads=self.threads, full_action_space=self.full_action_space,
            protocol=self.protocol)


@dataclass
class AgentConfig:
    algo: str = "ppo"
    """ppo or a2c; a2c starts from ALGO_DEFAULTS['a2c'] (SB3 zoo's Atari settings)."""
    torso: str = "auto"
    """nature, impala or mlp; auto picks nature for Atari frames, mlp for vectors."""
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    """Decay the learning rate linearly over total_steps (CleanRL's schedule): the update of the
    rollout that starts at step s runs at learning_rate * (1 - s / total_steps)."""
    optimizer: str = "adam"
    """adam (PPO, eps 1e-5) or rmsprop (A2C, alpha 0.99, eps 1e-5)."""
    num_steps: int = 128
    """Rollout length per environment."""
    num_minibatches: int = 4
    update_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.1
    anneal_clip: bool = False
    """Decay PPO's clip range as agent.anneal_lr decays the learning rate, to
    clip_coef * (1 - s / total_steps) for the rollout that starts at step s (the SB3 RL Zoo's
    Atari ``clip_range: lin_0.1``); off, it stays clip_coef (CleanRL's). The value clip, with
    clip_vloss, takes the same range."""
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    norm_adv: bool = True
    clip_rewards: bool = True
    """Clip rewards to their sign for learning (Atari); logged returns stay real scores."""
    precision: str = "fp32"
    """fp32, or bf16: the torso's forward (and so its backward) under bfloat16 autocast, heads,
    losses, gradients and weights in fp32. Faster for the CNNs on CPUs with AMX or AVX512-BF16
    and on recent GPUs, much slower on CPUs that emulate it (speeds in docs/PERFORMANCE.md);
    compare runs of one precision."""


@dataclass
class TeacherConfig:
    path: str | None = None
    """A native teacher directory (teachers/<name>), a Stable-Baselines3 .zip (PPO, A2C or
    DQN) or one on the Hugging Face Hub, hf://ORG/REPO[/FILE.zip][@REVISION] (e.g.
    hf://sb3/ppo-BreakoutNoFrameskip-v4); none (or null) trains without a teacher."""
    lam: float = 1.0
    """Weight of the teacher's KL (lambda) beside the RL loss, before the gate. The
    per-minibatch cosine is noisy, so a gate lets part of the KL through even when the teacher
    hurts on average, and a large lam then drags the student down; the default 1 is chosen in
    docs/cartpole_defaults.md."""
    lam_schedule: str = "stop"
    """How much of the teacher to use now, lambda_t per update (rl_auxgrad/teacher_weight.py).
    The default, stop, is the one the usefulness experiment ranks first (README's "Why this
    default"): lam until the student's score reaches the teacher's or the upper confidence
    bound of rho falls below 0, then 0 for good. Others: constant; linear (kickstarting):
    decays to 0 over lam_decay_steps; score (QDagger): lam * max(0, 1 - G_student /
    G_teacher); agreement: opened by the lower confidence bound of the advantage-preference
    correlation rho; agreement_stop: stop's bound on rho alone; gradient: opened by the lower
    bound of the gate's cosine."""
    per_game: bool = False
    """A multi-game run: one lam_schedule per game, each deciding its game's lambda_t (the
    weight of that game's KL) from that game's episodes and rho over that game's envs; score
    and stop take each game's G_teacher from the card's score.per_game (a one-game teacher's
    score.mean counts for its game; stop uses its bound alone for a game the card does not
    score, score refuses such a game). Ignored in a one-game run, where the one schedule
    already is that game's. Off: one lambda_t for all games, from the whole rollout's rho
    (stop then has no score to stop on)."""
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
    stop_window: int = 16
    """agreement_stop: the upper confidence bound runs over rho of the last stop_window
    rollouts. Twice lcb_window, because a stop is final: with rho's per-rollout noise of about
    0.06 a good teacher's mean would have to fall about 0.03 below 0 to stop it."""
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
    name: str = "multitask"
    """single (RL alone), multitask (RL + KL: the plain sum, the default, with lambda_t from
    teacher.lam_schedule), kl_only, cosine, cosine_unweighted, cosine_shuffled (the cosine
    gate's weights shuffled in time: a control), projection, orthogonal, pcgrad or attittud.
    README's "Why this default" says why the default is not a gradient gate."""
    ema: float | None = None
    """Compare with a bias-corrected EMA of the main gradient (e.g. 0.01) instead of the
    current one; only for the gates that take an ``ema`` (rl_auxgrad.gating.gate_options), a
    ConfigError for the others. Off by default: it removes the per-minibatch noise, so it shuts
    the gate much harder (gate weights in docs/cartpole_defaults.md); use it for a teacher you
    suspect is harmful."""
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
    noise (the cosines of both in docs/cartpole_defaults.md)."""
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
    other across threads (runs side by side slow down many times with more: docs/PERFORMANCE.md,
    "Torch threads for small networks"), torch's default (one per core) for the CNNs."""
    checkpoint_every: int = 100_000
    """Agent steps between checkpoints (always one at the end)."""
    checkpoint_minutes: float = 10.0
    """Also a checkpoint when this many minutes of wall-clock time passed since the last one
    (0: only every checkpoint_every steps), so a killed long run loses minutes, not hours."""
    video_every: int = 0
    """Film the agent every this many agent steps (0: never): videos/step_<N>.mp4 in the run
    directory and the same episode as an animated GIF in tensorboard's Images tab
    (rl_auxgrad/video.py; at most TRAINING_FRAMES frames, its own env and generator, so the
    training itself is unchanged)."""
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
        layers = [_read_yaml(Path(path))] if path is not None else []
        layers.append(OmegaConf.from_dotlist(overrides or []))
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), *layers)
        algo = merged.agent.algo
        if algo not in ALGO_DEFAULTS:
            raise ConfigError(f"agent.algo={algo!r} is unknown: choose ppo or a2c")
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), ALGO_DEFAULTS[algo], *layers)
        config: TrainConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as error:
        raise ConfigError(_describe(error)) from None
    validate(config)
    return config


def _read_yaml(path: Path) -> DictConfig:
    """The mapping in the YAML file ``path`` (safe loading: ``!!python`` tags are refused)."""
    try:
        loaded = OmegaConf.load(path)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a YAML file") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path} ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"config file {path} holds a list, not a mapping of keys (e.g. "
                          "'env: {id: CartPole-v1}')")
    return loaded


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    first = str(error).splitlines()[0]
    if "not in" in first and key:
        return f"unknown config key {key!r}: check the spelling (see configs/ for examples)"
    return f"bad value for {key}: {first}" if key else first


@dataclass(frozen=True)
class Range:
    """An interval of allowed values, closed unless ``*_open``; None is unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        return ((self.low is None or value > self.low or (value == self.low and not self.low_open))
                and (self.high is None
                     or value < self.high or (value == self.high and not self.high_open)))

    def __str__(self) -> str:
        if self.high is None:
            return "any finite number" if self.low is None else \
                f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}" \
               f"{')' if self.high_open else ']'}"


POSITIVE, NON_NEGATIVE, AT_LEAST_ONE = Range(0, low_open=True), Range(0), Range(1)
PROBABILITY, FINITE = Range(0, 1), Range()

RANGES: dict[str, Range] = {
    "seed": Range(0, 2**30, high_open=True),
    "total_steps": POSITIVE,
    "cpu_threads": NON_NEGATIVE,
    "checkpoint_every": POSITIVE,
    "checkpoint_minutes": NON_NEGATIVE,
    "video_every": NON_NEGATIVE,
    "env.num_envs": AT_LEAST_ONE,
    "env.sticky_actions": PROBABILITY,
    "env.frame_stack": AT_LEAST_ONE,
    "env.frameskip": AT_LEAST_ONE,
    "env.noop_max": NON_NEGATIVE,
    "env.threads": NON_NEGATIVE,
    "agent.learning_rate": POSITIVE,
    "agent.num_steps": AT_LEAST_ONE,
    "agent.num_minibatches": AT_LEAST_ONE,
    "agent.update_epochs": AT_LEAST_ONE,
    "agent.gamma": Range(0, 1, low_open=True),
    "agent.gae_lambda": PROBABILITY,
    "agent.clip_coef": POSITIVE,  # 0 would freeze the policy
    "agent.ent_coef": NON_NEGATIVE,
    "agent.vf_coef": NON_NEGATIVE,
    "agent.max_grad_norm": POSITIVE,  # a negative norm would flip the gradient's sign
    "teacher.lam": NON_NEGATIVE,
    "teacher.lam_decay_steps": NON_NEGATIVE,
    "teacher.score_window": AT_LEAST_ONE,
    "teacher.score_episodes": AT_LEAST_ONE,
    "teacher.lcb_window": Range(2),  # a standard error needs two rollouts
    "teacher.stop_window": Range(2),
    "teacher.lcb_scale": POSITIVE,
    "teacher.temperature": POSITIVE,
    "teacher.q_temperature": POSITIVE,
    "gate.ema": Range(0, 1, low_open=True),  # or null: off
    "gate.threshold": Range(-1, 1),  # a cosine
    "gate.attittud.k": AT_LEAST_ONE,
    "gate.attittud.num_examples": AT_LEAST_ONE,
    "gate.attittud.eta": FINITE,  # each entry; a negative eta reverses that component
    "gate.attittud.eta_main": FINITE,
    "gate.attittud.recompute_every": AT_LEAST_ONE,
}
"""The allowed values of every numeric field (of each entry for a list); floats must also be
finite. tests/test_config.py fails if a numeric field has no entry here."""

CHOICES: dict[str, tuple[str, ...]] = {
    "env.protocol": PROTOCOLS,
    "agent.algo": tuple(ALGO_DEFAULTS),
    "agent.torso": ("auto", "nature", "impala", "mlp"),
    "agent.optimizer": ("adam", "rmsprop"),
    "agent.precision": ("fp32", "bf16"),
    "teacher.lam_schedule": SCHEDULES,
    "teacher.head": ("shared", "separate"),
    "gate.name": GATE_NAMES,
    "gate.per": ("whole", "variable"),
    "gate.scope": ("shared", "torso"),
    "gate.reference": ("policy", "full"),
}
"""The allowed values of string fields with a fixed set of choices."""


def field_value(config: TrainConfig, key: str) -> Any:
    """The value of the dotted ``key`` (e.g. ``agent.clip_coef``) in ``config``."""
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def is_run_name(name: str) -> bool:
    """Whether ``name`` is a relative path of plain folder names, which stays inside the runs
    folder (``a/b`` is; ``../x``, ``/x`` and ``.hidden`` are not)."""
    return all(re.fullmatch(r"\w[\w.+=-]*", part) for part in name.split("/"))


def validate(config: TrainConfig) -> None:
    """Checks values that types cannot: finiteness, :data:`RANGES`, :data:`CHOICES` and the
    relations between fields. Raises :class:`ConfigError` naming the key and the value."""
    for key, allowed in RANGES.items():
        value = field_value(config, key)
        for item in value if isinstance(value, list) else [value]:
            if item is None and key == "gate.ema":
                continue
            if not math.isfinite(item):
                raise ConfigError(f"{key} must be a finite number, got {item}")
            if item not in allowed:
                raise ConfigError(f"{key} must be {allowed}, got {item}")
    for key, choices in CHOICES.items():
        if field_value(config, key) not in choices:
            raise ConfigError(f"{key}={field_value(config, key)!r} is unknown: choose one of "
                              f"{', '.join(choices)}")
    a = config.agent
    checks: list[tuple[bool, str]] = [
        (not config.name or is_run_name(config.name),
         f"name={config.name!r} must be a folder name inside the runs folder (letters, digits "
         "and _ . + = -, parts joined by /; no .., no absolute path)"),
        (config.device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", config.device)
         is not None, f"device must be auto, cpu, cuda or cuda:N, got {config.device!r}"),
        (config.env.protocol != "zoo" or config.env.sticky_actions == 0,
         f"env.protocol=zoo plays without sticky actions, got env.sticky_actions="
         f"{config.env.sticky_actions}: add env.sticky_actions=0"),
        ((config.env.num_envs * a.num_steps) % a.num_minibatches == 0,
         f"the batch (env.num_envs x agent.num_steps = {config.env.num_envs * a.num_steps}) "
         f"must split into agent.num_minibatches={a.num_minibatches} equal minibatches"),
        (config.teacher.lam_schedule != "linear" or config.teacher.lam_decay_steps > 0,
         "teacher.lam_schedule=linear needs teacher.lam_decay_steps > 0"),
        (config.teacher.lam_schedule != "gradient" or config.gate.name != "kl_only",
         "teacher.lam_schedule=gradient needs the gate's cosine: gate.name=kl_only has none; "
         "choose a gate (multitask for the plain sum)"),
        (config.teacher.lam_schedule != "score" or MULTI_SEP not in config.env.id
         or config.teacher.per_game,
         f"teacher.lam_schedule=score compares the student's score with the teacher's in one "
         f"game; {config.env.id} has several: add teacher.per_game=true (one schedule per "
         f"game), or use stop or agreement_stop"),
        (len(config.gate.attittud.eta) == 3,
         "gate.attittud.eta must have three entries: [eta_orth, eta_pos, eta_neg]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    gate_kwargs(config.gate, config.seed)


def gate_kwargs(config: GateConfig, seed: int) -> dict[str, Any]:
    """The options of the gate gate.name: of gate.ema, gate.per, gate.threshold, the fields of
    gate.attittud and the run's ``seed``, those its factory takes
    (:func:`rl_auxgrad.gating.gate_options`; kl_only takes none). Raises :class:`ConfigError`
    when gate.ema is set for a gate without an EMA reference."""
    accepted = gate_options(config.name) if config.name in GATES else ()
    if config.ema is not None and "ema" not in accepted:
        takers = [name for name in GATES if "ema" in gate_options(name)]
        raise ConfigError(f"gate.ema applies to {', '.join(takers)}, not {config.name}: "
                          "drop gate.ema (or set it to null)")
    offered = ({"ema": config.ema, "per": config.per, "threshold": config.threshold,
                "seed": seed} | asdict(config.attittud) | {"eta": tuple(config.attittud.eta)})
    return {key: value for key, value in offered.items() if key in accepted}


def build_gate(config: GateConfig, seed: int) -> Gate | None:
    """The gate of ``config`` with its options (:func:`gate_kwargs`); None for kl_only (no
    gating: pure distillation). ``seed`` seeds the gates that draw (cosine_shuffled,
    attittud's randomized basis)."""
    if config.name == "kl_only":
        return None
    return make_gate(config.name, **gate_kwargs(config, seed))


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
