"""The event protocol between the engine and whoever watches it (the TUI, `ladder watch`, tests).

The engine writes one flat JSON object per line, to `RUN_DIR/events.jsonl` and, when it runs as
`ladder engine …`, to stdout. Commands come back as JSON lines on stdin: {"cmd": "stop"},
{"cmd": "pause"}, {"cmd": "resume"}.

Every event type is declared here once, as a dataclass; the engine's writers build these and the
app's state reader gets them back from JSON (`parse_event`), so a field added on one side exists
on the other. Every event has `type`, `t` (unix seconds, set by the sink) and `run`. Fields a
writer does not know stay None; readers ignore unknown keys (an older app reading a newer run).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO

from engine.errors import LadderError


@dataclass(kw_only=True)
class Event:
    """Fields every event has."""

    type: ClassVar[str] = ""
    t: float = 0.0
    run: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the event: `type` first, then every field."""
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass(kw_only=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    kind: str = ""  # train / ttrl / solve / eval / variants
    config: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    device: str | None = None
    dtype: str | None = None  # train / ttrl: the trainer's weights, "float32" or "bfloat16" (it sets step times)
    total_steps: int | None = None
    backend: str | None = None  # train: hf / trl
    pool: int | None = None  # variants in the training pool
    resumed_from: int | None = None
    processes: int | None = None
    problems: int | None = None
    adapter: str | None = None


@dataclass(kw_only=True)
class Phase(Event):
    """What the engine is busy with between steps (building the tree, loading, generating, ...)."""

    type: ClassVar[str] = "phase"
    phase: str = ""  # tree / load / convert / generate / verify / update / eval
    detail: str = ""
    done: int | None = None
    total: int | None = None


@dataclass(kw_only=True)
class VariantAdded(Event):
    type: ClassVar[str] = "variant"
    id: str = ""
    parent: str | None = None
    depth: int = 0
    kind: str = ""  # root / easier / equivalent
    source: str = ""  # llm / symbolic / user
    integrand: str = ""


@dataclass(kw_only=True)
class Rollout(Event):
    """One scored completion of a training or TTRL step."""

    type: ClassVar[str] = "rollout"
    variant: str | None = None
    integrand: str = ""
    step: int = 0
    completion: str = ""
    answer: str | None = None
    reward: float = 0.0
    ok: bool = False
    reason: str = ""
    advantage: float | None = None  # None where the trainer does not expose it (TRL)
    problem: str | None = None  # TTRL: the test problem being trained on


@dataclass(kw_only=True)
class Step(Event):
    """One optimizer step (or one dropped step whose groups all had equal rewards)."""

    type: ClassVar[str] = "step"
    step: int = 0
    reward_mean: float | None = None
    reward_std: float | None = None
    accuracy: float | None = None
    kl: float | None = None
    loss: float | None = None
    tokens_per_s: float | None = None
    seconds: float | None = None
    gen_s: float | None = None
    verify_s: float | None = None
    train_s: float | None = None
    opt_s: float | None = None
    groups: int | None = None  # groups drawn
    skipped: int | None = None  # groups dropped because every completion had the same reward
    updated: bool | None = None
    verified: int | None = None  # completions the verifier accepted
    verified_trained: int | None = None  # of those, the ones in groups the update used
    signal_groups: int | None = None  # groups holding both a verified and a failed completion
    drawn: int | None = None  # groups drawn, resampled ones included
    distinct: int | None = None  # distinct completions among those trained on (each runs once)
    rollout_tokens_per_s: float | None = None
    logp_gap: float | None = None  # mean |log p_rollout - log p_train| per token (llama.cpp rollouts)
    is_weight: float | None = None  # mean truncated importance weight
    is_capped: float | None = None  # share of tokens whose weight hit the cap
    grad_norm: float | None = None
    entropy: float | None = None
    problem: str | None = None  # TTRL: the test problem being trained on


@dataclass(kw_only=True)
class Eval(Event):
    type: ClassVar[str] = "eval"
    set: str = ""
    step: int | None = None
    greedy_accuracy: float | None = None
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    k: int | None = None


@dataclass(kw_only=True)
class Solved(Event):
    """TTRL: a verified answer to the test problem itself appeared."""

    type: ClassVar[str] = "solved"
    problem: str = ""
    integrand: str = ""
    answer: str | None = None
    step: int = 0


@dataclass(kw_only=True)
class Token(Event):
    """Streamed generation for the solve screen."""

    type: ClassVar[str] = "token"
    sample: int = 0
    text: str = ""


@dataclass(kw_only=True)
class Sample(Event):
    """One verified answer of `ladder solve`."""

    type: ClassVar[str] = "sample"
    integrand: str = ""
    index: int = 0
    completion: str = ""
    answer: str | None = None
    ok: bool = False
    reason: str = ""
    seconds: float | None = None
    tokens: int | None = None


@dataclass(kw_only=True)
class Checkpoint(Event):
    type: ClassVar[str] = "checkpoint"
    step: int = 0
    path: str = ""


@dataclass(kw_only=True)
class Log(Event):
    type: ClassVar[str] = "log"
    level: str = "info"  # info / warning / solved
    message: str = ""


@dataclass(kw_only=True)
class Error(Event):
    type: ClassVar[str] = "error"
    message: str = ""


@dataclass(kw_only=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    status: str = "done"  # done / stopped / error
    steps: int | None = None
    checkpoint: str | None = None
    reward_mean: float | None = None
    accuracy: float | None = None
    solved: int | None = None  # TTRL
    problems: int | None = None  # TTRL
    variants: int | None = None  # ladder variants
    per_level: dict[str, int] | None = None  # ladder variants


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (RunStarted, Phase, VariantAdded, Rollout, Step, Eval, Solved, Token, Sample,
                              Checkpoint, Log, Error, RunFinished)
}


def parse_event(data: Mapping[str, Any]) -> Event | None:
    """The typed event of one decoded JSON line; None for a type this version does not know."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


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

    def emit(self, event: Event, *, persist: bool = True) -> Event:
        """Stamp `event` with the time and this sink's run, write it as one line, and return it.
        `persist=False` sends it to the stream only (token-by-token text is not worth keeping)."""
        event.t = round(time.time(), 3)
        event.run = self.run
        line = json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            for out in (self._file if persist else None, self.stream):
                if out is not None:
                    out.write(line)
                    out.flush()
        return event

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(level=level, message=message))

    @contextmanager
    def running(self) -> Iterator[EventSink]:
        """The body of a run: a LadderError or OSError (a full disk, a folder that went away)
        raised inside becomes `error` and `run_finished` events where they can still be written
        (so a watcher learns why the run ended) before it propagates; the file is closed at the
        end either way."""
        try:
            yield self
        except (LadderError, OSError) as e:
            with suppress(OSError):  # a full disk may be what failed: the error still propagates
                self.emit(Error(message=str(e)))
                self.emit(RunFinished(status="error"))
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
