"""Pilot tests driving every screen of the app against real engine children and real run folders."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sympy
from helpers import wait_for
from textual.widgets import DataTable, Input, Select

from engine.verify.parse import parse
from ladder_tui.app import LadderApp
from ladder_tui.engine_client import follow_events
from ladder_tui.screens.dashboard import DashboardScreen
from ladder_tui.screens.export import ExportScreen
from ladder_tui.screens.runs import RunsScreen
from ladder_tui.screens.solve import SolveScreen
from ladder_tui.screens.train_form import TrainFormScreen
from ladder_tui.synthetic import synthetic_events, write_synthetic_run
from ladder_tui.widgets.answer_card import AnswerCard
from ladder_tui.widgets.rollout_view import RolloutView
from ladder_tui.widgets.variant_tree import VariantTree
from ladder_tui.widgets.verification_log import MAX_ROWS

pytestmark = pytest.mark.anyio

HAS_SOLVE = importlib.util.find_spec("engine.evaluation.solve") is not None
HAS_TTRL = importlib.util.find_spec("engine.train.ttrl") is not None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio




def dashboard(app: LadderApp) -> DashboardScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, DashboardScreen)
    return screen


def table_rows(screen, selector: str) -> list[list[str]]:
    table = screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


# ---- dashboard: replay, follow, burst ----------------------------------------------------------

async def test_replay_fills_tree_table_chart_and_header(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "runs" / "syn", n_events=600, steps=10)
    events = synthetic_events(n_events=600, steps=10)
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_run(run, follow=False)
        await wait_for(pilot, lambda: dashboard(app).state.status == "done" and dashboard(app).settled)
        await pilot.pause(0.2)
        screen = dashboard(app)
        n_variants = sum(e["type"] == "variant" for e in events)
        n_rollouts = sum(e["type"] == "rollout" for e in events)
        assert len(screen.state.variants) == n_variants
        tree = screen.query_one(VariantTree)
        assert len([n for n in tree._tree_nodes.values() if n.data]) == n_variants
        rows = table_rows(screen, "#log-table")
        assert len(rows) == min(n_rollouts, MAX_ROWS)
        last = [e for e in events if e["type"] == "rollout"][-1]
        assert rows[0][1] == last["variant"] and rows[0][0] == str(last["step"])  # newest first
        stats = str(screen.query_one("#curves-stats").render())
        assert "step 10" in stats and "loss" in stats
        rates = str(screen.query_one("#curves-rates").render())
        assert "verified " in rates and "/h · signal " in rates and "% · " in rates and "tok/s" in rates
        info = str(screen.query_one("#run-info").render())
        assert "step 10/10" in info and "tiny" in info and "done" in info

        # Selecting a variant shows its rollouts.
        await pilot.press("down")
        await pilot.pause(0.1)
        selected = screen.state.variants[tree.cursor_node.data]
        text = str(screen.query_one(RolloutView).query_one("#rollout-text").render())
        assert selected.integrand in text and f"solved {selected.solved}/{selected.attempts}" in text

        # The filter narrows the log to matching rows.
        await pilot.press("slash", *"p3")
        await pilot.pause(0.1)
        rows = table_rows(screen, "#log-table")
        assert rows and all("p3" in " ".join(r).lower() for r in rows)


async def test_watch_follows_a_run_that_is_still_being_written(tmp_path: Path) -> None:
    events = synthetic_events(n_events=400, steps=8)
    run = tmp_path / "live"
    run.mkdir()
    half = len(events) // 2
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events[:half]))
    app = LadderApp(runs_dir=tmp_path, watch=run)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: dashboard(app).state.rollout_count > 0)
        assert dashboard(app).state.status == "running"
        with open(run / "events.jsonl", "a") as f:
            for e in events[half:]:
                f.write(json.dumps(e) + "\n")
        await wait_for(pilot, lambda: dashboard(app).state.status == "done" and dashboard(app).settled, timeout=10)
        assert dashboard(app).state.step == 8


async def test_event_burst_is_consumed_and_tables_stay_bounded(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "burst", n_events=5000, steps=50)
    app = LadderApp(runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(run, follow=False)
        await wait_for(pilot, lambda: dashboard(app).state.status == "done" and dashboard(app).settled, timeout=30)
        await pilot.pause(0.1)
        assert dashboard(app).query_one("#log-table", DataTable).row_count == MAX_ROWS
        assert len(dashboard(app).state.steps) == 50


async def test_follow_events_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "log", "t": 1, "message": "a"}\n{"type": "lo')
    got: list[dict] = []
    await follow_events(path, got.extend, follow=False)
    assert [e["message"] for e in got] == ["a"]


# ---- engine crash --------------------------------------------------------------------------

CRASHING_ENGINE = textwrap.dedent("""
    import json, sys, time
    def emit(**e):
        print(json.dumps({"t": time.time(), "run": "crash", **e}), flush=True)
    emit(type="run_started", kind="ttrl", model="tiny", device="cpu", total_steps=5)
    emit(type="variant", id="v0", parent=None, depth=0, kind="root", source="user", integrand="x*exp(x)")
    emit(type="rollout", variant="v0", step=1, answer="x", reward=0.05, ok=False, reason="wrong")
    emit(type="step", step=1, reward_mean=0.05, reward_std=0.0, accuracy=0.0, kl=0.0, loss=0.1, tokens_per_s=10)
    time.sleep(0.3)
    print("RuntimeError: CUDA out of memory (scripted crash)", file=sys.stderr, flush=True)
    sys.exit(3)
