"""One sampled answer on the solve screen: tokens as they stream in, then its verdict."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.runs.events import Sample
from ladder_tui.state import printable

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

    def set_result(self, sample: Sample) -> None:
        """Show the checked answer of the engine's `sample` event."""
        if sample.completion:
            self.text = printable(sample.completion)[-MAX_STREAM_CHARS:]
            self._stream.update(escape(self.text.strip()))
        ok = sample.ok
        verdict = "[b]✓ verified[/b]" if ok else "[b]✗ rejected[/b]"
        answer = sample.answer
        lines = [f"answer: [b]{escape(printable(answer)) if answer else '(no answer in tags)'}[/b]",
                 f"{verdict}  {escape(printable(sample.reason))}"]
        timing = []
        if sample.seconds is not None:
            timing.append(f"{sample.seconds:.1f} s")
        if sample.tokens:
            timing.append(f"{sample.tokens} tokens")
        if timing:
            lines.append("[dim]" + " · ".join(timing) + "[/dim]")
        self._verdict.update("\n".join(lines))
        self.remove_class("-pending")
        self.add_class("-ok" if ok else "-bad")
