"""Starting and SIGKILLing whole process sessions (a driver, its Ray raylet and workers), for the
kill -9 tests."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def _kill_session(proc: subprocess.Popen) -> None:
    for pid in _session_pids(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _kill_when(cmd: list[str], condition, timeout: float = 120.0) -> None:
    """Starts `cmd`, SIGKILLs its whole session the moment `condition()` holds; asserts it did."""
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            assert proc.poll() is None, "the run finished before the kill point was reached"
            assert time.monotonic() < deadline, "kill point not reached in time"
            time.sleep(0.005)
    finally:
        _kill_session(proc)
