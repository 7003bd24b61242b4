"""Move observation batches to the learner's device through one reused (pinned) host buffer."""

from __future__ import annotations

import numpy as np
import torch


class ObsToDevice:
    """``obs_to_device(obs)``: a numpy batch as a new tensor on ``device``, same dtype.

    On CUDA the batch is copied into a host buffer allocated once (page-locked) and sent with
    ``non_blocking=True``; the buffer is reused only after that copy finished (a CUDA event), so
    earlier results stay valid. On CPU the result is a plain copy (never a view of ``obs``).
    ``channels_last=True`` returns 4-D batches (N, C, H, W) in channels-last memory format.
    """

    def __init__(self, device: torch.device | str, *, channels_last: bool = False) -> None:
        self.device = torch.device(device)
        self.channels_last = channels_last
        self._cuda = self.device.type == "cuda" and torch.cuda.is_available()
        self._host: torch.Tensor | None = None
        self._copied: torch.cuda.Event | None = None

    def __call__(self, obs: np.ndarray) -> torch.Tensor:
        source = torch.from_numpy(np.ascontiguousarray(obs))
        if self.channels_last and source.ndim != 4:
            raise ValueError(f"channels_last needs 4-D (N, C, H, W) observations, got shape "
                             f"{tuple(source.shape)}: pass channels_last=False")
        if not self._cuda:
            out = source.to(self.device, copy=True)
        else:
            if self._host is None or self._host.shape != source.shape or (
                    self._host.dtype != source.dtype):
                self._host = torch.empty(source.shape, dtype=source.dtype, pin_memory=True)
                self._copied = torch.cuda.Event()
            else:
                self._copied.synchronize()  # the previous copy has left the buffer
            self._host.copy_(source)
            out = self._host.to(self.device, non_blocking=True)
            self._copied.record()
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out
