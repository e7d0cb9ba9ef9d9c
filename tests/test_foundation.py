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
from engine.runs.files import atomic_write
from engine.runs.rundir import RunDir


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


@pytest.mark.parametrize("toml, message", [
    ("[grpo]\ngroup_size = '4'\n", "grpo.group_size: expected int, got str"),
    ("[grpo]\nlr = true\n", "grpo.lr: expected float, got bool"),
    ("[grpo]\nlora_targets = [1, 2]\n", "grpo.lora_targets: expected str, got int"),
    ("grpo = 3\n", "grpo: expected a table"),
])
def test_config_rejects_wrong_types_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(LadderError, match=message):
        Config.load(path)


def test_config_save_writes_what_load_reads(tmp_path: Path) -> None:
    cfg = Config(model="tiny")
    cfg.grpo.group_size, cfg.variants.temperatures, cfg.sample.reward = 3, (0.5, 1.5), "format_only"
    cfg.save(tmp_path / "c.toml")
    assert Config.load(tmp_path / "c.toml") == cfg


def test_bad_config_is_a_one_line_error_from_the_command_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "c.toml"
    path.write_text("[ttrl]\nsteps = 'many'\n")
    proc = subprocess.run([sys.executable, "-m", "engine.commands", "ttrl", "x", "--model", "tiny", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["ladder: error: config key ttrl.steps: expected int, got str 'many'"]


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
