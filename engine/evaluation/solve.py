"""`ladder solve INTEGRAND`: sample K answers from a model, extract and verify each, report.

Human form: tokens stream to the terminal as they are produced, then a rich table of answers and
verdicts. `--json`: one JSON object {"integrand", "model", "backend", "samples": [...], "solved",
"tokens_per_s", "seconds"}. Engine mode (the TUI's solve screen): `token` and `sample` events on
stdout, human output on stderr.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class SolvedSample:
    """One verified answer."""

    completion: str
    answer: str | None
    ok: bool
    reason: str
    seconds: float
    tokens: int


def solve(
    integrand: str,
    backend: Any,
    samples: int,
    temperature: float,
    max_tokens: int,
    seed: int | None = None,
    lower: str | None = None,
    upper: str | None = None,
    on_token: Any = None,
    verify_cfg: Any = None,
) -> list[SolvedSample]:
    """Sample `samples` answers to one integral with `backend` and verify each."""
    from engine.inference.base import GenerationParams
    from engine.inference.prompts import definite_chat, solve_chat
    from engine.runs.config import SampleConfig
    from engine.verify.judge import Task, judge_many

    cfg = SampleConfig()
    chat = definite_chat(integrand, lower, upper) if lower is not None else solve_chat(integrand)
    params = GenerationParams(
        n=samples, temperature=temperature, max_tokens=max_tokens,
        top_p=cfg.top_p, top_k=cfg.top_k, min_p=cfg.min_p, seed=seed,
    )
    outs = backend.generate([chat], params, on_token=on_token)[0]
    judgements = judge_many([Task(integrand, s.text, lower, upper) for s in outs], verify_cfg)
    return [SolvedSample(s.text, j.answer, j.ok, j.reason, round(s.seconds, 3), s.tokens)
            for s, j in zip(outs, judgements)]
