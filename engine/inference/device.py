"""Run-time device and dtype choice: CUDA when present, CPU otherwise; never hard-coded."""

from __future__ import annotations

from pathlib import Path

from engine.errors import LadderError


def pick_device(requested: str = "auto") -> str:
    """Return "cuda" or "cpu" (or "cuda:N") for a request of "auto", "cpu", "cuda" or "cuda:N"."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise LadderError(f"--device {requested} asked for, but torch sees no CUDA GPU")
        return requested
    if requested == "cpu":
        return "cpu"
    raise LadderError(f"unknown device {requested!r} (use auto, cpu, cuda or cuda:N)")


def pick_dtype(device: str) -> "torch.dtype":
    """bf16 on CUDA (fast and stable for training), fp32 on CPU (bf16 matmuls are slow there)."""
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies bf16 in hardware (x86 avx512_bf16 or amx_bf16, from the flags in
    /proc/cpuinfo, or `cpuinfo` given as that file's text). Elsewhere torch emulates bf16 and it is
    slower than fp32; where the file is missing (macOS, Windows) this says False."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def dtype_name(dtype: "torch.dtype") -> str:
    """"float32", "bfloat16", ...: a dtype as events and records spell it."""
    return str(dtype).removeprefix("torch.")


def pick_train_dtype(device: str, setting: str = "auto") -> "torch.dtype":
    """The dtype of the frozen base weights while training ([grpo] dtype): "auto" is bf16 on CUDA
    and on a CPU with native bf16 (there a bf16 matmul ran 2.4x an fp32 one, and the forward and
    backward passes are most of a step), fp32 on other CPUs; "float32" or "bfloat16" force one.
    The LoRA weights stay fp32 either way (peft keeps an adapter on a bf16 base in fp32)."""
    import torch

    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if setting == "auto":
        native = device.startswith("cuda") or cpu_has_native_bf16()
        return torch.bfloat16 if native else torch.float32
    if setting not in choices:
        raise LadderError(f"config key grpo.dtype: expected auto, float32 or bfloat16, got {setting!r}")
    return choices[setting]