""")


async def test_engine_crash_is_shown_and_the_app_stays_usable(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_ENGINE)
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs", engine_cmd=[sys.executable, str(script)])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainFormScreen))
        app.screen.query_one("#train-mode", Select).value = "ttrl"
        app.screen.query_one("#train-integrand", Input).value = "x*exp(x)"
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: app.current_mode == "dashboard" and dashboard(app).state.status == "error"
                       and dashboard(app).settled, timeout=20)
        await pilot.pause(0.2)
        screen = dashboard(app)
        assert screen.has_class("-crashed")
        error = str(screen.query_one("#run-error").render())
        assert "code 3" in error and "out of memory" in error
        # The last state stays on screen.
        assert "v0" in screen.state.variants and screen.state.step == 1
        assert "step 1/5" in str(screen.query_one("#run-info").render())
        # And the app still works: go to the solve screen and type.
        await pilot.press("f1")
        await pilot.press(*"x**2")
        assert isinstance(app.screen, SolveScreen)
        assert app.screen.query_one("#integrand", Input).value == "x**2"


async def test_crash_before_any_event_in_solve(tmp_path: Path) -> None:
    script = tmp_path / "die.py"
    script.write_text("import sys\nprint('ladder: error: model not found', file=sys.stderr)\nsys.exit(2)\n")
    app = LadderApp(model="nope", runs_dir=tmp_path / "runs", engine_cmd=[sys.executable, str(script)])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"x")
        await wait_for(pilot, lambda: app.screen.current is not None, timeout=20)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.has_class("-crashed"), timeout=20)
        assert "model not found" in str(app.screen.query_one("#solve-status").render())


async def test_enter_right_after_typing_solves_what_was_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview parses in a worker; Enter before it lands must neither be refused nor send the
    previous integral to the engine."""
    import ladder_tui.screens.solve as solve_screen

    real = solve_screen.pretty_integral

    def slow_pretty(*args):  # sympy's pretty printer can take this long on a big integrand
        time.sleep(0.5)
        return real(*args)

    monkeypatch.setattr(solve_screen, "pretty_integral", slow_pretty)
    argv_file = tmp_path / "argv.json"
    script = tmp_path / "record.py"
    script.write_text(f"import json, sys\njson.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n")
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs", engine_cmd=[sys.executable, str(script)])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"x")
        await wait_for(pilot, lambda: app.screen.current is not None, timeout=20)
        await pilot.press(*"+1", "enter")  # no pause: the parse of "x+1" is still in flight
        await wait_for(pilot, argv_file.exists, timeout=30)
        argv = json.loads(argv_file.read_text())
        assert argv[0] == "solve" and sympy.simplify(parse(argv[1]) - parse("x + 1")) == 0


