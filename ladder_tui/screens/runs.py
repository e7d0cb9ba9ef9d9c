"""Past runs and solve sessions found in the runs folder; Enter replays one in the dashboard."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

MAX_RUNS = 500
TAIL_BYTES = 64 * 1024
HEAD_LINES = 50  # enough to reach the first variant or sample of a run


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


def _parse(lines: list[str]) -> list[dict]:
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _head_and_tail(path: Path) -> tuple[list[dict], list[dict]]:
    """The first events and those in the file's last 64 KiB (no need to read it all)."""
    with open(path, "rb") as f:
        head = [f.readline().decode("utf-8", errors="replace") for _ in range(HEAD_LINES)]
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read().decode("utf-8", errors="replace").split("\n")[1:]
    return _parse(head), _parse(tail)


def summarize(run_dir: Path) -> RunSummary | None:
    """A run's kind, model, subject, progress and status, or None if it is not a run."""
    events_path = run_dir / "events.jsonl"
    if not events_path.is_file():
        return None
    head, last = _head_and_tail(events_path)
    started = head[0] if head and head[0].get("type") == "run_started" else {}
    kind = str(started.get("kind") or ("solve" if run_dir.name.startswith("solve-") else "?"))
    subject = next((str(e.get("integrand")) for e in [*head, *last] if e.get("integrand")), "")
    steps = [e for e in last if e.get("type") == "step"]
    total = started.get("total_steps")
    step = f"{steps[-1].get('step')}/{total or '?'}" if steps else ("–" if kind == "solve" else f"0/{total or '?'}")
    if kind == "solve":
        samples = [e for e in last if e.get("type") == "sample"]
        step = f"{sum(bool(s.get('ok')) for s in samples)}/{len(samples)} ok"
    finished = [e for e in last if e.get("type") == "run_finished"]
    status = str(finished[-1].get("status")) if finished else "running?"
    return RunSummary(run_dir, kind, str(started.get("model") or ""), subject, step, status,
                      events_path.stat().st_mtime)


def scan_runs(root: Path) -> list[RunSummary]:
    """Every run directory directly under `root`, newest first."""
    if not root.is_dir():
        return []
    found = [s for d in root.iterdir() if d.is_dir() and (s := summarize(d)) is not None]
    return sorted(found, key=lambda s: s.modified, reverse=True)[:MAX_RUNS]


class RunsScreen(Screen):
    """A table of runs; Enter opens the selected one, E exports it."""

    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("e", "export", "Export run"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.summaries: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("run", "kind", "model", "integral", "progress", "status", "modified")
        yield table
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
            f"{len(summaries)} runs in {root}/ · Enter opens one · E exports it")
        table = self.query_one(DataTable)
        table.clear()
        for s in summaries:
            when = dt.datetime.fromtimestamp(s.modified).strftime("%Y-%m-%d %H:%M")
            table.add_row(s.path.name, s.kind, s.model, s.subject[:30], s.steps, s.status, when, key=str(s.path))

    def selected_run(self) -> Path | None:
        table = self.query_one(DataTable)
        if not self.summaries or table.cursor_row is None:
            return None
        return self.summaries[min(table.cursor_row, len(self.summaries) - 1)].path

    @on(DataTable.RowSelected, "#runs-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.app.open_run(Path(str(event.row_key.value)))

    def action_export(self) -> None:
        path = self.selected_run()
        if path is None:
            self.notify("no run selected", severity="warning")
            return
        self.app.export_run(path)
