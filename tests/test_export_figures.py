"""Every figure an export prints comes from the events it was made of: checked here against the
events, for a solve session and a training run, in Markdown, JSON and LaTeX."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engine.evaluation.export import export_run, load_report, tex_escape
from engine.runs.config import Config
from engine.runs.rundir import RunDir

T0 = 1_750_000_000.0
INTEGRAND = "x*exp(x)"


def write_events(run: Path, events: list[dict]) -> None:
    (run / "events.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))


def solve_session_events(with_start: bool = True) -> list[dict]:
    """A 97-second session: 4 samples, one without a tagged answer, none verified."""
    samples = [
        {"answer": "x*exp(x)", "ok": False, "reason": "derivative differs at x=0.5", "seconds": 31.25, "tokens": 60},
        {"answer": "exp(x)", "ok": False, "reason": "derivative differs at x=1.3", "seconds": 12.5, "tokens": 40},
        {"answer": None, "ok": False, "reason": "no answer between <answer> tags", "seconds": 96.0, "tokens": 128},
        {"answer": "x**2*exp(x)/2", "ok": False, "reason": "derivative differs at x=2", "seconds": 44.75, "tokens": 70},
    ]
    events = []
    if with_start:
        events.append({"type": "run_started", "t": T0, "run": "solve", "kind": "solve", "model": "tiny",
                       "device": "cpu", "config": {"integrand": INTEGRAND, "samples": 4}})
    for i, s in enumerate(samples):
        events.append({"type": "sample", "t": T0 + 96.4 + i * 0.1, "run": "solve", "integrand": INTEGRAND,
                       "index": i, "completion": f"<answer>{s['answer']}</answer>" if s["answer"] else "I think",
                       **s})
    events.append({"type": "run_finished", "t": T0 + 97.0, "run": "solve", "status": "done"})
    return events


def test_solve_session_figures_match_its_events(tmp_path):
    run = RunDir.create(tmp_path / "solve-x", Config(model="tiny")).path
    events = solve_session_events()
    write_events(run, events)
    md_path, json_path, tex_path = export_run(run)
    md, tex = md_path.read_text(), tex_path.read_text()
    data = json.loads(json_path.read_text())
    samples = [e for e in events if e["type"] == "sample"]
    seconds = events[-1]["t"] - events[0]["t"]

    # wall time: first to last event of the session
    assert seconds == 97.0 and data["seconds"] == 97.0
    assert "| wall time | 97.0 s |" in md
    # counts: every sample counts, the one without a tagged answer too
    ok = sum(s["ok"] for s in samples)
    assert f"{ok} of {len(samples)} answers verified." in md and "0 of 4" in md
    assert len(data["samples"]) == 4
    # each row: answer, verdict, reason, seconds, exactly as in its event
    rows = [line for line in md.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == len(samples)
    for row, s in zip(rows, samples):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1] == f"`{s['answer'] if s['answer'] is not None else '–'}`"
        assert cells[2] == ("✓ verified" if s["ok"] else "✗ rejected")
        assert cells[3] == s["reason"].replace("<", "\\<").replace(">", "\\>")
        assert cells[4] == f"{s['seconds']:.1f}"
    for got, s in zip(data["samples"], samples):
        assert {k: got[k] for k in ("answer", "ok", "reason", "seconds", "tokens", "index")} == \
               {k: s[k] for k in ("answer", "ok", "reason", "seconds", "tokens", "index")}
    # LaTeX: the reason's <answer> is escaped, never raw in text mode
    assert r"no answer between \textless{}answer\textgreater{} tags" in tex
    assert "<answer>" not in tex and "<" not in tex.replace(r"\textless{}", "")
    assert r"\usepackage[T1]{fontenc}" in tex
    assert tex.count(r"\item ") == len(samples)
    assert tex.count("rejected: ") == len(samples) - ok


def test_session_recorded_without_run_started_is_timed_from_its_folder(tmp_path):
    """Sessions the app recorded before the engine wrote run_started hold only the answers, all
    written at the end: their wall time counts from when the folder (config.json) was made."""
    run = RunDir.create(tmp_path / "solve-old", Config(model="tiny")).path
    events = solve_session_events(with_start=False)
    write_events(run, events)
    os.utime(run / "config.json", (T0, T0))
    assert load_report(run).seconds == 97.0
    os.utime(run / "config.json", (T0 + 500, T0 + 500))  # a copy made later changes nothing
    assert load_report(run).seconds == round(events[-1]["t"] - events[0]["t"], 3)


def training_events() -> list[dict]:
    events = [{"type": "run_started", "t": T0, "run": "r", "kind": "train", "model": "tiny", "device": "cpu",
               "total_steps": 3}]
    t = T0
    for i, (parent, depth) in enumerate([(None, 0), ("v0", 1), ("v0", 1), ("v1", 2)]):
        t += 1
        events.append({"type": "variant", "t": t, "run": "r", "id": f"v{i}", "parent": parent, "depth": depth,
                       "kind": "root" if parent is None else "easier", "source": "symbolic",
                       "integrand": INTEGRAND if parent is None else f"x**{i}"})
    for step in (1, 2, 3):
        for k in range(2):
            t += 1
            events.append({"type": "rollout", "t": t, "run": "r", "variant": "v1", "step": step, "answer": "x",
                           "reward": 1.05 if (step + k) % 2 else 0.0, "ok": bool((step + k) % 2), "reason": "r"})
        t += 1
        events.append({"type": "step", "t": t, "run": "r", "step": step, "reward_mean": 0.525 + step / 100,
                       "reward_std": 0.525, "accuracy": 0.5, "kl": 0.0001 * step, "loss": 0.25 / step,
                       "tokens_per_s": 40.0 + step})
        t += 1
        events.append({"type": "checkpoint", "t": t, "run": "r", "step": step, "path": f"runs/r/checkpoints/step-{step}"})
    t += 1
    events.append({"type": "eval", "t": t, "run": "r", "set": "held-out", "step": 3, "greedy_accuracy": 0.25,
                   "pass@1": 0.5, "pass_at_1": 0.5, "pass@k": 0.75, "pass_at_k": 0.75, "k": 4})
    t += 1
    events.append({"type": "solved", "t": t, "run": "r", "problem": INTEGRAND, "answer": "(x-1)*exp(x)", "step": 2})
    t += 1
    events.append({"type": "run_finished", "t": t, "run": "r", "status": "done", "steps": 3})
    return events


def test_training_run_figures_match_its_events(tmp_path):
    run = RunDir.create(tmp_path / "train-x", Config(model="tiny")).path
    events = training_events()
    write_events(run, events)
    md_path, json_path, tex_path = export_run(run)
    md, tex = md_path.read_text(), tex_path.read_text()
    data = json.loads(json_path.read_text())
    of = lambda kind: [e for e in events if e["type"] == kind]  # noqa: E731

    assert data["seconds"] == events[-1]["t"] - events[0]["t"]
    assert f"| wall time | {events[-1]['t'] - events[0]['t']:.1f} s |" in md
    assert f"| status | {events[-1]['status']} |" in md
    variants, rollouts = of("variant"), of("rollout")
    depths = {}
    for v in variants:
        depths[str(v["depth"])] = depths.get(str(v["depth"]), 0) + 1
    assert data["variants"] == len(variants) and data["variants_by_depth"] == depths
    assert (f"{len(variants)} variants (depth 0: 1, depth 1: 2, depth 2: 1); {len(rollouts)} rollouts, "
            f"{sum(r['ok'] for r in rollouts)} verified.") in md
    steps = of("step")
    rows = [line for line in md.splitlines() if re.match(r"\| \d+ \| \d", line)]
    assert len(rows) == len(steps)
    for row, s in zip(rows, steps):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells == [str(s["step"]), f"{s['reward_mean']:.3f}", f"{s['reward_std']:.3f}", f"{s['accuracy']:.2f}",
                         f"{s['kl']:.4f}", f"{s['loss']:.4f}", f"{s['tokens_per_s']:.1f}"]
        assert (f"{s['step']} & {s['reward_mean']:.3f} & {s['accuracy']:.2f} & {s['kl']:.4f} & {s['loss']:.4f} & "
                f"{s['tokens_per_s']:.1f} \\\\") in tex
        assert f"({s['step']},{s['reward_mean']:.4f})" in tex and f"({s['step']},{s['accuracy']:.4f})" in tex
    assert [s["step"] for s in data["steps"]] == [s["step"] for s in steps]
    ev = of("eval")[0]
    assert f"| {ev['step']} | {ev['set']} | {ev['greedy_accuracy']:.3f} | {ev['pass@1']:.3f} | {ev['pass@k']:.3f} |" in md
    assert data["checkpoints"] == [c["path"] for c in of("checkpoint")]
    solved = of("solved")[0]
    assert f"- step {solved['step']}: ∫ `{solved['problem']}` dx = `{solved['answer']}`" in md
    assert r"\item step " + tex_escape(solved["step"]) in tex


def test_tex_escape_covers_what_text_mode_misprints():
    assert tex_escape("<answer> a|b") == r"\textless{}answer\textgreater{} a\textbar{}b"
