"""`ladder solve INTEGRAND`: sample K answers from a model, extract and verify each, report.

Human form: tokens stream to the terminal as they are produced, then a rich table of answers and
verdicts. `--json`: one JSON object {"integrand", "model", "backend", "samples": [...], "solved",
"tokens_per_s", "seconds"}. Engine mode (the TUI's solve screen): `token` and `sample` events on
stdout, human output on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import LadderError


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
) -> list[SolvedSample]:
    """Sample `samples` answers to one integral with `backend` and verify each."""
    from engine.verify.answer import extract
    from engine.inference.base import GenerationParams
    from engine.runs.config import SampleConfig
    from engine.inference.prompts import definite_chat, solve_chat
    from engine.verify.verifier import verify_many

    cfg = SampleConfig()
    chat = definite_chat(integrand, lower, upper) if lower is not None else solve_chat(integrand)
    params = GenerationParams(
        n=samples, temperature=temperature, max_tokens=max_tokens,
        top_p=cfg.top_p, top_k=cfg.top_k, min_p=cfg.min_p, seed=seed,
    )
    outs = backend.generate([chat], params, on_token=on_token)[0]
    answers = [extract(s.text) for s in outs]
    bounds = (lower, upper) if lower is not None else ()
    todo = [(integrand, a, *bounds) for a in answers if a is not None]
    verdicts = iter(verify_many(todo))
    results = []
    for s, a in zip(outs, answers):
        if a is None:
            ok, reason = False, "no answer between <answer> tags"
        else:
            v = next(verdicts)
            ok, reason = bool(v.ok), v.reason
        results.append(SolvedSample(s.text, a, ok, reason, round(s.seconds, 3), s.tokens))
    return results
