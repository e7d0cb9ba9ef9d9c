"""The step benchmark's historical anchor (bench/rollouts.py AnchorTrainer, bench/anchor_trainer.py):
the older commit's trainer really runs from that commit's code, in a child process, one step per request."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import bench_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rollouts(monkeypatch):
    module = bench_module("rollouts")
    monkeypatch.setattr(module, "GROUP", 2)
    monkeypatch.setattr(module, "MAX_TOKENS", 6)
    return module


def test_anchor_trainer_imports_the_commits_code_and_steps_on_request(rollouts, tiny_dir, tmp_path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    anchor = rollouts.AnchorTrainer(head.stdout.strip(), tiny_dir, tmp_path)
    try:
        # the child's engine package is the extracted tree's, not this checkout's
        assert Path(anchor.ready["engine"]).is_relative_to(tmp_path)
        rows = [anchor.step(), anchor.step()]
    finally:
        anchor.close()
    assert anchor.proc.returncode == 0
    for row in rows:
        assert 0 < row["tokens"] <= 2 * 6 and row["seconds"] >= row["gen_s"] > 0


def test_anchor_trainer_of_an_unknown_commit_fails_before_timing(rollouts, tiny_dir, tmp_path):
    with pytest.raises(subprocess.CalledProcessError):
        rollouts.AnchorTrainer("0" * 40, tiny_dir, tmp_path)
