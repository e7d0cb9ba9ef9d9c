"""How responsive is the app? Open time, and key-press latency while a 10,000-event run replays.

  .venv/bin/python bench/tui_events.py [--events 10000] [--repeats 3]

Targets (issue 7): the app opens in < 1.5 s; every key press during the replay is answered in
< 100 ms. Under Pilot (headless, 160x48) a key event is handed to the app the way the terminal
driver hands it over, and timed until its visible effect is done: the tree cursor moved and the
rollout panel shows the newly selected variant. (Pilot's own `press` waits for the whole process
to go idle, which never happens during a replay, so it cannot time this.)
Anchors measured in the same run: a bare "hello" Textual app's open time, and the same key press
on the idle dashboard of the finished replay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, write_result

from textual import events

from ladder_tui.app import LadderApp
from ladder_tui.synthetic import write_synthetic_run
from ladder_tui.widgets.rollout_view import RolloutView
from ladder_tui.widgets.variant_tree import VariantTree

OPEN_TARGET_S = 1.5
LATENCY_TARGET_MS = 100.0

# Child scripts print "ready" once the first screen is mounted; the parent times spawn → ready.
LADDER_OPEN = """
import os
from pathlib import Path
import ladder_tui.app
from ladder_tui.app import LadderApp
class Probe(LadderApp):
    CSS_PATH = str(Path(ladder_tui.app.__file__).with_name("app.tcss"))  # relative paths resolve per class file
    def on_ready(self):
        os.write(1, b"ready\\n")  # Textual captures print() while it runs
        self.exit()
Probe(model="tiny", runs_dir="{runs}").run(headless=True)
"""
HELLO_OPEN = """
import os
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello")
    def on_ready(self):
        os.write(1, b"ready\\n")
        self.exit()
Hello().run(headless=True)
"""


def time_open(script: str) -> float:
    """Seconds from spawning a fresh interpreter to its app's first screen being ready."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            elapsed = time.perf_counter() - start
            proc.wait(timeout=30)
            return elapsed
    raise RuntimeError(f"app did not open (exit {proc.wait()})")


async def key_to_screen(app: LadderApp, key: str) -> float | None:
    """Milliseconds from a key reaching the app to the selected variant's rollouts being shown:
    the key handled, the tree cursor moved, and the rollout panel redrawn for the new node.
    None when the key did not move the cursor (top or bottom of the tree)."""
    screen = app.screen_stack[0]
    tree = screen.query_one(VariantTree)
    panel = screen.query_one(RolloutView)
    before = tree.cursor_line
    start = time.perf_counter()
    app._driver.send_message(events.Key(key, None))  # what a terminal keystroke becomes
    while tree.cursor_line == before or panel.variant_id != getattr(tree.cursor_node, "data", None):
        if time.perf_counter() - start > 5.0:
            return None
        await asyncio.sleep(0.001)
    return (time.perf_counter() - start) * 1000


