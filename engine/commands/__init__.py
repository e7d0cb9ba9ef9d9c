"""The `ladder` command line: one module per subcommand, the only code that parses arguments or prints.

Every command module has `add_parser(subparsers)` (its arguments; it sets `handler` to its `run`)
and `run(args) -> int`. A module imports its domain code inside `run`, so `ladder verify` never
pays for torch. The app (`ladder` with no subcommand, `ladder watch`) adds its own commands on top
of these in `ladder_tui/cli.py`, so the engine never imports the UI.

`ladder engine SUBCOMMAND …` runs a subcommand as a child of the app: events go to stdout as JSON
lines, human output goes to stderr, and JSON commands (stop/pause/resume) are read from stdin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from engine.commands import (
    engine_mode,
    evaluate,
    export,
    export_dataset,
    models,
    solve,
    train,
    ttrl,
    variants,
    verify,
)
from engine.errors import LadderError

COMMANDS: tuple[ModuleType, ...] = (solve, verify, variants, train, ttrl, evaluate, export, export_dataset, models,
                                    engine_mode)


def build_parser(extra: Sequence[ModuleType] = ()) -> argparse.ArgumentParser:
    """The whole command tree; `extra` command modules (the app's) are added after the engine's."""
    parser = argparse.ArgumentParser(prog="ladder", description="A small local model teaches itself integration (LADDER).")
    parser.set_defaults(handler=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (*COMMANDS, *extra):
        module.add_parser(sub)
    return parser


def run(argv: Sequence[str], engine_mode: bool = False, parser: argparse.ArgumentParser | None = None) -> int:
    """Parse `argv` and run the subcommand; returns the exit code."""
    parser = parser or build_parser()
    args = parser.parse_args(list(argv))
    args.engine_mode = engine_mode
    if args.handler is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args) or 0


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> None:
    """Console entry point: one-line errors, exit code 2 for anything the user can fix and 1 for a
    file-system failure (the run failed; its last checkpoint is whole, so --resume goes on)."""
    try:
        code = run(sys.argv[1:] if argv is None else argv, parser=parser)
    except LadderError as e:
        print(f"ladder: error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("ladder: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except OSError as e:  # (after its subclass BrokenPipeError) a full disk, a folder that cannot be made
        where = f" ({e.filename})" if e.filename else ""
        print(f"ladder: error: {e.strerror or e}{where}", file=sys.stderr)
        code = 1
    sys.exit(code)
