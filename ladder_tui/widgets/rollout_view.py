"""The rollouts of the variant selected in the tree."""

from __future__ import annotations

from rich.markup import escape
from textual.containers import VerticalScroll
from textual.widgets import Static

from ladder_tui.state import Variant, printable


class RolloutView(VerticalScroll):
    """One variant's integrand, solve rate and latest rollouts."""

    variant_id: str | None = None  # the variant on show

    def compose(self):
        yield Static("select a variant in the tree to see its rollouts", id="rollout-text")

    def show(self, v: Variant | None) -> None:
        if v is None:
            return
        self.variant_id = v.id
        lines = [
            f"[b]∫ {escape(v.integrand)} dx[/b]",
            f"id {escape(v.id)} · depth {v.depth} · {v.kind} · {v.source}",
            f"solved {v.solved}/{v.attempts}" + (f" ({v.rate:.0%})" if v.rate is not None else ""),
            "",
        ]
        for r in reversed(v.rollouts):
            mark = "[$success]✓[/]" if r.ok else "[$error]✗[/]"
            lines.append(f"{mark} step {r.step}  {escape(printable(r.answer))}  r={r.reward:.2f}")
            if not r.ok and r.reason:
                lines.append(f"   [dim]{escape(printable(r.reason))}[/dim]")
        if not v.rollouts:
            lines.append("[dim]no rollouts yet[/dim]")
        self.query_one("#rollout-text", Static).update("\n".join(lines))
