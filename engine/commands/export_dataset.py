"""`ladder export-dataset RUN_DIR`: the variant pool as a TRL/veRL prompt dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-dataset", help="the variant pool as a TRL/veRL prompt dataset")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--out", default=None, metavar="FILE")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder export-dataset RUN_DIR|PROBLEMS.jsonl --format jsonl|parquet [--out FILE]`."""
    from engine.train.datasets import load_pool, records, write_dataset
    source = Path(args.run_dir)
    rows = records(load_pool(source))
    if not rows:
        raise LadderError(f"{source} holds no indefinite integrals to export")
    if args.out:
        out = Path(args.out)
    elif source.is_dir():
        out = source / f"dataset.{args.format}"
    else:
        out = source.with_name(f"{source.stem}.dataset.{args.format}")
    if out.is_dir():
        raise LadderError(f"--out {out} is a folder; give a file name")
    write_dataset(rows, out, args.format)
    print(f"wrote {len(rows)} prompts to {out}", file=sys.stderr)
    print(out)
    return 0
