"""`ladder solve`: JSON schema, engine-mode events, one-line errors; a real smollm2-135m solve (slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.commands import run
from engine.errors import LadderError

SAMPLE_KEYS = {"completion", "answer", "ok", "reason", "seconds", "tokens"}


def _check_schema(report: dict, k: int) -> None:
    assert {"integrand", "model", "samples", "solved", "tokens_per_s"} <= set(report)
    assert len(report["samples"]) == k
    for s in report["samples"]:
        assert SAMPLE_KEYS <= set(s)
        assert isinstance(s["ok"], bool) and isinstance(s["completion"], str)
        assert s["answer"] is None or isinstance(s["answer"], str)
    assert report["solved"] == any(s["ok"] for s in report["samples"])


def test_solve_json_schema_with_tiny(capsys):
    assert run(["solve", "x", "--model", "tiny", "-k", "2", "--max-tokens", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "tiny" and report["backend"] == "hf"
    _check_schema(report, 2)


def test_solve_engine_mode_emits_token_and_sample_events(capsys):
    assert run(["solve", "x", "--model", "tiny", "-k", "2", "--max-tokens", "8"], engine_mode=True) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert "token" in types and types.count("sample") == 2
    samples = [e for e in events if e["type"] == "sample"]
    assert {"integrand", "index", "completion", "ok", "reason", "seconds", "tokens"} <= set(samples[-1])
    assert sorted(e["index"] for e in samples) == [0, 1] and samples[0]["integrand"] == "x"


def test_solve_verifies_answers_through_the_verifier():
    from engine.inference.base import Sample
    from engine.evaluation.solve import solve

    class Canned:
        name = "canned"

        def generate(self, prompts, params, on_token=None):
            texts = ["<answer>x**3/3</answer>", "<answer>x**2</answer>", "no tags"]
            return [[Sample(t, 3, 0.1) for t in texts]]

    res = solve("x**2", Canned(), 3, 1.0, 16)
    assert [r.ok for r in res] == [True, False, False]
    assert res[2].answer is None


@pytest.mark.parametrize("argv", [["solve", "x**("], ["solve", "__import__('os')"], ["solve", "x", "--lower", "0"]])
def test_bad_input_is_a_one_line_error(argv):
    with pytest.raises(LadderError):
        run(argv + ["--model", "tiny"])


def test_bad_integrand_exit_code_and_no_traceback():
    code = "import sys; from engine.commands import main; main(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, "solve", "x**("], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ladder: error:") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_real_smollm2_solve_through_llamacpp(capsys):
    """Pulls the model itself when the cache lacks it (CI: fresh clone, persistent cache)."""
    assert run(["solve", "x**2", "--model", "smollm2-135m", "-k", "2", "--max-tokens", "48", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "llamacpp"
    _check_schema(report, 2)
    assert report["tokens_per_s"] > 0
