"""The CUDA path of training, covered on a CPU-only machine.

No GPU is available where these tests run, so they check the decisions the CUDA path depends on:
CUDA is picked when torch sees it and bf16 with it, models land on the picked device in the
picked dtype, a bf16 LoRA model trains (forward and backward) with the same code, the TRL backend
maps a CUDA device onto bf16 training arguments, and the example accelerate configs parse.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.runs.config import Config
from engine.inference.device import cpu_has_native_bf16, pick_device, pick_dtype, pick_train_dtype
from engine.errors import LadderError
from engine.runs.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def test_auto_picks_cuda_and_bf16_when_torch_sees_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == "cuda"
    assert pick_device("cuda:3") == "cuda:3"
    assert pick_dtype(pick_device("auto")) == torch.bfloat16
    assert pick_dtype("cuda:3") == torch.bfloat16


def test_cpu_only_machine_gets_fp32_and_a_clear_error_for_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == "cpu"
    assert pick_dtype("cpu") == torch.float32
    with pytest.raises(LadderError, match="no CUDA"):
        pick_device("cuda")


def test_training_model_is_placed_on_the_picked_device_in_the_picked_dtype(tiny_dir: Path) -> None:
    from engine.inference.hf import load_hf_model

    device = pick_device("auto")
    model, tokenizer = load_hf_model(tiny_dir, device)
    params = list(model.parameters())
    assert {p.device.type for p in params} == {torch.device(device).type}
    assert {p.dtype for p in params} == {pick_dtype(device)}
    assert tokenizer.padding_side == "left"  # batched rollouts pad on the left


def test_bf16_lora_model_trains_like_on_a_gpu(tiny_dir: Path) -> None:
    """The CUDA run loads the model in bf16 and trains a LoRA adapter on it; bf16 also runs on CPU."""
    from peft import get_peft_model

    from engine.inference.hf import load_hf_model
    from engine.train.trl_backend import lora_config

    model, tokenizer = load_hf_model(tiny_dir, "cpu", torch.bfloat16)
    model = get_peft_model(model, lora_config(Config()))
    model.train()
    ids = tokenizer("<answer>x**2/2</answer>", return_tensors="pt").input_ids
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad.float()).all() for p in trainable)
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert all(p.dtype == torch.bfloat16 for p in frozen)
    # peft keeps the adapter in fp32 on a bf16 base, so lr-1e-5 updates are not rounded away
    assert all(p.dtype == torch.float32 for p in trainable)


def test_trl_backend_maps_a_cuda_device_to_bf16_gpu_training(tmp_path: Path) -> None:
    from engine.train.trl_backend import grpo_kwargs

    run = RunDir(tmp_path / "run")
    cuda = grpo_kwargs(Config(), run, 10, "cuda", num_processes=8)
    assert cuda["bf16"] is True and cuda["use_cpu"] is False
    assert cuda["model_init_kwargs"]["dtype"] == torch.bfloat16
    assert cuda["per_device_train_batch_size"] == 1  # 1 prompt x 8 completions over 8 GPUs
    cpu = grpo_kwargs(Config(), run, 10, "cpu", num_processes=1)
    assert cpu["bf16"] is False and cpu["use_cpu"] is True
    assert cpu["model_init_kwargs"]["dtype"] == torch.float32


@pytest.mark.parametrize("name", ["single_gpu", "multi_gpu", "fsdp", "zero2"])
def test_example_accelerate_configs_parse(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(ROOT / "configs" / "accelerate" / f"{name}.yaml")
    assert config.mixed_precision == "bf16" and not config.use_cpu
    assert config.num_processes == (1 if name == "single_gpu" else 8)


def test_hand_written_trainer_uses_the_picked_device_and_dtype(tiny_dir: Path) -> None:
    """engine/train/grpo.py takes its device from pick_device: base in pick_dtype, LoRA in fp32."""
    from engine.train.grpo import GRPOTrainer

    cfg = Config(model="tiny", device="auto")
    trainer = GRPOTrainer(tiny_dir, cfg)
    device = pick_device("auto")
    assert trainer.device == device
    assert {p.device.type for p in trainer.model.parameters()} == {torch.device(device).type}
    assert {p.dtype for p in trainer.params} == {torch.float32}
    frozen = {p.dtype for p in trainer.model.parameters() if not p.requires_grad}
    assert frozen == {pick_train_dtype(device)} == {trainer.dtype}


ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx512f amx_tile amx_bf16 amx_int8\n"


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    assert cpu_has_native_bf16(ZEN4) and cpu_has_native_bf16(SAPPHIRE)
    assert not cpu_has_native_bf16(SKYLAKE)  # avx512 alone: torch emulates bf16, slower than fp32
    assert not cpu_has_native_bf16("")  # no flags line (an ARM /proc/cpuinfo names "Features")


def test_training_dtype_is_bf16_where_the_hardware_multiplies_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.inference.device as device

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    assert pick_train_dtype("cpu") == torch.float32
    assert pick_train_dtype("cuda:1") == torch.bfloat16
    assert pick_train_dtype("cpu", "bfloat16") == torch.bfloat16  # forced
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    assert pick_train_dtype("cpu") == torch.bfloat16
    assert pick_train_dtype("cpu", "float32") == torch.float32  # forced
    with pytest.raises(LadderError, match="grpo.dtype"):
        pick_train_dtype("cpu", "fp16")
