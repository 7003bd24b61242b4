"""Checkpoints round-trip nested training state, atomically and without pickle."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from rl_auxgrad.checkpoint import load_state, save_state


def test_model_optimizer_and_rng_state_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(3)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
             "generator": gen.get_state(), "step": 7, "shape": (1, 2), "name": None}
    save_state(tmp_path / "ckpt.safetensors", state)
    loaded = load_state(tmp_path / "ckpt.safetensors")
    assert loaded["step"] == 7 and loaded["shape"] == (1, 2) and loaded["name"] is None
    restored = torch.optim.Adam(model.parameters())
    restored.load_state_dict(loaded["optimizer"])  # int keys of the optimizer state survive
    assert restored.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded["model"][key], value)
    assert torch.equal(loaded["generator"], gen.get_state())


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save_state(path, {"step": 1})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a kill in the middle of writing

    monkeypatch.setattr("rl_auxgrad.checkpoint.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_state(path, {"step": 2})
    assert load_state(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left


def test_a_checkpoint_gets_the_mode_of_any_new_file(tmp_path):
    umask = os.umask(0o027)
    try:
        save_state(tmp_path / "ckpt.safetensors", {"step": 1})
    finally:
        os.umask(umask)
    assert (tmp_path / "ckpt.safetensors").stat().st_mode & 0o777 == 0o640


def test_foreign_files_are_refused_with_a_message(tmp_path):
    plain = tmp_path / "weights.safetensors"
    save_file({"w": torch.ones(1)}, plain)
    with pytest.raises(ValueError, match="not an rl_auxgrad checkpoint"):
        load_state(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        load_state(junk)
