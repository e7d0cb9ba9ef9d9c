"""Helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

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
