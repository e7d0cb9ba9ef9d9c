"""Run directories: where a run keeps its config, events, variant tree and checkpoints.

    runs/<name>/
      config.json          the Config of the run (engine/runs/config.py)
      events.jsonl         every event, one JSON object a line (engine/runs/events.py)
      tree.jsonl           the variant tree, one node a line
      checkpoints/step-N/  adapter + optimizer + RNG + step state, written whole or not at all
      adapter.gguf         the LoRA adapter for llama.cpp
      report.md

Nothing is ever half-written: single files go to a temporary name and are renamed; a checkpoint
is written into `step-N.tmp/`, gets a `manifest.json` (every file and its size) and is renamed once
complete, so a SIGKILL at any moment leaves either the previous checkpoint or the new one. A write
that fails (a full disk) leaves the previous checkpoint as it was and ends the run with a LadderError.

One engine at a time writes a run: `RunDir.create(..., lock=True)` and `RunDir.open(..., write=True)`
take `RUN_DIR/lock` with `fcntl.flock` and write the holder's pid, process start time and command
into it. The kernel drops a flock when its process dies, so a lock left by a killed engine is free
and is taken over; a second live engine is refused with a one-line error naming the holder.
Readers (watch, the runs list, export) never take it; `writer(run)` tells them whether the
process that last held it is still alive. Opening for writing also repairs what a kill can leave:
an events.jsonl ending in a half-written line gets a newline (the fragment stays, readers skip it,
and new events start on a line of their own) and a newest checkpoint that is not complete is moved
aside to `step-N.incomplete/`; each repair becomes a warning (stderr and a `log` event).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: the pid check alone guards the run there
    fcntl = None  # type: ignore[assignment]

from engine.errors import LadderError
from engine.runs.config import Config
from engine.runs.events import EventSink
from engine.runs.files import atomic_write, atomic_write_json
from engine.runs.lock import RunLock

MANIFEST = "manifest.json"


def torn_tail(events_path: Path) -> int:
    """The length of the half-written line at the end of an events.jsonl (0 if it ends cleanly)."""
    try:
        with open(events_path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            if size == 0:
                return 0
            back = min(size, 1 << 20)
            f.seek(size - back)
            tail = f.read()
    except OSError:
        return 0
    if tail.endswith(b"\n"):
        return 0
    cut = tail.rfind(b"\n")
    return len(tail) - cut - 1 if cut >= 0 else len(tail)


def _checkpoint_complete(folder: Path) -> str | None:
    """None if the checkpoint folder is whole, else what is wrong with it."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return f"its {MANIFEST} is unreadable"
        for name, size in files.items():
            p = folder / name
            if not p.is_file():
                return f"{name} is missing"
            if p.stat().st_size != size:
                return f"{name} has {p.stat().st_size} bytes instead of {size}"
        return None
    # Checkpoints written before manifests: whole if they hold a trainer state file.
    if (folder / "state.json").is_file() or (folder / "trainer_state.json").is_file():
        return None
    return "it has no manifest.json and no state file"


def inspect_run(run_path: str | Path) -> list[str]:
    """What a reader should warn about in a run directory (read only): a torn last event line
    and incomplete checkpoints."""
    run = RunDir(Path(run_path))
    warnings = []
    torn = torn_tail(run.events_path)
    if torn:
        warnings.append(f"events.jsonl ends in a half-written line ({torn} bytes, from a kill during a write?); "
                        "it is skipped and every event before it is kept")
    for step, folder, problem in run._checkpoints(with_incomplete=True):
        if problem:
            warnings.append(f"checkpoint {folder.name} is incomplete ({problem}); --resume goes on from the one before")
    return warnings


