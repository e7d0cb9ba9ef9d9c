"""bench/signal_run.py's held-out check: a short run's adapter paired, problem by problem, with the
base model's report of the same problems and settings."""

from __future__ import annotations

import json

import pytest
from helpers import bench_module


@pytest.fixture
def signal_run():
    return bench_module("signal_run")


def report(greedy: str, samples: list[int], ids: list[str] | None = None, k: int = 4) -> dict:
    ids = ids or [f"p{i}" for i in range(len(greedy))]
    rows = [{"id": i, "greedy_ok": g == "1", "sample_ok": [j < right for j in range(k)]}
            for i, g, right in zip(ids, greedy, samples)]
    return {"k": k, "step": 7, "problems": rows, "greedy_correct": greedy.count("1"),
            "greedy_accuracy": greedy.count("1") / len(greedy), "pass@1": sum(samples) / (k * len(samples))}


def test_adapter_report_is_paired_with_base_problem_by_problem(signal_run, tmp_path):
    out, base = tmp_path / "eval.json", tmp_path / "base.json"
    # the adapter is right where base is wrong on 3 problems and wrong where base is right on 1
    out.write_text(json.dumps(report("11110001", [4, 4, 3, 2, 0, 0, 0, 1])))
    base.write_text(json.dumps(report("10001001", [4, 1, 1, 1, 1, 0, 0, 1])))
    held = signal_run.evaluate("m", tmp_path / "run", out, base, tmp_path / "log")  # cached report: no eval runs
    greedy = held["paired_vs_base"]["greedy"]
    assert (greedy["a_right_b_wrong"], greedy["a_wrong_b_right"]) == (3, 1)
    assert greedy["p_value"] == pytest.approx(0.625)  # two-sided exact binomial, 3 of 4 discordant
    assert held["greedy_correct"] == 5 and held["base_greedy_correct"] == 3 and held["n"] == 8
    assert held["paired_vs_base"]["mean@4"]["diff"] == pytest.approx((14 - 9) / 32)


def test_a_base_report_of_other_problems_is_refused(signal_run, tmp_path):
    out, base = tmp_path / "eval.json", tmp_path / "base.json"
    out.write_text(json.dumps(report("10", [1, 0])))
    base.write_text(json.dumps(report("10", [1, 0], ids=["p0", "other"])))
    with pytest.raises(SystemExit, match="not a report of the same problems"):
        signal_run.evaluate("m", tmp_path / "run", out, base, tmp_path / "log")
