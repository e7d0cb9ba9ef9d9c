"""Past runs and solve sessions found in the runs folder; Enter replays one in the dashboard.

A run's status comes from its events and its lock (engine/runs/rundir.py): `done`/`stopped`/
`error` from its last run_finished; without one, `running` while the engine that holds the lock
is alive, and `stopped — resumable` (training, TTRL) or `stopped` (solve sessions) once that
process is gone. C resumes a stopped training or TTRL run (`--resume`) in the dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.runs.lock import writer
from engine.runs.rundir import inspect_run

MAX_RUNS = 500
TAIL_BYTES = 64 * 1024
HEAD_LINES = 50  # enough to reach the first variant or sample of a run
WHOLE_FILE_BYTES = 4 << 20  # a file this small is read whole (a solve session's samples all count)
RESUMABLE = "stopped — resumable"
PLAN_FILES = {"train": "train.json", "ttrl": "ttrl_plan.json"}  # what --resume needs, per kind


@dataclass
class RunSummary:
    """What the list shows about one run directory."""

    path: Path
    kind: str
    model: str
    subject: str
    steps: str
    status: str
    modified: float
    detail: str = ""  # who writes it, what is damaged: shown under the table for the selected run
    warnings: list[str] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        return self.status == RESUMABLE


def _parse(lines: list[str]) -> list[dict]:
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _head_and_tail(path: Path) -> tuple[list[dict], list[dict]]:
    """The first events and the last ones: the whole file when it is small, else the events in
    its last 64 KiB (no need to read a long training run whole)."""
    with open(path, "rb") as f:
        head = [f.readline().decode("utf-8", errors="replace") for _ in range(HEAD_LINES)]
        f.seek(0, 2)
        size = f.tell()
        start = 0 if size <= WHOLE_FILE_BYTES else size - TAIL_BYTES
        f.seek(start)
        tail = f.read().decode("utf-8", errors="replace").split("\n")
        if start > 0:
            tail = tail[1:]  # the first line read is cut at the seek point
    return _parse(head), _parse(tail)


def _status(run_dir: Path, kind: str, last: list[dict]) -> tuple[str, str]:
    """(status, detail) of a run from its last events and the process holding its lock."""
    ends = [i for i, e in enumerate(last) if e.get("type") == "run_finished"]
    starts = [i for i, e in enumerate(last) if e.get("type") == "run_started"]
    # A resumed run appends a new run_started after its earlier run_finished.
    if ends and (not starts or ends[-1] > starts[-1]):
        return str(last[ends[-1]].get("status") or "done"), ""
    holder, alive = writer(run_dir)
    if holder is None:
        return "running?", "no engine has recorded itself as this run's writer"
    if alive:
        return "running", f"written by {holder.describe()}"
    plan = PLAN_FILES.get(kind)
    gone = f"its engine ({holder.describe()}) is gone without finishing"
    if plan and (run_dir / plan).is_file():
        return RESUMABLE, gone + " · C resumes it"
    return "stopped", gone


def summarize(run_dir: Path) -> RunSummary | None:
    """A run's kind, model, subject, progress and status, or None if it is not a run."""
    events_path = run_dir / "events.jsonl"
    if not events_path.is_file():
        return None
    head, last = _head_and_tail(events_path)
    started = next((e for e in head if e.get("type") == "run_started"), {})
    kind = str(started.get("kind") or ("solve" if run_dir.name.startswith("solve-") else "?"))
    subject = next((str(e.get("integrand")) for e in [*head, *last] if e.get("integrand")), "")
    if not subject and isinstance(started.get("config"), dict):
        subject = str(started["config"].get("integrand") or "")
    steps = [e for e in last if e.get("type") == "step"]
    total = started.get("total_steps")
    step = f"{steps[-1].get('step')}/{total or '?'}" if steps else ("–" if kind == "solve" else f"0/{total or '?'}")
    if kind == "solve":
        # every sample counts, answered or not: 0 verified of 4 sampled reads "0/4 ok"
        samples = {e.get("index", i): e for i, e in enumerate(e for e in last if e.get("type") == "sample")}
        step = f"{sum(bool(s.get('ok')) for s in samples.values())}/{len(samples)} ok"
    status, detail = _status(run_dir, kind, last)
    warnings = inspect_run(run_dir) if status not in ("done", "running") else []
    return RunSummary(run_dir, kind, str(started.get("model") or ""), subject, step, status,
                      events_path.stat().st_mtime, " · ".join([detail, *warnings]) if detail else " · ".join(warnings),
                      warnings)


