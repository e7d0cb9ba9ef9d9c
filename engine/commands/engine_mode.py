"""`ladder engine SUBCOMMAND …`: a subcommand as the app's child (events on stdout, commands on stdin)."""

from __future__ import annotations

import argparse

from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="run a subcommand as the TUI's child: JSON events on stdout, commands on stdin")
    p.add_argument("wrapped", nargs=argparse.REMAINDER, metavar="SUBCOMMAND ...")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.commands import run as run_command

    if not args.wrapped or args.wrapped[0] in ("engine", "watch", "models"):
        raise LadderError("ladder engine needs a subcommand such as train, ttrl, solve, eval or variants")
    return run_command(args.wrapped, engine_mode=True)
