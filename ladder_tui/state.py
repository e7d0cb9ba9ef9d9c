"""What a run looks like so far, built by applying its events one by one (no Textual here).

The dashboard applies a whole frame's worth of events, then asks the returned `Changes` which
widgets need redrawing, so a burst of hundreds of rollouts costs one redraw, not hundreds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]

_CONTROL = {c: "�" for c in range(32) if chr(c) not in "\n\t"} | {127: "�"}


def printable(text: object) -> str:
    """Model text with control characters replaced, so it cannot upset the terminal."""
    return str(text).translate(_CONTROL)


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
    rollouts: deque[Event] = field(default_factory=lambda: deque(maxlen=ROLLOUTS_PER_VARIANT))

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
    logs: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: bool = False

    def __bool__(self) -> bool:
        return bool(self.header or self.new_variants or self.touched_variants or self.new_rollouts
                    or self.steps or self.logs or self.errors or self.finished)


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
    steps: list[Event] = field(default_factory=list)
    evals: list[Event] = field(default_factory=list)
    solved: list[Event] = field(default_factory=list)
    variants: dict[str, Variant] = field(default_factory=dict)
    recent: deque[Event] = field(default_factory=lambda: deque(maxlen=RECENT_ROLLOUTS))
    logs: deque[Event] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    errors: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    rollout_count: int = 0

    @property
    def elapsed(self) -> float:
        """Seconds from run_started to the latest event (event time, so replays read the same)."""
        if self.started_t is None or self.last_t is None:
            return 0.0
        return max(0.0, self.last_t - self.started_t)

    @property
    def eta(self) -> float | None:
        if not self.total_steps or not self.step or self.status not in ("running", "paused"):
            return None
        return self.elapsed / self.step * max(0, self.total_steps - self.step)

    def apply_all(self, events: list[Event]) -> Changes:
        changes = Changes()
        for event in events:
            self.apply(event, changes)
        return changes

    def apply(self, event: Event, changes: Changes) -> None:
        """Fold one event into the state, noting what changed."""
        kind = event.get("type")
        t = event.get("t")
        if isinstance(t, (int, float)):
            self.last_t = t
            if self.started_t is None:
                self.started_t = t
            changes.header = True
        if kind == "run_started":
            self.run = str(event.get("run") or self.run)
            self.kind = str(event.get("kind") or "")
            self.model = str(event.get("model") or "")
            self.device = str(event.get("device") or "")
            self.total_steps = event.get("total_steps") or self.total_steps
            self.started_t = t if isinstance(t, (int, float)) else self.started_t
            self.status = "running"
        elif kind == "variant":
            vid = str(event.get("id"))
            if vid not in self.variants:
                parent = event.get("parent")
                variant = Variant(
                    id=vid, parent=None if parent is None else str(parent), depth=int(event.get("depth") or 0),
                    kind=str(event.get("kind") or ""), source=str(event.get("source") or ""),
                    integrand=str(event.get("integrand") or ""),
                )
                self.variants[vid] = variant
                changes.new_variants.append(variant)
        elif kind == "rollout":
            self.rollout_count += 1
            self.recent.append(event)
            changes.new_rollouts += 1
            variant = self.variants.get(str(event.get("variant")))
            if variant is not None:
                variant.attempts += 1
                variant.solved += bool(event.get("ok"))
                variant.rollouts.append(event)
                changes.touched_variants.add(variant.id)
        elif kind == "step":
            self.steps.append(event)
            self.step = int(event.get("step") or len(self.steps))
            changes.steps = True
        elif kind == "eval":
            self.evals.append(event)
            changes.steps = True
        elif kind == "solved":
            self.solved.append(event)
            changes.logs.append({**event, "level": "solved", "message": f"solved {event.get('problem')}: {event.get('answer')}"})
        elif kind == "checkpoint":
            self.checkpoints.append(str(event.get("path")))
            changes.logs.append({**event, "level": "info", "message": f"checkpoint at step {event.get('step')}: {event.get('path')}"})
        elif kind == "log":
            self.logs.append(event)
            changes.logs.append(event)
            message = str(event.get("message", ""))
            if message in ("paused", "resumed"):
                self.status = "paused" if message == "paused" else "running"
        elif kind == "error":
            message = str(event.get("message") or "unknown error")
            self.errors.append(message)
            changes.errors.append(message)
        elif kind == "run_finished":
            self.status = str(event.get("status") or "done")
            changes.finished = True
