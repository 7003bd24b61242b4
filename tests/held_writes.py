"""``python tests/held_writes.py ARGS``: ``python -m rl_auxgrad.train ARGS`` with every checkpoint
write held open for 0.2 s after its temporary file is written and before the rename, so that
tests/test_faults.py can SIGKILL a run inside a checkpoint write, not only by luck."""

import runpy
import time

from rl_auxgrad import checkpoint

_write = checkpoint.save_file


def _held_write(*args, **kwargs) -> None:
    _write(*args, **kwargs)
    time.sleep(0.2)


checkpoint.save_file = _held_write
runpy.run_module("rl_auxgrad.train", run_name="__main__", alter_sys=True)
