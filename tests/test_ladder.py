"""`ladder train` end to end on the tiny model: events, checkpoints, resume, and SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import TINY_TRAIN_CONFIG

from engine.commands import run as cli_run
from engine.inference.device import dtype_name, pick_train_dtype
from engine.runs.events import read_events

CONFIG = TINY_TRAIN_CONFIG


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(CONFIG)
    return path


def events_of(run: Path, kind: str) -> list[dict]:
    return [e for e in read_events(run / "events.jsonl") if e["type"] == kind]


def test_train_then_resume_ends_at_step_5(tmp_path, problems_file, tiny_dir):
    out = tmp_path / "runs" / "t"
    args = ["train", "--model", "tiny", "--problems", str(problems_file), "--steps", "3", "--out", str(out),
            "--config", str(config_file(tmp_path)), "--device", "cpu"]
    assert cli_run(args) == 0
    assert [e["step"] for e in events_of(out, "step")] == [1, 2, 3]
    assert cli_run(["train", "--resume", str(out), "--steps", "5"]) == 0
    assert [e["step"] for e in events_of(out, "step")] == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"step-{i}" for i in range(1, 6)]
    assert json.loads((out / "checkpoints" / "step-5" / "state.json").read_text())["step"] == 5
    finished = events_of(out, "run_finished")
    assert [e["status"] for e in finished] == ["done", "done"] and finished[-1]["steps"] == 5
    assert events_of(out, "run_started")[-1]["resumed_from"] == 3
    # the dtype the trainer chose on this CPU, as the ablation's records read it
    assert {e["dtype"] for e in events_of(out, "run_started")} == {dtype_name(pick_train_dtype("cpu"))}
    assert len(events_of(out, "rollout")) == 5 * 2
    variants = events_of(out, "variant")
    assert {v["integrand"] for v in variants if v["depth"] == 0} == {"x", "cos(x)", "exp(2*x)"}
    assert (out / "tree.jsonl").read_text().count("\n") == len(variants)
    # tiny solves nothing, so screening never reaches its reserve: all variants were screened
    # before step 1, and the resume (whose checkpoint knows that) screened nothing more
    screened = json.loads((out / "screen.json").read_text())
    assert screened["screened"] == screened["variants"] == len(variants)
    assert {t["root"] for t in screened["trees"]} == {v["id"] for v in variants if v["depth"] == 0}
    assert sum(t["variants"] for t in screened["trees"]) == len(variants)
    phases = [e for e in read_events(out / "events.jsonl") if e["type"] in ("phase", "run_started", "step")]
    screen_phases = [i for i, e in enumerate(phases) if e.get("phase") == "screen"]
    first_step = next(i for i, e in enumerate(phases) if e["type"] == "step")
    assert screen_phases and all(i < first_step for i in screen_phases)
    stats = json.loads((out / "checkpoints" / "step-1" / "state.json").read_text())["pool"]["stats"]
    assert all(s["greedy"] is False for s in stats.values())


def test_sigkill_mid_run_then_resume(tmp_path, problems_file, tiny_dir):
    """SIGKILL while training: the run directory holds only whole checkpoints, and --resume goes
    on from the last one with the same step counter and a loadable adapter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "engine.commands", "train", "--model", "tiny", "--problems", str(problems_file),
           "--steps", "100", "--out", str(out), "--config", str(config_file(tmp_path)), "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if (out / "events.jsonl").exists() and len(events_of(out, "checkpoint")) >= 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no checkpoint within the time limit")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*") if p.name[5:].isdigit())
    last = done[-1]
    assert last >= 2
    # the pool's solve counts in the newest whole checkpoint are exactly the rollouts of its steps
    # (tiny solves nothing in screening, so screening added no attempts)
    def pool_at(step: int) -> dict:
        return json.loads((out / "checkpoints" / f"step-{step}" / "state.json").read_text())["pool"]["stats"]

    def attempts_until(step: int) -> dict:
        counts: dict = {}
        for e in events_of(out, "rollout"):
            if e["step"] <= step:
                counts[e["variant"]] = counts.get(e["variant"], 0) + 1
        return counts

    assert {v: s["attempts"] for v, s in pool_at(last).items() if s["attempts"]} == attempts_until(last)
    assert cli_run(["train", "--resume", str(out), "--steps", str(last + 1)]) == 0
    steps = [e["step"] for e in events_of(out, "step")]
    assert steps[-1] == last + 1 and events_of(out, "run_started")[-1]["resumed_from"] == last
    # the resumed run went on from those counts: step last + 1's rollouts were added to them
    resumed = [e for e in events_of(out, "rollout") if e["step"] == last + 1][-2:]  # group_size 2, the resumed run's
    expected = attempts_until(last)
    for e in resumed:
        expected[e["variant"]] = expected.get(e["variant"], 0) + 1
    assert {v: s["attempts"] for v, s in pool_at(last + 1).items() if s["attempts"]} == expected
    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    PeftModel.from_pretrained(base, out / "checkpoints" / f"step-{last + 1}" / "adapter")
    assert not list((out / "checkpoints").glob("*.tmp"))


def test_a_tree_nothing_was_solved_in_grows_and_its_growth_survives_resume(tmp_path, tiny_dir):
    """tiny solves nothing, so once screening has been through the tree of x**3*log(x) it grows a
    level of easier variants below its deepest one ([variants] grow_levels = 1), each a `variant`
    event, reported in screen.json and kept in the checkpoint (not in tree.jsonl, which holds the
    trees as built); the resumed run starts from them. `--no-variants` grows nothing."""
    problems = tmp_path / "hard.jsonl"
    problems.write_text('{"id": "h1", "integrand": "x**3*log(x)"}\n')
    config = tmp_path / "grow.toml"
    config.write_text(CONFIG.replace("max_variants = 3", "max_variants = 2\ndepth = 1\ngrow_levels = 1\n"
                                     "grow_per_level = 3"))
    out = tmp_path / "runs" / "g"
    base = ["--model", "tiny", "--problems", str(problems), "--config", str(config), "--device", "cpu"]
    assert cli_run(["train", *base, "--steps", "1", "--out", str(out)]) == 0
    built = [json.loads(line) for line in (out / "tree.jsonl").read_text().splitlines()]
    assert max(n["depth"] for n in built) == 1
    grown = [v for v in events_of(out, "variant") if v["depth"] == 2]
    assert 0 < len(grown) <= 3 and all(v["parent"] in {n["id"] for n in built if n["depth"] == 1} for v in grown)
    report = json.loads((out / "screen.json").read_text())
    assert report["grown"] == len(grown) and report["trees"][0]["grown"] == len(grown)
    assert report["screened"] == len(built) + len(grown)  # the grown variants were screened too
    pool = json.loads((out / "checkpoints" / "step-1" / "state.json").read_text())["pool"]
    assert [g["id"] for g in pool["grown"]] == [v["id"] for v in grown]
    assert all(pool["stats"][v["id"]]["greedy"] is False for v in grown)
    assert cli_run(["train", "--resume", str(out), "--steps", "2"]) == 0
    assert len([v for v in events_of(out, "variant") if v["depth"] == 2]) == len(grown)  # not grown again
    assert [g["id"] for g in json.loads((out / "checkpoints" / "step-2" / "state.json").read_text())["pool"]["grown"]] \
        == [v["id"] for v in grown]
    plain = tmp_path / "runs" / "plain"
    assert cli_run(["train", *base, "--steps", "1", "--out", str(plain), "--no-variants"]) == 0
    assert json.loads((plain / "screen.json").read_text())["grown"] == 0
