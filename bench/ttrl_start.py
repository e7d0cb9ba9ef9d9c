"""TTRL start-up: wall time from `ladder ttrl INTEGRAND` to its first `step` event, default model.

The real CLI runs as a child process (`python -m engine.commands ttrl INTEGRAND --out TMP --steps 1`,
the command Ctrl+T in the app starts); the clock starts just before the process is launched and
stops when the run's events.jsonl holds a `step` event (the file is polled every 0.1 s). The
breakdown comes from the events' own timestamps:

    start      launch -> the `load` phase event (interpreter, imports, config, run directory)
    load       `load` -> `run_started` (HF model + LoRA, llama.cpp rollout engine, tokenizer check)
    tree       `run_started` -> last `variant` event (the symbolic variant tree)
    precheck   last variant -> start of step 1 (the test samples drawn before any training)
    step       step 1 itself (its `seconds`, split into gen / verify / train / opt)

The problem must be one the model does not answer at once, or TTRL stops before its first step;
`x*atan(x)` is not solved by qwen2.5-coder-0.5b (greedy or in 4 samples, seed 0).

Anchor, in the same run and the same way as bench/inference.py: the wall time of
`ladder solve "x**2" -k 1 --temperature 0` (interpreter start, model load and one answer). Each
repeat runs the anchor and then TTRL; the first anchor run is a warm-up (OS file cache). The
1-minute load average is recorded before every measurement: the target (<= 60 s) is for an idle
machine, and on a shared 2-core machine the figure moves with the neighbours' load.

    .venv/bin/python bench/ttrl_start.py [--repeats 2] [--integrand "x*atan(x)"]

Writes bench/results/ttrl_start.json and the keys `ttrl_first_step_s` and `ttrl_first_step` of
bench/results/signal.json (only those keys; the rest of the file is left as it is).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine_info, update_summary, write_result

MODEL = "qwen2.5-coder-0.5b"
INTEGRAND = "x*atan(x)"
TARGET_S = 60.0
IDLE_LOAD = 1.5  # 1-minute load average above which a figure is marked as measured under load
TIMEOUT_S = 900


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.commands", *args]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def wait_idle(limit_s: float) -> float:
    """Wait (up to `limit_s`) until the 1-minute load average is <= IDLE_LOAD; seconds waited."""
    start = time.perf_counter()
    while os.getloadavg()[0] > IDLE_LOAD and time.perf_counter() - start < limit_s:
        time.sleep(5)
    return round(time.perf_counter() - start, 1)


def anchor() -> dict:
    """Wall time of `ladder solve "x**2"` with MODEL, greedy, one sample."""
    load = _load()
    start = time.perf_counter()
    out = subprocess.run(_cli("solve", "x**2", "--model", MODEL, "-k", "1", "--temperature", "0", "--json"),
                         cwd=ROOT, capture_output=True, check=True, text=True)
    wall = time.perf_counter() - start
    report = json.loads(out.stdout)
    return {"wall_s": round(wall, 2), "solved": report["solved"], "load_1min": load}


def _events(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line
            break
    return out


def ttrl_once(integrand: str) -> dict:
    """Launch `ladder ttrl` and time it to the first step event; then let it finish (--steps 1)."""
    load = _load()
    with tempfile.TemporaryDirectory(prefix="ttrl-start-") as tmp, open(Path(tmp) / "stderr.log", "w+") as log:
        run = Path(tmp) / "run"
        t_launch = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(_cli("ttrl", integrand, "--model", MODEL, "--out", str(run), "--steps", "1"),
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        first_step, loads = None, []
        while time.perf_counter() - start < TIMEOUT_S:
            loads.append(os.getloadavg()[0])
            if any(e.get("type") == "step" for e in _events(run / "events.jsonl")):
                first_step = time.perf_counter() - start
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        try:
            proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        events = _events(run / "events.jsonl")
        log.seek(0)
        tail = log.read()[-2000:]
    if first_step is None:
        raise SystemExit(f"no step event (exit {proc.returncode}); was {integrand!r} solved before training?\n{tail}")
    return {"first_step_s": round(first_step, 2), "load_1min": load,
            "load_1min_max_until_step": round(max(loads), 2),  # our own process counts here too (~1-2)
            "breakdown": breakdown(events, t_launch)}


def breakdown(events: list[dict], t_launch: float) -> dict:
    """Seconds per start-up stage, from the events' timestamps (see the module docstring)."""
    first = {}
    for e in events:
        key = e["type"] if e["type"] != "phase" else f"phase:{e.get('phase')}"
        first.setdefault(key, e)
    step = first["step"]
    variants = [e["t"] for e in events if e["type"] == "variant"]
    step_start = step["t"] - step["seconds"]
    tree_end = max(variants) if variants else first["run_started"]["t"]
    return {
        "start_s": round(first["phase:load"]["t"] - t_launch, 2),
        "load_s": round(first["run_started"]["t"] - first["phase:load"]["t"], 2),
        "tree_s": round(tree_end - first["run_started"]["t"], 2),
        "variants": len(variants),
        "precheck_s": round(step_start - tree_end, 2),
        "step_s": step["seconds"],
        "step": {k: step.get(k) for k in ("gen_s", "verify_s", "train_s", "opt_s", "rollout_tokens_per_s",
                                           "drawn", "skipped", "updated")},
        "step_tokens": round(step["rollout_tokens_per_s"] * step["gen_s"]),
        "event_span_s": round(step["t"] - t_launch, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--integrand", default=INTEGRAND)
    ap.add_argument("--wait-idle", type=float, default=600, metavar="SECONDS",
                    help=f"before each measurement, wait up to this long for a load average <= {IDLE_LOAD}")
    a = ap.parse_args()
    wall = time.perf_counter()
    load_start = _load()
    anchor()  # warm-up: OS file cache, model files
    anchors, runs = [], []
    waited = []
    for r in range(a.repeats):
        waited.append(wait_idle(a.wait_idle))
        anchors.append(anchor())
        print(f"[{r + 1}] anchor solve x**2: {anchors[-1]['wall_s']} s (load {anchors[-1]['load_1min']})",
              file=sys.stderr, flush=True)
        waited.append(wait_idle(a.wait_idle))
        runs.append(ttrl_once(a.integrand))
        b = runs[-1]["breakdown"]
        print(f"[{r + 1}] ttrl first step: {runs[-1]['first_step_s']} s (load {runs[-1]['load_1min']}) = start "
              f"{b['start_s']} + load {b['load_s']} + tree {b['tree_s']} ({b['variants']} variants) + precheck "
              f"{b['precheck_s']} + step {b['step_s']} (gen {b['step']['gen_s']}, train {b['step']['train_s']})",
              file=sys.stderr, flush=True)
    first = round(statistics.median(r["first_step_s"] for r in runs), 2)
    anchor_s = round(statistics.median(x["wall_s"] for x in anchors), 2)
    loads = [x["load_1min"] for x in anchors + runs]
    under_load = max(r["load_1min"] for r in runs) > IDLE_LOAD
    result = {
        "command": "python bench/ttrl_start.py " + " ".join(sys.argv[1:]),
        "model": MODEL, "integrand": a.integrand, "steps": 1, "repeats": a.repeats,
        "first_step_s": first, "runs": runs,
        "anchor": "ladder solve x**2 -k 1 --temperature 0 (wall)", "anchor_s": anchor_s, "anchor_runs": anchors,
        "ratio_vs_anchor": round(first / anchor_s, 1),
        "target_s": TARGET_S, "target_ok": first <= TARGET_S,
        "load_1min_start": load_start, "load_1min_max": max(loads), "under_load": under_load,
        "waited_for_idle_s": waited,
        "note": (f"1-minute load average above {IDLE_LOAD} during a measurement: not an idle-machine figure"
                 if under_load else f"1-minute load average <= {IDLE_LOAD} at every start; the machine is shared "
                 "with another user's work, so not necessarily idle"),
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    path = write_result("ttrl_start", result)
    summary = {"ttrl_first_step_s": first, "ttrl_first_step": {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "model": MODEL,
        "integrand": a.integrand, "runs_s": [r["first_step_s"] for r in runs], "load_1min": loads,
        "under_load": under_load, "anchor_solve_s": anchor_s, "ratio_vs_anchor": result["ratio_vs_anchor"],
        "target_s": TARGET_S, "cpu": machine_info()["cpu"], "cores": os.cpu_count(),
        "details": "bench/results/ttrl_start.json"}}
    update_summary({"ttrl_first_step_s": summary["ttrl_first_step_s"], "ttrl_first_step": summary["ttrl_first_step"]})
    print(f"ttrl first step: {first} s (median of {a.repeats}; target <= {TARGET_S:.0f} s: "
          f"{'ok' if result['target_ok'] else 'MISSED'}); anchor solve x**2 {anchor_s} s, ratio "
          f"{result['ratio_vs_anchor']}; load {load_start} at start, max {max(loads)}; wrote {path}")


if __name__ == "__main__":
    main()
