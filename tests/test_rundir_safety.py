"""Run directories never lose work: one writer at a time (a killed writer's lock is taken over),
a torn last event line or an incomplete newest checkpoint still opens and resumes, and a disk that
fills up during a checkpoint leaves the previous one intact. Processes are really killed."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import TINY_TRAIN_CONFIG

from engine.commands import run as cli_run
from engine.errors import LadderError
from engine.runs.config import Config
from engine.runs.events import read_events
from engine.runs.lock import read_holder, writer
from engine.runs.rundir import MANIFEST, RunDir, inspect_run

CONFIG = TINY_TRAIN_CONFIG

HOLDER = textwrap.dedent("""
    import sys, time
    from engine.runs.rundir import RunDir
    RunDir.open(sys.argv[1], write=True)
    print("locked", flush=True)
    time.sleep(600)
""")


def start_holder(run: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_second_writer_is_refused_naming_the_holder_and_a_killed_holders_lock_is_taken_over(tmp_path):
    run = RunDir.create(tmp_path / "run", Config())
    holder = start_holder(run.path)
    try:
        assert writer(run.path) == (read_holder(run.path), True)
        assert read_holder(run.path).pid == holder.pid
        started = time.monotonic()
        with pytest.raises(LadderError) as refused:
            RunDir.open(run.path, write=True)
        assert time.monotonic() - started < 1.0  # refused at once, not after a wait
        message = str(refused.value)
        assert "\n" not in message and f"pid {holder.pid}" in message and "another engine" in message
        # readers never take the lock: they work while it is held
        assert RunDir.open(run.path).config() == Config()
    finally:
        kill(holder)
    assert writer(run.path)[1] is False  # the recorded holder is gone
    taken = RunDir.open(run.path, write=True)
    try:
        assert read_holder(run.path).pid == os.getpid()
        assert any("took over" in w and f"pid {holder.pid}" in w for w in taken.warnings)
        # the same process opening it again (a resume in one test) is not refused
        assert RunDir.open(run.path, write=True).lock is taken.lock
    finally:
        taken.release()
    assert read_holder(run.path) is None  # released: no holder recorded


def test_torn_event_line_is_ended_before_appending_and_every_earlier_event_is_kept(tmp_path):
    run = RunDir.create(tmp_path / "run", Config())
    events = [{"type": "log", "t": i, "run": "run", "level": "info", "message": f"m{i} ∫ π"} for i in range(5)]
    whole = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    torn = json.dumps({"type": "log", "t": 9, "message": "never finished ∫"}, ensure_ascii=False).encode()
    torn = torn[: torn.index("∫".encode()) + 1]  # cut inside a three-byte character
    run.events_path.write_bytes(whole.encode() + torn)
    assert [e["message"] for e in read_events(run.events_path)] == [e["message"] for e in events]
    assert any("half-written line" in w for w in inspect_run(run.path))

    reopened = RunDir.open(run.path, write=True)
    try:
        assert any("half-written line" in w for w in reopened.warnings)
        sink = reopened.sink()  # the warnings go into the run's own events first
        sink.log("after the repair")
        sink.close()
    finally:
        reopened.release()
    raw = run.events_path.read_bytes()
    assert raw.startswith(whole.encode() + torn[:-1] + b"\n")  # the half character is dropped, nothing else
    raw.decode("utf-8")  # still valid UTF-8
    got = list(read_events(run.events_path))
    assert [e["message"] for e in got[:5]] == [e["message"] for e in events]
    assert got[-1]["message"] == "after the repair"
    assert any(e.get("level") == "warning" and "half-written" in e["message"] for e in got[5:])
    assert inspect_run(run.path) == []


def test_incomplete_newest_checkpoint_is_passed_over_and_moved_aside(tmp_path):
    run = RunDir.create(tmp_path / "run", Config())
    for step in (1, 2):
        with run.new_checkpoint(step) as folder:
            (folder / "state.json").write_text(json.dumps({"step": step}))
            (folder / "optimizer.pt").write_bytes(b"x" * 1000)
    manifest = json.loads((run.checkpoints / "step-2" / MANIFEST).read_text())
    assert manifest["files"] == {"optimizer.pt": 1000, "state.json": len(json.dumps({"step": 2}))}
    with open(run.checkpoints / "step-2" / "optimizer.pt", "r+b") as f:
        f.truncate(400)
    assert run.latest_checkpoint() == run.checkpoints / "step-1"
    assert any("step-2 is incomplete" in w for w in inspect_run(run.path))
    assert (run.checkpoints / "step-2").is_dir()  # readers change nothing
    reopened = RunDir.open(run.path, write=True)
    reopened.release()
    assert any("step-2 was incomplete" in w for w in reopened.warnings)
    assert (run.checkpoints / "step-2.incomplete" / "optimizer.pt").stat().st_size == 400  # kept, aside
    assert reopened.latest_checkpoint() == run.checkpoints / "step-1"


def test_disk_full_in_a_checkpoint_keeps_the_previous_one_and_is_one_clear_error(tmp_path, monkeypatch):
    run = RunDir.create(tmp_path / "run", Config())
    with run.new_checkpoint(1) as folder:
        (folder / "weights.bin").write_bytes(b"1" * 100)
    before = {p.name: p.read_bytes() for p in (run.checkpoints / "step-1").iterdir()}
    with pytest.raises(LadderError) as e:
        with run.new_checkpoint(2) as folder:
            (folder / "weights.bin").write_bytes(b"2" * 50)
            raise OSError(errno.ENOSPC, "No space left on device")
    message = str(e.value)
    assert "\n" not in message and "disk is full" in message and "step-1 is intact" in message
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["step-1"]
    assert {p.name: p.read_bytes() for p in (run.checkpoints / "step-1").iterdir()} == before
    assert run.latest_checkpoint() == run.checkpoints / "step-1"


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(CONFIG)
    return path


def test_disk_full_during_a_real_training_checkpoint(tmp_path, problems_file, tiny_dir, monkeypatch):
    """`ladder train --model tiny`: the disk fills while step 2's checkpoint is written (torch.save
    fails with ENOSPC): step-1 stays whole, the run ends with an error event and a one-line
    LadderError, and --resume afterwards goes on from step 1."""
    import torch

    real_save = torch.save

    def failing_save(obj, f, *a, **k):
        if "step-2.tmp" in str(f):
            raise OSError(errno.ENOSPC, "No space left on device", str(f))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", failing_save)
    out = tmp_path / "run"
    args = ["train", "--model", "tiny", "--problems", str(problems_file), "--steps", "3", "--out", str(out),
            "--config", str(config_file(tmp_path)), "--device", "cpu"]
    with pytest.raises(LadderError) as e:
        cli_run(args)
    assert "\n" not in str(e.value) and "disk is full" in str(e.value) and "step-1 is intact" in str(e.value)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-1"]
    assert RunDir.open(out).latest_checkpoint() == out / "checkpoints" / "step-1"
    events = list(read_events(out / "events.jsonl"))
    assert events[-2]["type"] == "error" and "disk is full" in events[-2]["message"]
    assert events[-1] == {**events[-1], "type": "run_finished", "status": "error"}
    RunDir.open(out, write=True).release()  # this process held it during the run
    monkeypatch.setattr(torch, "save", real_save)
    assert cli_run(["train", "--resume", str(out), "--steps", "2"]) == 0
    assert [e["resumed_from"] for e in read_events(out / "events.jsonl") if e["type"] == "run_started"][-1] == 1


def test_killed_ladder_train_is_refused_twice_then_resumes_after_damage(tmp_path, problems_file, tiny_dir):
    """A real `ladder train --model tiny` process: a second engine on its run is refused at once
    naming it; after SIGKILL (plus a torn event line and a damaged newest checkpoint) the run still
    lists, reads and resumes, from the last whole checkpoint."""
    from ladder_tui.screens.runs import summarize

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "engine.commands", "train", "--model", "tiny", "--problems", str(problems_file),
           "--steps", "100", "--out", str(out), "--config", str(config_file(tmp_path)), "--device", "cpu"]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            cwd=root)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if (out / "events.jsonl").exists() and sum(
                    e["type"] == "checkpoint" for e in read_events(out / "events.jsonl")) >= 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no checkpoint within the time limit")
        assert read_holder(out).pid == proc.pid
        assert summarize(out).status == "running"
        second = subprocess.run([sys.executable, "-m", "engine.commands", "train", "--resume", str(out)],
                                capture_output=True, text=True, timeout=120, cwd=root)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another engine" in lines[0] and f"pid {proc.pid}" in lines[0], second.stderr
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = list(read_events(out / "events.jsonl"))
    done = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*") if p.name[5:].isdigit())
    newest = done[-1]
    with open(out / "events.jsonl", "ab") as f:  # a write cut short by the kill
        f.write(b'{"type": "step", "t": 1, "run": "killed", "step": 99, "rewa')
    with open(out / "checkpoints" / f"step-{newest}" / "optimizer.pt", "r+b") as f:
        f.truncate(10)

    summary = summarize(out)
    assert summary.status == "stopped — resumable"
    assert list(read_events(out / "events.jsonl")) == before
    warnings = inspect_run(out)
    assert any("half-written" in w for w in warnings) and any(f"step-{newest} is incomplete" in w for w in warnings)

    resumed = subprocess.run([sys.executable, "-m", "engine.commands", "train", "--resume", str(out),
                              "--steps", str(newest + 1)], capture_output=True, text=True, timeout=300, cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "took over the lock" in resumed.stderr and "half-written" in resumed.stderr
    after = list(read_events(out / "events.jsonl"))
    assert after[:len(before)] == before  # nothing before the damage is lost
    new = after[len(before):]
    assert new[0]["type"] == "log" and new[0]["level"] == "warning"
    started = [e for e in new if e["type"] == "run_started"]
    assert started and started[0]["resumed_from"] == newest - 1
    assert new[-1]["type"] == "run_finished" and new[-1]["status"] == "done"
    assert (out / "checkpoints" / f"step-{newest}.incomplete").is_dir()
    assert RunDir.open(out).latest_checkpoint() == out / "checkpoints" / f"step-{newest + 1}"
    assert summarize(out).status == "done"


def test_ttrl_resume_goes_on_with_the_problems_not_yet_done(tmp_path, tiny_dir):
    """`ladder ttrl --out` records its plan and each finished problem, so `--resume` (what the
    runs screen's C runs) does only what is left, under the run's lock."""
    toml = tmp_path / "c.toml"
    toml.write_text('[variants]\nsource = "symbolic"\n[ttrl]\nmax_variants = 3\ntest_samples = 2\n'
                    '[sample]\nmax_tokens = 4\n[grpo]\ngroup_size = 2\nmax_resample = 0\n')
    problems = tmp_path / "two.jsonl"
    problems.write_text('{"id": "a", "integrand": "cos(x)"}\n{"id": "b", "integrand": "exp(x)"}\n')
    out = tmp_path / "ttrl"
    assert cli_run(["ttrl", "--problems", str(problems), "--model", "tiny", "--steps", "1", "--config", str(toml),
                    "--out", str(out), "--device", "cpu"]) == 0
    assert read_holder(out) is None  # released at the end
    records = json.loads((out / "ttrl.json").read_text())
    assert [r["id"] for r in records] == ["a", "b"]
    # as if the engine had been killed during problem b
    (out / "ttrl.json").write_text(json.dumps(records[:1]))
    assert cli_run(["ttrl", "--resume", str(out)]) == 0
    assert [r["id"] for r in json.loads((out / "ttrl.json").read_text())] == ["a", "b"]
    started = [e for e in read_events(out / "events.jsonl") if e["type"] == "run_started"]
    assert [e["problems"] for e in started] == [2, 1]
    with pytest.raises(LadderError, match="takes no INTEGRAND"):
        cli_run(["ttrl", "x", "--resume", str(out)])
