"""`ladder eval`: greedy accuracy, pass@1 and pass@k of a model (and adapter) on a problem set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.commands.common import event_stream, json_arg, model_args
from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="greedy accuracy, pass@1 and pass@k on a problem set")
    model_args(p)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR")
    p.add_argument("--problems", required=True, metavar="FILE.jsonl")
    p.add_argument("--samples", "-k", type=int, default=4)
    p.add_argument("--backend", choices=["llamacpp", "hf"], default=None)
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--max-tokens", type=int, default=None, help="completion tokens per answer (default: config)")
    p.add_argument("--temperature", type=float, default=None, help="for the K samples (greedy is always 0)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the report here")
    json_arg(p)
    p.set_defaults(handler=run)


def _print_human(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    k = report["k"]
    table = Table(title=f"{report['model']} on {report['set']} ({report['n_problems']} problems)")
    for col in ("problem", "integrand", "greedy", f"correct of {k}"):
        table.add_column(col)
    for r in report["problems"]:
        table.add_row(r["id"], r["integrand"], ("ok " if r["greedy_ok"] else "-- ") + str(r["greedy_answer"]),
                      f"{r['correct']}/{r['n']}")
    console = Console()
    console.print(table)
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    low, high = report["greedy_interval"]
    console.print(f"greedy accuracy {pct(report['greedy_accuracy'])} (95 % interval {pct(low)}-{pct(high)})   "
                  f"pass@1 {pct(report['pass@1'])}   pass@{k} {pct(report.get(f'pass@{k}'))}   "
                  f"{report['tokens']} tokens in {report['seconds']:.1f} s ({report['problems_per_minute']} problems/min)")
    for key, title in (("by_difficulty", "difficulty"), ("by_technique", "technique")):
        groups = {g: s for g, s in report[key].items() if g != "None"}
        if not groups:
            continue
        table = Table(title=f"greedy accuracy by {title}")
        for col in (title, "n", "correct", "accuracy", "95 % interval", f"mean@{k}"):
            table.add_column(col)
        for g, s in groups.items():
            table.add_row(g, str(s["n"]), str(s["correct"]), pct(s["accuracy"]), f"{pct(s['low'])}-{pct(s['high'])}",
                          pct(s.get(f"mean@{k}")))
        console.print(table)


class EvalProgress:
    """A progress bar on stderr (problems done, greedy accuracy so far, ETA); stdout stays clean
    for --json, so it shows in every mode but the app's engine mode (which has phase events)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("greedy {task.fields[acc]}"), TimeRemainingColumn(),
                            console=Console(stderr=True), disable=not enabled)
        self.task = self.bar.add_task("eval", total=total, acc="-")

    def __enter__(self) -> EvalProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, done: int, total: int, correct: int) -> None:
        acc = f"{correct}/{done} ({correct / done:.0%})"
        self.bar.update(self.task, completed=done, acc=acc)
        if not self.bar.disable and not self.bar.console.is_terminal:
            # A log file (nohup, CI) gets no live bar, only its last state: a line per batch instead.
            elapsed = self.bar.tasks[0].elapsed or 0.0
            self.bar.console.print(f"eval {done}/{total} greedy {acc} {elapsed:.0f} s", highlight=False)


def run(args: argparse.Namespace) -> int:
    """`ladder eval --model M [--adapter RUN_DIR] --problems FILE --samples K [--json] [--out F]`."""
    from engine.evaluation.evaluate import evaluate
    from engine.inference.models import adapter_model, default_model, load_backend
    from engine.problems import load_problems
    from engine.runs.config import Config
    from engine.runs.events import EventSink

    if args.samples < 0:
        raise LadderError("--samples must be 0 or more")
    if args.limit is not None and args.limit < 1:
        raise LadderError("--limit must be at least 1")
    problems = load_problems(args.problems)[: args.limit]
    cfg = Config()
    if args.adapter is not None and not Path(args.adapter).is_dir():
        raise LadderError(f"--adapter {args.adapter} is not a run directory")
    model = args.model or adapter_model(args.adapter) or default_model()
    backend = load_backend(model, args.backend, args.device, adapter=args.adapter)
    sink = EventSink(run=Path(args.adapter).name if args.adapter else "eval", stream=event_stream(args))
    if args.max_tokens is not None and args.max_tokens < 1:
        raise LadderError("--max-tokens must be at least 1")
    with EvalProgress(len(problems), enabled=not args.engine_mode) as progress:
        report = evaluate(problems, backend, samples=args.samples, seed=args.seed, cfg=cfg, sink=sink,
                          set_name=Path(args.problems).stem, max_tokens=args.max_tokens,
                          temperature=args.temperature, on_progress=progress.update)
    report["problems_file"] = str(args.problems)
    report["adapter"] = args.adapter
    from engine.runs.files import atomic_write_json

    targets = [Path(args.out)] if args.out else []
    if args.adapter:
        targets.append(Path(args.adapter) / "eval.json")
    for path in targets:
        atomic_write_json(path, report)
    if args.json:
        out = sys.stderr if args.engine_mode else sys.stdout
        print(json.dumps(report, ensure_ascii=False), file=out)
    elif not args.engine_mode:
        _print_human(report)
    return 0
