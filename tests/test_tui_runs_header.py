"""Pilot tests at 80x24 and 100x30: the runs list counts what a reader expects, tells a dead engine
from a running one and resumes a stopped run; the dashboard header keeps step, ETA and status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import wait_for
from rich.text import Text
from textual.geometry import Region
from textual.widgets import DataTable, Static

from engine.runs.config import Config
from engine.runs.lock import read_holder
from engine.runs.rundir import RunDir
from ladder_tui.app import LadderApp
from ladder_tui.screens.dashboard import DashboardScreen
from ladder_tui.screens.runs import RESUMABLE, RunsScreen
from ladder_tui.synthetic import write_synthetic_run
from ladder_tui.widgets.run_header import header_line

pytestmark = pytest.mark.anyio
SIZES = [(80, 24), (100, 30)]
ROOT = Path(__file__).resolve().parents[1]
T0 = 1_750_000_000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"




def rows(screen) -> dict[str, list[str]]:
    table = screen.query_one("#runs-table", DataTable)
    out = {}
    for i in range(table.row_count):
        row = [str(c) for c in table.get_row_at(i)]
        out[row[0]] = row
    return out


def shown(widget) -> str:
    """The text a widget really puts on screen (after cropping to its width)."""
    return "".join(strip.text for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def write_events(run: Path, events: list[dict]) -> None:
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def solve_session(runs: Path, name: str, finished: bool = True) -> Path:
    """A solve session as the app records it: 4 samples, the third without a tagged answer."""
    run = RunDir.create(runs / name, Config(model="tiny")).path
    events = [{"type": "sample", "t": T0 + i, "run": "solve", "integrand": "x*exp(x)", "index": i,
               "completion": "no tags" if i == 2 else f"<answer>x**{i}</answer>", "answer": None if i == 2 else f"x**{i}",
               "ok": False, "reason": "no answer between <answer> tags" if i == 2 else "derivative differs",
               "seconds": 1.0, "tokens": 10} for i in range(4)]
    if finished:
        events.append({"type": "run_finished", "t": T0 + 5, "run": "solve", "status": "done"})
    write_events(run, events)
    return run


HOLDER = textwrap.dedent("""
    import sys, time
    from engine.runs.lock import record_writer
    from engine.runs.rundir import RunDir
    if sys.argv[2] == "lock":
        RunDir.open(sys.argv[1], write=True)
    else:
        record_writer(sys.argv[1])
    print("ready", flush=True)
    time.sleep(600)
""")


def hold(run: Path, how: str = "lock") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), how], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def killed(run: Path, how: str = "lock") -> int:
    """Let a real process take the run's lock, then SIGKILL it; returns its pid."""
    proc = hold(run, how)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.pid


def stopped_training_run(runs: Path, name: str) -> Path:
    run = write_synthetic_run(runs / name, n_events=200, steps=6, finished=False)
    (run / "train.json").write_text(json.dumps({"problems": "p.jsonl", "steps": 6}))
    killed(run)
    return run


FAKE_ENGINE = textwrap.dedent("""
    import json, sys, time
    open(sys.argv[1], "w").write(json.dumps(sys.argv[2:]))
    def emit(**e):
        print(json.dumps({"t": time.time(), "run": "resumed", **e}), flush=True)
    emit(type="run_started", kind="train", model="tiny", device="cpu", total_steps=6, resumed_from=3)
    emit(type="step", step=4, reward_mean=0.5, reward_std=0.1, accuracy=0.5, kl=0.0, loss=0.1, tokens_per_s=10)
    emit(type="run_finished", status="done", steps=4)
""")


@pytest.mark.parametrize("size", SIZES)
async def test_runs_list_counts_every_sample_and_tells_dead_engines_from_live_ones(tmp_path, size):
    runs = tmp_path / "runs"
    solve_session(runs, "solve-20250101-000000-done")
    dead_solve = solve_session(runs, "solve-20250101-000001-killed", finished=False)
    killed(dead_solve, how="record")  # the app that recorded it was killed
    train = stopped_training_run(runs, "train-stopped")
    live = write_synthetic_run(runs / "train-live", n_events=200, steps=6, finished=False)
    holder = hold(live)
    try:
        app = LadderApp(runs_dir=runs)
        async with app.run_test(size=size) as pilot:
            await pilot.press("f3")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.summaries) == 4)
            got = rows(app.screen)
            assert got["solve-20250101-000000-done"][4] == "0/4 ok"
            assert got["solve-20250101-000000-done"][5] == "done"
            assert got["solve-20250101-000001-killed"][4] == "0/4 ok"
            assert got["solve-20250101-000001-killed"][5] == "stopped"
            assert got["train-stopped"][5] == RESUMABLE
            assert got["train-stopped"][4] == "6/6"
            assert got["train-live"][5] == "running"
            # the detail line under the table names the engine of the highlighted run
            names = [s.path.name for s in app.screen.summaries]
            app.screen.query_one(DataTable).move_cursor(row=names.index("train-stopped"))
            await pilot.pause(0.1)
            detail = str(app.screen.query_one("#runs-detail", Static).render())
            assert "is gone" in detail and "C resumes it" in detail
            app.screen.query_one(DataTable).move_cursor(row=names.index("train-live"))
            await pilot.pause(0.1)
            assert f"pid {holder.pid}" in str(app.screen.query_one("#runs-detail", Static).render())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert read_holder(train).pid != holder.pid


