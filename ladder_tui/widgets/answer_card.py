"""One sampled answer on the solve screen: tokens as they stream in, then its verdict."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ladder_tui.state import printable

DETAIL_FIELDS = ("points", "max_error", "max_rel_error", "checked", "method")  # shown when the engine sends them
MAX_STREAM_CHARS = 4000


class AnswerCard(Vertical):
    """Sample `index`: the completion so far, and once checked the answer, verdict and time."""

    def __init__(self, index: int, **kwargs) -> None:
        super().__init__(classes="answer-card -pending", **kwargs)
        self.index = index
        self.text = ""
        self.border_title = f"sample {index + 1}"
        # Made here, not in compose, so events arriving before the card is mounted still land.
        self._stream = Static("", classes="answer-stream")
        self._verdict = Static("generating…", classes="answer-verdict")

    def compose(self) -> ComposeResult:
        yield self._stream
        yield self._verdict

    def add_tokens(self, text: str) -> None:
        self.text = (self.text + printable(text))[-MAX_STREAM_CHARS:]
        self._stream.update(escape(self.text.strip()))

    def set_result(self, sample: dict[str, Any]) -> None:
        """Show the checked answer; `sample` is the engine's `sample` event."""
        if sample.get("completion"):
            self.text = printable(sample["completion"])[-MAX_STREAM_CHARS:]
            self._stream.update(escape(self.text.strip()))
        ok = bool(sample.get("ok"))
        answer = sample.get("answer")
        verdict = "[b]✓ verified[/b]" if ok else "[b]✗ rejected[/b]"
        lines = [f"answer: [b]{escape(printable(answer)) if answer else '(no answer in tags)'}[/b]",
                 f"{verdict}  {escape(printable(sample.get('reason') or ''))}"]
        details = [f"{k.replace('_', ' ')} {escape(str(sample[k]))}" for k in DETAIL_FIELDS if k in sample]
        timing = []
        if isinstance(sample.get("seconds"), (int, float)):
            timing.append(f"{sample['seconds']:.1f} s")
        if sample.get("tokens"):
            timing.append(f"{sample['tokens']} tokens")
        if details or timing:
            lines.append("[dim]" + " · ".join(details + timing) + "[/dim]")
        self._verdict.update("\n".join(lines))
        self.remove_class("-pending")
        self.add_class("-ok" if ok else "-bad")
