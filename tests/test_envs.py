"""The env layer: specs, life loss vs real episodes, raw scores, seeding, multi-game routing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from ale_py import Action
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from rl_auxgrad.envs import (
    GAMES,
    PROTOCOLS,
    Episode,
    StepResult,
    VectorEnv,
    canonical_game,
    make_vector_env,
)
from rl_auxgrad.envs.atari import ZooGameEnv

FAST = {"threads": 1}
FULL_SET = ("NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
            "DOWNLEFT", "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE",
            "DOWNRIGHTFIRE", "DOWNLEFTFIRE")


def rollout(env: VectorEnv, actions: np.ndarray, seed: int) -> list[StepResult]:
    env.reset(seed)
    return [env.step(a) for a in actions]


def random_actions(env: VectorEnv, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, env.spec.num_actions, (steps, env.spec.num_envs))


@pytest.fixture(scope="module")
def breakout() -> Iterator[VectorEnv]:
    with make_vector_env("Breakout", 2, seed=0, **FAST) as env:
        env.reset()
        yield env


# ------------------------------------------------------------------------------------ specs
@pytest.mark.parametrize(("game", "meanings"), [
    ("Breakout", ("NOOP", "FIRE", "RIGHT", "LEFT")),
    ("MsPacman", ("NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
                  "DOWNLEFT")),
])
def test_atari_spec(game: str, meanings: tuple[str, ...]) -> None:
    with make_vector_env(game, 2, seed=0, **FAST) as env:
        spec = env.spec
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros(2, dtype=np.int64))
        obs = env.reset()
    assert spec.games == (game,) and spec.is_atari and spec.num_envs == 2
    assert spec.obs_shape == (4, 84, 84) and spec.obs_dtype == torch.uint8
    assert spec.num_actions == len(meanings) and spec.action_meanings == (meanings,)
    assert spec.game_ids.tolist() == [0, 0] and spec.game_ids.dtype == np.int64
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8


def test_atari_spec_full_action_space_and_frame_stack() -> None:
    with make_vector_env("Breakout", 2, seed=0, full_action_space=True, frame_stack=2,
                         **FAST) as env:
        assert env.spec.num_actions == 18 and env.spec.action_meanings == (FULL_SET,)
        assert env.spec.obs_shape == (2, 84, 84) and env.reset().shape == (2, 2, 84, 84)


def test_cartpole_spec() -> None:
    with make_vector_env("cartpole-v1", 2, seed=0) as env:
        spec, obs = env.spec, env.reset()
    assert spec.games == ("CartPole-v1",) and not spec.is_atari and spec.num_envs == 2
    assert spec.obs_shape == (4,) and spec.obs_dtype == torch.float32
    assert spec.num_actions == 2 and spec.action_meanings == ()
    assert obs.shape == (2, 4) and obs.dtype == np.float32


@pytest.mark.parametrize(("alias", "name"), [
    ("breakout", "Breakout"), ("ms_pacman", "MsPacman"), ("Ms. Pac-Man", "MsPacman"),
    ("ALE/MsPacman-v5", "MsPacman"), ("BreakoutNoFrameskip-v4", "Breakout"),
    ("breakout+ms_pacman", "Breakout+MsPacman"), ("MsPacman+Breakout", "MsPacman+Breakout"),
    ("CARTPOLE-V1", "CartPole-v1"), ("Acrobot-v1", "Acrobot-v1"),
])
def test_canonical_game(alias: str, name: str) -> None:
    assert canonical_game(alias) == name
    assert set(GAMES) == {"Breakout", "MsPacman"}


# ------------------------------------------------------------- life loss and real episodes
def test_life_loss_is_done_for_learning_but_the_score_covers_the_whole_game() -> None:
    kw: dict[str, Any] = {"seed": 5, "noop_max": 2, "sticky_actions": 0.25, **FAST}
    learn = make_vector_env("Breakout", 2, life_loss_terminal=True, **kw)
    score = make_vector_env("Breakout", 2, life_loss_terminal=False, **kw)
    raw = AtariVectorEnv("breakout", 2, num_threads=1, repeat_action_probability=0.25,
                         autoreset_mode=AutoresetMode.SAME_STEP, noop_max=2,
                         reward_clipping=False)
    obs_l, obs_s, (obs_r, info) = learn.reset(), score.reset(), raw.reset(seed=5)
    np.testing.assert_array_equal(obs_l, obs_r)
    np.testing.assert_array_equal(obs_s, obs_r)
    lives, running, steps = info["lives"], np.zeros(2), np.zeros(2, dtype=int)
    games_seen, life_losses = np.zeros(2, dtype=int), np.zeros(2, dtype=int)
    for actions in random_actions(learn, 3000, seed=1):
        a, b = learn.step(actions), score.step(actions)
        obs_r, reward_r, term, trunc, info = raw.step(actions)
        np.testing.assert_array_equal(a.obs, obs_r)
        np.testing.assert_array_equal(a.reward, reward_r.astype(np.float32))
        np.testing.assert_array_equal(b.obs, obs_r)
        ended = term | trunc
        lost = (info["lives"] < lives) & ~ended
        np.testing.assert_array_equal(a.done, ended | lost)
        np.testing.assert_array_equal(b.done, ended)
        running, steps = running + a.reward, steps + 1
        for episodes in (a.episodes, b.episodes):  # only real ends, with the whole-game score
            assert sorted((e.score, e.length) for e in episodes) == sorted(
                (running[i], steps[i]) for i in np.flatnonzero(ended))
            assert all(e.game == "Breakout" for e in episodes)
        life_losses += lost
        for i in np.flatnonzero(ended):
            assert life_losses[i] == 4  # 5 lives: the 5th loss is the real end
            running[i], steps[i], life_losses[i] = 0.0, 0, 0
        games_seen += ended
        lives = info["lives"]
        if (games_seen >= 1).all():
            break
    assert (games_seen >= 1).all(), "random Breakout games should end within 3000 steps"
    for env in (learn, score):
        env.close()
    raw.close()


def test_truncation_after_max_episode_frames_ends_a_real_episode() -> None:
    # ALE counts emulator frames: 400 frames = 100 agent steps at frameskip 4.
    with make_vector_env("Breakout", 2, seed=0, max_episode_frames=400, life_loss_terminal=False,
                         **FAST) as env:
        results = rollout(env, np.zeros((201, 2), dtype=np.int64), seed=0)
    for t, result in enumerate(results, 1):
        ends = t % 100 == 0
        assert result.done.all() == ends and result.done.any() == ends, t
        assert [(e.game, e.length) for e in result.episodes] == [("Breakout", 100)] * 2 * ends


def test_rewards_are_raw_game_points() -> None:
    with make_vector_env("MsPacman", 2, seed=0, max_episode_frames=800, **FAST) as env:
        actions = random_actions(env, 200)
        results = rollout(env, actions, seed=0)
    rewards = np.stack([r.reward for r in results[:200]])
    assert rewards.dtype == np.float32 and rewards.max() >= 10  # a dot is 10 points
    episodes = results[199].episodes
    assert len(episodes) == 2
    assert sorted(e.score for e in episodes) == sorted(rewards.sum(0).tolist())


# ------------------------------------------------------------------------- the zoo protocol
ZOO: dict[str, Any] = {"protocol": "zoo", "sticky_actions": 0.0, **FAST}


@pytest.mark.parametrize("protocol", ["v5", "zoo"])
def test_zoo_serves_a_ball_after_each_lost_life_where_v5_waits_for_fire(protocol: str) -> None:
    """A policy that never presses FIRE loses all 5 balls (the game ends) under zoo; under v5 it
    gets the first ball (FIRE at reset) and then waits for a FIRE that never comes."""
    with make_vector_env("Breakout", 2, seed=3, protocol=protocol, sticky_actions=0.0,
                         **FAST) as env:
        results = rollout(env, np.zeros((400, 2), dtype=np.int64), seed=3)
    dones = np.stack([r.done for r in results])
    ends = [(t, e.length) for t, r in enumerate(results, 1) for e in r.episodes]
    if protocol == "zoo":
        assert (dones.sum(0) >= 10).all()  # two games' balls all served, though NOOP only
        assert len(ends) == (dones.sum(0) // 5).sum()  # every 5th done is a game's end
        assert ends[0][0] == ends[0][1]  # its length in agent steps (hidden ones not counted)
    else:
        assert ends == [] and dones.sum(0).tolist() == [1, 1]  # one lost life, then nothing


def test_zoo_plays_as_v5_without_sticky_actions_until_a_life_is_lost() -> None:
    """One ALE env per env (zoo) seeds and steps as the batched env (v5) does; on the step
    that loses a life, zoo's observation comes after its NOOP, FIRE and action 2."""
    zoo = make_vector_env("Breakout", 2, seed=8, **ZOO)
    v5 = make_vector_env("Breakout", 2, seed=8, sticky_actions=0.0, **FAST)
    actions = random_actions(zoo, 300, seed=2)
    for a, b in zip(rollout(zoo, actions, seed=8), rollout(v5, actions, seed=8), strict=True):
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.done, b.done)
        np.testing.assert_array_equal(a.obs[~a.done], b.obs[~a.done])
        if a.done.any():
            assert (a.obs[a.done] != b.obs[a.done]).any()
            break
    assert a.done.any(), "a random Breakout player loses a life within 300 steps"
    for env in (zoo, v5):
        env.close()