class RunDir:
    """One run's folder; create it with `RunDir.create` or open it with `RunDir.open`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock: RunLock | None = None
        self.warnings: list[str] = []  # what opening for writing found and repaired

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def tree_path(self) -> Path:
        return self.path / "tree.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @classmethod
    def create(cls, path: str | Path, config: Config, *, lock: bool = False) -> "RunDir":
        """Make a new run directory; refuses one that already holds a run. An engine that will
        write the run's events and checkpoints passes `lock=True` (see the module docstring)."""
        run = cls(Path(path))
        if (run.path / "config.json").exists():
            raise LadderError(f"{run.path} already holds a run: use --resume, or another --out")
        run.path.mkdir(parents=True, exist_ok=True)
        if lock:
            run._take_lock()
            if (run.path / "config.json").exists():  # another engine made it just now
                run.release()
                raise LadderError(f"{run.path} already holds a run: use --resume, or another --out")
        atomic_write_json(run.path / "config.json", config.to_dict())
        return run

    @classmethod
    def open(cls, path: str | Path, *, write: bool = False) -> "RunDir":
        """Open an existing run; `write=True` (an engine resuming it) takes the lock and repairs
        what a kill left behind, keeping a warning for each repair in `warnings`."""
        run = cls(Path(path))
        if not (run.path / "config.json").is_file():
            raise LadderError(f"{run.path} is not a run directory (no config.json)")
        if write:
            run._take_lock()
            run._repair()
        return run

    def _take_lock(self) -> None:
        self.lock = RunLock.acquire(self.path)
        dead = self.lock.previous
        if dead is not None and not dead.alive():
            self._warn(f"took over the lock of {self.path.name} left by a process that is gone ({dead.describe()})")

    def release(self) -> None:
        """Give up the lock (a process that ends gives it up anyway)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"ladder: warning: {message}", file=sys.stderr)

    def _repair(self) -> None:
        """Make a run killed mid-write safe to append to (see the module docstring)."""
        torn = torn_tail(self.events_path)
        if torn:
            with open(self.events_path, "rb+") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 4))
                # drop the bytes of a character cut in half, so the file stays valid UTF-8
                f.truncate(size - _cut_character(f.read()))
                f.seek(0, 2)
                f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
            self._warn(f"events.jsonl ended in a half-written line ({torn} bytes, from a kill during a write); "
                       "it is kept but skipped, and new events start on a new line")
        for step, folder, problem in self._checkpoints(with_incomplete=True):
            if problem:
                aside = folder.with_name(f"{folder.name}.incomplete")
                if aside.exists():
                    shutil.rmtree(aside)
                os.replace(folder, aside)
                self._warn(f"checkpoint {folder.name} was incomplete ({problem}); moved to {aside.name}/, "
                           "training goes on from the checkpoint before it")

    def config(self) -> Config:
        return Config.from_dict(json.loads((self.path / "config.json").read_text()))

    def sink(self, stream=None) -> EventSink:
        """An event sink appending to this run's events.jsonl (and to `stream` if given); the
        warnings of opening the run come first, as `log` events."""
        sink = EventSink(run=self.name, path=self.events_path, stream=stream)
        for message in self.warnings:
            sink.log(message, level="warning")
        return sink

    def write_tree(self, nodes: list[dict[str, Any]]) -> None:
        atomic_write(self.tree_path, "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in nodes))

    def read_tree(self) -> list[dict[str, Any]]:
        if not self.tree_path.exists():
            return []
        return [json.loads(line) for line in self.tree_path.read_text().splitlines() if line.strip()]

    @contextmanager
    def new_checkpoint(self, step: int) -> Iterator[Path]:
        """Yield a temporary folder to fill; on success it gets a manifest and becomes
        checkpoints/step-N atomically. If writing fails (a full disk), the temporary folder is
        removed, the checkpoints already there are untouched, and a LadderError says so."""
        final = self.checkpoints / f"step-{step}"
        tmp = self.checkpoints / f"step-{step}.tmp"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        except OSError as e:
            raise self._checkpoint_error(step, e) from e
        try:
            yield tmp
            files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
            atomic_write_json(tmp / MANIFEST, {"step": step, "files": files})
            _fsync_dir(tmp)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise self._checkpoint_error(step, e) from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = final.with_name(f"{final.name}.old")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(self.checkpoints)
        shutil.rmtree(old, ignore_errors=True)

    def _checkpoint_error(self, step: int, e: OSError) -> LadderError:
        why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
        previous = self.latest_checkpoint()
        kept = f"{previous.name} is intact" if previous is not None else "no earlier checkpoint exists"
        return LadderError(f"cannot write checkpoint step-{step} in {self.checkpoints}: {why}; {kept}; "
                           f"free space, then `ladder train --resume {self.path}`")

    def _checkpoints(self, with_incomplete: bool = False) -> list[tuple[int, Path, str | None]]:
        """(step, folder, what is wrong or None) for every checkpoints/step-N folder, by step."""
        if not self.checkpoints.is_dir():
            return []
        found = []
        for p in self.checkpoints.glob("step-*"):
            m = re.fullmatch(r"step-(\d+)", p.name)
            if m and p.is_dir():
                found.append((int(m.group(1)), p, _checkpoint_complete(p) if with_incomplete else None))
        return sorted(found)

    def latest_checkpoint(self) -> Path | None:
        """The complete checkpoint with the highest step, or None (incomplete ones are passed over)."""
        for _step, folder, problem in reversed(self._checkpoints(with_incomplete=True)):
            if problem is None:
                return folder
        return None


def _cut_character(end: bytes) -> int:
    """How many bytes at the end of `end` are the start of a UTF-8 character cut in half."""
    i = len(end) - 1
    while i >= 0 and end[i] & 0xC0 == 0x80:
        i -= 1
    if i < 0:
        return 0
    lead = end[i]
    need = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    have = len(end) - i
    return have if have < need else 0


def _fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