# ---- solve with the real tiny engine ------------------------------------------------------------

@pytest.mark.skipif(not HAS_SOLVE, reason="engine.evaluation.solve not written yet")
@pytest.mark.timeout(600)  # loads the tiny model in a child; slow only on a busy machine
async def test_solve_with_tiny_model_shows_answers_and_verdicts(tmp_path: Path) -> None:
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"x*exp(x)")
        await wait_for(pilot, lambda: app.screen.current is not None, timeout=30)
        app.screen.query_one("#samples", Input).value = "2"
        await pilot.press("enter")
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.samples) == 2 and not screen.process.running, timeout=500)
        await pilot.pause(0.2)
        cards = list(screen.query(AnswerCard))
        assert len(cards) == 2
        for card in cards:
            assert card.has_class("-ok") or card.has_class("-bad")
            verdict = str(card.query_one(".answer-verdict").render())
            assert "verified" in verdict or "rejected" in verdict
        assert "verified in" in str(screen.query_one("#solve-status").render())
        # The session is a run folder that exports.
        session = screen.session_dir
        lines = (session / "events.jsonl").read_text().splitlines()
        assert sum(json.loads(x)["type"] == "sample" for x in lines) == 2


# ---- training with the real tiny engine -----------------------------------------------------------

@pytest.mark.skipif(not HAS_TTRL, reason="engine.train.ttrl not written yet")
@pytest.mark.timeout(900)  # one real GRPO step of the tiny model; minutes on a busy 2-core machine
async def test_tiny_ttrl_updates_dashboard_and_stops(tmp_path: Path) -> None:
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"x*exp(x)")
        await wait_for(pilot, lambda: app.screen.current is not None, timeout=30)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainFormScreen))
        form = app.screen
        assert form.query_one("#train-integrand", Input).value == "x*exp(x)"
        assert form.query_one("#train-mode", Select).value == "ttrl"
        form.query_one("#train-steps", Input).value = "50"
        form.query_one("#train-group", Input).value = "2"
        form.query_one("#train-depth", Input).value = "1"
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: app.current_mode == "dashboard")
        screen = dashboard(app)
        await wait_for(pilot, lambda: screen.state.step >= 1 and screen.settled, timeout=600)
        # Stop: the engine ends after the step in progress (TTRL rolls its adapter back, no checkpoint).
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status in ("stopped", "done") and screen.settled, timeout=800)
        assert screen.state.status == "stopped", screen.state.errors
        assert screen.query_one(VariantTree).root.children
        assert screen.query_one("#log-table", DataTable).row_count > 0
        assert "step 1" in str(screen.query_one("#curves-stats").render())
        assert (screen.run_dir / "events.jsonl").is_file()


# ---- runs screen and export ---------------------------------------------------------------------

