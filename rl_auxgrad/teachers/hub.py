"""Teachers from the Hugging Face Hub: ``hf://ORG/REPO[/FILE.zip][@REVISION]``.

The RL Zoo publishes its agents as ``sb3/<algo>-<EnvId>`` repositories holding
``<algo>-<EnvId>.zip`` (``hf://sb3/ppo-BreakoutNoFrameskip-v4``). The file is fetched with
``huggingface_hub.hf_hub_download`` into the Hub's normal cache and read by the pickle-free
loader of :mod:`.sb3`; the game is the one the repository's name says (``<algo>-<EnvId>``).

``huggingface_hub`` reads ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` once, when it is imported.
They are read again here at each download and passed on as ``cache_dir`` and
``local_files_only``, so a process that sets them later (a test, a sweep) gets what it set.
Offline, or without a network, a file already in the cache is used; any other file is an error
naming the repository and the cache.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from rl_auxgrad.envs import EnvSpec, canonical_game

from .base import Teacher, TeacherError
from .sb3 import load_sb3

PREFIX = "hf://"
_PART = r"[A-Za-z0-9][\w.-]*"


@dataclass(frozen=True)
class HubFile:
    """One file of a model repository on the Hub, at a revision (None: the default branch)."""

    repo: str
    filename: str
    revision: str | None

    def url(self) -> str:
        default = self.filename == f"{self.repo.split('/')[1]}.zip"
        return (f"{PREFIX}{self.repo}{'' if default else '/' + self.filename}"
                f"{'' if self.revision is None else '@' + self.revision}")


def is_hub_path(path: str | Path) -> bool:
    """Whether ``path`` names a Hub teacher (``hf://...``)."""
    return isinstance(path, str) and path.startswith(PREFIX)


def parse(path: str) -> HubFile:
    """``hf://ORG/REPO[/FILE.zip][@REVISION]`` as a :class:`HubFile`; FILE defaults to
    ``REPO.zip``, the RL Zoo's naming. TeacherError for anything else."""
    body, at, revision = path.removeprefix(PREFIX).partition("@")
    parts = body.split("/")
    filename = "/".join(parts[2:]) or (f"{parts[1]}.zip" if len(parts) > 1 else "")
    if (not path.startswith(PREFIX) or len(parts) < 2
            or not all(re.fullmatch(_PART, p) for p in parts) or (at and not revision)):
        raise TeacherError(f"teacher {path!r} is not a Hub teacher: write "
                           "hf://ORG/REPO[/FILE.zip][@REVISION], e.g. "
                           "hf://sb3/ppo-BreakoutNoFrameskip-v4")
    if not filename.endswith(".zip"):
        raise TeacherError(f"teacher {path}: {filename} is not a .zip; a Hub teacher is a "
                           "Stable-Baselines3 zip (hf://ORG/REPO/FILE.zip)")
    return HubFile("/".join(parts[:2]), filename, revision or None)


def game_of(file: HubFile) -> str | None:
    """The game the repository's name says (``sb3/ppo-BreakoutNoFrameskip-v4``: Breakout), or
    None when it names none. TeacherError for an environment id this framework does not play."""
    env_id = file.repo.split("/")[1].partition("-")[2]
    try:
        return canonical_game(env_id)
    except ValueError:
        if re.fullmatch(r"[\w/]+-v\d+", env_id):
            raise TeacherError(f"teacher {file.url()} plays {env_id}, which this framework "
                               "does not have: choose a teacher for the run's game") from None
        return None


def cache_dir() -> Path:
    """The Hub cache: ``$HF_HUB_CACHE`` as set now, else ``huggingface_hub``'s own default
    (``$HF_HOME/hub``, ``~/.cache/huggingface/hub``)."""
    return Path(os.path.expanduser(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE))


def offline() -> bool:
    """Whether ``$HF_HUB_OFFLINE`` is set (read now, not when ``huggingface_hub`` was imported)."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is None:
        return constants.HF_HUB_OFFLINE
    return value.upper() in constants.ENV_VARS_TRUE_VALUES


def download(file: HubFile) -> tuple[Path, str]:
    """The local path of ``file`` in the Hub cache, downloaded unless it is there, and the
    commit it was resolved to. TeacherError, one line naming the repository, if it cannot be."""
    cache, url = cache_dir(), file.url()
    try:
        with _quiet():  # its retries without a network would print 11 lines before ours
            local = Path(hf_hub_download(file.repo, file.filename, revision=file.revision,
                                         cache_dir=cache, local_files_only=offline()))
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline() else "the Hub cannot be reached"
        raise TeacherError(f"teacher {url}: {file.filename} of {file.repo} is not in the "
                           f"Hugging Face cache {cache} and {why}: download it once with a "
                           "network, or set HF_HUB_CACHE to a cache that has it") from None
    except RevisionNotFoundError:
        raise TeacherError(f"teacher {url}: {file.repo} has no revision {file.revision!r} "
                           "on the Hub") from None
    except RepositoryNotFoundError:
        raise TeacherError(f"teacher {url}: no model repository {file.repo} on the Hub (a "
                           "private or gated one needs `hf auth login`)") from None
    except EntryNotFoundError:
        raise TeacherError(f"teacher {url}: {file.repo} has no file {file.filename}: name "
                           f"the zip, hf://{file.repo}/FILE.zip") from None
    except (HfHubHTTPError, OSError) as error:
        raise TeacherError(f"teacher {url}: downloading from {file.repo} into {cache} failed "
                           f"({(str(error).strip() or type(error).__name__).splitlines()[0]})"
                           ) from None
    # hf_hub_download returns cache/models--ORG--REPO/snapshots/<commit>/<filename>.
    return local, local.parents[len(Path(file.filename).parts) - 1].name


@contextmanager
def _quiet() -> Iterator[None]:
    """``huggingface_hub``'s warnings off (errors stay on), for the time of the block."""
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


def load_hub(path: str, spec: EnvSpec, device: torch.device, *,
             q_temperature: float = 1.0) -> Teacher:
    """The SB3 teacher at the Hub address ``path``, checked against ``spec``; its
    :attr:`~.base.Teacher.hub` records the repository, resolved commit and file."""
    file = parse(path)
    game = game_of(file)
    local, commit = download(file)
    teacher = load_sb3(local, spec, device, q_temperature=q_temperature, game=game, name=path)
    teacher.hub = {"repo": file.repo, "revision": commit, "filename": file.filename}
    return teacher


def pinned(hub: dict[str, str]) -> str:
    """The address of the exact file a run's teacher record names (its ``hub`` entry)."""
    return HubFile(hub["repo"], hub["filename"], hub["revision"]).url()