@pytest.mark.parametrize("life_loss_terminal", [True, False])
def test_zoo_matches_single_ale_envs_that_press_noop_fire_and_2_after_a_lost_life(
        life_loss_terminal: bool) -> None:
    """Against an independent reference: each env alone in a raw ALE vector env, which after a
    lost life plays NOOP, FIRE, action 2 (SB3's EpisodicLifeEnv.reset then FireResetEnv.reset),
    their rewards in the score only (and in the step's reward without life-loss ends)."""
    env = make_vector_env("Breakout", 2, seed=4, life_loss_terminal=life_loss_terminal, **ZOO)
    raw = [AtariVectorEnv("breakout", 1, num_threads=1, autoreset_mode=AutoresetMode.SAME_STEP,
                          reward_clipping=False) for _ in range(2)]
    assert env.life_loss_actions == (0, 1, 2)
    np.testing.assert_array_equal(
        env.reset(), np.concatenate([r.reset(seed=4 + i)[0] for i, r in enumerate(raw)]))
    lives, score, steps = np.full(2, 5), np.zeros(2), np.zeros(2, dtype=int)
    games = np.zeros(2, dtype=int)
    for actions in random_actions(env, 3000, seed=5):
        step, finished = env.step(actions), []
        for i, r in enumerate(raw):
            obs, reward, term, trunc, info = r.step(actions[i:i + 1])
            ended = bool(term[0] or trunc[0])
            lost = info["lives"][0] < lives[i] and not ended
            hidden = 0.0
            for action in (0, 1, 2) if lost else ():
                obs, more, term, trunc, info = r.step(np.array([action]))
                hidden += float(more[0])
                if term[0] or trunc[0]:
                    ended = True
                    break
            np.testing.assert_array_equal(step.obs[i], obs[0])
            assert step.reward[i] == reward[0] + (0.0 if life_loss_terminal else hidden)
            assert step.done[i] == (ended or (lost and life_loss_terminal))
            score[i] += reward[0] + hidden
            steps[i] += 1
            lives[i] = info["lives"][0]
            if ended:
                finished.append(("Breakout", score[i], steps[i]))
                score[i], steps[i], games[i] = 0.0, 0, games[i] + 1
        assert [(e.game, e.score, e.length) for e in step.episodes] == finished
        if (games >= 1).all():
            break
    assert (games >= 1).all(), "random Breakout games under zoo end within 3000 steps"
    env.close()
    for r in raw:
        r.close()