async def test_runs_screen_lists_and_opens_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_synthetic_run(runs / "first", n_events=200, steps=4)
    write_synthetic_run(runs / "second", n_events=200, steps=6, finished=False)
    app = LadderApp(runs_dir=runs)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.summaries)
        rows = {r[0]: r for r in table_rows(app.screen, "#runs-table")}
        assert set(rows) == {"first", "second"}
        assert rows["first"][5] == "done" and rows["first"][4] == "4/4"
        assert rows["second"][5] == "running?"
        assert rows["first"][3] == "x*exp(x)"  # the first problem of the run
        app.screen.query_one(DataTable).move_cursor(row=[r.path.name for r in app.screen.summaries].index("first"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "dashboard" and dashboard(app).state.status == "done"
                       and dashboard(app).settled)
        assert dashboard(app).run_dir == runs / "first"


async def test_export_modal_writes_all_three_formats(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "runs" / "syn", n_events=300, steps=5)
    app = LadderApp(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(run, follow=False)
        await wait_for(pilot, lambda: dashboard(app).state.status == "done" and dashboard(app).settled)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
        out = tmp_path / "out"
        app.screen.query_one("#export-dir", Input).value = str(out)
        await pilot.click("#export-go")
        await wait_for(pilot, lambda: app.screen.written, timeout=20)
        shown = str(app.screen.query_one("#export-result").render())
        assert all(str(p) in shown for p in app.screen.written)
        md = (out / "syn.md").read_text()
        assert "## Curves" in md and "x*exp(x)" in md and "| 5 |" in md
        data = json.loads((out / "syn.json").read_text())
        assert len(data["steps"]) == 5 and data["solved"][0]["answer"] == "(x - 1)*exp(x)"
        tex = (out / "syn.tex").read_text()
        assert tex.startswith("\\documentclass") and "\\end{document}" in tex and "addplot" in tex
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)


async def test_export_with_nothing_open_warns(tmp_path: Path) -> None:
    app = LadderApp(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ExportScreen)
        assert any("nothing to export" in n.message for n in app._notifications)


async def test_train_form_validates(tmp_path: Path) -> None:
    app = LadderApp(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainFormScreen))
        form = app.screen
        form.query_one("#train-steps", Input).value = "0"
        await pilot.click("#train-start")
        assert isinstance(app.screen, TrainFormScreen)
        assert "steps" in str(form.query_one("#train-error").render())
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(app.screen, TrainFormScreen)


async def test_solve_preview_pretty_prints_and_shows_parse_errors_inline(tmp_path: Path) -> None:
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        preview = screen.query_one("#preview")
        await pilot.press(*"∫ x e^x dx")
        await wait_for(pilot, lambda: screen.current is not None, timeout=30)
        # The engine is given the integrand in plain sympy syntax.
        assert sympy.simplify(parse(screen.current.integrand) - parse("x*exp(x)")) == 0
        assert "ℯ" in str(preview.render()) and not preview.has_class("-error")
        screen.query_one("#integrand", Input).value = "sin("
        await wait_for(pilot, lambda: preview.has_class("-error"), timeout=30)
        assert "never closed" in str(preview.render()) and screen.current is None
        await pilot.press("enter")  # nothing to solve: no engine is started
        await pilot.pause(0.1)
        assert screen.process is None and not list((tmp_path / "runs").glob("*"))
        screen.query_one("#integrand", Input).value = "__import__('os')"
        await wait_for(pilot, lambda: "not allowed" in str(preview.render()), timeout=30)
        # Definite bounds typed in their own boxes show up in the preview.
        screen.query_one("#integrand", Input).value = "x**2"
        screen.query_one("#lower", Input).value = "0"
        screen.query_one("#upper", Input).value = "1"
        await wait_for(pilot, lambda: screen.current is not None and screen.current.upper == "1", timeout=30)
        assert str(preview.render()).splitlines()[0].strip() == "1"


async def test_answers_arriving_in_one_burst_all_land(tmp_path: Path) -> None:
    """A card gets its verdict even when its first token and its result come in the same frame."""
    app = LadderApp(model="tiny", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        events = [{"type": "token", "t": 1.0, "sample": i, "text": "<answer>"} for i in range(3)]
        events += [{"type": "sample", "t": 2.0 + i, "index": i, "integrand": "x", "answer": "x**2/2", "ok": i != 1,
                    "reason": "ok" if i != 1 else "wrong", "seconds": 0.5} for i in range(3)]
        events.append({"type": "run_finished", "t": 5.0, "status": "done"})
        screen.show_events(events)
        await wait_for(pilot, lambda: len(screen.samples) == 3)
        await pilot.pause(0.1)
        cards = list(screen.query(AnswerCard))
        assert [c.has_class("-ok") for c in cards] == [True, False, True]
        assert "x**2/2" in str(cards[0].query_one(".answer-verdict").render())
        assert "2/3 verified in 4.0 s" in str(screen.query_one("#solve-status").render())
