"""The `ladder` console command: the engine's subcommands plus the app's own.

`ladder` with no subcommand opens the app and `ladder watch RUN_DIR` opens a run's dashboard;
everything else is the engine's command line (engine/commands). The app sits on top of the
engine, so it is the app that adds itself here, and the engine never imports the UI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import commands
from engine.errors import LadderError


class WatchCommand:
    """`ladder watch RUN_DIR`: replay a run's dashboard, then follow it if it is still running."""

    @staticmethod
    def add_parser(sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser("watch", help="open a run's dashboard (replays, then follows a live run)")
        p.add_argument("run_dir", metavar="RUN_DIR")
        p.set_defaults(handler=WatchCommand.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from ladder_tui.app import LadderApp

        run_dir = Path(args.run_dir)
        if not (run_dir / "events.jsonl").is_file():
            raise LadderError(f"{run_dir} has no events.jsonl: is it a run directory?")
        LadderApp(model=getattr(args, "model", None), runs_dir=run_dir.parent, watch=run_dir).run()
        return 0


def open_app(args: argparse.Namespace) -> int:
    """`ladder [--model NAME] [--runs DIR]`: open the app."""
    from ladder_tui.app import LadderApp

    LadderApp(model=args.model, runs_dir=args.runs).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = commands.build_parser(extra=[WatchCommand])  # type: ignore[list-item]
    parser.add_argument("--model", default=None, help="model for the app (default: qwen2.5-coder-0.5b; `tiny` for a demo)")
    parser.add_argument("--runs", default="runs", help="folder of run directories shown by the app")
    parser.set_defaults(handler=open_app)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of `ladder`."""
    commands.main(sys.argv[1:] if argv is None else argv, parser=build_parser())
