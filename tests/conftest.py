"""Shared fixtures: the tiny model (built once per machine) and a scratch run folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """The tiny model's Hugging Face directory."""
    from engine.inference.tiny import tiny_model_dir

    return tiny_model_dir()


@pytest.fixture
def problems_file(tmp_path: Path) -> Path:
    """Three easy problems in the JSONL problem format."""
    path = tmp_path / "problems.jsonl"
    path.write_text(
        '{"id": "p1", "integrand": "x", "answer": "x**2/2"}\n'
        '{"id": "p2", "integrand": "cos(x)", "answer": "sin(x)"}\n'
        '{"id": "p3", "integrand": "exp(2*x)", "answer": "exp(2*x)/2"}\n'
    )
    return path
