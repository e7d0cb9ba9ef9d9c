"""The outcome of one check (`Verdict`), and how the checks stop early (`Reject`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Verdict:
    """The outcome of one check, with the figures the UI shows."""

    ok: bool
    reason: str
    points: int = 0  # points where F' was compared with f and agreed
    max_error: float | None = None  # largest relative error |F' - f| / max(|F'|, |f|) at those points
    intervals: int = 0  # interval checks (the paper's test) that passed
    seconds: float = 0.0
    bad_integrand: bool = False  # the integrand (not the candidate) could not be used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reject(Exception):
    """Internal: stop checking, the candidate is rejected for this reason."""

