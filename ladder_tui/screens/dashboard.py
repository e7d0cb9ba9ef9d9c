"""The training / TTRL dashboard: variant tree, verification log, curves and the run header.

Events arrive in bursts (a replay hands over hundreds at once), so they are only buffered on
arrival; a timer folds the buffer into the RunState and redraws each affected widget once per
frame. The source is either a live engine child (pause/resume/stop reach it over stdin) or a
run's events.jsonl (replay, optionally following a headless run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree

from engine.runs.events import read_events
from ladder_tui.engine_client import EngineProcess, follow_events
from ladder_tui.state import Changes, RunState, Variant
from ladder_tui.widgets.curves import Curves
from ladder_tui.widgets.rollout_view import RolloutView
from ladder_tui.widgets.run_header import RunHeader
from ladder_tui.widgets.variant_tree import VariantTree
from ladder_tui.widgets.verification_log import VerificationLog

FLUSH_HZ = 25  # ticks a second: fold new events into the state, redraw one dirty part
# Parts of the screen, redrawn in turns, each at most once per interval (seconds): a burst then
# costs a few bounded redraws a second instead of one per batch.
REDRAW_INTERVAL = {"tree": 0.2, "log": 0.5, "curves": 1.0, "header": 0.2}
PARTS = tuple(REDRAW_INTERVAL)
EVENTS_PER_TICK = 2000  # a replay's backlog is folded in over several ticks
TREE_NODES_PER_TICK = 100  # and a big tree is added to the widget in slices


class DashboardScreen(Screen):
    """Live or replayed view of one run."""

    CSS_PATH = "dashboard.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("s", "stop", "Stop"),
        Binding("slash", "filter", "Filter log"),
        Binding("escape", "focus_tree", "Tree", show=False),
    ]

    class Watch(Message):
        """Show a run: start the engine `argv` and follow it live, or (argv None) replay the run's
        events.jsonl and, with `follow`, keep up with it while it is still being written."""

        def __init__(self, run_dir: Path | None, argv: list[str] | None = None, follow: bool = True) -> None:
            super().__init__()
            self.run_dir, self.argv, self.follow = run_dir, argv, follow

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = RunState()
        self.run_dir: Path | None = None
        self.process: EngineProcess | None = None
        self._buffer: list[dict[str, Any]] = []
        self._selected: str | None = None
        self._generation = 0  # bumps when a new source replaces the old one
        self._pending: list[Callable[[], None]] = []  # sources given before the screen was mounted
        self._new_variants: list[Variant] = []  # not yet in the tree widget
        self._touched: set[str] = set()  # variants whose label is out of date
        self._dirty: set[str] = set()  # parts of the screen to redraw
        self._turn = 0
        self._drawn_at: dict[str, float] = {}

    def compose(self) -> ComposeResult:
        yield RunHeader(id="run-header")
        yield Static("", id="run-error")
        with Horizontal(id="dash-top"):
            yield VariantTree(id="variant-tree")
            yield Curves(id="curves")
        with Horizontal(id="dash-bottom"):
            yield VerificationLog(id="verification-log")
            yield RolloutView(id="rollout-view")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / FLUSH_HZ, self.flush)
        for selector, title in (("#variant-tree", "variants"), ("#curves", "curves"),
                                ("#verification-log", "verification log"), ("#rollout-view", "rollouts")):
            self.query_one(selector).border_title = title
        self.query_one(VariantTree).focus()
        self.query_one(RunHeader).show(self.state)
        for start in self._pending:
            start()
        self._pending.clear()

    def _when_mounted(self, start: Callable[[], None]) -> None:
        if self.is_mounted:
            start()
        else:
            self._pending.append(start)

    # ---- sources -------------------------------------------------------------------------

    def _reset(self, run_dir: Path | None) -> None:
        if self.process is not None:
            self.process.kill()
        self.process = None
        self._generation += 1
        self._buffer.clear()
        self._new_variants, self._touched, self._dirty = [], set(), set()
        self._selected = None
        self.state = RunState()
        self.run_dir = run_dir
        self.query_one(VariantTree).reset()
        self.query_one(VerificationLog).show([])
        self.query_one(Curves).show([])
        self.query_one(Curves).show_rates(self.state.throughput)
        self.query_one("#run-error", Static).update("")
        self.remove_class("-crashed")
        self.query_one(RunHeader).show(self.state)

    @on(Watch)
    def _watch(self, message: Watch) -> None:
        if message.argv is not None:
            self.start_engine(message.argv, message.run_dir)
        elif message.run_dir is not None:
            self.replay(message.run_dir, follow=message.follow)

    def start_engine(self, argv: list[str], run_dir: Path | None) -> None:
        """Run an engine child and show its events live."""
        self._when_mounted(lambda: self._start_engine(argv, run_dir))

    def _start_engine(self, argv: list[str], run_dir: Path | None) -> None:
        self._reset(run_dir)
        generation = self._generation
        if run_dir is not None and (run_dir / "events.jsonl").is_file():
            # A resumed run: show its history first; the engine only sends what comes next.
            self._buffer.extend(read_events(run_dir / "events.jsonl"))
        self.process = EngineProcess(argv, lambda e: self._receive(e, generation))
        self._run_process(self.process)

    @work(group="source")
    async def _run_process(self, process: EngineProcess) -> None:
        await process.run()

    def replay(self, run_dir: Path, follow: bool = True) -> None:
        """Show a run from its events.jsonl; with `follow`, keep up with a run still writing it."""
        self._when_mounted(lambda: self._replay(run_dir, follow))

    def _replay(self, run_dir: Path, follow: bool) -> None:
        self._reset(run_dir)
        self._follow(run_dir / "events.jsonl", follow, self._generation)

    @work(group="source")
    async def _follow(self, path: Path, follow: bool, generation: int) -> None:
        await follow_events(path, lambda batch: self._receive_many(batch, generation), follow,
                            should_stop=lambda: generation != self._generation)

    def _receive(self, event: dict[str, Any], generation: int) -> None:
        if generation == self._generation:
            self._buffer.append(event)

    def _receive_many(self, events: list[dict[str, Any]], generation: int) -> None:
        if generation == self._generation:
            self._buffer.extend(events)

    # ---- drawing -------------------------------------------------------------------------

    def flush(self) -> None:
        """Fold the buffered events into the state, then redraw at most one part of the screen.

        Applying events is cheap; redrawing the tree, the table or the chart is not, and while a
        redraw runs no key is handled. Taking the dirty parts in turns, one per tick, keeps every
        pause as short as the costliest single widget, however large the burst."""
        if self._buffer:
            events, self._buffer = self._buffer[:EVENTS_PER_TICK], self._buffer[EVENTS_PER_TICK:]
            changes = self.state.apply_all(events)
            self._new_variants += changes.new_variants
            self._touched |= changes.touched_variants
            self._dirty |= {part for part, dirty in (
                ("tree", changes.new_variants or changes.touched_variants), ("log", changes.new_rollouts),
                ("curves", changes.steps or changes.phase), ("header", changes.header or changes.finished)) if dirty}
            self._report(changes)
        now = time.monotonic()
        for _ in PARTS:
            part = PARTS[self._turn % len(PARTS)]
            self._turn += 1
            due = self.state.status not in ("running", "paused", "stopping") or (
                now - self._drawn_at.get(part, 0.0) >= REDRAW_INTERVAL[part])  # a finished run draws at once
            if part in self._dirty and due:
                self._dirty.discard(part)
                self._drawn_at[part] = now
                self._redraw(part)
                return

    @property
    def settled(self) -> bool:
        """True once every received event is on screen."""
        return not self._buffer and not self._dirty

    def _redraw(self, part: str) -> None:
        if part == "tree":
            tree = self.query_one(VariantTree)
            adding, self._new_variants = self._new_variants[:TREE_NODES_PER_TICK], self._new_variants[TREE_NODES_PER_TICK:]
            tree.add_variants(adding)
            if self._new_variants:
                self._dirty.add("tree")  # the rest next turn
            else:
                tree.update_variants([self.state.variants[v] for v in self._touched])
                if self._selected in self._touched:
                    self.query_one(RolloutView).show(self.state.variants[self._selected])
                self._touched = set()
        elif part == "log":
            self.query_one(VerificationLog).show(self.state.recent)
        elif part == "curves":
            self.query_one(Curves).show(self.state.steps, self.state.phase)
            self.query_one(Curves).show_rates(self.state.throughput)
        elif part == "header":
            self.query_one(RunHeader).show(self.state)
            # the rate per hour moves with the clock, i.e. with every event, like the header
            self.query_one(Curves).show_rates(self.state.throughput)

    def _report(self, changes: Changes) -> None:
        """Errors and solved problems are rare and urgent: shown at once."""
        if changes.errors:
            self.add_class("-crashed")
            self.query_one("#run-error", Static).update("✗ " + changes.errors[-1])
            self.notify(changes.errors[-1].splitlines()[0], title="engine error", severity="error")
        for log in changes.logs:
            if log.level in ("solved", "warning"):
                self.notify(log.message, severity="warning" if log.level == "warning" else "information")

    @on(Tree.NodeHighlighted, "#variant-tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        self._selected = event.node.data
        if self._selected in self.state.variants:
            self.query_one(RolloutView).show(self.state.variants[self._selected])

    # ---- commands to the engine -----------------------------------------------------------

    async def action_toggle_pause(self) -> None:
        if self.process is None or not self.process.running:
            self.notify("no live engine to pause (this is a replay or the run has ended)", severity="warning")
            return
        pausing = self.state.status != "paused"
        if await self.process.send("pause" if pausing else "resume"):
            self.state.status = "paused" if pausing else "running"
            self.query_one(RunHeader).show(self.state)

    async def action_stop(self) -> None:
        if self.process is None or not self.process.running:
            self.notify("no live engine to stop", severity="warning")
            return
        if await self.process.send("stop"):
            self.state.status = "stopping"
            self.query_one(RunHeader).show(self.state)
            self.notify("stop sent: the engine writes a checkpoint and ends")

    def action_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_focus_tree(self) -> None:
        self.query_one(VariantTree).focus()

    def on_unmount(self) -> None:
        if self.process is not None:
            self.process.kill()
