"""Checkpoints: one safetensors file, written atomically, never pickled.

A training state is a nested structure of dicts, lists, tensors and JSON values (model and
optimizer state dicts, gate state, RNG states, counters). :func:`save_state` stores every
tensor in a safetensors file and the rest of the structure, with references to the tensors,
as JSON in the file's metadata. It writes to a temporary file in the same directory, fsyncs
it and renames it over the target, so a kill at any moment leaves the previous checkpoint
whole. :func:`load_state` reads it back without unpickling anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

_STATE_KEY = "rl_auxgrad.state"


def save_state(path: str | Path, state: Any, header: dict[str, str] | None = None) -> None:
    """Writes ``state`` to ``path`` atomically (temporary file, fsync, rename); ``header``
    adds string fields to the file's metadata, readable without loading the tensors."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, tensors)
    save_tensors(path, tensors, {**(header or {}), _STATE_KEY: json.dumps(skeleton)})


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> None:
    """Writes a safetensors file atomically (temporary file, fsync, rename), readable like any
    new file (0666 less the umask; a temporary file alone would be 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Reads a state written by :func:`save_state`; raises ValueError if it is not one."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise  # the caller says which file was expected
    except Exception as error:  # safetensors raises its own error types for bad files
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({error})") from None
    if _STATE_KEY not in metadata:
        raise ValueError(f"{path} is a safetensors file but not an rl_auxgrad checkpoint")
    return _unflatten(json.loads(metadata[_STATE_KEY]), tensors)


def _flatten(value: Any, tensors: dict[str, torch.Tensor], prefix: str = "s") -> Any:
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(value, dict):
        return {"__dict__": [[key, _flatten(item, tensors, f"{prefix}.{i}")]
                             for i, (key, item) in enumerate(value.items())]}
    if isinstance(value, (list, tuple)):
        items = [_flatten(item, tensors, f"{prefix}.{i}") for i, item in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot checkpoint a value of type {type(value).__name__} at {prefix}")


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__tuple__" in value:
            return tuple(_unflatten(item, tensors) for item in value["__tuple__"])
        return {key: _unflatten(item, tensors) for key, item in value["__dict__"]}
    if isinstance(value, list):
        return [_unflatten(item, tensors) for item in value]
    return value
