"""``python -m rl_auxgrad.evaluate PATH --episodes N``: score a run's checkpoint or a teacher.

PATH is a run directory (``runs/<name>``, with or without a teacher; recognised by its
``config.yaml``), an evidence agent (``agents/<name>``: ``config.yaml`` and weights), a native
teacher directory (``teachers/<name>``), a Stable-Baselines3 zip (with ``--game``) or one on the
Hugging Face Hub (``hf://ORG/REPO[/FILE.zip][@REVISION]``; ``--game`` unless the repo names it).
Scoring uses a fresh environment with its own, explicit protocol and sticky-action probability
(ALE v5 with sticky actions 0.25 by default; ``--protocol zoo`` scores as the RL Zoo and CleanRL
do: no sticky actions, FIRE after each lost life) and no life-loss terminals, so nothing of the
training environment leaks into the score. Each of N environments per game plays exactly one
episode, so short episodes are not over-counted.

``--video OUT.mp4`` (or ``--gif OUT.gif``) also films the first episode from the scoring seed
(:class:`~rl_auxgrad.video.Film`: the game's own screen at its own speed, each game side by side
for a multi-game run), at most ``--video-frames`` frames.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rl_auxgrad.agents.build import build_agent
from rl_auxgrad.agents.device import ObsToDevice
from rl_auxgrad.cli import ArgumentParser
from rl_auxgrad.config import ConfigError, resolve_device
from rl_auxgrad.envs import PROTOCOLS, EnvSpec, Episode, StepResult, make_vector_env
from rl_auxgrad.policy import Policy, choose_actions
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.teachers import load_teacher, read_card
from rl_auxgrad.teachers.hub import game_of, is_hub_path, parse
from rl_auxgrad.teachers.native import CARD
from rl_auxgrad.video import MAX_FRAMES, Film, check_output, save


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
          device: torch.device | str = "cpu", protocol: str = "v5") -> Scores:
    """Plays ``episodes`` episodes of each game of ``game`` with the policy that
    ``make_policy(spec)`` builds for the scoring environment (Atari: under ``protocol``)."""
    env = make_vector_env(game, episodes, seed=seed, sticky_actions=sticky_actions,
                          life_loss_terminal=False, full_action_space=full_action_space,
                          protocol=protocol)
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
            actions = choose_actions(logits, deterministic, generator)
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
    parser.add_argument("--protocol", choices=PROTOCOLS, default="v5",
                        help="Atari protocol: v5 (ALE v5) or zoo (the RL Zoo's and CleanRL's: "
                             "no sticky actions, FIRE after each lost life)")
    parser.add_argument("--sticky-actions", type=float,
                        help="probability of repeating the last action (default 0.25 under "
                             "v5; zoo has none)")
    parser.add_argument("--seed", type=int, default=12345,
                        help="scoring seed (keep it apart from training seeds)")
    parser.add_argument("--deterministic", action="store_true", help="argmax actions")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    film = parser.add_mutually_exclusive_group()
    film.add_argument("--video", type=Path, metavar="OUT.mp4",
                      help="also film the first episode (of each game, side by side) on the "
                           "game's own screen at its own speed, to an mp4")
    film.add_argument("--gif", type=Path, metavar="OUT.gif", help="the same as an animated GIF")
    parser.add_argument("--video-frames", type=int, default=MAX_FRAMES, metavar="N",
                        help=f"stop the video after N frames (default {MAX_FRAMES}; Atari: one "
                             "frame per agent step, 15 a second), so that a long episode "
                             "cannot fill the disk")
    args = parser.parse_args(argv)
    path = args.path if is_hub_path(args.path) else Path(args.path)
    out = args.video or args.gif
    try:
        options = {"seed": args.seed, "deterministic": args.deterministic,
                   "protocol": args.protocol,
                   "sticky_actions": sticky_actions(args.protocol, args.sticky_actions)}
        if out is not None:
            flag, suffix = ("--video", ".mp4") if args.video else ("--gif", ".gif")
            if out.suffix.lower() != suffix:
                raise ConfigError(f"{flag} {out}: name a {suffix} file")
            check_output(out)
            if args.video_frames < 1:
                raise ConfigError(f"--video-frames must be >= 1, got {args.video_frames}")
        if args.episodes < 1:
            raise ConfigError(f"--episodes must be >= 1, got {args.episodes}")
        player = find_player(path, game=args.game, device=resolve_device(args.device))
        scores = player.score(args.episodes, **options)
        print(f"{path}: {scores.summary()}")
        if out is not None:
            with player.film(max_frames=args.video_frames, **options) as film:
                frames = save(out, film, film.fps)
            print(f"{out}: {frames} frames at {film.fps:g} fps")
    except (ValueError, OSError) as error:  # bad input, named by the message
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def sticky_actions(protocol: str, given: float | None) -> float:
    """The sticky-action probability to score with: ``given``, else the protocol's own."""
    if protocol == "zoo":
        if given not in (None, 0):
            raise ConfigError(f"--protocol zoo plays without sticky actions, got "
                              f"--sticky-actions {given:g}: pass 0 or leave it out")
        return 0.0
    return 0.25 if given is None else given


