"""`ladder solve INTEGRAND`: sample answers, verify them, print a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.commands.common import event_stream, json_arg, model_args
from engine.errors import LadderError
from engine.runs.events import EventSink, RunFinished, RunStarted, Sample, Token


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="sample answers to an integral and verify them")
    p.add_argument("integrand")
    model_args(p)
    p.add_argument("--backend", choices=["llamacpp", "hf"], default=None, help="default: llamacpp for GGUF models, hf otherwise")
    p.add_argument("--samples", "-k", type=int, default=4)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR", help="LoRA adapter of a training run")
    p.add_argument("--lower", default=None, help="lower bound (definite integral)")
    p.add_argument("--upper", default=None, help="upper bound (definite integral)")
    p.add_argument("--out", default=None, metavar="RUN_DIR", help="record the session's events in RUN_DIR/events.jsonl")
    json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The `ladder solve` handler (see the module docstring)."""
    from engine.inference.models import adapter_model, default_model
    from engine.runs.config import SampleConfig
    from engine.verify.parse import parse

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
    model = args.model or adapter_model(args.adapter) or default_model()
    human = sys.stderr if args.engine_mode or args.json else sys.stdout
    stream = event_stream(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    sink = EventSink(run=out.name if out else "solve", path=out / "events.jsonl" if out else None, stream=stream)
    sink.emit(RunStarted(kind="solve", model=model, device=args.device, adapter=args.adapter,
                         config={"integrand": args.integrand, "samples": args.samples, "temperature": temperature,
                                 "max_tokens": max_tokens, "lower": args.lower, "upper": args.upper}))
    with sink.running():
        report = _solve(args, sink, model, temperature, max_tokens, human)
        sink.emit(RunFinished(status="done", solved=int(report["solved"]), problems=1))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _table(report, human)
    return 0


def _solve(args: argparse.Namespace, sink: Any, model: str, temperature: float, max_tokens: int,
           human: Any) -> dict[str, Any]:
    from engine.evaluation.solve import solve
    from engine.inference.models import load_backend

    start = time.perf_counter()
    backend = load_backend(model, backend=args.backend, device=args.device, adapter=args.adapter)
    load_s = time.perf_counter() - start
    current = [-1]

    def on_token(i: int, j: int, text: str) -> None:
        sink.emit(Token(sample=j, text=text), persist=False)
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
    for k, r in enumerate(results):
        sink.emit(Sample(integrand=args.integrand, index=k, **asdict(r)))
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
    return report


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