class ScriptedEmulators:
    """Stands in for the zoo protocol's SoloEmulators: each step of env ``i`` returns the next
    row of ``script[i]``, (reward, terminated, truncated, lives), and as its observation the
    number of actions env ``i`` has played; :attr:`played` records them."""

    def __init__(self, script: list[list[tuple[float, bool, bool, int]]]) -> None:
        self.script, self.played = script, [[] for _ in script]
        self.ale = self

    @staticmethod
    def get_action_set() -> list[Action]:
        return [Action.NOOP, Action.FIRE, Action.RIGHT, Action.LEFT]  # Breakout's

    def reset(self, seed: int) -> tuple[Any, ...]:
        return np.zeros(len(self.script)), {"lives": np.full(len(self.script), 3)}

    def send(self, actions: np.ndarray) -> None:
        self._actions = actions

    def recv(self) -> tuple[Any, ...]:
        return self._steps(range(len(self.script)), self._actions)

    def step_some(self, indices: np.ndarray, action: int) -> tuple[Any, ...]:
        return self._steps(indices, [action] * len(indices))

    def _steps(self, indices: Any, actions: Any) -> tuple[Any, ...]:
        rows = []
        for i, action in zip(indices, actions, strict=True):
            self.played[i].append(int(action))
            rows.append(self.script[i][len(self.played[i]) - 1])
        reward, terminated, truncated, lives = (np.array(c) for c in zip(*rows, strict=True))
        obs = np.array([len(self.played[i]) for i in indices], dtype=float)
        return obs, reward, terminated, truncated, {"lives": lives}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("life_loss_terminal", [True, False])
