"""Killing a kmc-ald command mid-way, the way a crash or kill -9 would, at a chosen moment."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable


def kill_when(arguments: list, ready: Callable[[], bool], timeout: float = 120.0,
              poll: float = 0.05) -> None:
    """Start ``kmc-ald <arguments>`` (its own process group) and SIGKILL the group as soon as
    ``ready()`` is true; ``ready`` raising counts as not yet (the file is being written). Fails
    if the command ended first, or ``ready`` never came within ``timeout`` [s]."""
    proc = subprocess.Popen([sys.executable, "-m", "kmc_ald.cli", *map(str, arguments)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if ready():
                    break
            except Exception:  # noqa: BLE001 - not ready yet
                pass
            time.sleep(poll)
        assert proc.poll() is None, "the command ended before it could be killed"
        assert time.monotonic() < deadline, "the moment to kill never came"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
