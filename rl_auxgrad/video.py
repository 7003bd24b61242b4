"""Videos of an agent: the first episode it plays, on the game's own screen (the ALE's 210x160
RGB, a gymnasium env's render; not the 84x84 network input), at the game's own speed.

:class:`Film` plays the episode and yields its frames; :func:`save` streams them to an mp4
(imageio with the ffmpeg binary that imageio-ffmpeg bundles) or a GIF (imageio's Pillow plugin);
:func:`training_video` is the training loop's hook (``video_every``): an mp4 in the run
directory and the same frames as an animated GIF image summary for tensorboard.

Tensorboard shows videos as animated GIFs in its Images tab; ``SummaryWriter.add_video`` writes
exactly such a summary but needs moviepy to encode the GIF. We encode it with imageio and write
the same summary (:meth:`~rl_auxgrad.run_logger.RunLogger.video`): no moviepy, works offline.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import torch

from rl_auxgrad.agents.device import ObsToDevice
from rl_auxgrad.config import ConfigError, TrainConfig
from rl_auxgrad.envs import EnvSpec, make_vector_env
from rl_auxgrad.envs.screen import screens
from rl_auxgrad.policy import Policy, choose_actions

MAX_FRAMES = 3000
"""Default cap on a video's frames (200 s of Atari at 15 fps, 60 s of CartPole at 50 fps): an
mp4 of it is a few MB, a GIF (held in memory until written) a few hundred."""
TRAINING_FRAMES = 1000
"""Cap on the frames of a training video (its GIF summary stays in the events file)."""
TENSORBOARD_SIDE = 320
"""Tensorboard's GIF is subsampled by an integer stride until its longer side is at most this
(CartPole's 400x600 render becomes 200x300; Atari's 210x160 screen stays whole)."""
VIDEO_SEED = 12345
"""Seed of the training videos' episode (every video starts the same game, apart from the
training seeds), as ``python -m rl_auxgrad.evaluate``'s default."""
SUFFIXES = (".mp4", ".gif")


class Film:
    """The first episode of each game of ``game``, played by the policy ``make_policy(spec)``
    builds, as frames of the game's own screen; iterate once.

    The policy plays the scoring env of :func:`~rl_auxgrad.evaluate.score` with one env per game
    (same seed, sticky actions, protocol and preprocessing: 84x84 gray, frame stack, no-op
    starts, no life-loss ends), so it sees exactly what it sees when scored; a twin env per game
    (:mod:`rl_auxgrad.envs.screen`) replays its actions and renders. Frames: the first screen,
    then one per agent step up to the episode's end, at most ``max_frames``. Several games
    (Breakout+MsPacman) play side by side in one frame; a game that ended shows its last frame
    until the others end. Sampled actions use a generator of their own, seeded with ``seed``.
    """

    def __init__(self, game: str, make_policy: Callable[[EnvSpec], Policy], *, seed: int,
                 sticky_actions: float, deterministic: bool, max_frames: int = MAX_FRAMES,
                 full_action_space: bool = False, device: torch.device | str = "cpu",
                 frame_stack: int = 4, frameskip: int = 4, noop_max: int = 30,
                 protocol: str = "v5") -> None:
        if max_frames < 1:
            raise ConfigError(f"the video's frame cap must be >= 1, got {max_frames}")
        self._env = make_vector_env(game, 1, seed=seed, sticky_actions=sticky_actions,
                                    life_loss_terminal=False, full_action_space=full_action_space,
                                    frame_stack=frame_stack, frameskip=frameskip,
                                    noop_max=noop_max, protocol=protocol)
        try:
            self._twins = screens(self._env)
            self._policy = make_policy(self._env.spec)
        except BaseException:
            self.close()
            raise
        self.fps = self._twins[0].screen.fps
        self.seed, self.deterministic, self.max_frames = seed, deterministic, max_frames
        self.device = torch.device(device)

    def __iter__(self) -> Iterator[np.ndarray]:
        twins, seed = self._twins, self.seed
        frames = [t.screen.reset(seed + t.seed_offset) for t in twins]
        obs = self._env.reset(seed)
        to_device = ObsToDevice(self.device)
        game_ids = torch.tensor(self._env.spec.game_ids, device=self.device)
        generator = torch.Generator().manual_seed(seed)
        ended = [False] * len(twins)
        yield np.concatenate(frames, axis=1)
        with torch.no_grad():
            for _ in range(self.max_frames - 1):
                if all(ended):
                    return
                logits = self._policy(to_device(obs), game_ids)
                actions = choose_actions(logits, self.deterministic, generator).cpu().numpy()
                step = self._env.step(actions)
                for k, twin in enumerate(twins):
                    if not ended[k]:
                        frames[k] = twin.screen.step(int(actions[twin.index]))
                        ended[k] = bool(step.done[twin.index])
                obs = step.obs
                yield np.concatenate(frames, axis=1)

    def close(self) -> None:
        for twin in getattr(self, "_twins", []):
            twin.screen.close()
        self._env.close()

    def __enter__(self) -> Film:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def check_filmable(game: str) -> None:
    """ValueError naming ``game`` unless it can be filmed (checked before a run with
    ``video_every`` starts)."""
    with make_vector_env(game, 1, seed=0) as env:
        for twin in screens(env):
            twin.screen.close()


