"""Run directories: where a run keeps its config, events, variant tree and checkpoints.

    runs/<name>/
      config.json          the Config of the run (engine/runs/config.py)
      events.jsonl         every event, one JSON object a line (engine/runs/events.py)
      tree.jsonl           the variant tree, one node a line
      checkpoints/step-N/  adapter + optimizer + RNG + step state, written whole or not at all
      adapter.gguf         the LoRA adapter for llama.cpp
      report.md

Nothing is ever half-written: single files go to a temporary name and are renamed; a checkpoint
is written into `step-N.tmp/` and renamed once complete, so a SIGKILL at any moment leaves either
the previous checkpoint or the new one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.runs.config import Config
from engine.errors import LadderError
from engine.runs.events import EventSink


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


class RunDir:
    """One run's folder; create it with `RunDir.create` or open it with `RunDir.open`."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def tree_path(self) -> Path:
        return self.path / "tree.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @classmethod
    def create(cls, path: str | Path, config: Config) -> "RunDir":
        """Make a new run directory; refuses one that already holds a run."""
        run = cls(Path(path))
        if (run.path / "config.json").exists():
            raise LadderError(f"{run.path} already holds a run: use --resume, or another --out")
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run.path / "config.json", config.to_dict())
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        run = cls(Path(path))
        if not (run.path / "config.json").is_file():
            raise LadderError(f"{run.path} is not a run directory (no config.json)")
        return run

    def config(self) -> Config:
        return Config.from_dict(json.loads((self.path / "config.json").read_text()))

    def sink(self, stream=None) -> EventSink:
        """An event sink appending to this run's events.jsonl (and to `stream` if given)."""
        return EventSink(run=self.name, path=self.events_path, stream=stream)

    def write_tree(self, nodes: list[dict[str, Any]]) -> None:
        atomic_write(self.tree_path, "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in nodes))

    def read_tree(self) -> list[dict[str, Any]]:
        if not self.tree_path.exists():
            return []
        return [json.loads(line) for line in self.tree_path.read_text().splitlines() if line.strip()]

    @contextmanager
    def new_checkpoint(self, step: int) -> Iterator[Path]:
        """Yield a temporary folder to fill; on success it becomes checkpoints/step-N atomically."""
        final = self.checkpoints / f"step-{step}"
        tmp = self.checkpoints / f"step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)

    def latest_checkpoint(self) -> Path | None:
        """The complete checkpoint with the highest step, or None."""
        steps = [
            (int(m.group(1)), p)
            for p in self.checkpoints.glob("step-*")
            if (m := re.fullmatch(r"step-(\d+)", p.name)) and p.is_dir()
        ]
        return max(steps)[1] if steps else None
