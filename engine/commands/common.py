"""Argument groups and engine-mode plumbing shared by several subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from engine.runs.events import Control


def model_args(p: argparse.ArgumentParser) -> None:
    """--model, --device and --seed."""
    p.add_argument("--model", default=None, help="registry name (see `ladder models list`), .gguf file or HF model dir")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)


def json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def control_for(args: argparse.Namespace) -> Control:
    """A Control fed by stdin commands in engine mode, or a plain one otherwise."""
    control = Control()
    if getattr(args, "engine_mode", False):
        control.listen(sys.stdin)
    return control


def event_stream(args: argparse.Namespace) -> TextIO | None:
    """Where events go besides events.jsonl: stdout in engine mode, nowhere otherwise."""
    return sys.stdout if getattr(args, "engine_mode", False) else None


def human_out(args: argparse.Namespace) -> TextIO:
    """Where text for people goes: stderr in engine mode (stdout carries the events)."""
    return sys.stderr if getattr(args, "engine_mode", False) else sys.stdout
