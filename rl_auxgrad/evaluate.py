"""``python -m rl_auxgrad.evaluate PATH --episodes N``: score a run's checkpoint or a teacher.

PATH is a run directory (``runs/<name>``, its ``checkpoint.safetensors`` and ``config.yaml``)
or a native teacher directory (``teachers/<name>``). Scoring uses a fresh environment with
its own, explicit sticky-action probability (ALE v5's 0.25 by default) and no life-loss
terminals, so nothing of the training environment leaks into the score. Each of N
environments per game plays exactly one episode, so short episodes are not over-counted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.checkpoint import load_state
from rl_auxgrad.config import ConfigError, load_config
from rl_auxgrad.envs import Episode, ObsToDevice, StepResult, make_vector_env
from rl_auxgrad.teachers.native import CARD, NativeTeacher

Policy = Callable[[Tensor, Tensor], Tensor]
"""``policy(obs, game_ids) -> logits``."""


@dataclass(frozen=True)
class Scores:
    per_game: dict[str, list[float]]

    def summary(self) -> str:
        every = [s for scores in self.per_game.values() for s in scores]
        lines = [f"mean {np.mean(every):.1f} ± {np.std(every):.1f} over {len(every)} episodes"]
        if len(self.per_game) > 1:
            lines += [f"  {game}: {np.mean(s):.1f} ± {np.std(s):.1f} ({len(s)} episodes)"
                      for game, s in self.per_game.items()]
        return "\n".join(lines)


def score(game: str, policy: Policy, episodes: int, *, seed: int, sticky_actions: float,
          deterministic: bool, full_action_space: bool = False,
          device: torch.device | str = "cpu", channels_last: bool = False) -> Scores:
    """Plays ``episodes`` episodes of each game of ``game`` with ``policy``."""
    env = make_vector_env(game, episodes, seed=seed, sticky_actions=sticky_actions,
                          life_loss_terminal=False, full_action_space=full_action_space)
    to_device = ObsToDevice(device, channels_last=channels_last)
    game_ids = torch.tensor(env.spec.game_ids, device=device)
    generator = torch.Generator().manual_seed(seed)
    finished = np.zeros(env.spec.num_envs, dtype=bool)
    per_game: dict[str, list[float]] = {g: [] for g in env.spec.games}
    obs = env.reset()
    with torch.no_grad():
        while not finished.all():
            logits = policy(to_device(obs), game_ids)
            if deterministic:
                actions = logits.argmax(-1)
            else:
                actions = torch.multinomial(torch.softmax(logits.cpu(), -1), 1,
                                            generator=generator).squeeze(-1)
            step = env.step(actions.cpu().numpy())
            ended = np.flatnonzero(step.done & ~finished)
            for i, episode in zip(ended, _episodes_in_order(step, ended), strict=True):
                per_game[episode.game].append(episode.score)
                finished[i] = True
            obs = step.obs
    env.close()
    return Scores(per_game)


def _episodes_in_order(step: StepResult, ended: np.ndarray) -> list[Episode]:
    """The episodes of the envs in ``ended`` (``step.episodes`` lists every env that ended, in
    env order; with life_loss_terminal=False, done means a real end)."""
    done_envs = np.flatnonzero(step.done)
    by_env = dict(zip(done_envs.tolist(), step.episodes, strict=True))
    return [by_env[i] for i in ended.tolist()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_auxgrad.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a run directory (runs/<name>) or a teacher directory")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per game")
    parser.add_argument("--sticky-actions", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=12345,
                        help="scoring seed (keep it apart from training seeds)")
    parser.add_argument("--deterministic", action="store_true", help="argmax actions")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    path = Path(args.path)
    try:
        if args.episodes < 1:
            raise ConfigError(f"--episodes must be >= 1, got {args.episodes}")
        device = torch.device(args.device)
        options = {"seed": args.seed, "sticky_actions": args.sticky_actions,
                   "deterministic": args.deterministic, "device": device}
        if (path / CARD).is_file():
            scores = _score_teacher(path, args.episodes, options)
        elif (path / "checkpoint.safetensors").is_file():
            scores = _score_run(path, args.episodes, options)
        else:
            raise ConfigError(f"{path} is neither a run directory (checkpoint.safetensors) "
                              f"nor a teacher directory ({CARD})")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{path}: {scores.summary()}")
    return 0


def _score_run(path: Path, episodes: int, options: dict) -> Scores:
    config = load_config(path / "config.yaml")
    probe = make_vector_env(config.env.id, 1, seed=0)
    learner = Learner(config, probe.spec, options["device"])
    probe.close()
    learner.agent.load_state_dict(load_state(path / "checkpoint.safetensors")["learner"]["agent"])
    learner.agent.eval()
    return score(config.env.id, lambda obs, games: learner.agent(obs, games).logits, episodes,
                 channels_last=learner.channels_last, **options)


def _score_teacher(path: Path, episodes: int, options: dict) -> Scores:
    card = json.loads((path / CARD).read_text())
    game = "+".join(card["games"])
    full = card["num_actions"] == 18 and len(card["games"]) == 1
    probe = make_vector_env(game, 1, seed=0, full_action_space=full)
    teacher = NativeTeacher(path, probe.spec, options["device"])
    probe.close()
    return score(game, teacher, episodes, full_action_space=full,
                 channels_last=card["torso"] != "mlp", **options)


if __name__ == "__main__":
    sys.exit(main())
