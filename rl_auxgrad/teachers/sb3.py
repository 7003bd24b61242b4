"""Stable-Baselines3 ``.zip`` files as teachers, read without unpickling anything.

An SB3 zip holds ``data`` (JSON; an object JSON cannot hold is stored cloudpickled *and* as a
readable list of its attributes), ``policy.pth`` (the policy's ``state_dict``, written by
``torch.save``) and files we do not need (optimizer, system info). This loader reads

- the weights with ``torch.load(weights_only=True)``, which accepts tensors and plain
  containers only: a ``policy.pth`` that holds other Python objects is refused;
- the observation and action spaces, the policy's module and ``policy_kwargs`` from the
  readable parts of ``data``, never from the ``:serialized:`` (pickled) fields;

and rebuilds the policy network from the names and shapes of the weights.

Supported: PPO and A2C (``ActorCriticPolicy``, i.e. ``MlpPolicy`` and ``CnnPolicy``) and DQN
(``QNetwork``), with SB3's ``NatureCNN`` or ``FlattenExtractor`` features, any ``net_arch`` and a
``torch.nn`` activation, on a discrete action space. Logits are ``action_net(latent_pi)`` for
PPO / A2C, the same distribution as SB3's ``policy.get_distribution``; for DQN they are
``Q(s, ·) / q_temperature``, a Boltzmann policy over the Q-values.

**Atari observations.** SB3 wraps image envs in ``VecTransposeImage``, so a saved Atari policy
sees ``(4, 84, 84)`` channel-first uint8 frames, stacked oldest first by ``VecFrameStack``, and
divides them by 255 inside the policy (``normalize_images``). Our envs give the same
``(4, 84, 84)`` uint8 stacks, oldest first; the division is done here as SB3 does it. What is
*not* the same and cannot be converted: SB3's usual Atari setup (RL Zoo:
``BreakoutNoFrameskip-v4`` + ``AtariWrapper``) has no sticky actions and resizes frames with
OpenCV, ours (ALE v5 conventions) has sticky actions 0.25 by default and the ALE's resize, so a
zoo agent can score lower here than on its card. The zip does not name its game: unless its
origin does (a Hub repository's name, see :mod:`.hub`), an Atari teacher is taken to play the
student's first game whose minimal action set has as many actions as the teacher (all 18: the
first game), with the ALE's action order.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rl_auxgrad.envs import EnvSpec
from rl_auxgrad.envs.games import FULL_ACTION_MEANINGS, is_atari, minimal_action_meanings

from .base import Teacher, TeacherError, TeacherInfo, check_observation

ACTOR_CRITIC = "stable_baselines3.common.policies"
DQN = "stable_baselines3.dqn.policies"
DEFAULT_ACTIVATION = {ACTOR_CRITIC: "Tanh", DQN: "ReLU"}
"""SB3's default ``activation_fn`` of each policy family."""
FORWARD_IRRELEVANT = {"net_arch", "ortho_init", "optimizer_class", "optimizer_kwargs",
                      "share_features_extractor", "features_extractor_kwargs", "log_std_init",
                      "full_std", "use_expln", "squash_output", "use_sde", "n_critics"}
"""``policy_kwargs`` that do not change the discrete policy's forward pass beyond what the
weights' shapes show."""


class SB3Network(nn.Module):
    """An SB3 policy's forward pass: features -> hidden layers (each with the activation) -> head.

    ``features`` is SB3's NatureCNN (``cnn`` + ``linear``) or ``nn.Flatten`` (its
    ``FlattenExtractor``).
    """

    def __init__(self, features: nn.Module, hidden: list[nn.Linear],
                 activation: type[nn.Module], head: nn.Linear, normalize_images: bool,
                 divide_by: float) -> None:
        super().__init__()
        self.features = features
        self.hidden = nn.Sequential(*[m for layer in hidden for m in (layer, activation())])
        self.head = head
        self.normalize_images, self.divide_by = normalize_images, divide_by

    def forward(self, obs: Tensor, heads: Tensor | None = None) -> Tensor:
        """Logits over the teacher's actions (``heads`` is ignored: an SB3 policy has one)."""
        x = obs.float()
        if self.normalize_images and obs.dtype == torch.uint8 and obs.dim() == 4:
            x = x / 255.0  # SB3's preprocess_obs for image spaces
        return self.head(self.hidden(self.features(x))) / self.divide_by


class _NatureCNN(nn.Module):
    """SB3's ``NatureCNN``, with its layer names (``cnn.0``, ``cnn.2``, ``cnn.4``, ``linear.0``)."""

    def __init__(self, in_channels: int, n_flatten: int, features_dim: int) -> None:
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(in_channels, 32, 8, 4), nn.ReLU(),
                                 nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
                                 nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(n_flatten, features_dim), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.cnn(x))


