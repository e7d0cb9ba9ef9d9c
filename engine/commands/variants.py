"""`ladder variants INTEGRAND`: build and show a variant tree."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from engine.commands.common import control_for, event_stream, json_arg, model_args
from engine.errors import LadderError
from engine.runs.events import RunFinished, RunStarted

if TYPE_CHECKING:
    from engine.variants.nodes import Tree


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("variants", help="build a tree of easier/equivalent variants of an integral")
    p.add_argument("integrand")
    model_args(p)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("-n", type=int, default=20, help="number of variants")
    p.add_argument("--source", choices=["llm", "symbolic", "both"], default="both")
    p.add_argument("--out", default=None, metavar="FILE.jsonl", help="write the tree (tree.jsonl format)")
    p.add_argument("--references", action="store_true", help="add sympy antiderivatives (statistics only; up to 5 s each)")
    json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder variants INTEGRAND --depth D -n N [--model M] [--source S] [--json] [--out F]`."""
    from engine.runs.config import Config
    from engine.runs.events import EventSink
    from engine.variants.tree import build_tree_stats, parse_root, write_tree_jsonl

    if args.depth < 1 or args.n < 1:
        raise LadderError("--depth and -n must be at least 1")
    cfg = dataclasses.replace(Config().variants, depth=args.depth, max_variants=args.n)
    if args.references:
        cfg = dataclasses.replace(cfg, references=True)
    parse_root(args.integrand, cfg)  # a bad integrand fails before a model is loaded
    backend = None
    if args.source in ("llm", "both"):
        from engine.inference.models import load_backend

        backend = load_backend(args.model or Config().model, device=args.device)
    sink = EventSink(run="variants", stream=event_stream(args))
    sink.emit(RunStarted(kind="variants", config=dataclasses.asdict(cfg),
              model=getattr(backend, "model_name", None), device=args.device, total_steps=0))
    control = control_for(args)
    with sink.running():  # the sink writes to a stream only: closing it is a no-op
        tree = build_tree_stats(args.integrand, backend=backend, cfg=cfg, source=args.source, sink=sink,
                                seed=args.seed, control=control)
    summary = tree.stats.summary()
    sink.emit(RunFinished(status="stopped" if control.stopped else "done", variants=len(tree.nodes) - 1,
              per_level=summary["per_level"]))
    if args.out:
        write_tree_jsonl(args.out, tree.nodes)
    out = sys.stderr if args.engine_mode else sys.stdout
    if args.json:
        print(json.dumps({"root": tree.nodes[0].integrand, "nodes": [n.to_dict() for n in tree.nodes],
                          "stats": summary}, ensure_ascii=False), file=out)
    else:
        _print_tree(tree, out)
    return 0


def _print_tree(tree: Tree, out: Any) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.tree import Tree as RichTree

    console = Console(file=out)
    shown: dict[str, RichTree] = {}
    for node in tree.nodes:
        label = f"{node.integrand}  [dim]{node.kind} · {node.source}{' · ' + node.via if node.via else ''}[/dim]"
        if node.reference:
            label += f"  [dim]∫ = {node.reference}[/dim]"
        if node.parent is None:
            shown[node.id] = RichTree(f"[bold]{node.integrand}[/bold]")
        else:
            shown[node.id] = shown[node.parent].add(label)
    console.print(shown[tree.nodes[0].id])
    summary = tree.stats.summary()
    console.print("variants per level: " + ", ".join(f"depth {d}: {c}" for d, c in summary["per_level"].items()))
    table = Table("source", "proposals", "valid", "duplicate", "dropped", "seconds")
    for name in ("llm", "symbolic"):
        if name in summary:
            s = summary[name]
            table.add_row(name, str(s["proposals"]), f"{s['valid']:.0%}", f"{s['duplicate']:.0%}",
                          f"{s['dropped']:.0%}", f"{s['seconds']:.1f}")
    console.print(table)
