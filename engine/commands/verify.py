"""`ladder verify INTEGRAND CANDIDATE [--lower A --upper B] [--timeout S] [--json]`."""

from __future__ import annotations

import argparse
import json
import re

from engine.commands.common import json_arg
from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a candidate antiderivative (or definite value) numerically")
    # Answers often start with "-" (`-log(cos(x))`): read any "-…" that is not a known option as a value.
    p._negative_number_matcher = re.compile(r"^-[^-]")
    p.add_argument("integrand")
    p.add_argument("candidate")
    p.add_argument("--lower", default=None)
    p.add_argument("--upper", default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds (default 2)")
    json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder verify INTEGRAND CANDIDATE [--lower A --upper B] [--timeout S] [--json]`.

    Exit status: 0 accepted, 1 rejected, 2 (via LadderError) unusable integrand or bounds.
    """
    from engine.runs.config import VerifyConfig
    from engine.verify.definite import bound_value
    from engine.verify.parse import ParseError, parse_tree
    from engine.verify.verifier import verify

    try:
        parse_tree(args.integrand)
    except ParseError as e:
        raise LadderError(f"cannot parse the integrand: {e}") from None
    if (args.lower is None) != (args.upper is None):
        raise LadderError("give both --lower and --upper, or neither")
    for bound in (args.lower, args.upper):
        if bound is not None:
            try:
                bound_value(bound, 20)
            except ParseError as e:
                raise LadderError(f"bad bound: {e}") from None
    cfg = VerifyConfig(workers=1)
    verdict = verify(args.integrand, args.candidate, lower=args.lower, upper=args.upper, timeout=args.timeout, cfg=cfg)
    if args.json:
        print(json.dumps(verdict.to_dict()))
    else:
        from rich.console import Console

        console = Console(stderr=getattr(args, "engine_mode", False))
        mark = "[bold green]✓ correct[/]" if verdict.ok else "[bold red]✗ rejected[/]"
        console.print(f"{mark}  {verdict.reason}", highlight=False)
        details = f"{verdict.points} points"
        if verdict.max_error is not None:
            details += f", max relative error {verdict.max_error:.1e}"
        if args.lower is None and verdict.ok:
            details += f", {verdict.intervals} interval checks"
        console.print(f"[dim]{details}, {verdict.seconds * 1000:.1f} ms[/]", highlight=False)
    return 0 if verdict.ok else 1