def check_output(path: Path) -> None:
    """ConfigError unless ``path`` ends in .mp4 or .gif and can be written (its folder exists
    and is writable; it is not a folder): checked before anything is played."""
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"cannot write a video to {path}: name an .mp4 or .gif file")
    folder = path.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        why = "is a folder" if path.is_dir() else f"folder {folder} does not exist" \
            if not folder.is_dir() else f"folder {folder} is not writable"
        raise ConfigError(f"cannot write a video to {path}: {why}")


def save(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Writes ``frames`` ((H, W, 3) uint8, one size) to ``path``, an mp4 (H.264, streamed to
    ffmpeg) or a GIF (by its suffix), to play at ``fps``; returns how many were written."""
    check_output(path)
    if path.suffix.lower() == ".gif":
        kept = list(frames)
        iio.imwrite(path, np.stack(kept), extension=".gif", duration=_gif_ms(fps), loop=0)
        return len(kept)
    # macro_block_size=1 keeps the screen's size (16 would scale 210x160 to 224x160); H.264
    # with yuv420p needs even sides, which ALE screens and gymnasium renders have.
    count = 0
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264",
                            macro_block_size=1, ffmpeg_log_level="error") as writer:
        for frame in frames:
            writer.append_data(frame)
            count += 1
    return count


def gif_bytes(frames: list[np.ndarray], fps: float) -> bytes:
    """``frames`` as an animated GIF (looping) in memory."""
    out = io.BytesIO()
    iio.imwrite(out, np.stack(frames), extension=".gif", duration=_gif_ms(fps), loop=0)
    return out.getvalue()


def _gif_ms(fps: float) -> int:
    """A GIF frame's duration: whole hundredths of a second (the format's unit), at least 2
    (browsers slow shorter frames down to 10): 15 fps plays at 14.3, 50 fps at 50."""
    return max(20, 10 * round(100 / fps))


def training_video(config: TrainConfig, agent: torch.nn.Module, device: torch.device,
                   path: Path) -> tuple[bytes, tuple[int, int]]:
    """Films ``agent`` (the learner's network, as it is now; actions sampled) in a fresh env of
    the run's game with the run's env settings from :data:`VIDEO_SEED`, writes the mp4 to
    ``path`` and returns the frames as a GIF for tensorboard with its (height, width). Nothing
    of training is touched: its own envs and generator, no gradients, the network's mode
    kept."""
    e = config.env
    kept: list[np.ndarray] = []

    def policy(spec: EnvSpec) -> Policy:
        return lambda obs, games: agent(obs, games).logits

    with Film(e.id, policy, seed=VIDEO_SEED, sticky_actions=e.sticky_actions,
              deterministic=False, max_frames=TRAINING_FRAMES, device=device,
              frame_stack=e.frame_stack, frameskip=e.frameskip, noop_max=e.noop_max,
              full_action_space=e.full_action_space, protocol=e.protocol) as film:
        save(path, _keeping(film, kept), film.fps)
        gif = gif_bytes(kept, film.fps)
    return gif, kept[0].shape[:2]


def _keeping(frames: Iterable[np.ndarray], kept: list[np.ndarray]) -> Iterator[np.ndarray]:
    """``frames`` unchanged, keeping a copy of each in ``kept`` subsampled to
    :data:`TENSORBOARD_SIDE`."""
    for frame in frames:
        stride = -(-max(frame.shape[:2]) // TENSORBOARD_SIDE)
        kept.append(frame[::stride, ::stride].copy())
        yield frame
