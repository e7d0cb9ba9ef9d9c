"""Shared by the benchmarks: machine facts and result files under bench/results/."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from engine.runs.files import atomic_write_json  # noqa: E402 - after the path tweak above

PACKAGES = ("torch", "transformers", "peft", "trl", "llama_cpp_python", "sympy", "mpmath", "textual")


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, GPU and package versions, recorded with every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(ram_gib, 1), "gpu": gpu,
        "python": platform.python_version(), "versions": versions,
    }


def update_summary(keys: dict[str, Any], name: str = "signal") -> Path:
    """Set `keys` in bench/results/<name>.json and leave its other keys alone: several benchmarks
    (rollouts, rollout_sweep, signal_run, ttrl_start) each own a few keys of signal.json."""
    import json

    path = RESULTS / f"{name}.json"
    data = json.loads(path.read_text()) if path.is_file() else {"benchmark": name}
    data.update(keys)
    atomic_write_json(path, data)
    return path


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json with the machine facts and a timestamp added."""
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {
        "benchmark": name,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **data,
    })
    return path


def updating_reward(cfg: Any) -> Any:
    """The verifier's reward plus 1e-6 x completion length: a step benchmark's group is then never
    flat, so every timed step makes its update (a flat group skips it and would flatter the trainer)."""
    from engine.train.reward import RewardResult, score_many

    def reward(items: list[tuple[str, str]]) -> list[RewardResult]:
        return [RewardResult(r.reward + 1e-6 * len(text), r.ok, r.answer, r.reason)
                for r, (_, text) in zip(score_many(items, cfg), items)]
    return reward