@dataclass(frozen=True)
class Player:
    """A checkpoint or teacher ready to play its game: scored or filmed in the same env."""

    game: str
    make_policy: Callable[[EnvSpec], Policy]
    full_action_space: bool
    device: torch.device

    def score(self, episodes: int, *, seed: int, sticky_actions: float,
              deterministic: bool, protocol: str = "v5") -> Scores:
        return score(self.game, self.make_policy, episodes, seed=seed,
                     sticky_actions=sticky_actions, deterministic=deterministic,
                     full_action_space=self.full_action_space, device=self.device,
                     protocol=protocol)

    def film(self, *, max_frames: int, seed: int, sticky_actions: float,
             deterministic: bool, protocol: str = "v5") -> Film:
        """The episode that env 0 of :meth:`score` starts with this seed (the same episode
        with ``deterministic``)."""
        return Film(self.game, self.make_policy, seed=seed, sticky_actions=sticky_actions,
                    deterministic=deterministic, max_frames=max_frames,
                    full_action_space=self.full_action_space, device=self.device,
                    protocol=protocol)


def score_path(path: Path | str, episodes: int, *, game: str | None = None, seed: int,
               sticky_actions: float, deterministic: bool, device: torch.device,
               protocol: str = "v5") -> Scores:
    """Scores the run directory, teacher directory, SB3 zip (with ``game``) or Hub teacher
    (``hf://...``; ``game`` unless its repository names one) at ``path``."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    return find_player(path, game=game, device=device).score(
        episodes, seed=seed, sticky_actions=sticky_actions, deterministic=deterministic,
        protocol=protocol)


def find_player(path: Path | str, *, game: str | None = None, device: torch.device
                ) -> Player:
    """The player of the run directory, teacher directory, SB3 zip (with ``game``) or Hub
    teacher (``hf://...``; ``game`` unless its repository names one) at ``path``."""
    if is_hub_path(path):
        game = game or game_of(parse(str(path)))
        if game is None:
            raise ConfigError(f"{path} does not name its game: pass --game, e.g. --game Breakout")
        return Player(game, lambda spec: load_teacher(path, spec, device), False, device)
    path = Path(path)
    if path.suffix == ".zip":
        if game is None:
            raise ConfigError("an SB3 zip does not name its game: pass --game, e.g. "
                              "--game Breakout")
        return _teacher_player(path, game, device)
    if RunDir(path).is_run():  # before the card: a run of a teacher is not a teacher
        return _run_player(RunDir(path), device)
    if (path / CARD).is_file():
        return _teacher_player(path, "+".join(read_card(path)["games"]), device)
    raise ConfigError(f"{path} is neither a run directory ({RunDir.CONFIG}), a teacher "
                      f"directory ({CARD}) nor a Stable-Baselines3 .zip")


def _run_player(run: RunDir, device: torch.device) -> Player:
    config = run.config()
    weights = run.agent_weights()

    def make_policy(spec: EnvSpec) -> Policy:
        agent = build_agent(config, spec, device)
        try:
            agent.load_state_dict(weights)
        except RuntimeError as error:
            raise ConfigError(f"the weights in {run.path} do not fit its {RunDir.CONFIG} "
                              f"({str(error).strip().splitlines()[0]})") from None
        agent.eval()
        return lambda obs, games: agent(obs, games).logits

    return Player(config.env.id, make_policy, config.env.full_action_space, device)


def _teacher_player(path: Path, game: str, device: torch.device) -> Player:
    """A teacher plays in its own action set (a full 18-action teacher gets the full set)."""
    full = False
    if path.suffix != ".zip":
        card = read_card(path)
        full = card["num_actions"] == 18 and len(card["games"]) == 1
    return Player(game, lambda spec: load_teacher(path, spec, device), full, device)


if __name__ == "__main__":
    sys.exit(main())
