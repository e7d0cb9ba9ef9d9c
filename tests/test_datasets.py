"""`ladder export-dataset`: the variant pool as TRL/veRL rows, round-tripped through `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.commands import run as cli_run
from engine.runs.config import Config
from engine.errors import LadderError
from engine.runs.rundir import RunDir

NODES = [
    {"id": "r0", "parent": None, "depth": 0, "kind": "root", "source": "user", "integrand": "x*exp(x)"},
    {"id": "v1", "parent": "r0", "depth": 1, "kind": "easier", "source": "symbolic", "integrand": "exp(x)"},
    {"id": "v2", "parent": "r0", "depth": 1, "kind": "equivalent", "source": "llm", "integrand": "x*exp(x)"},
    {"id": "v3", "parent": "v1", "depth": 2, "kind": "easier", "source": "llm", "integrand": "x"},
]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = RunDir.create(tmp_path / "run", Config(model="tiny"))
    run.write_tree(NODES)
    return run.path


def load(path: Path, fmt: str) -> list[dict]:
    from datasets import load_dataset

    return list(load_dataset("json" if fmt == "jsonl" else "parquet", data_files=str(path), split="train"))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_round_trips_through_datasets(run_dir: Path, fmt: str) -> None:
    assert cli_run(["export-dataset", str(run_dir), "--format", fmt]) == 0
    rows = load(run_dir / f"dataset.{fmt}", fmt)
    # One row per distinct integrand: v2 repeats the root's integrand.
    assert [r["integrand"] for r in rows] == ["x*exp(x)", "exp(x)", "x"]
    assert [r["variant"] for r in rows] == ["r0", "v1", "v3"]
    for i, row in enumerate(rows):
        # TRL: conversational prompt ending with the user's question about this integrand.
        assert row["prompt"][0]["role"] == "system"
        assert row["prompt"][-1] == {"role": "user", "content": f"Integrate: {row['integrand']}"}
        # veRL: rule-based reward whose ground truth is the integrand itself.
        assert row["data_source"] == "ladder/integration" and row["ability"] == "math"
        assert row["reward_model"] == {"style": "rule", "ground_truth": row["integrand"]}
        assert row["extra_info"]["index"] == i
    assert rows[2]["extra_info"] == {"split": "train", "index": 2, "variant": "v3", "depth": 2,
                                     "kind": "easier", "source": "llm"}


def test_jsonl_and_parquet_hold_the_same_rows(run_dir: Path, tmp_path: Path) -> None:
    for fmt in ("jsonl", "parquet"):
        assert cli_run(["export-dataset", str(run_dir), "--format", fmt, "--out", str(tmp_path / f"d.{fmt}")]) == 0
    assert load(tmp_path / "d.jsonl", "jsonl") == load(tmp_path / "d.parquet", "parquet")


def test_problem_file_exports_indefinite_problems(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        '{"id": "a", "integrand": "cos(x)"}\n'
        '{"id": "b", "integrand": "x**2", "lower": 0, "upper": 1}\n'
    )
    assert cli_run(["export-dataset", str(problems)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "p.dataset.jsonl").read_text().splitlines()]
    assert [(r["variant"], r["integrand"]) for r in rows] == [("a", "cos(x)")]
    assert rows[0]["extra_info"]["kind"] == "root"


def test_exported_rows_feed_our_reward_functions(run_dir: Path) -> None:
    """The column names are the ones TRL passes to `integration_reward` and veRL to `compute_score`."""
    from engine.train.rewards_trl import compute_score, integration_reward

    cli_run(["export-dataset", str(run_dir)])
    row = load(run_dir / "dataset.jsonl", "jsonl")[1]  # exp(x)
    columns = {k: [v] for k, v in row.items() if k != "prompt"}
    good = [{"role": "assistant", "content": "<answer>exp(x)</answer>"}]
    [reward] = integration_reward(prompts=[row["prompt"]], completions=[good], **columns)
    assert reward >= 1.0
    assert compute_score(row["data_source"], "<answer>exp(x)</answer>", row["reward_model"]["ground_truth"],
                         row["extra_info"]) == reward
    assert compute_score(row["data_source"], "<answer>exp(2*x)</answer>",
                         row["reward_model"]["ground_truth"]) < 1.0


def test_errors_are_one_line(tmp_path: Path) -> None:
    empty = RunDir.create(tmp_path / "empty", Config())
    with pytest.raises(LadderError, match="no variant pool"):
        cli_run(["export-dataset", str(empty.path)])
    with pytest.raises(LadderError, match="neither a run directory nor a problems file"):
        cli_run(["export-dataset", str(tmp_path / "nothing")])