async def press_latencies(run_dir: Path, rounds: int) -> dict:
    """Replay the run into the dashboard `rounds` times while pressing keys; latencies in ms."""
    app = LadderApp(model="tiny", runs_dir=run_dir.parent)
    during: list[float] = []
    idle: list[float] = []
    replay_s: list[float] = []
    rng = random.Random(0)
    direction = "down"

    async def press() -> float | None:
        """One timed key press that moves the tree cursor (None while the tree is too short)."""
        nonlocal direction
        tree = app.screen_stack[0].query_one(VariantTree)
        if tree.last_line < 1:
            return None
        # Turn round at either end, so that every press moves the cursor.
        direction = "up" if tree.cursor_line >= tree.last_line else "down" if tree.cursor_line <= 0 else direction
        return await key_to_screen(app, direction)

    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        # Opening the dashboard is timed on its own: the claim is about keys during a replay.
        start = time.perf_counter()
        await app.switch_mode("dashboard")
        await pilot.pause(0)
        switch_ms = (time.perf_counter() - start) * 1000
        await pilot.pause(0.3)
        screen = app.screen_stack[0]
        for _ in range(rounds):
            start = time.perf_counter()
            app.open_run(run_dir, follow=False)
            await asyncio.sleep(0)
            while screen.state.status != "done" or not screen.settled:
                if (latency := await press()) is not None:
                    during.append(latency)
                await asyncio.sleep(rng.uniform(0.002, 0.02))  # sample the whole replay, not one moment
            replay_s.append(time.perf_counter() - start)
            await pilot.pause(0.3)
        while len(idle) < 30:
            if (latency := await press()) is not None:
                idle.append(latency)
            await asyncio.sleep(0.01)
        state = screen.state
        shown = {"variants": len(state.variants), "rollouts": state.rollout_count, "steps": len(state.steps)}
    return {"during_ms": during, "idle_ms": idle, "replay_s": statistics.median(replay_s), "shown": shown,
            "open_dashboard_ms": switch_ms}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(values), "max": round(ordered[-1], 2), "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2), "mean": round(statistics.fmean(ordered), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="app openings and replays")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    wall = time.perf_counter()
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        run_dir = write_synthetic_run(runs / "bench", n_events=args.events, steps=100, seed=args.seed)
        n_lines = sum(1 for _ in open(run_dir / "events.jsonl"))

        ladder_open = [time_open(LADDER_OPEN.format(runs=runs)) for _ in range(args.repeats)]
        hello_open = [time_open(HELLO_OPEN) for _ in range(args.repeats)]
        result = asyncio.run(press_latencies(run_dir, args.repeats))

    during, idle = summary(result["during_ms"]), summary(result["idle_ms"])
    open_s = statistics.median(ladder_open)
    hello_s = statistics.median(hello_open)
    data = {
        "command": "python bench/tui_events.py " + " ".join(sys.argv[1:]),
        "events": n_lines, "seed": args.seed, "model": "none (synthetic events)", "terminal": "160x48 headless",
        "open_s": round(open_s, 3), "open_runs_s": [round(x, 3) for x in ladder_open],
        "anchor_hello_open_s": round(hello_s, 3), "open_ratio_vs_hello": round(open_s / hello_s, 2),
        "open_target_s": OPEN_TARGET_S, "open_ok": open_s < OPEN_TARGET_S,
        "replay_s": round(result["replay_s"], 2), "events_per_s": round(n_lines / result["replay_s"]),
        "shown": result["shown"], "open_dashboard_screen_ms": round(result["open_dashboard_ms"], 1),
        "key_latency_during_replay_ms": during, "anchor_key_latency_idle_ms": idle,
        "latency_ratio_max_vs_idle_p50": round(during["max"] / idle["p50"], 2),
        "latency_target_ms": LATENCY_TARGET_MS, "latency_ok": during["max"] < LATENCY_TARGET_MS,
        "load_avg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    path = write_result("tui_events", data)
    print(f"open: {open_s:.3f} s (hello-world Textual app {hello_s:.3f} s, ratio {data['open_ratio_vs_hello']}) "
          f"target < {OPEN_TARGET_S} s: {'ok' if data['open_ok'] else 'MISSED'}")
    print(f"replay: {n_lines} events in {result['replay_s']:.2f} s ({data['events_per_s']} events/s), "
          f"{during['n']} key presses; first opening of the dashboard screen {result['open_dashboard_ms']:.0f} ms")
    print(f"key latency during replay: max {during['max']} ms, p95 {during['p95']} ms, p50 {during['p50']} ms; "
          f"idle p50 {idle['p50']} ms (max/idle {data['latency_ratio_max_vs_idle_p50']}) "
          f"target < {LATENCY_TARGET_MS} ms: {'ok' if data['latency_ok'] else 'MISSED'}")
    print(f"load average (1 min) before/after: {data['load_avg_1min_before_after']} on {os.cpu_count()} cores")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
