"""While a long step runs, the dashboard says what the engine is doing (phase events)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.css.query import NoMatches
from textual.widgets import Static

from engine.runs.config import Config
from engine.runs.events import Phase, RunStarted, Step
from engine.runs.rundir import RunDir
from ladder_tui.app import LadderApp
from ladder_tui.screens.dashboard import DashboardScreen
from ladder_tui.widgets.curves import describe_phase

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _write(run: Path, events: list) -> None:
    with open(run / "events.jsonl", "a") as f:
        for i, e in enumerate(events):
            e.t, e.run = 1_750_000_000.0 + i, run.name
            f.write(json.dumps(e.to_dict()) + "\n")


def test_phase_text_names_the_work_and_the_step():
    assert describe_phase(Phase(phase="tree", done=3, total=15, detail="120 variants so far"), 1) == \
        "building the variant tree 3 of 15 (120 variants so far)"
    assert describe_phase(Phase(phase="generate", done=2, total=4), 5) == "step 5 · generating 2 of 4"


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_dashboard_shows_the_phase_until_the_next_step(tmp_path: Path, size: tuple[int, int]) -> None:
    run = RunDir.create(tmp_path / "runs" / "phased", Config(model="tiny")).path
    _write(run, [RunStarted(kind="train", model="tiny", total_steps=4),
                 Phase(phase="tree", done=2, total=15, detail="40 variants so far")])
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=size) as pilot:
        app.open_run(run, follow=True)
        screen = app.screen_stack[0]
        assert isinstance(screen, DashboardScreen)

        def stats() -> str:
            try:
                return str(screen.query_one("#curves-stats", Static).render())
            except NoMatches:  # the screen is still mounting
                return ""

        deadline = time.monotonic() + 30
        while "building the variant tree 2 of 15" not in stats():
            assert time.monotonic() < deadline, stats()
            await pilot.pause(0.1)
        _write(run, [Step(step=1, reward_mean=0.5, accuracy=0.25)])
        deadline = time.monotonic() + 30
        while "reward 0.500" not in stats():
            assert time.monotonic() < deadline, stats()
            await pilot.pause(0.1)
        assert "building" not in stats()
