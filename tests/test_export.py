"""engine/evaluation/export.py: run folders → Markdown, JSON, LaTeX (and `ladder export`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import LadderError
from engine.evaluation.export import export_run, load_report, tex_escape, tex_math, text_chart, to_latex, to_markdown
from ladder_tui.synthetic import synthetic_events, write_synthetic_run

ROOT = Path(__file__).resolve().parents[1]


def solve_session(tmp_path: Path, samples: list[dict]) -> Path:
    run = tmp_path / "solve-x"
    run.mkdir()
    (run / "config.json").write_text('{"model": "tiny"}')
    events = [{"type": "run_started", "t": 10.0, "run": "s", "kind": "solve", "model": "tiny", "device": "cpu",
               "integrand": "x*exp(x)"}]
    events += [{"type": "sample", "t": 11.0 + i, "run": "s", "integrand": "x*exp(x)", "index": i, **s}
               for i, s in enumerate(samples)]
    events.append({"type": "run_finished", "t": 20.0, "run": "s", "status": "done"})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def test_training_run_report_counts_everything(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "syn", n_events=500, steps=10)
    events = synthetic_events(n_events=500, steps=10)
    r = load_report(run)
    assert r.kind == "train" and r.model == "tiny" and r.device == "cpu" and r.status == "done"
    assert len(r.steps) == 10 and r.steps[-1]["step"] == 10
    assert r.variants == sum(e["type"] == "variant" for e in events)
    assert r.rollouts == sum(e["type"] == "rollout" for e in events)
    assert r.rollouts_ok == sum(e["type"] == "rollout" and e["ok"] for e in events)
    assert r.integrands[0] == "x*exp(x)"  # the roots of the tree are the problems
    assert r.solved == [{"problem": "x*exp(x)", "answer": "(x - 1)*exp(x)", "step": 5}]
    assert r.seconds == pytest.approx(events[-1]["t"] - events[0]["t"], abs=1e-3)


def test_markdown_of_a_solve_session_lists_answers_and_verdicts(tmp_path: Path) -> None:
    run = solve_session(tmp_path, [
        {"answer": "(x-1)*exp(x)", "ok": True, "reason": "verified at 5 points", "seconds": 1.25},
        {"answer": "x|y", "ok": False, "reason": "differs at x=2", "seconds": 0.5},
        {"answer": None, "ok": False, "reason": "no answer in tags", "seconds": 0.7},
    ])
    md = to_markdown(load_report(run))
    assert "# ladder solve: solve-x" in md
    assert "1 of 3 answers verified." in md
    assert "| 1 | `(x-1)*exp(x)` | ✓ verified | verified at 5 points | 1.2 |" in md
    assert "`x\\|y`" in md  # a pipe in model output must not break the table
    assert "| 3 | `–` | ✗ rejected | no answer in tags |" in md


def test_markdown_of_a_training_run_has_a_text_chart_and_a_step_table(tmp_path: Path) -> None:
    md = to_markdown(load_report(write_synthetic_run(tmp_path / "syn", n_events=400, steps=8)))
    chart = md.split("## Curves")[1].split("```")[1]
    assert "* reward" in chart and "o accuracy" in chart
    assert md.count("\n| ") >= 8 + 1
    assert "## Solved" in md


def test_long_runs_keep_the_markdown_table_short_but_json_complete(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "long", n_events=3000, steps=200)
    paths = export_run(run, ["md", "json"], tmp_path / "out")
    md = paths[0].read_text()
    table = [line for line in md.split("## Curves")[1].splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert 30 <= len(table) <= 42 and table[-1].startswith("| 200 |")
    assert len(json.loads(paths[1].read_text())["steps"]) == 200


def test_text_chart_scales_to_its_box() -> None:
    chart = text_chart({"a": [0.0, 0.5, 1.0], "b": [1.0, 1.0, 1.0]}, height=5, width=10)
    lines = chart.splitlines()
    assert len(lines) == 7 and lines[0].startswith("  1.00 |") and lines[4].startswith("  0.00 |")
    assert lines[4][8] == "*" and lines[0][-1] in "*o"
    assert text_chart({"a": []}) == "(no steps yet)"


def test_latex_escapes_hostile_model_output(tmp_path: Path) -> None:
    hostile = r"\input{/etc/passwd} $x$ & 100% #1 _ ^ ~"
    run = solve_session(tmp_path, [{"answer": hostile, "ok": False, "reason": "refused: \\write18", "seconds": 1.0}])
    tex = to_latex(load_report(run))
    assert "\\input{" not in tex and "\\write18" not in tex
    assert tex_escape(hostile) in tex
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    assert tex_math(None) == "\\textit{none}"


def test_latex_has_curves_and_a_table(tmp_path: Path) -> None:
    tex = to_latex(load_report(write_synthetic_run(tmp_path / "syn", n_events=300, steps=6)))
    assert tex.count("\\addplot coordinates") == 2 and "(6," in tex
    assert "\\begin{tabular}" in tex and "\\bottomrule" in tex


def test_export_run_writes_each_format_atomically(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "syn", n_events=200, steps=4)
    paths = export_run(run)
    assert [p.name for p in paths] == ["syn.md", "syn.json", "syn.tex"]
    assert all(p.parent == run / "export" for p in paths)
    assert not [p for p in (run / "export").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(LadderError):
        export_run(run, ["pdf"])


def test_cli_export(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "syn", n_events=200, steps=4)
    out = subprocess.run([sys.executable, "-m", "engine.commands", "export", str(run), "--format", "json", "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "o" / "syn.json")
    bad = subprocess.run([sys.executable, "-m", "engine.commands", "export", str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.startswith("ladder: error:") and "Traceback" not in bad.stderr
