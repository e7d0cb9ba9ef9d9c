"""The dashboard's top line: what runs where, how far it is, and a progress bar.

The line is fitted to the width it has: step, ETA and status always show; on a narrow terminal
the separators tighten, then the device, the elapsed time and the model give way, and the run's
name is shortened in the middle (its start and end are what tell runs apart).
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from ladder_tui.state import RunState

MIN_NAME = 12  # shorter than this, the name gives way to the model and elapsed time first


def clock(seconds: float | None) -> str:
    """0:07, 12:34, 1:02:03."""
    if seconds is None:
        return "–"
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def shorten(name: str, width: int) -> str:
    """`name` in at most `width` cells, cut in the middle with an ellipsis."""
    if len(name) <= width:
        return name
    if width <= 1:
        return "…"[:max(width, 0)]
    head = (width - 1) // 2 + (width - 1) % 2
    tail = width - 1 - head
    return name[:head] + "…" + (name[-tail:] if tail else "")


def _cells(markup: str) -> int:
    return Text.from_markup(markup).cell_len


def header_line(state: RunState, width: int) -> str:
    """The header's markup for `width` cells (see the module docstring)."""
    kind = f"[b]{escape((state.kind or 'run').upper())}[/b]"
    name = state.run or ""
    model = f"model [b]{escape(state.model or '?')}[/b]"
    device = f" on {escape(state.device or '?')}"
    step = f"step [b]{state.step}/{state.total_steps or '?'}[/b]"
    elapsed = f"elapsed {clock(state.elapsed)}"
    eta = f"ETA {clock(state.eta)}"
    status = f"[b]{escape(state.status)}[/b]"
    layouts = [  # from the fullest to the most compact
        ("  ·  ", [model + device], [elapsed]),
        (" · ", [model + device], [elapsed]),
        (" · ", [model], [elapsed]),
        (" · ", [model], []),
        (" · ", [], [elapsed]),
        (" · ", [], []),
    ]
    for i, (sep, before, after) in enumerate(layouts):
        last = i == len(layouts) - 1
        rest = sep.join([*before, step, *after, eta, status])
        room = width - _cells(kind) - 1 - _cells(sep) - _cells(rest)
        if room >= min(len(name), MIN_NAME) or (last and room >= 1):
            return f"{kind} {escape(shorten(name, room))}{sep}{rest}"
    # Not even one cell for the name: the kind and the figures that matter.
    return " · ".join([kind, step, eta, status])


class RunHeader(Horizontal):
    """Step / total, elapsed, ETA, model, device and status of the watched run."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._state: RunState | None = None

    def compose(self) -> ComposeResult:
        yield Static("no run yet: F5 starts training, F3 opens a past run", id="run-info")
        yield ProgressBar(id="run-progress", show_eta=False)

    def on_resize(self) -> None:
        if self._state is not None:
            self.call_after_refresh(self.show, self._state)

    def show(self, state: RunState) -> None:
        self._state = state
        info = self.query_one("#run-info", Static)
        width = info.size.width or 1000  # before the first layout: the full line, fitted on resize
        # A fixed-size line: no need for a whole-screen layout on every update.
        info.update(header_line(state, width), layout=False)
        bar = self.query_one("#run-progress", ProgressBar)
        # An unknown total would make the bar pulse forever; show 0% of one step instead.
        total = state.total_steps or max(state.step, 1)
        bar.update(total=total, progress=min(state.step, total))
        self.set_class(state.status == "error", "-error")
        self.set_class(state.status == "paused", "-paused")
