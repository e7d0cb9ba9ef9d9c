"""Where ladder keeps files outside the repository (models, converted weights)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """The user cache folder; `LADDER_CACHE` overrides it (tests, shared machines)."""
    root = os.environ.get("LADDER_CACHE") or platformdirs.user_cache_dir("ladder")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
