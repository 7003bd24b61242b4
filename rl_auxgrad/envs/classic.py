"""Gymnasium environments with vector observations (classic control, e.g. CartPole-v1)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from .core import EnvSpec, EpisodeTracker, StepResult, VectorEnv, check_actions, check_seed


class ClassicEnv(VectorEnv):
    """``num_envs`` copies of a gymnasium env in one process (sync), autoreset on the same step.

    Observations are returned as flat float32 vectors (a MinAtar game's 10x10xC boolean
    channels become 100 C inputs); the env must have a discrete action space.
    """

    def __init__(self, env_id: str, num_envs: int, *, seed: int) -> None:
        same_step = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        try:
            probe = gym.make(env_id)
        except gym.error.Error as error:  # e.g. DependencyNotInstalled: Box2D for LunarLander
            raise ValueError(f"{env_id} cannot be made here: "
                             f"{str(error).strip().splitlines()[0]}") from None
        shape = probe.observation_space.shape or ()
        probe.close()
        flatten = [gym.wrappers.FlattenObservation] if len(shape) > 1 else None
        self._env = gym.make_vec(env_id, num_envs, vectorization_mode="sync",
                                 vector_kwargs=same_step, wrappers=flatten)
        action_space, obs_space = self._env.single_action_space, self._env.single_observation_space
        if not isinstance(action_space, gym.spaces.Discrete) or not isinstance(
                obs_space, gym.spaces.Box):
            self._env.close()
            raise ValueError(f"{env_id} has actions {action_space} and observations {obs_space}: "
                             "rl_auxgrad needs discrete actions and Box observations "
                             "(e.g. CartPole-v1, Acrobot-v1)")
        game_ids = np.zeros(num_envs, dtype=np.int64)
        game_ids.flags.writeable = False
        self.spec = EnvSpec(games=(env_id,), obs_shape=tuple(obs_space.shape),
                            obs_dtype=torch.float32, num_actions=int(action_space.n),
                            action_meanings=(), num_envs=num_envs, game_ids=game_ids,
                            is_atari=False)
        self.seed = seed
        self._tracker = EpisodeTracker(self.spec.games, game_ids)
        self._started = False

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every env; env ``i`` is seeded with ``seed + i``."""
        obs, _ = self._env.reset(seed=check_seed(self.seed if seed is None else seed))
        self._tracker.reset()
        self._started = True
        return obs.astype(np.float32, copy=False)

    def step(self, actions: np.ndarray) -> StepResult:
        if not self._started:
            raise RuntimeError("call reset(seed) before step(actions)")
        obs, reward, terminated, truncated, _ = self._env.step(check_actions(actions, self.spec))
        done = terminated | truncated
        reward = reward.astype(np.float32)
        return StepResult(obs.astype(np.float32, copy=False), reward, done,
                          self._tracker.update(reward, done))

    def close(self) -> None:
        self._env.close()

    def state_dict(self) -> dict[str, Any] | None:
        """Physical state, RNG, time-limit counter and running episode of each env, for the
        classic-control envs (they keep their state in ``unwrapped.state``); None for envs
        that do not expose theirs (MinAtar): a resumed run re-seeds them, as for Atari."""
        if not all(hasattr(env.unwrapped, "state") for env in self._env.envs):
            return None
        envs = []
        for env in self._env.envs:
            core = env.unwrapped
            state = np.asarray(core.state)
            envs.append({"state": state.tolist(), "dtype": str(state.dtype),
                         "steps_beyond_terminated": getattr(core, "steps_beyond_terminated", None),
                         "elapsed_steps": _time_limit(env)._elapsed_steps,
                         "rng": core.np_random.bit_generator.state})
        return {"envs": envs, "score": self._tracker.score.tolist(),
                "length": self._tracker.length.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not self._started or len(state["envs"]) != self.spec.num_envs:
            raise ValueError(f"restore needs a reset env with {len(state['envs'])} copies")
        for env, saved in zip(self._env.envs, state["envs"], strict=True):
            core = env.unwrapped
            core.state = np.array(saved["state"], dtype=saved["dtype"])
            if hasattr(core, "steps_beyond_terminated"):
                core.steps_beyond_terminated = saved["steps_beyond_terminated"]
            _time_limit(env)._elapsed_steps = saved["elapsed_steps"]
            core.np_random.bit_generator.state = saved["rng"]
        self._tracker.score[:] = state["score"]
        self._tracker.length[:] = state["length"]


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit:
    while not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env  # type: ignore[attr-defined]
    return env
