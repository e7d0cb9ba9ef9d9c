"""`ladder export RUN_DIR`: a run or solve session as Markdown, JSON and LaTeX."""

from __future__ import annotations

import argparse

from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run or solve session as Markdown, JSON and LaTeX")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["md", "json", "tex", "all"], default="all")
    p.add_argument("--out", default=None, metavar="DIR", help="default: RUN_DIR/export")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder export RUN_DIR --format md|json|tex|all --out DIR`."""
    from engine.evaluation.export import FORMATS, export_run
    formats = FORMATS if args.format == "all" else (args.format,)
    try:
        paths = export_run(args.run_dir, formats, args.out)
    except OSError as e:
        raise LadderError(f"cannot write the export: {e}") from None
    for path in paths:
        print(path)
    return 0
