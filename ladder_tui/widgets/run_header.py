"""The dashboard's top lines: what runs where, how far it is, and a progress bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from ladder_tui.state import RunState


def clock(seconds: float | None) -> str:
    """0:07, 12:34, 1:02:03."""
    if seconds is None:
        return "–"
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class RunHeader(Horizontal):
    """Step / total, elapsed, ETA, model, device and status of the watched run."""

    def compose(self) -> ComposeResult:
        yield Static("no run yet: F5 starts training, F3 opens a past run", id="run-info")
        yield ProgressBar(id="run-progress", show_eta=False)

    def show(self, state: RunState) -> None:
        kind = (state.kind or "run").upper()
        total = state.total_steps or "?"
        parts = [
            f"[b]{kind}[/b] {state.run}",
            f"model [b]{state.model or '?'}[/b] on {state.device or '?'}",
            f"step [b]{state.step}/{total}[/b]",
            f"elapsed {clock(state.elapsed)}",
            f"ETA {clock(state.eta)}",
            f"[b]{state.status}[/b]",
        ]
        # A fixed-size line: no need for a whole-screen layout on every update.
        self.query_one("#run-info", Static).update("  ·  ".join(parts), layout=False)
        bar = self.query_one("#run-progress", ProgressBar)
        # An unknown total would make the bar pulse forever; show 0% of one step instead.
        total = state.total_steps or max(state.step, 1)
        bar.update(total=total, progress=min(state.step, total))
        self.set_class(state.status == "error", "-error")
        self.set_class(state.status == "paused", "-paused")
