"""What a run looks like so far, built by applying its events one by one (no Textual here).

Events arrive as decoded JSON objects and are read through the engine's own event types
(engine.runs.events.parse_event), so the state sees exactly the fields the engine writes.

The dashboard applies a whole frame's worth of events, then asks the returned `Changes` which
widgets need redrawing, so a burst of hundreds of rollouts costs one redraw, not hundreds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.runs.events import (
    Checkpoint,
    Error,
    Eval,
    Event,
    Log,
    Phase,
    Rollout,
    RunFinished,
    RunStarted,
    Solved,
    Step,
    VariantAdded,
    parse_event,
)

_CONTROL = {c: "�" for c in range(32) if chr(c) not in "\n\t"} | {127: "�"}


def printable(text: object) -> str:
    """Model text with control characters replaced, so it cannot upset the terminal."""
    return str(text).translate(_CONTROL)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


ROLLOUTS_PER_VARIANT = 20  # shown when a tree node is selected
RECENT_ROLLOUTS = 200  # rows kept for the verification log
LOG_LINES = 200


@dataclass
class Variant:
    """One node of the variant tree and how the model does on it."""

    id: str
    parent: str | None
    depth: int
    kind: str
    source: str
    integrand: str
    attempts: int = 0
    solved: int = 0
    rollouts: deque[Rollout] = field(default_factory=lambda: deque(maxlen=ROLLOUTS_PER_VARIANT))

    @property
    def rate(self) -> float | None:
        return self.solved / self.attempts if self.attempts else None


@dataclass
class Changes:
    """What one batch of events changed."""

    header: bool = False
    new_variants: list[Variant] = field(default_factory=list)
    touched_variants: set[str] = field(default_factory=set)
    new_rollouts: int = 0
    steps: bool = False
    logs: list[Log] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    phase: bool = False
    finished: bool = False

    def __bool__(self) -> bool:
        return bool(self.header or self.new_variants or self.touched_variants or self.new_rollouts
                    or self.steps or self.logs or self.errors or self.phase or self.finished)


@dataclass(frozen=True)
class Throughput:
    """How fast a run turns compute into training signal (see RunState.throughput)."""

    verified_per_hour: float | None  # verified completions per hour of the run's wall clock
    signal_share: float | None  # share of drawn groups holding both a verified and a failed answer, 0..1
    tokens_per_s: float | None  # the last step's rollout tokens/s (TRL: its whole step's tokens/s)


@dataclass
class RunState:
    """Everything the dashboard shows about one run."""

    run: str = ""
    kind: str = ""
    model: str = ""
    device: str = ""
    total_steps: int | None = None
    started_t: float | None = None
    last_t: float | None = None
    step: int = 0
    status: str = "waiting"  # waiting, running, paused, done, stopped, error
    steps: list[Step] = field(default_factory=list)
    evals: list[Eval] = field(default_factory=list)
    solved: list[Solved] = field(default_factory=list)
    variants: dict[str, Variant] = field(default_factory=dict)
    recent: deque[Rollout] = field(default_factory=lambda: deque(maxlen=RECENT_ROLLOUTS))
    logs: deque[Log] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    phase: Phase | None = None  # what the engine is doing now, until the next step
    errors: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    rollout_count: int = 0
    verified: int | None = None  # verified completions over the steps that report them
    signal_groups: int = 0  # drawn groups with both a verified and a failed answer, over all steps
    drawn: int = 0  # groups drawn, over the steps that report signal_groups and drawn
    earlier_sessions_s: float = 0.0  # wall time of the sessions before the latest run_started

    @property
    def elapsed(self) -> float:
        """Seconds from the latest run_started to the latest event (event time, so replays read the
        same); for a resumed run, the current session only."""
        if self.started_t is None or self.last_t is None:
            return 0.0
        return max(0.0, self.last_t - self.started_t)

    @property
    def wall_seconds(self) -> float:
        """Seconds the run has been running, over all its sessions.

        Each run_started opens a session, which lasts until the last event before the next
        run_started (or until the latest event, for the current one); the wall time is the sum of
        the sessions, so the gap while a stopped or crashed run waited to be resumed does not
        count. Time spent paused inside a session does count."""
        return self.earlier_sessions_s + self.elapsed

    @property
    def throughput(self) -> Throughput:
        """Verified answers per hour: the verified completions of every step event, over
        `wall_seconds` in hours. Signal share: sum(signal_groups) / sum(drawn) over the steps.
        Tokens/s: the last step's rollout tokens/s, or where a step has none (TRL, which does not
        time its generation apart) its whole step's tokens/s. Steps that a resumed run does again (those after its
        last checkpoint) count twice, as their time does: the work was done twice. Each figure is
        None until the steps report it (a TRL step reports none of them) or, for the rate, while
        no wall time has passed."""
        hours = self.wall_seconds / 3600
        return Throughput(
            verified_per_hour=self.verified / hours if self.verified is not None and hours > 0 else None,
            signal_share=self.signal_groups / self.drawn if self.drawn else None,
            tokens_per_s=_first(self.steps[-1].rollout_tokens_per_s, self.steps[-1].tokens_per_s) if self.steps else None,
        )

    @property
    def eta(self) -> float | None:
        if not self.total_steps or not self.step or self.status not in ("running", "paused"):
            return None
        return self.elapsed / self.step * max(0, self.total_steps - self.step)

    def apply_all(self, events: Iterable[Event | Mapping[str, Any]]) -> Changes:
        """Fold events (typed, or decoded JSON objects) into the state; unknown types are skipped."""
        changes = Changes()
        for event in events:
            typed = event if isinstance(event, Event) else parse_event(event)
            if typed is not None:
                self.apply(typed, changes)
        return changes

    def apply(self, event: Event, changes: Changes) -> None:
        """Fold one event into the state, noting what changed."""
        if isinstance(event, RunStarted) and event.t and self.started_t is not None and self.last_t is not None:
            # A resumed run: the session before it ended with its last event.
            self.earlier_sessions_s += max(0.0, self.last_t - self.started_t)
            self.started_t = None
        if event.t:
            self.last_t = event.t
            if self.started_t is None:
                self.started_t = event.t
            changes.header = True
        match event:
            case RunStarted():
                self.run = event.run or self.run
                self.kind = event.kind
                self.model = event.model or ""
                self.device = event.device or ""
                self.total_steps = event.total_steps or self.total_steps
                self.started_t = event.t or self.started_t
                self.status = "running"
            case VariantAdded():
                if event.id not in self.variants:
                    variant = Variant(id=event.id, parent=event.parent, depth=event.depth, kind=event.kind,
                                      source=event.source, integrand=event.integrand)
                    self.variants[event.id] = variant
                    changes.new_variants.append(variant)
            case Rollout():
                self.rollout_count += 1
                self.recent.append(event)
                changes.new_rollouts += 1
                variant = self.variants.get(str(event.variant))
                if variant is not None:
                    variant.attempts += 1
                    variant.solved += bool(event.ok)
                    variant.rollouts.append(event)
                    changes.touched_variants.add(variant.id)
            case Step():
                self.steps.append(event)
                self.step = event.step or len(self.steps)
                if event.verified is not None:
                    self.verified = (self.verified or 0) + event.verified
                if event.signal_groups is not None and event.drawn is not None:
                    self.signal_groups += event.signal_groups
                    self.drawn += event.drawn
                self.phase = None
                changes.steps = changes.phase = True
            case Phase():
                self.phase = event
                changes.phase = True
            case Eval():
                self.evals.append(event)
                changes.steps = True
            case Solved():
                self.solved.append(event)
                changes.logs.append(Log(t=event.t, run=event.run, level="solved",
                                        message=f"solved {event.problem}: {event.answer}"))
            case Checkpoint():
                self.checkpoints.append(event.path)
                changes.logs.append(Log(t=event.t, run=event.run, level="info",
                                        message=f"checkpoint at step {event.step}: {event.path}"))
            case Log():
                self.logs.append(event)
                changes.logs.append(event)
                if event.message in ("paused", "resumed"):
                    self.status = "paused" if event.message == "paused" else "running"
            case Error():
                message = event.message or "unknown error"
                self.errors.append(message)
                changes.errors.append(message)
            case RunFinished():
                self.status = event.status or "done"
                self.phase = None
                changes.finished = True
