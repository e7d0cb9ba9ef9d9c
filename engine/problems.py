"""Problem files: JSONL with an `integrand` field and optional `id`, `answer`, `lower`, `upper`, `source`,
`technique` and `difficulty` (the last two group evaluation results)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import LadderError


@dataclass
class Problem:
    """One integral to solve; `answer` is only ever used for statistics, never as a reward."""

    id: str
    integrand: str
    answer: str | None = None
    lower: str | None = None
    upper: str | None = None
    source: str | None = None
    technique: str | None = None
    difficulty: int | None = None

    @property
    def definite(self) -> bool:
        return self.lower is not None and self.upper is not None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def load_problems(path: str | Path) -> list[Problem]:
    """Read a problem file; a missing file or a bad line is a one-line LadderError."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LadderError(f"cannot read problems file {path}: {e.strerror}") from None
    problems = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise LadderError(f"{path}:{n}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("integrand"), str):
            raise LadderError(f"{path}:{n}: each line needs a string field 'integrand'")
        str_or_none = lambda v: None if v is None else str(v)  # noqa: E731 - bounds may be numbers
        problems.append(Problem(
            id=str(row.get("id") or f"{path.stem}-{n}"),
            integrand=row["integrand"],
            answer=str_or_none(row.get("answer")),
            lower=str_or_none(row.get("lower")),
            upper=str_or_none(row.get("upper")),
            source=str_or_none(row.get("source")),
            technique=str_or_none(row.get("technique")),
            difficulty=int(row["difficulty"]) if isinstance(row.get("difficulty"), int) else None,
        ))
    if not problems:
        raise LadderError(f"{path} holds no problems")
    return problems
