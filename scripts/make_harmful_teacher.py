"""Make a harmful teacher from a good one by a rule that overrides its policy where the rule
applies. ``pushright`` (CartPole): wherever the cart is right of the centre (x > 0) push right
with probability 0.95, which drives the cart off the track. ``away`` (MinAtar Breakout): move
the paddle away from the ball's column with probability 0.95, which loses the ball. ``swap``
(any game with LEFT and RIGHT, e.g. Atari Breakout): the source teacher with its left and right
moves swapped, so that where it would chase the ball it runs from it. Distilling such a teacher
drags a student towards failing; a gate should ignore it there. ``--rule uniform`` (any game)
makes the control teacher instead: the uniform policy everywhere, which carries no information
about the task (KL to it is an entropy bonus), to measure what a gate does with a teacher's
gradient that knows nothing.

    python scripts/make_harmful_teacher.py teachers/cartpole_ppo_12k \\
        --out teachers/cartpole_harmful_pushright
    python scripts/make_harmful_teacher.py teachers/cartpole_ppo_12k --rule uniform \\
        --out teachers/cartpole_uniform
    python scripts/make_harmful_teacher.py teachers/minatar_breakout_ppo_100k --rule away \\
        --out teachers/minatar_breakout_harmful_away
    python scripts/make_harmful_teacher.py teachers/breakout_ppo_350k --rule swap \\
        --out teachers/breakout_harmful_swap

A rule of the state (pushright, away) is put into the teacher's own network (an MLP
actor-critic) by supervised distillation, KL(rule || network), on states the source teacher
visits (sampled stochastically, with its mistakes, so both halves of the track are covered). A
rule of the action alone is an exact edit of the policy heads, for any torso: ``swap`` permutes
their output rows (π'(a|s) = π(σ(a)|s), σ swapping each LEFT action with its RIGHT twin), and
``uniform`` zeroes them (every logit 0). The card records the rule, how it was made and the
score measured by ``rl_auxgrad.evaluate``. (The shipped cartpole_uniform and
minatar_breakout_uniform were distilled by an earlier version, final KL 0.0000, as their cards
say; the edit gives the same policy exactly.)
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from rl_auxgrad.agents.networks import ActorCritic
from rl_auxgrad.envs import EnvSpec, make_vector_env
from rl_auxgrad.evaluate import score_path
from rl_auxgrad.teachers import load_agent, load_native, read_card, save_teacher

RULES = {"pushright": "x > 0: push right with probability 0.95; elsewhere the source "
                      "teacher's policy",
         "away": "move the paddle away from the ball's column with probability 0.95 (left "
                 "or right at random when they share it); the source teacher's policy where "
                 "no ball is in view",
         "swap": "the source teacher's policy with each LEFT action and its RIGHT twin "
                 "swapped: where it would move towards the ball it moves away",
         "uniform": "the uniform policy in every state: no information about the task"}
GAMES = {"pushright": "CartPole-v1", "away": "MinAtar/Breakout-v1", "swap": None,
         "uniform": None}
"""The game each rule reads its states from (None: any game)."""
HEAD_EDITS = ("swap", "uniform")
"""Rules of the action alone: exact edits of the policy heads, no distillation."""
WHY = {"pushright": "harmful on purpose", "away": "harmful on purpose",
       "swap": "harmful on purpose", "uniform": "uninformative on purpose (a control)"}
SCORING_SEED = 12345


def visited_states(source: Path, game: str, steps: int, seed: int) -> torch.Tensor:
    """States from the source teacher's own stochastic play on 16 envs of its game."""
    env = make_vector_env(game, 16, seed=seed)
    teacher = load_native(source, env.spec, torch.device("cpu"))
    game_ids = torch.zeros(16, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    obs, states = env.reset(), []
    for _ in range(steps // 16):
        obs_t = torch.as_tensor(obs)
        states.append(obs_t)
        probs = torch.softmax(teacher(obs_t, game_ids), -1)
        obs = env.step(torch.multinomial(probs, 1, generator=generator).squeeze(1).numpy()).obs
    env.close()
    return torch.cat(states)


def rule_targets(rule: str, source_probs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """The rule's action probabilities (see RULES) for a batch of states."""
    if rule == "uniform":
        return torch.full_like(source_probs, 1 / source_probs.shape[-1])
    if rule == "pushright":  # CartPole: state[0] is the cart's position, action 1 pushes right
        right = torch.tensor([0.05, 0.95]).expand_as(source_probs)
        return torch.where(states[:, :1] > 0, right, source_probs)
    return _away_targets(source_probs, states)


def mirrored_actions(meanings: tuple[str, ...]) -> list[int]:
    """σ for ``swap``: the index of each action with LEFT and RIGHT exchanged in its name
    (UPLEFT <-> UPRIGHT, LEFTFIRE <-> RIGHTFIRE, ...); ValueError if no action moves sideways."""
    index = {name: i for i, name in enumerate(meanings)}
    other = {"LEFT": "RIGHT", "RIGHT": "LEFT"}
    mirror = [index.get(re.sub("LEFT|RIGHT", lambda side: other[side[0]], name), i)
              for i, name in enumerate(meanings)]
    if mirror == list(range(len(meanings))):
        raise ValueError(f"rule 'swap' needs actions named LEFT and RIGHT; this game's are "
                         f"{', '.join(meanings) or 'unnamed'}: choose another rule")
    return mirror


def edit_heads(network: ActorCritic, rule: str, meanings: tuple[tuple[str, ...], ...]) -> None:
    """Applies a rule of :data:`HEAD_EDITS` in place to each game's policy (and distillation)
    head, ``meanings[k]`` being game k's action names."""
    per_game = [network.policy_heads, *([network.distill_heads] if network.distill_heads else [])]
    with torch.no_grad():
        for heads in per_game:
            for head, names in zip(heads, meanings, strict=True):
                if rule == "uniform":
                    head.weight.zero_()
                    head.bias.zero_()
                else:
                    order = torch.tensor(mirrored_actions(names))
                    head.weight.copy_(head.weight[order])
                    head.bias.copy_(head.bias[order])


def _away_targets(source_probs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """MinAtar Breakout (v1 actions: no-op, left, right): observations are its 10x10x4 boolean
    grid flattened row-major, channel 0 the paddle (bottom row), channel 1 the ball."""
    grid = states.reshape(-1, 10, 10, 4)
    columns = torch.arange(10, dtype=states.dtype)
    paddle = (grid[:, 9, :, 0] * columns).sum(-1)
    ball_seen = grid[..., 1].flatten(1).any(-1)
    ball = (grid[..., 1].sum(1) * columns).sum(-1)
    go_left, go_right = torch.tensor([0.025, 0.95, 0.025]), torch.tensor([0.025, 0.025, 0.95])
    either = torch.tensor([0.05, 0.475, 0.475])
    away = torch.where((ball > paddle)[:, None], go_left,
                       torch.where((ball < paddle)[:, None], go_right, either))
    return torch.where(ball_seen[:, None], away, source_probs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a native teacher directory (an MLP torso for the "
                                       "distilled rules pushright and away; any for the rest)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rule", choices=sorted(RULES), default="pushright")
    parser.add_argument("--states", type=int, default=32768)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source, out = Path(args.source), Path(args.out)
    if out.exists():
        print(f"error: {out} exists: remove it or choose another --out", file=sys.stderr)
        return 2
    source_card = read_card(source)
    game = source_card.get("env", {}).get("id") or source_card["games"][0]
    if GAMES[args.rule] not in (None, game):
        print(f"error: rule {args.rule!r} is made for {GAMES[args.rule]}, but {source} plays "
              f"{game}: choose a rule for {game} or another source teacher", file=sys.stderr)
        return 2
    env = make_vector_env(game, 1, seed=0)
    env.close()
    try:
        if args.rule in HEAD_EDITS:
            network = load_agent(source)
            edit_heads(network, args.rule, env.spec.action_meanings)
            made = {"edit": "exact: the policy heads' output rows "
                            + ("permuted" if args.rule == "swap" else "set to 0")}
        else:
            network, made = distil(source, game, env.spec, args.rule, args.states,
                                   args.epochs, args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    card = {"env": source_card.get("env", {"id": game}),
            "why_imperfect": f"{WHY[args.rule]}: {RULES[args.rule]}",
            "training": {"source_teacher": str(source), "rule": RULES[args.rule], **made,
                         "made_by": "python scripts/make_harmful_teacher.py "
                                    + shlex.join(sys.argv[1:] if argv is None else argv)}}
    save_teacher(out, network, env.spec, source_card["torso"], card)
    scores = score_path(out, args.episodes, seed=SCORING_SEED, sticky_actions=0.25,
                        deterministic=False, device=torch.device("cpu"))
    every = scores.per_game[env.spec.games[0]]
    card["score"] = {"mean": float(np.mean(every)), "std": float(np.std(every)),
                     "episodes_per_game": args.episodes, "seed": SCORING_SEED,
                     "sticky_actions": 0.25,
                     "command": f"python -m rl_auxgrad.evaluate {out} --episodes "
                                f"{args.episodes} --seed {SCORING_SEED} --sticky-actions 0.25"}
    card["size_bytes"] = (out / "model.safetensors").stat().st_size
    save_teacher(out, network, env.spec, source_card["torso"], card)
    print(f"{out}: {scores.summary()} ({', '.join(f'{k} {v}' for k, v in made.items())})")
    return 0


def distil(source: Path, game: str, spec: EnvSpec, rule: str, states_count: int, epochs: int,
           seed: int) -> tuple[ActorCritic, dict[str, str]]:
    """The source teacher's network (for ``game``'s env ``spec``) fitted to a state rule by
    KL(rule || network) on states the source visits (module docstring), and how it was made."""
    torch.manual_seed(seed)
    states = visited_states(source, game, states_count, seed)
    teacher = load_native(source, spec, torch.device("cpu"))
    game_ids = torch.zeros(len(states), dtype=torch.long)
    targets = rule_targets(rule, torch.softmax(teacher(states, game_ids), -1), states)
    network = load_agent(source)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(states)).split(1024):
            logits = network(states[batch], game_ids[batch]).logits
            loss = F.kl_div(F.log_softmax(logits, -1), targets[batch], reduction="batchmean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        final = F.kl_div(F.log_softmax(network(states, game_ids).logits, -1), targets,
                         reduction="batchmean")
    return network, {"distillation": f"{epochs} epochs of Adam(1e-3) on {len(states)} states, "
                                     f"final KL(rule || teacher) {final:.4f}"}


if __name__ == "__main__":
    sys.exit(main())