def test_zoo_life_loss_bookkeeping(life_loss_terminal: bool) -> None:
    """Env 0 loses a life: NOOP, FIRE, 2 (rewards 1 + 0 + 2) in its score only. Env 1 loses one
    and its NOOP ends the game: the rest is not played, the episode ends there. Env 2 loses one
    and another during its NOOP: absorbed, not reported; then its game ends on an agent step."""
    go, over, cut = (False, False), (True, False), (False, True)  # terminated, truncated
    script = [[(0, *go, 2), (1, *go, 2), (0, *go, 2), (2, *go, 2), (5, *go, 2), (0, *go, 2)],
              [(1, *go, 3), (0, *go, 2), (4, *cut, 3), (0, *go, 3)],
              [(0, *go, 2), (0, *go, 1), (0, *go, 1), (0, *go, 1), (0, *go, 1), (7, *over, 3)]]
    emulators = ScriptedEmulators(script)

    class Scripted(ZooGameEnv):
        @staticmethod
        def _emulators(rom: str, num_envs: int, **options: Any) -> ScriptedEmulators:
            return emulators

    env = Scripted("Breakout", 3, seed=0, sticky_actions=0.0, life_loss_terminal=life_loss_terminal,
                   frame_stack=4, frameskip=4, noop_max=30, threads=0, max_episode_frames=10_000,
                   full_action_space=False)
    env.reset()
    steps = [env.step(np.array([3, 3, 3])) for _ in range(3)]
    assert emulators.played == [[3, 0, 1, 2, 3, 3], [3, 3, 0, 3], [3, 0, 1, 2, 3, 3]]
    assert steps[0].obs.tolist() == [4, 1, 4] and steps[1].obs.tolist() == [5, 3, 5]
    if life_loss_terminal:  # the learner's reward: the agent's steps only
        assert [s.reward.tolist() for s in steps] == [[0, 1, 0], [5, 0, 0], [0, 0, 7]]
        assert [s.done.tolist() for s in steps] == [[True, False, True], [False, True, False],
                                                   [False, False, True]]
    else:  # the hidden steps happen within the agent's step
        assert [s.reward.tolist() for s in steps] == [[3, 1, 0], [5, 4, 0], [0, 0, 7]]
        assert [s.done.tolist() for s in steps] == [[False] * 3, [False, True, False],
                                                   [False, False, True]]
    assert [s.episodes for s in steps] == [[], [Episode("Breakout", 5.0, 2)],
                                           [Episode("Breakout", 7.0, 3)]]


