"""Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM (``kill``, a batch scheduler).

The first signal only raises a flag: the training loop finishes the current update, writes a
checkpoint and raises :class:`Interrupted`, whose message says how to resume. A second signal
stops at once (exit status 128 + signal number) with one line and no traceback, leaving the
last checkpoint as it was.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint; ``exit_code`` is 128 + signal."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StopRequest:
    """While entered, in the main thread, SIGINT and SIGTERM set :attr:`signum` instead of
    interrupting; the previous handlers come back on exit. Elsewhere (an experiment's worker
    thread, where Python cannot install handlers) it does nothing."""

    def __init__(self, on_second: str) -> None:
        self.signum: int | None = None
        self.on_second = on_second
        """The line printed when a second signal stops at once."""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            return
        for s in SIGNALS:  # nothing may interrupt the unwinding with a traceback
            signal.signal(s, signal.SIG_IGN)
        print(f"error: {signal.Signals(signum).name} again: {self.on_second}", file=sys.stderr,
              flush=True)
        raise SystemExit(128 + signum)
