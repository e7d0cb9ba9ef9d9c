"""The one interface every text-generation backend implements.

A prompt is a chat: a list of {"role": ..., "content": ...} messages; the backend applies the
model's own chat template. `generate` returns, for each prompt, `n` samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

Chat = list[dict[str, str]]

# Called with (prompt index, sample index, new text) as tokens arrive, for streaming displays.
TokenCallback = Callable[[int, int, str], None]


@dataclass
class Sample:
    """One completion of one prompt."""

    text: str
    tokens: int  # completion tokens
    seconds: float  # wall time spent producing it (shared batch time is split evenly)
    token_ids: list[int] = field(default_factory=list)  # completion token ids, when known


@dataclass
class GenerationParams:
    """Explicit sampling parameters: no library default may apply silently."""

    n: int = 1
    temperature: float = 1.0  # 0 = greedy
    max_tokens: int = 128
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    min_p: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ("</answer>",)
    ignore_eos: bool = False  # benchmarks: every sample runs to max_tokens


class Backend(Protocol):
    """What solve, eval, variants and GRPO rollouts need from a model."""

    name: str  # "llamacpp" or "hf"
    model_name: str

    def generate(
        self, prompts: list[Chat], params: GenerationParams, on_token: TokenCallback | None = None
    ) -> list[list[Sample]]:
        """Sample `params.n` completions for each chat; result[i][j] is sample j of prompt i."""
        ...
