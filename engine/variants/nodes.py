"""The records of a variant tree: its nodes (tree.jsonl rows) and the statistics of building it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    """One variant. `integrand` is a canonical string `engine.verify.parse.parse` reads back to the same
    expression; `reference` is a sympy antiderivative for statistics only, never the reward."""

    id: str
    parent: str | None
    depth: int
    kind: str  # root | easier | equivalent
    source: str  # user | llm | symbolic
    integrand: str
    reference: str | None = None
    via: str = ""  # the symbolic operator, or "llm:<temperature>"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Node":
        """A node from a tree.jsonl line, or a root from a problem line (id and integrand only)."""
        depth = int(row.get("depth") or 0)
        return cls(id=str(row["id"]), parent=row.get("parent"), depth=depth,
                   kind=str(row.get("kind") or ("root" if depth == 0 else "easier")),
                   source=str(row.get("source") or "user"), integrand=str(row["integrand"]),
                   reference=row.get("reference"), via=str(row.get("via") or ""))

    def event_fields(self) -> dict[str, Any]:
        """The fields of the `variant` event (engine/runs/events.py)."""
        return {k: getattr(self, k) for k in ("id", "parent", "depth", "kind", "source", "integrand")}


# Why a proposal was not added, in the order the checks run.
OUTCOMES = ("accepted", "unparsable", "too_big", "no_x", "excluded", "duplicate", "unused")


@dataclass
class SourceStats:
    """What happened to one generator's proposals. `unused` ones were valid and new but the
    count limit was reached first."""

    proposals: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {o: 0 for o in OUTCOMES})
    seconds: float = 0.0
    prompts: int = 0

    def share(self, *outcomes: str) -> float:
        return sum(self.outcomes[o] for o in outcomes) / self.proposals if self.proposals else 0.0


@dataclass
class TreeStats:
    """Per-level counts and the fate of the proposals of each source."""

    per_level: dict[int, int] = field(default_factory=dict)
    sources: dict[str, SourceStats] = field(default_factory=lambda: {"llm": SourceStats(), "symbolic": SourceStats()})
    seconds: float = 0.0
    llm_out_of_time: bool = False  # the LLM budget (cfg.llm_budget_s) ran out; symbolic filled the rest
    llm_dropped: bool = False  # no parseable variant in the first cfg.llm_probe_prompts prompts

    def count(self, source: str, outcome: str, delta: int = 1) -> None:
        self.sources[source].outcomes[outcome] += delta

    def summary(self) -> dict[str, Any]:
        """Flat numbers for JSON output and benchmarks: shares are over all proposals of a source."""
        out: dict[str, Any] = {"per_level": {str(k): v for k, v in sorted(self.per_level.items())},
                               "seconds": round(self.seconds, 3), "llm_out_of_time": self.llm_out_of_time,
                               "llm_dropped": self.llm_dropped}
        for name, s in self.sources.items():
            if not s.proposals:
                continue
            out[name] = {
                "proposals": s.proposals,
                "parsed": round(1 - s.share("unparsable"), 4),
                "valid": round(s.share("accepted", "unused"), 4),
                "duplicate": round(s.share("duplicate"), 4),
                "dropped": round(s.share("unparsable", "too_big", "no_x", "excluded"), 4),
                "outcomes": dict(s.outcomes),
                "prompts": s.prompts,
                "seconds": round(s.seconds, 3),
            }
        return out


@dataclass
class Tree:
    """`build_tree_stats`'s result: the nodes, root first, and the statistics."""

    nodes: list[Node]
    stats: TreeStats