def load_sb3(path: str | Path, spec: EnvSpec, device: torch.device, *,
             q_temperature: float = 1.0, game: str | None = None,
             name: str | None = None) -> Teacher:
    """The policy in the SB3 zip ``path`` as a teacher for ``spec``; TeacherError if it cannot
    be read safely or does not fit the environment. ``game`` is the game the zip plays where its
    origin says (a Hub repository's name; else it is inferred, see the module doc); ``name`` is
    what the teacher is called in messages and the run's record (default: ``path``)."""
    path = Path(path)
    data, weights, version = _read_zip(path)
    obs_shape, num_actions = _spaces(path, data)
    check_observation(path, obs_shape, spec)
    module = _readable(data.get("policy_class", {})).get("__module__")
    if module not in DEFAULT_ACTIVATION:
        raise TeacherError(f"{path}: policy from {module!r} is not supported; supported are "
                           "PPO and A2C (stable_baselines3.common.policies) and DQN "
                           "(stable_baselines3.dqn.policies)")
    kwargs = _policy_kwargs(path, data, module)
    try:
        network = _build(path, weights, module, kwargs, q_temperature if module == DQN else 1.0)
    except (KeyError, RuntimeError) as error:
        raise TeacherError(f"{path}: its weights do not form an SB3 {module} policy "
                           f"({str(error).strip().splitlines()[0]})") from None
    network = network.to(device).eval()
    games, meanings = _games(path, spec, num_actions, game)
    info = TeacherInfo(games=games, obs_shape=obs_shape, num_actions=num_actions,
                       action_meanings=meanings)
    card = {"format": "stable-baselines3", "sb3_version": version, "policy": module,
            "games": list(games), "obs_shape": list(obs_shape), "num_actions": num_actions,
            "action_meanings": [list(m) for m in meanings]}
    return Teacher(name or path, path, network, info, spec, card)


def _read_zip(path: Path) -> tuple[dict[str, Any], dict[str, Tensor], str]:
    if not path.is_file():
        raise TeacherError(f"teacher {path} not found: expected a native teacher directory, a "
                           "Stable-Baselines3 .zip, or teacher.path=none")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {"data", "policy.pth"} - names
            if missing:
                raise TeacherError(f"{path} is not a Stable-Baselines3 model: it lacks "
                                   f"{sorted(missing)} (save it with model.save(...))")
            data = json.loads(archive.read("data"))
            raw_weights = archive.read("policy.pth")
            version = (archive.read("_stable_baselines3_version").decode().strip()
                       if "_stable_baselines3_version" in names else "unknown")
    except zipfile.BadZipFile:
        raise TeacherError(f"{path} is not a zip file: a teacher is a native teacher "
                           "directory or a Stable-Baselines3 .zip") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TeacherError(f"{path}: its 'data' entry is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise TeacherError(f"{path}: its 'data' entry is a JSON {type(data).__name__}, not the "
                           "mapping SB3 writes: not a Stable-Baselines3 model")
    try:
        weights = torch.load(io.BytesIO(raw_weights), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise TeacherError(f"{path}: its policy.pth is truncated or corrupt "
                           f"({(str(error).strip() or type(error).__name__).splitlines()[0]})"
                           ) from None
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0]
        raise TeacherError(f"{path}: policy.pth holds pickled Python objects besides tensors, "
                           "and unpickling a file can run any code it carries, so it is not "
                           f"loaded ({reason}). Re-save the model from a trusted session with "
                           "SB3's model.save(...)") from None
    if not isinstance(weights, dict) or not all(isinstance(v, Tensor) for v in weights.values()):
        raise TeacherError(f"{path}: policy.pth is not a state_dict of tensors")
    return data, weights, version


def _readable(entry: Any) -> dict[str, Any]:
    """The readable attributes of a ``data`` entry (never its ``:serialized:`` pickle)."""
    if not isinstance(entry, dict):
        return {}
    return {k: v for k, v in entry.items() if k != ":serialized:"}


def _spaces(path: Path, data: dict[str, Any]) -> tuple[tuple[int, ...], int]:
    obs, act = _readable(data.get("observation_space")), _readable(data.get("action_space"))
    if "Box" not in str(obs.get(":type:")) or "_shape" not in obs:
        raise TeacherError(f"{path}: observation space {obs.get(':type:')} is not supported "
                           "(a Box of images or vectors is)")
    if "Discrete" not in str(act.get(":type:")) or int(act.get("start", 0)) != 0:
        raise TeacherError(f"{path}: action space {act.get(':type:')} is not supported: a "
                           "teacher needs a discrete action space starting at 0")
    return tuple(int(d) for d in obs["_shape"]), int(act["n"])


def _class_name(value: Any) -> str:
    """'ReLU' from "<class 'torch.nn.modules.activation.ReLU'>"."""
    match = re.fullmatch(r"<class '([\w.]+)'>", str(value))
    return match.group(1) if match else str(value)