def test_zoo_presses_fire_only_where_the_action_set_has_it() -> None:
    with make_vector_env("MsPacman", 1, seed=0, **ZOO) as ms_pacman:
        assert ms_pacman.life_loss_actions == (0,)
    with make_vector_env("Breakout+MsPacman", 1, seed=0, **ZOO) as multi:
        # the full action set (multi-game) has FIRE in every game
        assert [g.life_loss_actions for g in multi.game_envs] == [(0, 1, 2)] * 2


def test_gymnasium_envs_ignore_the_protocol() -> None:
    runs = []
    for protocol in PROTOCOLS:
        with make_vector_env("CartPole-v1", 2, seed=0, protocol=protocol,
                             sticky_actions=0.0) as env:
            runs.append(rollout(env, random_actions(env, 50), seed=0))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.done, b.done)


# ------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("game", ["Breakout", "CartPole-v1"])  # multi-game: see the routing test
def test_same_seed_same_run_other_seed_other_run(game: str) -> None:
    with make_vector_env(game, 2, seed=3, **FAST) as env:
        actions = random_actions(env, 80)
        first = rollout(env, actions, seed=3)
        again = rollout(env, actions, seed=3)
        other = rollout(env, actions, seed=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.done, b.done)
    assert any((a.obs != c.obs).any() for a, c in zip(first, other, strict=True))


# ---------------------------------------------------------------------------- multi-game
def test_multi_game_spec_routing_and_episode_labels() -> None:
    """N envs of each game in one batch behave exactly like each game on its own."""
    # Ms. Pac-Man plays the same intro whatever the seed: 200 steps let the seeds matter.
    kw: dict[str, Any] = {"max_episode_frames": 800, "noop_max": 3, **FAST}
    multi = make_vector_env("Breakout+MsPacman", 2, seed=7, **kw)
    spec = multi.spec
    assert spec.games == ("Breakout", "MsPacman") and spec.num_envs == 4 and spec.is_atari
    assert spec.num_actions == 18 and spec.action_meanings == (FULL_SET, FULL_SET)
    assert spec.game_ids.tolist() == [0, 0, 1, 1] and spec.obs_shape == (4, 84, 84)
    actions = random_actions(multi, 200)
    both = rollout(multi, actions, seed=7)
    singles = [make_vector_env(g, 2, seed=0, full_action_space=True, **kw)
               for g in ("Breakout", "MsPacman")]
    parts = [rollout(singles[0], actions[:, :2], seed=7),
             rollout(singles[1], actions[:, 2:], seed=1007)]
    for t in range(200):
        np.testing.assert_array_equal(both[t].obs, np.concatenate([p[t].obs for p in parts]))
        np.testing.assert_array_equal(both[t].reward,
                                      np.concatenate([p[t].reward for p in parts]))
        np.testing.assert_array_equal(both[t].done, np.concatenate([p[t].done for p in parts]))
        assert both[t].episodes == parts[0][t].episodes + parts[1][t].episodes
    assert both[0].obs.shape == (4, 4, 84, 84) and both[0].obs.dtype == np.uint8
    assert [e.game for e in both[199].episodes][-2:] == ["MsPacman"] * 2  # truncated
    assert {e.game for r in both for e in r.episodes} == {"Breakout", "MsPacman"}
    with pytest.raises(ValueError, match=r"\[0, 18\)"):
        multi.step(np.array([0, 0, 0, 18]))
    for env in [multi, *singles]:
        env.close()


