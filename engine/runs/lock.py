"""The writer's lock of a run directory: one engine at a time writes a run.

`RUN_DIR/lock` is taken with `fcntl.flock` and holds the writer's pid, process start time and
command. The kernel drops a flock when its process dies, so a lock left by a killed engine is free
and is taken over; a second live engine is refused with a one-line error naming the holder.
Readers never take it; `writer(run)` tells them whether the last holder is still alive.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: the pid check alone guards the run there
    fcntl = None  # type: ignore[assignment]

from engine.errors import LadderError
from engine.runs.files import atomic_write

LOCK_FILE = "lock"


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, Linux), or None where unknown.
    With the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass
class Holder:
    """Who holds (or last held) a run's lock, as written in RUN_DIR/lock."""

    pid: int
    start: str | None = None
    host: str = ""
    command: str = ""
    since: float = 0.0

    def alive(self) -> bool:
        """True while that very process runs (same pid and start time); a holder on another
        machine (a shared folder) counts as alive, since it cannot be checked from here."""
        if self.host and self.host != socket.gethostname():
            return True
        if not _pid_alive(self.pid):
            return False
        start = _process_start(self.pid)
        return self.start is None or start is None or start == self.start

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since)) if self.since else "?"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        command = f" `{self.command}`" if self.command else ""
        return f"pid {self.pid}{where}{command}, since {since}"


def _my_record() -> dict[str, Any]:
    command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))
    return {"pid": os.getpid(), "start": _process_start(os.getpid()), "host": socket.gethostname(),
            "command": command[:200], "since": round(time.time(), 3)}


def read_holder(run_path: str | Path) -> Holder | None:
    """The holder recorded in RUN_DIR/lock, or None (no lock file, released, or unreadable)."""
    try:
        data = json.loads((Path(run_path) / LOCK_FILE).read_text() or "null")
        return Holder(pid=int(data["pid"]), start=data.get("start"), host=str(data.get("host") or ""),
                      command=str(data.get("command") or ""), since=float(data.get("since") or 0.0))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def writer(run_path: str | Path) -> tuple[Holder | None, bool]:
    """(the recorded holder, whether it is still running) for a reader such as the runs list."""
    holder = read_holder(run_path)
    return holder, bool(holder and holder.alive())


class RunLock:
    """This process's exclusive right to write one run directory (see the module docstring)."""

    _held: dict[Path, RunLock] = {}  # per process; a second open of a run this process holds reuses it

    def __init__(self, path: Path, fd: int | None, previous: Holder | None):
        self.path = path
        self.fd = fd
        self.previous = previous  # a dead holder whose lock this one took over

    @classmethod
    def acquire(cls, run_path: str | Path) -> RunLock:
        run_path = Path(run_path)
        key = run_path.resolve()
        if key in cls._held:
            return cls._held[key]
        run_path.mkdir(parents=True, exist_ok=True)
        path = run_path / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            flocked = False
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    flocked = True
                except BlockingIOError:
                    raise cls._busy(run_path, read_holder(run_path)) from None
                except OSError:  # a file system without flock: rely on the pid check below
                    pass
            previous = read_holder(run_path)
            if not flocked and previous is not None and previous.pid != os.getpid() and previous.alive():
                raise cls._busy(run_path, previous)
            record = (json.dumps(_my_record()) + "\n").encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        dead = previous if previous is not None and previous.pid != os.getpid() else None
        lock = cls(path, fd, dead)
        cls._held[key] = lock
        return lock

    @staticmethod
    def _busy(run_path: Path, holder: Holder | None) -> LadderError:
        who = holder.describe() if holder else "a process that left no record"
        return LadderError(f"{run_path} is being written by another engine ({who}): "
                           "stop that one first, or wait for it to finish")

    def release(self) -> None:
        """Give the run up (the process's exit does the same): the record is cleared first."""
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
        RunLock._held.pop(self.path.parent.resolve(), None)


def record_writer(run_path: str | Path) -> None:
    """Write this process as the run's writer without locking it: for the app, whose solve
    sessions are written by an engine child that ends with the app (readers then know whose
    death means the session stopped). An engine that takes the lock later replaces the record."""
    atomic_write(Path(run_path) / LOCK_FILE, json.dumps(_my_record()) + "\n")
