"""How well the variant pool predicts which drawn groups will carry a learning signal, replayed
on the groups of a real training run.

    .venv/bin/python bench/pool_replay.py --run runs/ablation-2026-12-01/ladder \
        --save bench/results/ablation-2026-12-01/ladder_groups.json
    .venv/bin/python bench/pool_replay.py --groups bench/results/ablation-2026-12-01/ladder_groups.json

A run's groups (in the order drawn: step, variant, each completion verified or not) and its
screening answers per variant are read from the run directory (`events.jsonl`, the newest
checkpoint's pool state less the rollouts) or from a file `--save` wrote, so the replay reruns from
committed data. For each setting of `[variants] pool_memory` and `pool_prior` a fresh VariantPool
(the engine's own code) is fed the screening answers, then the groups one by one: before each
group it predicts the group's chance of holding a verified and a failed answer (`mixed_chance`),
after it records the group (`record_groups`). Printed per setting: the mean predicted chance
against the observed share, overall and over the second half of the run (where the model has
learnt the easy variants), and the log-loss of the predictions; the anchor is the setting with every
answer kept and Laplace's prior, the pool as it was before the memory. The observed share of
the last `pool_signal_window` groups, what the screening share rule reads, is reported too.

Writes bench/results/pool_replay.json.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from common import write_result

from engine.runs.config import VariantConfig
from engine.train.pool import VariantPool, mixed_chance

SETTINGS = [(0.0, 1.0), (0.0, 0.5), (32.0, 0.5), (16.0, 0.5), (8.0, 0.5), (4.0, 0.5)]  # (pool_memory, pool_prior)


def read_run(run: Path) -> dict[str, Any]:
    """The groups of a run in the order drawn, and each screened variant's screening answers."""
    by_step_variant: dict[tuple[int, str], list[bool]] = {}
    for line in (run / "events.jsonl").open():
        e = json.loads(line)
        if e["type"] == "rollout":
            by_step_variant.setdefault((e["step"], e["variant"]), []).append(bool(e["ok"]))
    checkpoints = sorted((run / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    last = int(checkpoints[-1].name.split("-")[1])
    state = json.loads((checkpoints[-1] / "state.json").read_text())
    pool_state = state.get("pool") or state["extra"]["pool"]
    group_size = int(json.loads((run / "config.json").read_text())["grpo"]["group_size"])
    groups = []
    for (step, variant), oks in by_step_variant.items():  # a variant drawn twice in a step: two groups
        groups += [{"step": step, "variant": variant, "ok": oks[k:k + group_size]}
                   for k in range(0, len(oks), group_size)]
    tried, solved = Counter(), Counter()
    for g in groups:
        if g["step"] <= last:
            tried[g["variant"]] += len(g["ok"])
            solved[g["variant"]] += sum(g["ok"])
    screened = {v: {"greedy": s["greedy"], "samples": s["attempts"] - tried[v], "solved": s["successes"] - solved[v]}
                for v, s in pool_state["stats"].items() if s.get("greedy") is not None}
    return {"run": str(run), "group_size": group_size, "screened": screened, "groups": groups}


def replay(data: dict[str, Any], memory: float, prior: float, window: int) -> dict[str, Any]:
    """Feed the run to a fresh pool with these settings; the predictions made before each group."""
    cfg = VariantConfig(pool_memory=memory, pool_prior=prior, pool_signal_window=window)
    variants = {g["variant"] for g in data["groups"]} | set(data["screened"])
    pool = VariantPool([{"id": v, "integrand": "x", "depth": 0} for v in sorted(variants)], cfg)
    for v, s in data["screened"].items():
        pool.record_screen(v, s["greedy"], s["samples"], s["solved"])
    predicted, observed, windowed = [], [], []
    for g in data["groups"]:
        predicted.append(mixed_chance(pool.stats[g["variant"]], data["group_size"], prior))
        observed.append(0 < sum(g["ok"]) < len(g["ok"]))
        windowed.append(sum(pool.recent) / len(pool.recent) if len(pool.recent) >= window else None)
        pool.record_groups([[SimpleNamespace(variant=g["variant"], ok=ok) for ok in g["ok"]]])
    half = len(predicted) // 2
    clip = lambda p: min(max(p, 1e-3), 1 - 1e-3)
    log_loss = -sum(math.log(clip(p) if o else 1 - clip(p)) for p, o in zip(predicted, observed)) / len(predicted)
    late_window = [w for w in windowed[half:] if w is not None]
    return {"pool_memory": memory, "pool_prior": prior, "groups": len(predicted),
            "predicted": round(sum(predicted) / len(predicted), 4), "observed": round(sum(observed) / len(observed), 4),
            "predicted_second_half": round(sum(predicted[half:]) / (len(predicted) - half), 4),
            "observed_second_half": round(sum(observed[half:]) / (len(observed) - half), 4),
            "window_share_second_half": round(sum(late_window) / len(late_window), 4) if late_window else None,
            "log_loss": round(log_loss, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=Path, help="a training run directory (events.jsonl, checkpoints/)")
    src.add_argument("--groups", type=Path, help="a file written by --save")
    ap.add_argument("--save", type=Path, help="write the run's groups and screening answers here")
    ap.add_argument("--window", type=int, default=VariantConfig().pool_signal_window)
    args = ap.parse_args()
    data = read_run(args.run) if args.run else json.loads(args.groups.read_text())
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    rows = [replay(data, memory, prior, args.window) for memory, prior in SETTINGS]
    anchor = rows[0]
    for r in rows:
        print(f"memory {r['pool_memory']:>4g} prior {r['pool_prior']:.1f}: predicted {r['predicted']:.3f} "
              f"observed {r['observed']:.3f}; second half predicted {r['predicted_second_half']:.3f} "
              f"observed {r['observed_second_half']:.3f}; log-loss {r['log_loss']:.3f} "
              f"({r['log_loss'] / anchor['log_loss']:.2f}x the anchor's)")
    print(f"observed share of the last {args.window} groups, second half: {rows[0]['window_share_second_half']}")
    write_result("pool_replay", {"source": data.get("run"), "group_size": data["group_size"], "window": args.window,
                                 "anchor": "pool_memory 0 (every answer kept), pool_prior 1 (Laplace)", "rows": rows})


if __name__ == "__main__":
    main()
