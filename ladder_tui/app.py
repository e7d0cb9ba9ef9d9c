"""`ladder`: the Textual app. Three screens (solve, dashboard, runs) in modes, modal forms on top.

The app process stays light: no torch, no model, no verifier. Work happens in `ladder engine …`
children whose events the screens render; `ladder watch RUN_DIR` replays and follows a run.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ladder_tui.engine_client import default_engine_cmd, engine_argv
from ladder_tui.screens.dashboard import DashboardScreen
from ladder_tui.screens.export import ExportScreen
from ladder_tui.screens.runs import RunsScreen
from ladder_tui.screens.solve import SolveScreen
from ladder_tui.screens.train_form import (
    TrainFormScreen,
    TrainSettings,
    default_settings,
)


class LadderApp(App[None]):
    """Solve integrals, train on them live, browse and export runs."""

    TITLE = "ladder"
    CSS_PATH = "app.tcss"
    MODES = {"solve": SolveScreen, "dashboard": DashboardScreen, "runs": RunsScreen}
    BINDINGS = [
        Binding("f1", "switch_mode('solve')", "Solve"),
        Binding("f2", "switch_mode('dashboard')", "Dashboard"),
        Binding("f3", "switch_mode('runs')", "Runs"),
        Binding("f5", "train", "Train"),
        Binding("ctrl+s", "export", "Export"),
    ]

    def __init__(self, model: str | None = None, runs_dir: str | Path = "runs", watch: Path | None = None,
                 engine_cmd: list[str] | None = None):
        super().__init__()
        self.model = model
        self.engine_cmd = engine_cmd or default_engine_cmd()  # tests point this at a scripted engine
        self.runs_dir = Path(runs_dir)
        self.watch_dir = watch
        self.last_integrand: str | None = None  # the solve screen's latest parsed integral
        self.sub_title = f"model {model or 'default'}"

    def on_mount(self) -> None:
        # Everything allocated so far (modules, styles, widgets) lives as long as the app: moving it
        # out of the collector's reach keeps full collections, and so key-press stalls, short.
        gc.freeze()
        if self.watch_dir is not None:
            self.open_run(self.watch_dir)
            from engine.runs.rundir import inspect_run

            for warning in inspect_run(self.watch_dir):  # a torn last line, an incomplete checkpoint
                self.notify(warning, title="damaged run", severity="warning", timeout=10)
        else:
            self.switch_mode("solve")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Solve", "Type an integral and sample answers", lambda: self.switch_mode("solve"))
        yield SystemCommand("Dashboard", "The live or replayed training dashboard", lambda: self.switch_mode("dashboard"))
        yield SystemCommand("Runs", "Past runs and solve sessions", lambda: self.switch_mode("runs"))
        yield SystemCommand("Train", "Start TTRL or LADDER training", self.action_train)
        yield SystemCommand("Export", "Write this session or run as Markdown, JSON, LaTeX", self.action_export)

    # ---- run directories -------------------------------------------------------------------

    def new_run_dir(self, kind: str, subject: str = "") -> Path:
        """A fresh, unused folder name under the runs folder: kind-date-time[-subject]."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:24]
        base = self.runs_dir / "-".join(p for p in (kind, stamp, slug) if p)
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        return path

    def new_session_dir(self, kind: str, subject: str) -> Path:
        """A run directory recording a solve session (config.json now, events as they come)."""
        from engine.runs.config import Config
        from engine.runs.lock import record_writer
        from engine.runs.rundir import RunDir

        cfg = Config(model=self.model) if self.model else Config()
        path = RunDir.create(self.new_run_dir(kind, subject), cfg).path
        # The session's engine child ends with the app: the app's pid tells the runs list whether
        # a session without run_finished can still be going.
        record_writer(path)
        return path

    # ---- actions ---------------------------------------------------------------------------

    def open_run(self, run_dir: Path, follow: bool = True) -> None:
        """Replay a run in the dashboard (and follow it while it is still being written)."""
        self.switch_mode("dashboard")
        self.screen.post_message(DashboardScreen.Watch(Path(run_dir), follow=follow))

    def on_solve_screen_integral_changed(self, message: SolveScreen.IntegralChanged) -> None:
        self.last_integrand = message.integrand

    def on_runs_screen_resume_run(self, message: RunsScreen.ResumeRun) -> None:
        """`ladder engine train|ttrl --resume RUN_DIR`, live in the dashboard."""
        argv = engine_argv(message.kind, "--resume", str(message.path), engine_cmd=self.engine_cmd)
        self.switch_mode("dashboard")
        self.screen.post_message(DashboardScreen.Watch(message.path, argv))
        self.notify(f"resuming {message.path.name}")

    def action_train(self, integrand: str | None = None) -> None:
        integrand = integrand or self.last_integrand
        self.push_screen(TrainFormScreen(default_settings(self.model, integrand)), self.start_training)

    def start_ttrl(self, integrand: str) -> None:
        self.action_train(integrand)

    def start_training(self, settings: TrainSettings | None) -> None:
        """Start `ladder engine ttrl|train …` for the form's settings and watch it live."""
        if settings is None:
            return
        run_dir = self.new_run_dir(settings.mode, settings.integrand or Path(settings.problems).stem)
        run_dir.mkdir(parents=True, exist_ok=True)
        # Settings without a command-line flag reach the engine as a config override file.
        from engine.runs.config import Config

        overrides = run_dir / "settings.toml"
        cfg = Config(model=settings.model)
        cfg.grpo.group_size = settings.group_size
        cfg.variants.depth = cfg.ttrl.depth = settings.depth
        cfg.ttrl.steps = settings.steps
        cfg.save(overrides)
        args = ["--model", settings.model, "--steps", str(settings.steps), "--out", str(run_dir),
                "--config", str(overrides)]
        if settings.mode == "ttrl":
            args = [settings.integrand] + args
        else:
            args = ["--problems", settings.problems] + args
        self.switch_mode("dashboard")
        self.screen.post_message(DashboardScreen.Watch(run_dir, engine_argv(settings.mode, *args, engine_cmd=self.engine_cmd)))

    def current_run_dir(self) -> Path | None:
        """The run the user is looking at: the solve session or the dashboard's run."""
        if self.current_mode == "solve":
            return getattr(self.screen_stack[0], "session_dir", None)
        if self.current_mode == "dashboard":
            return getattr(self.screen_stack[0], "run_dir", None)
        if self.current_mode == "runs":
            return self.screen_stack[0].selected_run()
        return None

    def action_export(self) -> None:
        run_dir = self.current_run_dir()
        if run_dir is None or not (run_dir / "events.jsonl").exists():
            self.notify("nothing to export yet: solve an integral or open a run", severity="warning")
            return
        self.export_run(run_dir)

    def export_run(self, run_dir: Path) -> None:
        self.push_screen(ExportScreen(run_dir))
