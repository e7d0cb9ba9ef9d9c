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
    from engine.answer import extract
    from engine.backends.base import GenerationParams
    from engine.config import SampleConfig
    from engine.prompts import definite_chat, solve_chat
    from engine.verify import verify_many

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


def cli_solve(args: argparse.Namespace) -> int:
    """The `ladder solve` handler (see the module docstring)."""
    from engine.cli import event_stream
    from engine.config import SampleConfig
    from engine.events import EventSink
    from engine.expr import parse
    from engine.models import default_model, load_backend

    if (args.lower is None) != (args.upper is None):
        raise LadderError("give both --lower and --upper for a definite integral")
    parse(args.integrand)  # a bad integrand is a one-line error before any model loads
    for bound in (args.lower, args.upper):
        if bound is not None:
            parse(bound)
    if args.samples < 1:
        raise LadderError("--samples must be at least 1")
    cfg = SampleConfig()
    temperature = cfg.temperature if args.temperature is None else args.temperature
    max_tokens = args.max_tokens or cfg.max_tokens
    model = args.model or default_model()
    human = sys.stderr if args.engine_mode or args.json else sys.stdout
    stream = event_stream(args)
    sink = EventSink(run="solve", stream=stream) if stream is not None else None

    start = time.perf_counter()
    backend = load_backend(model, backend=args.backend, device=args.device, adapter=args.adapter)
    load_s = time.perf_counter() - start
    current = [-1]

    def on_token(i: int, j: int, text: str) -> None:
        if sink is not None:
            sink.emit("token", sample=j, text=text)
        if not args.json:
            if current[0] != j:
                current[0] = j
                print(f"\n[{j + 1}] ", end="", file=human)
            print(text, end="", file=human, flush=True)

    gen_start = time.perf_counter()
    try:
        results = solve(
            args.integrand, backend, args.samples, temperature, max_tokens,
            seed=args.seed, lower=args.lower, upper=args.upper, on_token=on_token,
        )
    finally:
        if hasattr(backend, "close"):
            backend.close()
    gen_s = time.perf_counter() - gen_start
    tokens = sum(r.tokens for r in results)
    tokens_per_s = tokens / gen_s if gen_s > 0 else 0.0
    if sink is not None:
        for k, r in enumerate(results):
            sink.emit("sample", integrand=args.integrand, index=k, **asdict(r))
    if not args.json:
        print(file=human)
    report = {
        "integrand": args.integrand,
        "model": model,
        "backend": backend.name,
        "samples": [asdict(r) for r in results],
        "solved": any(r.ok for r in results),
        "tokens_per_s": round(tokens_per_s, 1),
        "seconds": round(time.perf_counter() - start, 2),
        "load_seconds": round(load_s, 2),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _table(report, human)
    return 0


def _table(report: dict, out: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"∫ {report['integrand']} dx — {report['model']} ({report['backend']})"))
    for column in ("#", "answer", "verdict", "reason", "s"):
        table.add_column(column)
    for k, s in enumerate(report["samples"], 1):
        verdict = "[green]ok[/]" if s["ok"] else "[red]no[/]"
        table.add_row(str(k), escape(s["answer"] or "—"), verdict, escape(s["reason"]), f"{s['seconds']:.1f}")
    console = Console(file=out)
    console.print(table)
    solved = "[green]solved[/]" if report["solved"] else "[red]not solved[/]"
    console.print(f"{solved} · {report['tokens_per_s']} tokens/s · {report['seconds']} s total")
