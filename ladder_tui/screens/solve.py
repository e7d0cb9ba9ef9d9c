"""Type an integral, see how it parses, press Enter: the model's answers stream in and get checked.

Sampling and verification run in an engine child (`ladder engine solve …`); this screen only
parses the input for the preview (engine.verify.parse, in a thread so typing never waits on sympy) and
renders the child's `token` and `sample` events. The session is recorded as a run directory
under the runs folder so it can be reopened and exported like any run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static
from textual.worker import get_current_worker

from engine.runs.events import Error, RunFinished, Sample, Token, parse_event
from ladder_tui.engine_client import EngineProcess, engine_argv
from ladder_tui.parsing import IntegralText, pretty_integral, split_integral
from ladder_tui.widgets.answer_card import AnswerCard
from ladder_tui.widgets.parse_preview import ParsePreview

FLUSH_HZ = 20
DEFAULT_SAMPLES = 4
HINT = "type an integrand: x^2 sin(x) · ∫ x e^x dx · \\int_0^1 x^2 dx · exp(-x)*cos(x)"


class SolveScreen(Screen):
    """The integral input, its live preview, and the checked answers."""

    class IntegralChanged(Message):
        """The input now parses to this integrand (the app offers it to the training form)."""

        def __init__(self, integrand: str) -> None:
            super().__init__()
            self.integrand = integrand

    CSS_PATH = "solve.tcss"
    BINDINGS = [
        Binding("ctrl+t", "ttrl", "TTRL on it"),
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+l", "clear", "Clear"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.process: EngineProcess | None = None
        self.session_dir: Path | None = None
        self.current: IntegralText | None = None  # the parse of `_parsed_inputs`, None if it failed
        self._parsed_inputs: tuple[str, str | None, str | None] = ("", None, None)
        self._solve_when_parsed = False  # Enter came while the typed text was still being parsed
        self.solving: IntegralText | None = None
        self.samples: list[dict[str, Any]] = []
        self._buffer: list[dict[str, Any]] = []
        self._cards: dict[int, AnswerCard] = {}
        self._first_t: float | None = None  # event time of the first event, for a replay-stable duration
        self._last_t: float | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="integral-row"):
            yield Label("∫", id="integral-sign")
            yield Input(placeholder="x*exp(x)", id="integrand")
            yield Label("dx", id="dx")
        with Horizontal(id="options-row"):
            yield Label("from")
            yield Input(placeholder="lower", id="lower", classes="bound", compact=True)
            yield Label("to")
            yield Input(placeholder="upper", id="upper", classes="bound", compact=True)
            yield Label("samples")
            yield Input(str(DEFAULT_SAMPLES), id="samples", type="integer", classes="bound", compact=True)
        yield ParsePreview(HINT, id="preview")
        yield Static("Enter: sample answers · Ctrl+T: test-time RL on this integral", id="solve-status")
        yield VerticalScroll(id="answers")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#integrand", Input).focus()
        self.set_interval(1 / FLUSH_HZ, self.flush)

    # ---- live parse preview ----------------------------------------------------------------

    def _inputs(self) -> tuple[str, str | None, str | None]:
        """(integrand text, lower, upper) as typed now."""
        return (self.query_one("#integrand", Input).value,
                self.query_one("#lower", Input).value.strip() or None,
                self.query_one("#upper", Input).value.strip() or None)

    @on(Input.Changed, "#integrand, #lower, #upper")
    def _input_changed(self) -> None:
        inputs = self._inputs()
        if not inputs[0].strip():
            self._show_parse(inputs, None, "")
            return
        self._parse(inputs)

    @work(thread=True, exclusive=True, group="parse")
    def _parse(self, inputs: tuple[str, str | None, str | None]) -> None:
        text, lower, upper = inputs
        frame = split_integral(text)
        frame.lower = lower or frame.lower
        frame.upper = upper or frame.upper
        try:
            pretty, frame.integrand = pretty_integral(frame.integrand, frame.lower, frame.upper)
        except Exception as e:  # ParseError, or anything the parser refuses: show it inline
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_parse, inputs, None, str(e) or type(e).__name__)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_parse, inputs, frame, pretty)

    def _show_parse(self, inputs: tuple[str, str | None, str | None], frame: IntegralText | None, text: str) -> None:
        if inputs != self._inputs():
            return  # a parse of text the user has since changed
        self.current, self._parsed_inputs = frame, inputs
        preview = self.query_one(ParsePreview)
        if not inputs[0].strip():
            preview.show_hint(HINT)
        elif frame is None:
            preview.show_error(text)
        else:
            preview.show_ok(text)
            self.post_message(self.IntegralChanged(frame.integrand))
        if self._solve_when_parsed:
            self._solve_when_parsed = False
            self.solve()

    # ---- solving ---------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self._parsed_inputs != self._inputs():
            self._solve_when_parsed = True  # Enter right after typing: solve what was typed, once parsed
            return
        self.solve()

    def solve(self) -> None:
        """Start an engine child sampling answers to the current integral."""
        frame = self.current
        if frame is None:
            self.app.bell()
            self.notify("the integral does not parse yet", severity="warning")
            return
        if self.process is not None and self.process.running:
            self.notify("still solving: Esc stops it", severity="warning")
            return
        samples = self.query_one("#samples", Input).value.strip() or str(DEFAULT_SAMPLES)
        args = [frame.integrand, "--samples", samples]
        if self.app.model:
            args += ["--model", self.app.model]
        if frame.lower is not None and frame.upper is not None:
            args += ["--lower", frame.lower, "--upper", frame.upper]
        self.action_clear()
        self.solving = frame
        self.session_dir = self.app.new_session_dir("solve", frame.integrand)
        args += ["--out", str(self.session_dir)]  # the engine records the session's events there
        self._first_t = self._last_t = None
        self.query_one("#solve-status", Static).update(f"sampling {samples} answers to ∫ {frame.integrand} dx …")
        self.process = EngineProcess(engine_argv("solve", *args, engine_cmd=self.app.engine_cmd), self._receive)
        self._run(self.process)

    @work(group="engine")
    async def _run(self, process: EngineProcess) -> None:
        await process.run()

    def flush(self) -> None:
        """Render the buffered events (tokens arrive far faster than the screen needs)."""
        if not self._buffer:
            return
        events, self._buffer = self._buffer, []
        answers = self.query_one("#answers", VerticalScroll)
        for event in filter(None, map(parse_event, events)):
            if event.t:
                self._first_t = event.t if self._first_t is None else self._first_t
                self._last_t = event.t
            match event:
                case Token():
                    self._card(event.sample, answers).add_tokens(event.text)
                case Sample():
                    self.samples.append(event)
                    self._card(event.index, answers).set_result(event)
                case Error():
                    self.query_one("#solve-status", Static).update(f"✗ engine error: {event.message}")
                    self.add_class("-crashed")
                    self.notify(event.message.splitlines()[0], title="engine error", severity="error")
                case RunFinished() if event.status != "error":
                    self._finished()
        answers.scroll_end(animate=False)

    def _receive(self, event: dict[str, Any]) -> None:
        # Looked up on every call: flush() swaps the buffer list for a new one.
        self._buffer.append(event)

    def show_events(self, events: list[dict[str, Any]]) -> None:
        """Render events as if an engine child had sent them (replays, demos, screenshots)."""
        self._buffer.extend(events)

    def _card(self, index: int, answers: VerticalScroll) -> AnswerCard:
        if index not in self._cards:
            self._cards[index] = AnswerCard(index)
            answers.mount(self._cards[index])
        return self._cards[index]

    def _finished(self) -> None:
        ok = sum(s.ok for s in self.samples)
        elapsed = (self._last_t or 0.0) - (self._first_t or 0.0)
        hint = "" if ok else " · Ctrl+T runs test-time RL on it"
        self.query_one("#solve-status", Static).update(
            f"{ok}/{len(self.samples)} verified in {elapsed:.1f} s{hint} · Ctrl+S exports")

    def action_clear(self) -> None:
        self.samples = []
        self._cards.clear()
        self.remove_class("-crashed")
        self.query_one("#answers", VerticalScroll).remove_children()

    async def action_stop(self) -> None:
        if self.process is not None and self.process.running:
            await self.process.send("stop")
            self.process.kill()

    def action_ttrl(self) -> None:
        frame = self.solving or self.current
        if frame is None:
            self.notify("type an integral first", severity="warning")
            return
        if any(s.ok for s in self.samples):
            self.notify("already verified: no need for test-time RL", severity="information")
            return
        self.app.start_ttrl(frame.integrand)

    def on_unmount(self) -> None:
        if self.process is not None:
            self.process.kill()
