"""``python -m rl_auxgrad.evaluate PATH --episodes N``: score a run's checkpoint or a teacher.

PATH is a run directory (``runs/<name>``, with or without a teacher; recognised by its
``config.yaml``), an evidence agent (``agents/<name>``: ``config.yaml`` and weights), a native
teacher directory (``teachers/<name>``), a Stable-Baselines3 zip (with ``--game``) or one on the
Hugging Face Hub (``hf://ORG/REPO[/FILE.zip][@REVISION]``; ``--game`` unless the repo names it).
Scoring uses a fresh environment with its own, explicit sticky-action probability (ALE v5's
0.25 by default) and no life-loss terminals, so nothing of the training environment leaks
into the score. Each of N environments per game plays exactly one episode, so short episodes
are not over-counted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rl_auxgrad.agents.learner import Learner
from rl_auxgrad.cli import ArgumentParser
from rl_auxgrad.config import ConfigError, resolve_device
from rl_auxgrad.envs import EnvSpec, Episode, ObsToDevice, StepResult, make_vector_env
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.teachers import load_teacher, read_card
from rl_auxgrad.teachers.hub import game_of, is_hub_path, parse
from rl_auxgrad.teachers.native import CARD

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


def score(game: str, make_policy: Callable[[EnvSpec], Policy], episodes: int, *, seed: int,
          sticky_actions: float, deterministic: bool, full_action_space: bool = False,
          device: torch.device | str = "cpu") -> Scores:
    """Plays ``episodes`` episodes of each game of ``game`` with the policy that
    ``make_policy(spec)`` builds for the scoring environment."""
    env = make_vector_env(game, episodes, seed=seed, sticky_actions=sticky_actions,
                          life_loss_terminal=False, full_action_space=full_action_space)
    policy = make_policy(env.spec)
    to_device = ObsToDevice(device)
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
    parser = ArgumentParser(prog="python -m rl_auxgrad.evaluate",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a run directory (runs/<name>), a teacher directory, "
                                     "a Stable-Baselines3 .zip or hf://ORG/REPO[/FILE.zip]")
    parser.add_argument("--game", help="the game an SB3 zip plays (e.g. Breakout, CartPole-v1)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per game")
    parser.add_argument("--sticky-actions", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=12345,
                        help="scoring seed (keep it apart from training seeds)")
    parser.add_argument("--deterministic", action="store_true", help="argmax actions")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    args = parser.parse_args(argv)
    path = args.path if is_hub_path(args.path) else Path(args.path)
    try:
        scores = score_path(path, args.episodes, game=args.game, seed=args.seed,
                            sticky_actions=args.sticky_actions,
                            deterministic=args.deterministic,
                            device=resolve_device(args.device))
    except (ValueError, OSError) as error:  # bad input, named by the message
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{path}: {scores.summary()}")
    return 0


def score_path(path: Path | str, episodes: int, *, game: str | None = None, seed: int,
               sticky_actions: float, deterministic: bool, device: torch.device) -> Scores:
    """Scores the run directory, teacher directory, SB3 zip (with ``game``) or Hub teacher
    (``hf://...``; ``game`` unless its repository names one) at ``path``."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    options = {"seed": seed, "sticky_actions": sticky_actions, "deterministic": deterministic,
               "device": device}
    if is_hub_path(path):
        game = game or game_of(parse(str(path)))
        if game is None:
            raise ConfigError(f"{path} does not name its game: pass --game, e.g. --game Breakout")
        return score(game, lambda spec: load_teacher(path, spec, device), episodes, **options)
    path = Path(path)
    if path.suffix == ".zip":
        if game is None:
            raise ConfigError("an SB3 zip does not name its game: pass --game, e.g. "
                              "--game Breakout")
        return _score_teacher(path, game, episodes, options)
    if RunDir(path).is_run():  # before the card: a run of a teacher is not a teacher
        return _score_run(RunDir(path), episodes, options)
    if (path / CARD).is_file():
        return _score_teacher(path, "+".join(read_card(path)["games"]), episodes, options)
    raise ConfigError(f"{path} is neither a run directory ({RunDir.CONFIG}), a teacher "
                      f"directory ({CARD}) nor a Stable-Baselines3 .zip")


def _score_run(run: RunDir, episodes: int, options: dict) -> Scores:
    config = run.config()
    weights = run.agent_weights()

    def make_policy(spec: EnvSpec) -> Policy:
        learner = Learner(config, spec, options["device"])
        try:
            learner.agent.load_state_dict(weights)
        except RuntimeError as error:
            raise ConfigError(f"the weights in {run.path} do not fit its {RunDir.CONFIG} "
                              f"({str(error).strip().splitlines()[0]})") from None
        learner.agent.eval()
        return lambda obs, games: learner.agent(obs, games).logits

    return score(config.env.id, make_policy, episodes, **options)


def _score_teacher(path: Path, game: str, episodes: int, options: dict) -> Scores:
    """A teacher plays in its own action set (a full 18-action teacher gets the full set)."""
    full = False
    if path.suffix != ".zip":
        card = read_card(path)
        full = card["num_actions"] == 18 and len(card["games"]) == 1
    return score(game, lambda spec: load_teacher(path, spec, options["device"]), episodes,
                 full_action_space=full, **options)


if __name__ == "__main__":
    sys.exit(main())