@pytest.mark.parametrize("size", SIZES)
async def test_resume_key_runs_resume_and_opens_the_dashboard(tmp_path, size):
    runs = tmp_path / "runs"
    train = stopped_training_run(runs, "train-stopped")
    solve_session(runs, "solve-20250101-000000-done")
    argv_file = tmp_path / "argv.json"
    script = tmp_path / "engine.py"
    script.write_text(FAKE_ENGINE)
    app = LadderApp(runs_dir=runs, engine_cmd=[sys.executable, str(script), str(argv_file)])
    async with app.run_test(size=size) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.summaries) == 2)
        names = [s.path.name for s in app.screen.summaries]
        # a finished solve session is not resumable: a warning, no engine
        app.screen.query_one(DataTable).move_cursor(row=names.index("solve-20250101-000000-done"))
        await pilot.press("c")
        await pilot.pause(0.2)
        assert app.current_mode == "runs" and not argv_file.exists()
        app.screen.query_one(DataTable).move_cursor(row=names.index("train-stopped"))
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "dashboard")
        screen = app.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.state.status == "done" and screen.state.step == 4)
        assert json.loads(argv_file.read_text()) == ["train", "--resume", str(train)]
        assert screen.run_dir == train
        # the run's history (its variant tree and 6 steps) is shown, then what the engine sends
        assert screen.state.variants and len(screen.state.steps) == 7


def header_state(name: str, status: str = "running"):
    from ladder_tui.state import RunState

    state = RunState()
    state.run, state.kind, state.model, state.device = name, "train", "qwen2.5-coder-0.5b", "cuda:0"
    state.step, state.total_steps, state.status = 12, 40, status
    return state


@pytest.mark.parametrize("size", SIZES)
async def test_dashboard_header_keeps_step_eta_and_status_visible(tmp_path, size):
    name = "train-20250601-101010-x-exp-x-and-a-long-subject"
    run = write_synthetic_run(tmp_path / name, n_events=300, steps=10, finished=False)
    events = [{**json.loads(line), "run": name} for line in (run / "events.jsonl").read_text().splitlines()]
    write_events(run, events)  # the header shows the run's name from its events
    app = LadderApp(runs_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        app.open_run(run, follow=False)
        screen = app.screen_stack[0]
        await wait_for(pilot, lambda: screen.state.step == 10 and screen.settled)
        await pilot.pause(0.3)
        info = screen.query_one("#run-info", Static)
        text = shown(info)
        assert "step 10/10" in text and "ETA " in text and "running" in text, text
        assert text.rstrip().endswith("running")  # nothing cut at the end
        assert "…" in text and text.startswith("TRAIN train-")  # the name gave way, shortened
        assert Text.from_markup(header_line(screen.state, info.size.width)).cell_len <= info.size.width


@pytest.mark.parametrize("width", [30, 40, 57, 80, 100, 160])
def test_header_line_fits_and_keeps_the_figures(width):
    state = header_state("train-20250601-101010-x-exp-x-and-a-long-subject")
    line = Text.from_markup(header_line(state, width)).plain
    assert "step 12/40" in line and "ETA" in line and line.endswith("running")
    if width >= 40:
        assert len(line) <= width
    if width >= 160:
        assert state.run in line and "cuda:0" in line


@pytest.mark.parametrize("size", SIZES)
async def test_watch_opens_a_run_with_a_torn_last_line_and_warns(tmp_path, size):
    run = write_synthetic_run(tmp_path / "torn", n_events=200, steps=6, finished=False)
    whole = (run / "events.jsonl").read_text()
    n_steps = whole.count('"type": "step"')
    with open(run / "events.jsonl", "a") as f:
        f.write('{"type": "step", "t": 1, "run": "torn", "step": 99, "rew')
    app = LadderApp(runs_dir=tmp_path, watch=run)
    async with app.run_test(size=size) as pilot:
        screen = app.screen_stack[0]
        await wait_for(pilot, lambda: isinstance(screen, DashboardScreen) and screen.state.step == n_steps
                       and screen.settled)
        assert len(screen.state.steps) == n_steps  # every event before the damage, none after
        assert any("half-written line" in n.message for n in app._notifications)
