"""The training settings form: TTRL on the current integral or LADDER on a problems file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

import engine
from engine.runs.config import Config

# The project's own training set: LADDER training works out of the box on it.
DEFAULT_PROBLEMS = Path(engine.__file__).parent / "data" / "undergrad_train.jsonl"


@dataclass
class TrainSettings:
    """What the form asks for; the app turns it into an engine command line."""

    mode: str  # ttrl | train
    model: str
    integrand: str
    problems: str
    steps: int
    group_size: int
    depth: int


def default_settings(model: str | None, integrand: str | None) -> TrainSettings:
    """Defaults from the engine's Config, so the form and the headless CLI agree."""
    cfg = Config()
    return TrainSettings(
        mode="ttrl" if integrand else "train", model=model or cfg.model, integrand=integrand or "",
        problems=str(DEFAULT_PROBLEMS) if DEFAULT_PROBLEMS.is_file() else "", steps=cfg.ttrl.steps, group_size=cfg.grpo.group_size, depth=cfg.ttrl.depth,
    )


class TrainFormScreen(ModalScreen[TrainSettings | None]):
    """Dismissed with the settings, or None when cancelled."""

    CSS_PATH = "train_form.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, settings: TrainSettings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        with Vertical(id="train-dialog"):
            yield Label("Start training", id="train-title")
            with Grid(id="train-grid"):
                yield Label("what")
                yield Select([("TTRL on one integral", "ttrl"), ("LADDER on a problems file", "train")],
                             value=s.mode, allow_blank=False, id="train-mode", compact=True)
                yield Label("model")
                yield Input(s.model, id="train-model", compact=True)
                yield Label("integral")
                yield Input(s.integrand, placeholder="x*exp(x)", id="train-integrand", compact=True)
                yield Label("problems")
                yield Input(s.problems, placeholder="problems.jsonl", id="train-problems", compact=True)
                yield Label("steps")
                yield Input(str(s.steps), type="integer", id="train-steps", compact=True)
                yield Label("group size")
                yield Input(str(s.group_size), type="integer", id="train-group", compact=True)
                yield Label("tree depth")
                yield Input(str(s.depth), type="integer", id="train-depth", compact=True)
            yield Static("", id="train-error")
            with Horizontal(id="train-buttons"):
                yield Button("Start", variant="primary", id="train-start", compact=True)
                yield Button("Cancel", id="train-cancel", compact=True)

    @on(Button.Pressed, "#train-start")
    @on(Input.Submitted)
    def _start(self) -> None:
        def value(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        try:
            steps, group, depth = (int(value(w)) for w in ("#train-steps", "#train-group", "#train-depth"))
        except ValueError:
            self.query_one("#train-error", Static).update("steps, group size and depth must be whole numbers")
            return
        mode = str(self.query_one("#train-mode", Select).value)
        settings = TrainSettings(mode, value("#train-model"), value("#train-integrand"), value("#train-problems"),
                                 steps, group, depth)
        problem = None
        if steps < 1 or group < 2 or depth < 0:
            problem = "steps ≥ 1, group size ≥ 2, depth ≥ 0"
        elif mode == "ttrl" and not settings.integrand:
            problem = "TTRL needs an integral"
        elif mode == "train" and not settings.problems:
            problem = "LADDER training needs a problems file (JSONL, one integrand a line)"
        if problem:
            self.query_one("#train-error", Static).update(problem)
            return
        self.dismiss(settings)

    @on(Button.Pressed, "#train-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
