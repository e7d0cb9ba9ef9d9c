"""Config, events, run directories and device choice: the pieces every procedure stands on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import LadderError
from engine.inference.device import pick_device, pick_dtype
from engine.runs.config import Config
from engine.runs.events import Control, EventSink, Step, read_events
from engine.runs.rundir import RunDir, atomic_write


def test_config_roundtrip_and_toml_override(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("model = 'tiny'\n[grpo]\ngroup_size = 4\nlora_targets = ['q_proj']\n")
    cfg = Config.load(toml)
    assert cfg.model == "tiny" and cfg.grpo.group_size == 4 and cfg.grpo.lora_targets == ("q_proj",)
    assert cfg.grpo.clip_eps == 0.2  # untouched defaults stay
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_config_rejects_unknown_key(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("[grpo]\ngroup_sise = 4\n")
    with pytest.raises(LadderError, match="grpo.'group_sise'"):
        Config.load(toml)


def test_events_written_and_torn_line_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventSink(run="r", path=path)
    sink.emit(Step(step=1, reward_mean=0.5))
    sink.close()
    with open(path, "a") as f:
        f.write('{"type": "step", "st')  # what a SIGKILL mid-write leaves
    events = list(read_events(path))
    assert [e["type"] for e in events] == ["step"] and events[0]["run"] == "r"
    with pytest.raises(TypeError):
        Step(no_such_field=1)  # a writer cannot invent a field the reader does not know


def test_control_commands_from_stream() -> None:
    import io

    control = Control()
    control.listen(io.StringIO('{"cmd": "pause"}\nnot json\n{"cmd": "stop"}\n')).join(timeout=5)
    assert control.stopped and control.checkpoint()


def test_checkpoint_is_atomic(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "run", Config())
    with run.new_checkpoint(1) as d:
        (d / "a").write_text("ok")
    with pytest.raises(RuntimeError):
        with run.new_checkpoint(2) as d:
            (d / "a").write_text("half")
            raise RuntimeError("killed")
    assert run.latest_checkpoint() == run.checkpoints / "step-1"
    assert not (run.checkpoints / "step-2.tmp").exists()
    with pytest.raises(LadderError, match="already holds a run"):
        RunDir.create(tmp_path / "run", Config())


def test_atomic_write_survives_sigkill(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write(target, "old")
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import engine.runs.rundir as r
        real = os.replace
        def die(*a): os.kill(os.getpid(), signal.SIGKILL)
        r.os.replace = die
        r.atomic_write(Path({str(target)!r}), "new" * 1000)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1])
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == "old"


def test_device_choice_is_made_at_run_time() -> None:
    import torch

    assert pick_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto") == expected
    assert pick_dtype("cpu") == torch.float32 and pick_dtype("cuda") == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(LadderError, match="no CUDA"):
            pick_device("cuda")
    with pytest.raises(LadderError):
        pick_device("tpu")


def test_tiny_model_builds_and_has_chat_template(tiny_dir: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(tiny_dir)
    assert cfg.num_hidden_layers == 2
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    text = tok.apply_chat_template([{"role": "user", "content": "x**2"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")


def test_cli_unknown_engine_subcommand_is_one_line_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "engine.commands", "engine"], capture_output=True, text=True,
        cwd=Path(__file__).parents[1], env={**os.environ},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("ladder: error:") and "Traceback" not in proc.stderr
