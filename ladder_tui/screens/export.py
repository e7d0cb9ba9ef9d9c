"""The export modal: pick formats and a folder, write the run there, show the paths."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

FORMATS = (("md", "Markdown"), ("json", "JSON"), ("tex", "LaTeX"))


class ExportScreen(ModalScreen[list[Path]]):
    """Writes one run directory with engine.evaluation.export; dismissed with the written paths."""

    CSS_PATH = "export.tcss"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, run_dir: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.written: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Label(f"Export {self.run_dir.name}", id="export-title")
            with Horizontal(id="export-formats"):
                for key, name in FORMATS:
                    yield Checkbox(name, value=True, id=f"fmt-{key}", compact=True)
            yield Label("folder")
            yield Input(str(self.run_dir / "export"), id="export-dir", compact=True)
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-go", compact=True)
                yield Button("Close", id="export-close", compact=True)
            yield Static("", id="export-result", markup=False)

    def on_mount(self) -> None:
        self.query_one("#export-go", Button).focus()

    @on(Button.Pressed, "#export-go")
    @on(Input.Submitted, "#export-dir")
    def _go(self) -> None:
        formats = [key for key, _ in FORMATS if self.query_one(f"#fmt-{key}", Checkbox).value]
        if not formats:
            self.query_one("#export-result", Static).update("choose at least one format")
            return
        self.query_one("#export-result", Static).update("writing…")
        self._write(formats, Path(self.query_one("#export-dir", Input).value.strip() or self.run_dir / "export"))

    @work(thread=True, exclusive=True)
    def _write(self, formats: list[str], out: Path) -> None:
        from engine.errors import LadderError
        from engine.evaluation.export import export_run

        try:
            paths = export_run(self.run_dir, formats, out)
        except (LadderError, OSError) as e:
            self.app.call_from_thread(self._done, [], f"✗ {e}")
            return
        self.app.call_from_thread(self._done, paths, "wrote\n" + "\n".join(str(p) for p in paths))

    def _done(self, paths: list[Path], message: str) -> None:
        self.written = paths
        result = self.query_one("#export-result", Static)
        result.update(message)
        result.set_class(not paths, "-error")
        if paths:
            self.notify(f"exported {len(paths)} files to {paths[0].parent}")
            self.query_one("#export-close", Button).focus()

    @on(Button.Pressed, "#export-close")
    def action_close(self) -> None:
        self.dismiss(self.written)
