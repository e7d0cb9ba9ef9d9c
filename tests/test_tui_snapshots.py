"""Snapshot tests of the main screens at 80×24 and 160×48 (pytest-textual-snapshot).

Everything on screen comes from fixed data: synthetic runs with fixed timestamps, fixed file
times, relative paths, no clocks. Update with `pytest tests/test_tui_snapshots.py --snapshot-update`
after checking the new pictures.
"""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path

import pytest

from textual.widgets import Input

from ladder_tui.app import LadderApp
from ladder_tui.screens.train_form import TrainFormScreen
from ladder_tui.synthetic import T0, write_synthetic_run

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

SAMPLE_EVENTS = [
    {"type": "run_started", "t": T0, "run": "s", "kind": "solve", "model": "tiny", "device": "cpu"},
    {"type": "sample", "t": T0 + 2.0, "index": 0, "integrand": "x*exp(x)", "answer": "(x - 1)*exp(x)", "ok": True,
     "reason": "verified at 5 points", "seconds": 1.9, "tokens": 21,
     "completion": "Integrate by parts: u = x, dv = e^x dx.\n<answer>(x - 1)*exp(x)</answer>"},
    {"type": "sample", "t": T0 + 3.5, "index": 1, "integrand": "x*exp(x)", "answer": "x*exp(x)", "ok": False,
     "reason": "derivative differs at x=1.7 (rel err 0.59)", "seconds": 1.4, "tokens": 9,
     "completion": "<answer>x*exp(x)</answer>"},
    {"type": "run_finished", "t": T0 + 3.6, "run": "s", "status": "done"},
]


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two synthetic runs under ./runs with fixed modification times."""
    monkeypatch.chdir(tmp_path)
    for name, steps, finished in (("ladder-demo", 20, True), ("ttrl-live", 8, False)):
        run = write_synthetic_run(Path("runs") / name, n_events=400, steps=steps, finished=finished)
        os.utime(run / "events.jsonl", (T0, T0 + steps))
    return Path("runs")


async def settle(pilot, condition, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds, then let the screen finish drawing. Fails the test, naming
    the condition, if it does not hold within `timeout` seconds: a picture of a screen that never
    got there would only show a confusing diff (or, with --snapshot-update, record a wrong one)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            try:
                what = inspect.getsource(condition).strip()
            except (OSError, TypeError):
                what = repr(condition)
            # AssertionError, not pytest.fail: Textual's pilot lets an Exception end the app and
            # reach the test, while pytest.fail's BaseException would leave the app hanging
            raise AssertionError(f"the app never settled within {timeout:g} s: {what} is still false "
                                 f"(screen: {type(pilot.app.screen).__name__})")
        await pilot.pause(0.1)
    await pilot.pause(0.2)
    pilot.app.clear_notifications()
    # A blinking cursor would make the picture depend on when it is taken.
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.05)


def test_settle_fails_loudly_when_the_app_never_settles(runs: Path) -> None:
    from textual._doc import take_svg_screenshot

    async def run_before(pilot) -> None:
        await settle(pilot, lambda: pilot.app.screen is None, timeout=0.5)

    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"never settled within 0.5 s: .*pilot.app.screen is None"):
        take_svg_screenshot(LadderApp(model="tiny", runs_dir=runs), terminal_size=(80, 24), run_before=run_before)
    assert time.monotonic() - t0 < 20


@pytest.mark.parametrize("size", SIZES)
def test_solve_screen_empty(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot, lambda: True)

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_solve_screen_with_answers(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        await pilot.press(*"x e^x")
        await settle(pilot, lambda: pilot.app.screen.current is not None)
        pilot.app.screen.show_events(SAMPLE_EVENTS)
        await settle(pilot, lambda: len(pilot.app.screen.samples) == 2)

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_replay(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        pilot.app.open_run(runs / "ladder-demo", follow=False)
        await settle(pilot, lambda: getattr(pilot.app.screen, "state", None) is not None
                     and pilot.app.screen.state.status == "done" and pilot.app.screen.settled)
        await pilot.press("down", "down")
        await settle(pilot, lambda: True)

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_runs_screen(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("f3")
        await settle(pilot, lambda: bool(getattr(pilot.app.screen, "summaries", None)))

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_train_form(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("f5")
        await settle(pilot, lambda: isinstance(pilot.app.screen, TrainFormScreen))
        # The default is an absolute path into the installed package: it differs per checkout.
        pilot.app.screen.query_one("#train-problems", Input).value = "engine/data/undergrad_train.jsonl"
        await settle(pilot, lambda: True)

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_export_modal_after_export(snap_compare, runs: Path, size) -> None:
    async def run_before(pilot) -> None:
        pilot.app.open_run(runs / "ladder-demo", follow=False)
        await settle(pilot, lambda: getattr(pilot.app.screen, "state", None) is not None
                     and pilot.app.screen.state.status == "done" and pilot.app.screen.settled)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: pilot.app.screen.query("#export-go"))
        await pilot.click("#export-go")
        await settle(pilot, lambda: getattr(pilot.app.screen, "written", None))

    assert snap_compare(LadderApp(model="tiny", runs_dir=runs), terminal_size=size, run_before=run_before)
