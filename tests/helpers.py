"""Helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from engine.runs.config import Config
from engine.train.reward import RewardResult

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(name: str) -> ModuleType:
    """Import bench/<name>.py (bench scripts import their siblings, so bench/ goes on the path)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A training run on `tiny` that takes seconds: symbolic variants, tiny groups and completions.
TINY_TRAIN_CONFIG = """
[variants]
source = "symbolic"
max_variants = 3
[sample]
max_tokens = 4
[grpo]
group_size = 2
max_resample = 0
"""


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> None:
    """Let a Textual app run until `condition()` holds; fail loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)


def trainer_config(max_tokens: int = 6, **grpo) -> Config:
    """A GRPOTrainer config for `tiny` on the CPU in fp32: groups of 4, a few tokens, the trainer's
    own generate (so the policy's and the reference's logits are what the tests look at)."""
    cfg = Config()
    cfg.device = "cpu"
    cfg.grpo.rollout_backend = "hf"
    cfg.grpo.dtype = "float32"  # the same numbers on every CPU, with native bf16 or without
    cfg.sample.max_tokens = max_tokens
    cfg.grpo.group_size = 4
    for k, v in grpo.items():
        setattr(cfg.grpo, k, v)
    return cfg


def by_length(items):
    """A reward that differs between completions of random text (so groups are not flat)."""
    return [RewardResult(float(len(text)), False, None, "") for _, text in items]