def _policy_kwargs(path: Path, data: dict[str, Any], module: str) -> dict[str, Any]:
    kwargs = _readable(data.get("policy_kwargs", {}))
    kwargs.pop(":type:", None)
    unknown = set(kwargs) - FORWARD_IRRELEVANT - {"activation_fn", "features_extractor_class",
                                                  "normalize_images"}
    if unknown:
        raise TeacherError(f"{path}: policy_kwargs {sorted(unknown)} may change the policy's "
                           "forward pass and are not understood by this loader")
    activation = _class_name(kwargs.get("activation_fn", "torch.nn." + DEFAULT_ACTIVATION[module]))
    name = activation.rsplit(".", 1)[-1]
    if not activation.startswith("torch.nn.") or not isinstance(getattr(nn, name, None), type):
        raise TeacherError(f"{path}: activation {activation} is not a torch.nn activation; a "
                           "custom one would need its pickled code, which is not run")
    extractor = _class_name(kwargs.get("features_extractor_class", "default"))
    if extractor.rsplit(".", 1)[-1] not in ("default", "NatureCNN", "FlattenExtractor"):
        raise TeacherError(f"{path}: features extractor {extractor} is not supported (SB3's "
                           "NatureCNN and FlattenExtractor are); a custom one would need its "
                           "pickled code, which is not run")
    return {"activation": getattr(nn, name),
            "normalize_images": bool(kwargs.get("normalize_images", True))}


def _linear(weights: dict[str, Tensor], prefix: str) -> nn.Linear:
    weight, bias = weights[prefix + "weight"], weights[prefix + "bias"]
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    layer.load_state_dict({"weight": weight, "bias": bias})
    return layer


def _sequential_linears(weights: dict[str, Tensor], prefix: str) -> list[nn.Linear]:
    """The Linear layers of the nn.Sequential saved under ``prefix``, in order."""
    indices = sorted({int(m.group(1)) for k in weights
                      if (m := re.fullmatch(re.escape(prefix) + r"(\d+)\.weight", k))})
    return [_linear(weights, f"{prefix}{i}.") for i in indices]


def _build(path: Path, weights: dict[str, Tensor], module: str, kwargs: dict[str, Any],
           divide_by: float) -> SB3Network:
    if module == DQN:
        feature_prefix, layers = "q_net.features_extractor.", _sequential_linears(weights,
                                                                                "q_net.q_net.")
        hidden, head = layers[:-1], layers[-1] if layers else None
    else:
        feature_prefix = ("pi_features_extractor." if "pi_features_extractor.cnn.0.weight"
                          in weights else "features_extractor.")
        hidden = _sequential_linears(weights, "mlp_extractor.policy_net.")
        head = _linear(weights, "action_net.") if "action_net.weight" in weights else None
    if head is None:
        raise TeacherError(f"{path}: policy.pth has no policy head (action_net or q_net): not "
                           "a PPO, A2C or DQN policy with discrete actions")
    if feature_prefix + "cnn.0.weight" in weights:
        conv, linear = weights[feature_prefix + "cnn.0.weight"], weights[feature_prefix
                                                                          + "linear.0.weight"]
        features: nn.Module = _NatureCNN(conv.shape[1], linear.shape[1], linear.shape[0])
        features.load_state_dict({k.removeprefix(feature_prefix): v for k, v in weights.items()
                                  if k.startswith(feature_prefix)})
    else:
        features = nn.Flatten()
    return SB3Network(features, hidden, kwargs["activation"], head, kwargs["normalize_images"],
                      divide_by)


def _games(path: Path, spec: EnvSpec, num_actions: int, game: str | None
           ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The game an SB3 teacher plays (``game``, else inferred: see module doc), and its action
    meanings."""
    if game is not None:
        if not is_atari(game):
            return (game,), ()
        if num_actions == len(FULL_ACTION_MEANINGS):
            return (game,), (FULL_ACTION_MEANINGS,)
        if num_actions != len(minimal_action_meanings(game)):
            raise TeacherError(f"{path} has {num_actions} actions, but {game} has "
                               f"{len(minimal_action_meanings(game))} (or 18 for the full set): "
                               f"not a {game} policy")
        return (game,), (minimal_action_meanings(game),)
    if not spec.is_atari:
        return spec.games[:1], ()
    if num_actions == len(FULL_ACTION_MEANINGS):
        return spec.games[:1], (FULL_ACTION_MEANINGS,)
    for game in spec.games:
        meanings = minimal_action_meanings(game)
        if len(meanings) == num_actions:
            return (game,), (meanings,)
    sizes = ", ".join(f"{g} {len(minimal_action_meanings(g))}" for g in spec.games)
    raise TeacherError(f"{path} has {num_actions} actions, but no game here has that many "
                       f"({sizes}, or 18 for the full set): choose a teacher for these games")
