"""Pause: a paused engine takes no step until it is resumed.

Three levels: Control itself (threads), `ladder train` on the tiny model with its Control paused
and resumed from another thread, and the app: pressing `p` on the dashboard pauses a live engine
child (which runs the real Control over stdin) and pressing it again resumes it."""

from __future__ import annotations

import io
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import wait_for

from engine.runs.events import Control, read_events

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ Control

def blocked(control: Control, seconds: float = 0.5) -> tuple[threading.Thread, list[bool]]:
    """Call control.checkpoint() in a thread; its result lands in the list once it returns."""
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(control.checkpoint()), daemon=True)
    t.start()
    t.join(seconds)
    return t, result


def test_checkpoint_passes_while_running():
    c = Control()
    _, result = blocked(c)
    assert result == [False]


def test_checkpoint_blocks_while_paused_and_returns_on_resume():
    c = Control()
    c.pause()
    t, result = blocked(c)
    assert t.is_alive() and result == [], "a paused Control let a step through"
    c.resume()
    t.join(2)
    assert result == [False]


def test_stop_releases_a_paused_checkpoint_with_true():
    c = Control()
    c.pause()
    t, result = blocked(c)
    assert t.is_alive()
    c.stop()
    t.join(2)
    assert result == [True] and c.stopped


def test_commands_over_a_stream():
    c = Control()
    c.listen(io.StringIO('{"cmd": "pause"}\nnot json\n{"cmd": "bogus"}\n')).join(2)
    t, result = blocked(c, 0.3)
    assert t.is_alive() and result == []
    c.listen(io.StringIO('{"cmd": "resume"}\n')).join(2)
    t.join(2)
    assert result == [False]


# ------------------------------------------------------------------ the training loop

CONFIG = """
[variants]
source = "symbolic"
max_variants = 3
[sample]
max_tokens = 3
[grpo]
rollout_backend = "hf"
group_size = 2
max_resample = 0
"""


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not alive():
            raise AssertionError(f"the run ended while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_paused_training_takes_no_step_until_resumed(tmp_path, problems_file, tiny_dir, monkeypatch):
    from engine.commands import run as cli_run
    from engine.train.grpo import GRPOTrainer

    control = Control()
    monkeypatch.setattr("engine.commands.train.control_for", lambda args: control)
    built = GRPOTrainer.__init__

    def build_then_pause(self, *a, **k):  # paused once the model is loaded, before the first step
        built(self, *a, **k)
        control.pause()

    monkeypatch.setattr(GRPOTrainer, "__init__", build_then_pause)
    cfg = tmp_path / "small.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "paused"
    codes: list[int] = []
    args = ["train", "--model", "tiny", "--problems", str(problems_file), "--steps", "3", "--out", str(out),
            "--config", str(cfg), "--device", "cpu"]
    thread = threading.Thread(target=lambda: codes.append(cli_run(args)), daemon=True)
    thread.start()

    def events(kind: str) -> list[dict]:
        path = out / "events.jsonl"
        return [e for e in read_events(path) if e["type"] == kind] if path.exists() else []

    try:
        wait_until(lambda: events("run_started"), 240, "the run to start", thread.is_alive)
        time.sleep(2.0)  # long enough for a tiny step, had the pause let one through
        assert events("step") == [] and thread.is_alive(), "a step ran while paused"
        control.resume()
        wait_until(lambda: len(events("step")) >= 1, 240, "the first step after resume", thread.is_alive)
        # pause again mid-run: the step in progress may finish, then nothing until resume
        control.pause()
        time.sleep(1.0)
        held = len(events("step"))
        time.sleep(2.0)
        assert len(events("step")) == held and thread.is_alive(), "steps went on while paused"
    finally:
        control.resume()
        thread.join(300)
    assert codes == [0]
    assert [e["step"] for e in events("step")] == [1, 2, 3]


# ------------------------------------------------------------------ the app: `p` on the dashboard

ENGINE = textwrap.dedent(f"""
    import json, sys, time
    sys.path.insert(0, {str(ROOT)!r})
    from engine.runs.events import Control
    control = Control()
    control.listen(sys.stdin)
    def emit(**e):
        print(json.dumps({{"t": time.time(), "run": "pause", **e}}), flush=True)
    emit(type="run_started", kind="ttrl", model="tiny", device="cpu", total_steps=100000)
    emit(type="variant", id="v0", parent=None, depth=0, kind="root", source="user", integrand="x*exp(x)")
    step = 0
    while True:
        if control.checkpoint():
            break
        step += 1
        emit(type="step", step=step, reward_mean=0.0, reward_std=0.0, accuracy=0.0, kl=0.0, loss=0.0,
             tokens_per_s=1.0)
        time.sleep(0.05)
    emit(type="run_finished", status="stopped", steps=step)
""")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_p_on_the_dashboard_pauses_and_resumes_a_live_engine(tmp_path: Path) -> None:
    from textual.widgets import Input, Select

    from ladder_tui.app import LadderApp
    from ladder_tui.screens.dashboard import DashboardScreen
    from ladder_tui.screens.train_form import TrainFormScreen

    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs", engine_cmd=[sys.executable, str(script)])

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainFormScreen))
        app.screen.query_one("#train-mode", Select).value = "ttrl"
        app.screen.query_one("#train-integrand", Input).value = "x*exp(x)"
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.state.step >= 3)

        await pilot.press("p")
        assert screen.state.status == "paused"
        await pilot.pause(0.6)  # the step in flight (if any) lands
        held = screen.state.step
        await pilot.pause(1.5)
        assert screen.state.step == held, f"the engine took {screen.state.step - held} steps while paused"

        await pilot.press("p")
        assert screen.state.status == "running"
        await wait_for(pilot, lambda: screen.state.step >= held + 3)

        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "stopped" and screen.settled)