def scan_runs(root: Path) -> list[RunSummary]:
    """Every run directory directly under `root`, newest first."""
    if not root.is_dir():
        return []
    found = [s for d in root.iterdir() if d.is_dir() and (s := summarize(d)) is not None]
    return sorted(found, key=lambda s: s.modified, reverse=True)[:MAX_RUNS]


class RunsScreen(Screen):
    """A table of runs; Enter opens the selected one, E exports it, C resumes a stopped one."""

    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("e", "export", "Export run"),
        Binding("c", "resume", "Resume run"),
    ]

    class ResumeRun(Message):
        """Resume the stopped training or TTRL run at `path` (`ladder engine KIND --resume PATH`)."""

        def __init__(self, path: Path, kind: str) -> None:
            super().__init__()
            self.path = path
            self.kind = kind

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.summaries: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("run", "kind", "model", "integral", "progress", "status", "modified")
        yield table
        yield Static("", id="runs-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self._scan(Path(self.app.runs_dir))

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self, root: Path) -> None:
        summaries = scan_runs(root)
        self.app.call_from_thread(self._show, root, summaries)

    def _show(self, root: Path, summaries: list[RunSummary]) -> None:
        self.summaries = summaries
        self.query_one("#runs-title", Static).update(
            f"{len(summaries)} runs in {root}/ · Enter opens one · E exports it · C resumes a stopped one")
        table = self.query_one(DataTable)
        table.clear()
        for s in summaries:
            when = dt.datetime.fromtimestamp(s.modified).strftime("%Y-%m-%d %H:%M")
            status = s.status + (" ⚠" if s.warnings else "")
            table.add_row(s.path.name, s.kind, s.model, s.subject[:30], s.steps, status, when, key=str(s.path))
        self._show_detail()

    def selected(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        if not self.summaries or table.cursor_row is None:
            return None
        return self.summaries[min(max(table.cursor_row, 0), len(self.summaries) - 1)]

    def selected_run(self) -> Path | None:
        summary = self.selected()
        return summary.path if summary is not None else None

    @on(DataTable.RowHighlighted, "#runs-table")
    def _show_detail(self) -> None:
        summary = self.selected()
        self.query_one("#runs-detail", Static).update(summary.detail if summary is not None else "")

    @on(DataTable.RowSelected, "#runs-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        path = Path(str(event.row_key.value))
        summary = next((s for s in self.summaries if s.path == path), None)
        if summary is not None and summary.warnings:
            self.notify(summary.warnings[0], title="damaged run", severity="warning")
        self.app.open_run(path)

    def action_export(self) -> None:
        path = self.selected_run()
        if path is None:
            self.notify("no run selected", severity="warning")
            return
        self.app.export_run(path)

    def action_resume(self) -> None:
        summary = self.selected()
        if summary is None:
            self.notify("no run selected", severity="warning")
            return
        # The status may be old: ask the run itself again before starting an engine on it.
        fresh = summarize(summary.path) or summary
        if not fresh.resumable:
            why = {"running": "its engine is still running", "running?": "it may still be running"}.get(
                fresh.status, "only a stopped training or TTRL run can be resumed"
                if fresh.kind not in PLAN_FILES or fresh.status.startswith("stopped") else f"it is {fresh.status}")
            self.notify(f"{summary.path.name}: {why}", severity="warning")
            return
        self.post_message(self.ResumeRun(summary.path, fresh.kind))
