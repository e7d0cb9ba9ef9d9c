"""The event protocol between the engine and whoever watches it (the TUI, `ladder watch`, tests).

The engine writes one flat JSON object per line, to `RUN_DIR/events.jsonl` and, when it runs as
`ladder engine …`, to stdout. Every event has `type`, `t` (unix seconds) and `run`. Commands come
back as JSON lines on stdin: {"cmd": "stop"}, {"cmd": "pause"}, {"cmd": "resume"}.

Event types and their fields (keep them flat; extend freely, readers ignore unknown fields):
  run_started  kind (train/ttrl/solve/eval/variants), config, model, device, total_steps
  variant      id, parent, depth, kind (easier/equivalent/root), source (llm/symbolic/user), integrand
  rollout      variant, step, completion, answer, reward, ok, reason
  step         step, reward_mean, reward_std, accuracy, kl, loss, tokens_per_s, seconds,
               plus the time split gen_s, verify_s, train_s
  eval         set, step, greedy_accuracy, pass@1, pass@k, k
  solved       problem, answer, step
  token        sample, text (streamed generation for the solve screen)
  sample       integrand, index, completion, answer, ok, reason, seconds, tokens
  checkpoint   step, path
  log          level, message
  error        message
  run_finished status (done/stopped/error), plus a summary
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from engine.errors import LadderError

EVENT_TYPES = frozenset({
    "run_started", "variant", "rollout", "step", "eval", "solved", "token", "sample",
    "checkpoint", "log", "error", "run_finished",
})


class EventSink:
    """Writes events to an events.jsonl file and/or a stream, one flushed line each.

    Appending whole lines with one write and a flush means a SIGKILL can at worst leave one
    truncated last line, which `read_events` skips.
    """

    def __init__(self, run: str = "", path: Path | None = None, stream: TextIO | None = None):
        self.run = run
        self.path = path
        self.stream = stream
        self._file = open(path, "a", encoding="utf-8") if path is not None else None
        self._lock = threading.Lock()

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Write one event and return it."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = {"type": type, "t": round(time.time(), 3), "run": self.run, **fields}
        line = json.dumps(event, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            for out in (self._file, self.stream):
                if out is not None:
                    out.write(line)
                    out.flush()
        return event

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", level=level, message=message)

    @contextmanager
    def running(self) -> Iterator[EventSink]:
        """The body of a run: a LadderError raised inside becomes `error` and `run_finished`
        events (so a watcher learns why the run ended) before it propagates; the file is closed
        at the end either way."""
        try:
            yield self
        except LadderError as e:
            self.emit("error", message=str(e))
            self.emit("run_finished", status="error")
            raise
        finally:
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def null_sink() -> EventSink:
    """A sink that discards everything (library use, tests)."""
    return EventSink()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the events of an events.jsonl file, skipping a torn last line and garbled lines (a
    kill mid-write leaves a fragment, possibly cut inside a character, that the next writer ends
    with a newline); every whole event before and after the damage is kept."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                return
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                yield event


class Control:
    """Stop/pause requests for a running procedure, fed from stdin commands or set directly.

    Training loops call `checkpoint()` between steps: it blocks while paused and returns True
    when the run should stop (after writing its checkpoint).
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def checkpoint(self) -> bool:
        """Wait while paused; return True if a stop was requested."""
        self._running.wait()
        return self._stop.is_set()

    def listen(self, stream: TextIO = sys.stdin) -> threading.Thread:
        """Read JSON commands from `stream` in a daemon thread; EOF on stdin changes nothing."""

        def loop() -> None:
            for line in stream:
                try:
                    cmd = json.loads(line).get("cmd")
                except (json.JSONDecodeError, AttributeError):
                    continue
                {"stop": self.stop, "pause": self.pause, "resume": self.resume}.get(cmd, lambda: None)()

        thread = threading.Thread(target=loop, name="ladder-commands", daemon=True)
        thread.start()
        return thread
