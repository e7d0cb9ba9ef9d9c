"""Verified answers per hour, the signal share and the rollouts' tokens/s: RunState's figures
(hand-computed, a resumed run included) and the dashboard line that shows them (Pilot, 80x24)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import wait_for
from textual.geometry import Region
from textual.widgets import Static

from ladder_tui.app import LadderApp
from ladder_tui.screens.dashboard import DashboardScreen
from ladder_tui.state import RunState, Throughput
from ladder_tui.widgets.curves import throughput_line

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def started(t: float) -> dict:
    return {"type": "run_started", "t": t, "run": "r", "kind": "train", "model": "tiny", "device": "cpu",
            "total_steps": 3}


def step(t: float, n: int, verified: int, signal: int, drawn: int, tps: float) -> dict:
    return {"type": "step", "t": t, "run": "r", "step": n, "reward_mean": 0.5, "accuracy": 0.5,
            "verified": verified, "signal_groups": signal, "drawn": drawn, "rollout_tokens_per_s": tps,
            "tokens_per_s": tps}


# One session of an hour: 2 + 0 + 5 = 7 verified, 1 + 0 + 4 = 5 signal groups of 4 + 6 + 10 = 20 drawn.
ONE_SESSION = [
    started(1000.0),
    step(1600.0, 1, verified=2, signal=1, drawn=4, tps=100.0),
    step(2200.0, 2, verified=0, signal=0, drawn=6, tps=120.0),
    step(4600.0, 3, verified=5, signal=4, drawn=10, tps=150.0),
    {"type": "run_finished", "t": 4600.0, "run": "r", "status": "done", "steps": 3},
]

# The same steps over two sessions: the first crashes after step 2 (its last event a log at 2800,
# so it lasted 1800 s), the resumed one starts at 10000 and ends at 11800 (1800 s). The 7200 s gap
# between them is not run time: 7 verified in 3600 s is 7.0 an hour, as in one session.
FIRST_SESSION = [
    started(1000.0),
    step(1600.0, 1, verified=2, signal=1, drawn=4, tps=100.0),
    step(2200.0, 2, verified=0, signal=0, drawn=6, tps=120.0),
    {"type": "log", "t": 2800.0, "run": "r", "level": "info", "message": "checkpoint written"},
]
SECOND_SESSION = [
    {**started(10000.0), "resumed_from": 2},
    step(11800.0, 3, verified=5, signal=4, drawn=10, tps=150.0),
    {"type": "run_finished", "t": 11800.0, "run": "r", "status": "done", "steps": 3},
]


def state_of(events: list[dict]) -> RunState:
    state = RunState()
    state.apply_all(events)
    return state


def test_throughput_of_one_session_by_hand():
    state = state_of(ONE_SESSION)
    assert state.wall_seconds == 3600.0
    assert state.throughput == Throughput(verified_per_hour=7.0, signal_share=0.25, tokens_per_s=150.0)
    assert throughput_line(state.throughput) == "verified 7.0/h · signal 25% · 150 tok/s"


def test_throughput_while_running_counts_up_to_the_latest_event():
    state = state_of(ONE_SESSION[:3])  # two steps, the latest at 2200: 1200 s
    assert state.throughput == Throughput(verified_per_hour=6.0, signal_share=0.1, tokens_per_s=120.0)
    state.apply_all([{"type": "log", "t": 3400.0, "run": "r", "message": "x"}])  # the clock runs on
    assert state.throughput.verified_per_hour == 3.0


def test_a_resumed_run_counts_each_session_not_the_gap_between_them():
    state = state_of(FIRST_SESSION)
    assert state.wall_seconds == 1800.0
    assert state.throughput == Throughput(verified_per_hour=4.0, signal_share=0.1, tokens_per_s=120.0)
    state.apply_all(SECOND_SESSION)
    assert state.earlier_sessions_s == 1800.0 and state.elapsed == 1800.0  # elapsed: this session
    assert state.wall_seconds == 3600.0
    assert state.throughput == Throughput(verified_per_hour=7.0, signal_share=0.25, tokens_per_s=150.0)


def test_steps_without_the_figures_give_none_and_the_step_tokens_per_s():
    trl = {"type": "step", "t": 1060.0, "run": "r", "step": 1, "reward_mean": 0.5, "tokens_per_s": 80.0}
    assert state_of([started(1000.0)]).throughput == Throughput(None, None, None)
    assert state_of([started(1000.0), trl]).throughput == Throughput(None, None, 80.0)
    # an older run whose steps lack the figures, then a newer session whose steps have them
    state = state_of([started(1000.0), trl, started(2000.0), step(2360.0, 2, 3, 1, 4, 90.0)])
    assert state.throughput == Throughput(verified_per_hour=3 / (420 / 3600), signal_share=0.25, tokens_per_s=90.0)


def test_the_throughput_line_fits_the_curves_panel_at_80_columns():
    widest = Throughput(verified_per_hour=99_999.0, signal_share=1.0, tokens_per_s=99_999.0)
    assert throughput_line(widest) == "verified 99,999/h · signal 100% · 99999 tok/s"
    assert len(throughput_line(widest)) <= 46
    assert throughput_line(Throughput(None, None, 80.0)) == "verified –/h · signal – · 80 tok/s"


def shown(widget) -> str:
    return "".join(strip.text for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def write(path: Path, events: list[dict], mode: str = "w") -> None:
    with open(path, mode) as f:
        f.write("".join(json.dumps(e) + "\n" for e in events))


async def test_dashboard_shows_the_throughput_live_and_after_a_resume(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    write(run / "events.jsonl", FIRST_SESSION)  # a run that crashed after step 2
    app = LadderApp(runs_dir=tmp_path, watch=run)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.state.step == 2 and screen.settled)
        await pilot.pause(0.2)
        rates = screen.query_one("#curves-rates", Static)
        assert shown(rates).strip() == "verified 4.0/h · signal 10% · 120 tok/s"
        write(run / "events.jsonl", SECOND_SESSION, "a")  # the resumed session appends
        await wait_for(pilot, lambda: screen.state.status == "done" and screen.settled, timeout=10)
        await pilot.pause(0.2)
        assert shown(rates).strip() == "verified 7.0/h · signal 25% · 150 tok/s"  # whole, at 80 columns


async def test_dashboard_keeps_the_chart_row_until_a_step_reports(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    write(run / "events.jsonl", [started(1000.0)])
    app = LadderApp(runs_dir=tmp_path, watch=run)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen_stack[0]
        await wait_for(pilot, lambda: screen.state.status == "running" and screen.settled)
        await pilot.pause(0.2)
        assert not screen.query_one("#curves-rates", Static).display