# ------------------------------------------------------------------------------ CartPole
def test_cartpole_episode_score_is_its_length() -> None:
    push_left = np.zeros(2, dtype=np.int64)  # the pole falls within a few dozen steps
    with make_vector_env("CartPole-v1", 2, seed=0) as env:
        env.reset()
        results = [env.step(push_left)]
        while not results[-1].done.any() and len(results) < 100:
            results.append(env.step(push_left))
    last, length = results[-1], len(results)
    assert all(r.reward.tolist() == [1.0, 1.0] for r in results)
    assert not any(r.episodes for r in results[:-1])
    assert [(e.game, e.score, e.length) for e in last.episodes] == [
        ("CartPole-v1", float(length), length)] * int(last.done.sum())
    assert np.abs(last.obs[last.done]).max() <= 0.05  # already the next episode's start


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("game", "kwargs", "message"), [
    ("Pong2", {}, "unknown game 'Pong2': choose Breakout, MsPacman, Breakout\\+MsPacman"),
    ("ALE/Pong-v5", {}, "unknown game"),
    ("Breakout+CartPole-v1", {}, "combines Atari games"),
    ("Breakout+breakout", {}, "names a game twice"),
    ("Breakout", {"num_envs": 0}, "num_envs must be an integer >= 1, got 0"),
    ("Breakout", {"sticky_actions": 1.5}, r"sticky_actions must be a probability in \[0, 1\]"),
    ("Breakout", {"sticky_actions": -0.1}, "sticky_actions"),
    ("Breakout", {"frame_stack": 0}, "frame_stack must be an integer >= 1, got 0"),
    ("Breakout", {"frameskip": 2.5}, "frameskip must be an integer >= 1, got 2.5"),
    ("Breakout", {"noop_max": -1}, "noop_max must be an integer >= 0"),
    ("Breakout", {"threads": -2}, "threads must be an integer >= 0"),
    ("Breakout", {"max_episode_frames": 3}, "max_episode_frames must be an integer >= 4"),
    ("Breakout", {"seed": -1}, r"seed must be an integer in \[0, 2\*\*30\)"),
    ("Breakout", {"life_loss_terminal": "yes"}, "life_loss_terminal must be True or False"),
    ("CartPole-v1", {"sticky_actions": 2.0}, "sticky_actions"),
    ("Pendulum-v1", {}, "needs discrete actions"),
    ("Breakout", {"protocol": "v6"}, "protocol must be one of v5, zoo, got 'v6'"),
    ("Breakout", {"protocol": "zoo"}, "protocol zoo has no sticky actions: sticky_actions must "
                                      "be 0, got 0.25"),
])
def test_bad_input_raises_a_clear_value_error(game: str, kwargs: dict[str, Any],
                                              message: str) -> None:
    kwargs = {"num_envs": 2, "seed": 0, **FAST, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_vector_env(game, **kwargs)


@pytest.mark.parametrize(("actions", "message"), [
    (np.zeros(3, dtype=np.int64), r"shape \(2,\)"),
    (np.zeros(2, dtype=np.float32), "integer array"),
    (np.array([0, 4]), r"\[0, 4\) for Breakout"),
    (np.array([-1, 0]), r"\[0, 4\)"),
])
def test_bad_actions_raise_a_clear_value_error(breakout: VectorEnv, actions: np.ndarray,
                                               message: str) -> None:
    with pytest.raises(ValueError, match=message):
        breakout.step(actions)


def test_cartpole_state_round_trips_for_an_exact_resume():
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(60, 3))
    original = make_vector_env("CartPole-v1", 3, seed=5)
    original.reset()
    for a in actions[:25]:
        original.step(a)
    restored = make_vector_env("CartPole-v1", 3, seed=99)
    restored.reset()
    restored.load_state_dict(original.state_dict())
    for a in actions[25:]:
        x, y = original.step(a), restored.step(a)
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.done, y.done)
        assert x.episodes == y.episodes


def test_atari_state_cannot_be_saved():
    env = make_vector_env("Breakout", 1, seed=0, threads=1)
    assert env.state_dict() is None
    with pytest.raises(ValueError, match="cannot restore"):
        env.load_state_dict({})
    env.close()


def test_minatar_breakout_is_a_flat_gymnasium_env_that_resumes_by_reseeding():
    env = make_vector_env("minatar/breakout-v1", 2, seed=0)
    assert env.spec.games == ("MinAtar/Breakout-v1",)
    assert env.spec.obs_shape == (400,) and env.spec.num_actions == 3 and not env.spec.is_atari
    obs = env.reset()
    assert obs.shape == (2, 400) and obs.dtype == np.float32
    assert set(np.unique(obs)) <= {0.0, 1.0} and obs.sum() > 0  # 4 channels of 10x10 cells
    assert env.state_dict() is None  # MinAtar does not expose its game state
    env.close()
