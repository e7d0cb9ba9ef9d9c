"""Every verified rollout, newest first, bounded, with a filter box."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from engine.runs.events import Rollout
from ladder_tui.state import printable

MAX_ROWS = 60  # a bounded table keeps redraws cheap during bursts
MAX_CELL = 40


def _cut(text: Any, width: int = MAX_CELL) -> str:
    s = " ".join(printable(text if text is not None else "–").split())
    return s if len(s) <= width else s[: width - 1] + "…"


class VerificationLog(Vertical):
    """Rollout rows: step, variant, answer, verdict, reward."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: list[Rollout] = []
        self._filter = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter the log (variant, answer, verdict)", id="log-filter")
        table = DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("step", "variant", "answer", "verdict", "reward")
        yield table

    def show(self, rollouts: Iterable[Rollout]) -> None:
        """Redraw from the run's recent rollouts (oldest first, as the state keeps them)."""
        self._rows = list(rollouts)
        self._redraw()

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip().lower()
        self._redraw()

    def _redraw(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = 0
        for r in reversed(self._rows):
            verdict = "✓ ok" if r.ok else f"✗ {r.reason or 'wrong'}"
            cells = (str(r.step), _cut(r.variant, 12), _cut(r.answer), _cut(verdict), f"{r.reward:.2f}")
            if self._filter and self._filter not in " ".join(cells).lower():
                continue
            # Text cells skip the markup parse a str cell costs (and model output is not markup).
            table.add_row(*(Text(c) for c in cells))
            shown += 1
            if shown >= MAX_ROWS:
                break
