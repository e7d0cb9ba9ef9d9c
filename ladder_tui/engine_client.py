"""The UI's only links to the engine: a child process speaking JSON lines, or a run's events.jsonl.

`EngineProcess` starts `python -m engine.commands engine SUBCOMMAND …` with asyncio (never a thread or a
fork inside the Textual process), hands every event line to a callback, and sends stop/pause/resume
commands on stdin. If the child dies (non-zero exit) without saying `run_finished`, the callback
gets a synthetic `error` event carrying the tail of its stderr, so the UI can show what happened
and carry on; a clean exit without `run_finished` counts as a finished run.

`follow_events` reads an events.jsonl from the start and, if asked, keeps following it as a live
headless run appends to it (`ladder watch`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]
EventCallback = Callable[[Event], None]

STDERR_TAIL_LINES = 20  # kept to explain a crash
LINE_LIMIT = 1 << 24  # a completion may be long; asyncio's 64 KiB default would break the stream
REPLAY_CHUNK = 100  # events parsed between yields to the event loop, so key presses stay fast
FOLLOW_POLL_S = 0.25


def default_engine_cmd() -> list[str]:
    """`ladder engine` through this interpreter, so it works from a venv without PATH set up."""
    return [sys.executable, "-m", "engine.commands", "engine"]


def engine_argv(subcommand: str, *args: str, engine_cmd: list[str] | None = None) -> list[str]:
    """The command line of an engine child running `ladder engine SUBCOMMAND ARGS…`."""
    return [*(engine_cmd or default_engine_cmd()), subcommand, *args]


class EngineProcess:
    """One engine child process; `run()` returns its exit code once it has ended."""

    def __init__(self, argv: list[str], on_event: EventCallback, cwd: str | Path | None = None):
        self.argv = argv
        self.on_event = on_event
        self.cwd = cwd
        self.returncode: int | None = None
        self.finished = False  # saw run_finished
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self.returncode is None

    async def run(self) -> int:
        """Start the child, stream its events until it exits, and report a crash as an event."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=env, limit=LINE_LIMIT,
            )
        except OSError as e:
            self.returncode = -1
            self.on_event({"type": "error", "t": time.time(), "message": f"cannot start the engine: {e}"})
            return -1
        await asyncio.gather(self._read_stdout(), self._read_stderr())
        self.returncode = await self._proc.wait()
        if not self.finished and self.returncode == 0:
            # Some commands (solve) just end; a clean exit is a finished run.
            self.on_event({"type": "run_finished", "t": time.time(), "status": "done"})
        elif not self.finished:
            # The last stderr line is usually the one that explains it ("ladder: error: …").
            last = self.stderr_tail[-1] if self.stderr_tail else "no output on stderr"
            tail = "\n".join(list(self.stderr_tail)[:-1])
            self.on_event({
                "type": "error", "t": time.time(),
                "message": f"engine exited with code {self.returncode}: {last}" + (f"\n{tail}" if tail else ""),
            })
            self.on_event({"type": "run_finished", "t": time.time(), "status": "error"})
        return self.returncode

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if not isinstance(event, dict) or "type" not in event:
                # Stray prints from libraries end up here rather than breaking the stream.
                event = {"type": "log", "t": time.time(), "level": "stdout", "message": line}
            if event["type"] == "run_finished":
                self.finished = True
            self.on_event(event)

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        async for raw in self._proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)

    async def send(self, cmd: str) -> bool:
        """Send {"cmd": cmd} on the child's stdin; False if it is gone."""
        if not self.running or self._proc is None or self._proc.stdin is None:
            return False
        try:
            self._proc.stdin.write((json.dumps({"cmd": cmd}) + "\n").encode())
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def kill(self) -> None:
        """End the child at once (app exit); a graceful stop goes through `send("stop")`."""
        if self.running and self._proc is not None:
            try:
                self._proc.kill()
            except ProcessLookupError:
                pass


async def follow_events(
    path: Path, on_batch: Callable[[list[Event]], None], follow: bool = True,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Feed the events of `path` to `on_batch` in chunks; with `follow`, keep reading new lines
    until a `run_finished` arrives or `should_stop()` says so."""
    pending = ""
    offset = 0
    last_type = ""
    while not should_stop():
        try:
            with open(path, encoding="utf-8") as f:
                f.seek(offset)
                data = f.read(1 << 20)
                offset = f.tell()
        except FileNotFoundError:
            data = ""
        if not data:
            # A resumed run appends after its earlier run_finished, so only stop at the end of file.
            if not follow or last_type == "run_finished":
                return
            await asyncio.sleep(FOLLOW_POLL_S)
            continue
        pending += data
        lines = pending.split("\n")
        pending = lines.pop()  # a torn last line waits for its end
        for start in range(0, len(lines), REPLAY_CHUNK):
            batch = []
            for line in lines[start:start + REPLAY_CHUNK]:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and "type" in event:
                    batch.append(event)
            if batch:
                last_type = batch[-1]["type"]
                on_batch(batch)
            await asyncio.sleep(0)
