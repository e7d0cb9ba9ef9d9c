"""Run-time device and dtype choice: CUDA when present, CPU otherwise; never hard-coded."""

from __future__ import annotations

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
