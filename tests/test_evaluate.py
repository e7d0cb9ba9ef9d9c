"""Evaluation: the pass@k estimator, the report's arithmetic, and `ladder eval` end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.evaluation.evaluate import evaluate, pass_at_k
from engine.inference.base import GenerationParams, Sample
from engine.problems import Problem
from engine.runs.config import Config
from engine.verify.judge import NO_ANSWER

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n,c,k,expected", [
    (4, 0, 1, 0.0),
    (4, 4, 4, 1.0),
    (4, 1, 1, 0.25),  # pass@1 = c/n
    (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
    (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
    (8, 1, 4, 0.5),  # 1 - C(7,4)/C(8,4) = 1 - 35/70
    (6, 4, 3, 1.0),  # n - c < k: a correct one is always drawn
])
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert math.isclose(pass_at_k(n, c, k), expected, rel_tol=1e-12)


def test_pass_at_k_matches_the_binomial_formula():
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert math.isclose(pass_at_k(n, c, k), exact, abs_tol=1e-12)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


class Scripted:
    """A backend that answers from a fixed script: lets the report's arithmetic be checked exactly."""

    name = "scripted"
    model_name = "scripted"

    def __init__(self, greedy: dict[str, str], sampled: dict[str, list[str]]):
        self.greedy, self.sampled, self.calls = greedy, sampled, []

    def generate(self, prompts, params: GenerationParams, on_token=None):
        self.calls.append((len(prompts), params.n, params.temperature))
        out = []
        for chat in prompts:
            question = chat[-1]["content"]
            key = next(k for k in self.greedy if question.endswith(k))
            texts = [self.greedy[key]] if params.temperature == 0 else self.sampled[key][: params.n]
            out.append([Sample(text=t, tokens=3, seconds=0.01) for t in texts])
        return out


def test_report_counts_greedy_pass1_and_passk():
    problems = [Problem("a", "cos(x)"), Problem("b", "2*x"), Problem("c", "exp(x)")]
    backend = Scripted(
        greedy={"cos(x)": "<answer>sin(x)</answer>", "2*x": "<answer>x**3</answer>", "exp(x)": "no tags"},
        sampled={
            "cos(x)": ["<answer>sin(x)</answer>", "<answer>sin(x) + 5</answer>", "<answer>cos(x)</answer>", "no idea"],
            "2*x": ["<answer>x**2</answer>", "no idea", "no idea", "no idea"],
            "exp(x)": ["<answer>exp(x)/1</answer>"] * 4,
        },
    )
    report = evaluate(problems, backend, samples=4)
    assert report["greedy_accuracy"] == pytest.approx(1 / 3)
    assert [r["correct"] for r in report["problems"]] == [2, 1, 4]
    assert report["pass@1"] == pytest.approx((2 / 4 + 1 / 4 + 4 / 4) / 3)
    assert report["pass@4"] == pytest.approx(1.0)
    assert report["problems"][2]["greedy_reason"] == NO_ANSWER
    assert report["tokens"] == 3 * 5 * 3
    # one batched call for greedy, one for the samples; greedy is temperature 0
    assert backend.calls == [(3, 1, 0.0), (3, 4, 1.0)]


def test_report_groups_by_difficulty_and_technique_with_intervals_and_progress():
    problems = [Problem("a", "cos(x)", technique="table", difficulty=1),
                Problem("b", "2*x", technique="table", difficulty=1),
                Problem("c", "exp(x)", technique="parts", difficulty=2)]
    backend = Scripted(
        greedy={"cos(x)": "<answer>sin(x)</answer>", "2*x": "<answer>x**3</answer>", "exp(x)": "<answer>exp(x)</answer>"},
        sampled={"cos(x)": ["<answer>sin(x)</answer>", "no"], "2*x": ["<answer>x**2</answer>"] * 2,
                 "exp(x)": ["no", "no"]},
    )
    cfg = Config()
    cfg.eval.batch_size = 2
    seen = []
    report = evaluate(problems, backend, samples=2, cfg=cfg, on_progress=lambda *a: seen.append(a))
    assert seen == [(2, 3, 1), (3, 3, 2)]  # after each batch: done, total, greedy correct so far
    table = report["by_difficulty"]
    assert table["1"]["n"] == 2 and table["1"]["correct"] == 1 and table["1"]["mean@2"] == pytest.approx(0.75)
    assert table["2"]["n"] == 1 and table["2"]["correct"] == 1 and table["2"]["mean@2"] == 0.0
    assert report["by_technique"]["parts"]["correct"] == 1
    low, high = report["greedy_interval"]
    # Wilson interval of 2/3 at 95 %: (0.2077, 0.9385)
    assert low == pytest.approx(0.2077, abs=1e-4) and high == pytest.approx(0.9385, abs=1e-4)


def test_definite_problems_are_checked_by_value():
    problems = [Problem("d", "x**2", lower="0", upper="3")]
    backend = Scripted(greedy={"from 0 to 3.": "<answer>9</answer>"},
                       sampled={"from 0 to 3.": ["<answer>9</answer>", "<answer>3</answer>"]})
    report = evaluate(problems, backend, samples=2)
    assert report["greedy_accuracy"] == 1.0
    assert report["problems"][0]["sample_ok"] == [True, False]


def test_ladder_eval_tiny_json(problems_file, tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "engine.commands", "eval", "--model", "tiny", "--problems", str(problems_file),
         "--samples", "2", "--max-tokens", "12", "--json", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "eval" in proc.stderr and "greedy" in proc.stderr  # the progress bar, even with --json
    # stderr is a pipe here, as in a nohup log: a plain line per batch, not only the bar's last state
    assert re.search(r"^eval 3/3 greedy \d/3 \(\d+%\) \d+ s$", proc.stderr, re.MULTILINE), proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) >= {"greedy_accuracy", "pass@1", "pass@2", "problems", "tokens", "seconds",
                           "problems_per_minute"}
    assert len(report["problems"]) == 3 and all(r["n"] == 2 for r in report["problems"])
    assert report["tokens"] <= 3 * 3 * 12 and report["params"]["max_tokens"] == 12
    assert all(0.0 <= report[key] <= 1.0 for key in ("greedy_accuracy", "pass@1", "pass@2"))
    assert json.loads(out.read_text())["pass@1"] == report["pass@1"]


def test_ladder_eval_bad_problems_file_is_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "engine.commands", "eval", "--model", "tiny", "--problems", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("ladder: error:") and "Traceback" not in proc.stderr
