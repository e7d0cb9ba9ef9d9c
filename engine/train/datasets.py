"""The variant pool as a prompt dataset for other RL stacks (TRL, veRL): `ladder export-dataset`.

One row per distinct integrand, the same schema in both formats, readable by both stacks:

    prompt        the solve chat (engine.inference.prompts.solve_chat), a list of {role, content} messages:
                  TRL's conversational prompt format and veRL's `prompt` column alike
    integrand     the function to integrate; TRL passes it to the reward function by this name
    variant       the tree node id (or problem id)
    data_source   "ladder/integration" (veRL picks the reward function by it)
    ability       "math"
    reward_model  {"style": "rule", "ground_truth": integrand}; veRL hands ground_truth to
                  `engine.train.rewards_trl:compute_score`; it is the integrand, not an answer
    extra_info    {"split", "index", "variant", "depth", "kind", "source"}

`--format jsonl` suits TRL (`load_dataset("json", data_files=...)`); `--format parquet` is what
veRL's data loader reads. The reward to pair with it is in engine/train/rewards_trl.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.inference.prompts import solve_chat
from engine.train.rewards_trl import DATA_SOURCE


def load_pool(source: str | Path) -> list[dict[str, Any]]:
    """The variant pool of a run directory (its tree.jsonl) or of a problem file, as dicts.

    Each dict has at least `id` and `integrand`; definite problems are left out because the
    solve prompt and the reward are for antiderivatives.
    """
    from engine.problems import load_problems
    from engine.runs.rundir import RunDir

    path = Path(source)
    if path.is_dir():
        run = RunDir.open(path)
        nodes = run.read_tree()
        if not nodes:
            raise LadderError(f"{path} has no variant pool yet (no tree.jsonl): train or build variants first")
        return [dict(n) for n in nodes if isinstance(n.get("integrand"), str)]
    if not path.exists():
        raise LadderError(f"{path} is neither a run directory nor a problems file")
    return [p.to_dict() for p in load_problems(path) if not p.definite]


def records(pool: Iterable[Mapping[str, Any]], split: str = "train", examples: bool = True) -> list[dict[str, Any]]:
    """Dataset rows for TRL and veRL (schema in the module docstring), one per distinct integrand."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for node in pool:
        integrand = node["integrand"]
        if integrand in seen:
            continue
        seen.add(integrand)
        variant = str(node.get("id") or f"{split}-{len(rows)}")
        rows.append({
            "prompt": solve_chat(integrand, examples=examples),
            "integrand": integrand,
            "variant": variant,
            "data_source": DATA_SOURCE,
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": integrand},
            "extra_info": {
                "split": split,
                "index": len(rows),
                "variant": variant,
                # Missing tree fields get a typed placeholder so every row has one parquet schema.
                "depth": int(node.get("depth") or 0),
                "kind": str(node.get("kind") or "root"),
                "source": str(node.get("source") or "user"),
            },
        })
    return rows


def write_dataset(rows: list[dict[str, Any]], out: Path, fmt: str) -> None:
    """Write rows as JSON lines or parquet, atomically."""
    from engine.runs.files import atomic_write

    if fmt == "jsonl":
        atomic_write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buffer)
        atomic_write(out, buffer.getvalue())
    else:
        raise LadderError(f"unknown dataset format {fmt!r} (use jsonl or parquet)")
