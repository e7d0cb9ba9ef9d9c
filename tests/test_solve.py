"""`ladder solve`: JSON schema, engine-mode events, one-line errors; real solves through llama.cpp
(smollm2-135m and the default qwen2.5-coder-0.5b, slow) that check what comes back, not only its shape."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.commands import run
from engine.errors import LadderError
from engine.verify.verifier import check

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


def test_a_file_system_failure_is_a_one_line_error_and_leaves_whole_events(tmp_path):
    """A disk that fills up mid-run (here a real per-process file-size limit, so the kernel refuses
    the write as a full disk would) or a run folder that cannot be made: exit 1 with one line, no
    traceback, and the events written before the failure read back whole."""
    import resource
    import signal

    from engine.runs.events import read_events

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))

    out = tmp_path / "solve"
    argv = [sys.executable, "-m", "engine.commands", "solve", "x", "--model", "tiny", "-k", "2", "--max-tokens", "8"]
    proc = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True, preexec_fn=small_disk, timeout=300,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "ladder: error: File too large"
    assert (out / "events.jsonl").stat().st_size == 600  # the last line is torn ...
    events = list(read_events(out / "events.jsonl"))  # ... and skipped: only whole events come back
    assert events and events[0]["type"] == "run_started" and all(e["run"] == "solve" for e in events)
    proc = subprocess.run([*argv, "--out", "/proc/no/such/run"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "ladder: error: No such file or directory (/proc/no)"


def test_bad_integrand_exit_code_and_no_traceback():
    code = "import sys; from engine.commands import main; main(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, "solve", "x**("], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ladder: error:") and "Traceback" not in proc.stderr


def _real_solve(capsys, model: str, k: int, max_tokens: int, seed: int) -> dict:
    argv = ["solve", "x**2", "--model", model, "-k", str(k), "--max-tokens", str(max_tokens), "--seed", str(seed), "--json"]
    assert run(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "llamacpp" and report["model"] == model
    _check_schema(report, k)
    assert report["tokens_per_s"] > 0
    for s in report["samples"]:
        assert 0 < s["tokens"] <= max_tokens and s["completion"] and s["seconds"] > 0
        if s["answer"] is None:
            assert not s["ok"]
        else:  # the verdict shown is the verifier's on the extracted answer
            assert check("x**2", s["answer"]).ok == s["ok"], s
    return report


@pytest.mark.slow
def test_real_smollm2_solve_through_llamacpp(capsys):
    """Pulls the model itself when the cache lacks it (CI: fresh clone, persistent cache). Behaviour,
    not only the schema: tokens are produced, each verdict is the verifier's, and the same seed gives
    the same completions."""
    report = _real_solve(capsys, "smollm2-135m", k=3, max_tokens=48, seed=3)
    again = _real_solve(capsys, "smollm2-135m", k=3, max_tokens=48, seed=3)
    assert [s["completion"] for s in again["samples"]] == [s["completion"] for s in report["samples"]]


@pytest.mark.slow
def test_real_default_model_solves_x_squared(capsys):
    """The default model (qwen2.5-coder-0.5b) finds a verified antiderivative of x**2 in 4 samples
    at a fixed seed: the whole path (prompt, sampling, answer extraction, verifier) works for real."""
    report = _real_solve(capsys, "qwen2.5-coder-0.5b", k=4, max_tokens=128, seed=0)
    assert report["solved"] and sum(s["ok"] for s in report["samples"]) >= 1, [s["answer"] for s in report["samples"]]
