"""Learning signal per hour of a real LADDER run: verified completions the updates trained on, and
the share of drawn groups that held both a verified and a failed answer.

    mkdir -p runs && nohup .venv/bin/python bench/signal_run.py --minutes 30 >> runs/signal-run.log 2>&1 &

Runs `ladder train` on the 15 training problems with symbolic variant trees (depth 2, 60 variants
per problem: the committed ablation's settings) for `--minutes` of wall-clock time, counted from the
process start, so building the trees, loading the model and screening the variants are inside the
hour the figures are per. Then it asks the engine to stop (it checkpoints first) and sums the step
events. Killed midway, rerun the same command: the run resumes and the clock goes on from what was
spent. The anchor is the committed ablation's LADDER arm with symbolic variants
(bench/results/ablation-2026-11-25.json): about 14 verified completions per hour, 4 of 42 groups
with signal.

Writes bench/results/signal_run.json, the run's step events and screening report under
bench/results/signal_run/, and `verified_per_hour` / `correctness_signal_share` in
bench/results/signal.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ablation import run_engine
from common import RESULTS, ROOT, update_summary, write_result

from engine.runs.events import read_events
from engine.runs.files import atomic_write, atomic_write_json

ANCHOR = {"verified_per_hour": 14, "correctness_signal_share": round(4 / 42, 4),
          "source": "bench/results/ablation-2026-11-25.json, LADDER with symbolic variants (issue #14's table)"}


def summarize(run: Path, spent_s: float, group_size: int) -> dict[str, Any]:
    """Totals over the run's step events (a step redone after a kill counts once, its last time)."""
    events = list(read_events(run / "events.jsonl"))
    steps = {int(e["step"]): e for e in events if e["type"] == "step"}
    rows = [steps[k] for k in sorted(steps)]

    def total(key: str) -> int:
        return sum(int(e.get(key) or 0) for e in rows)

    hours = spent_s / 3600
    drawn = total("drawn")
    screen_path = run / "screen.json"
    screened = json.loads(screen_path.read_text()) if screen_path.exists() else {}
    phases = [e for e in events if e["type"] == "phase"]
    first_step_t = rows[0]["t"] if rows else None
    tree_end = max((e["t"] for e in events if e["type"] == "variant"), default=None)
    return {
        "wall_s": round(spent_s, 1), "steps": len(rows), "updated_steps": sum(bool(e.get("updated")) for e in rows),
        "completions": sum(1 for e in events if e["type"] == "rollout"),
        "verified": total("verified"), "verified_trained": total("verified_trained"),
        "drawn_groups": drawn, "signal_groups": total("signal_groups"),
        "verified_per_hour": round(total("verified_trained") / hours, 1) if hours else None,
        "correctness_signal_share": round(total("signal_groups") / drawn, 4) if drawn else None,
        # trained completions that ran in the forward/backward passes: identical ones run once
        "distinct_trained": total("distinct"), "trained_completions": total("groups") * group_size,
        "rollout_tokens_per_s_mean": round(sum(e.get("rollout_tokens_per_s") or 0 for e in rows) / len(rows), 1) if rows else None,
        "step_s_mean": round(sum(e.get("seconds") or 0 for e in rows) / len(rows), 1) if rows else None,
        "seconds_before_first_step": round(first_step_t - events[0]["t"], 1) if rows and events else None,
        "tree_s": round(tree_end - events[0]["t"], 1) if tree_end and events else None,
        "screening_s": screened.get("seconds"),
        "screening_trees": screened.get("trees", []),
        "screen_phases": len([p for p in phases if p.get("phase") == "screen"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=None, help="rollout temperature (default: the engine's)")
    ap.add_argument("--top-p", type=float, default=None)
    ap.add_argument("--work", default=str(ROOT / "runs" / "signal-run"))
    ap.add_argument("--fresh", action="store_true", help="delete an earlier run in --work first")
    ap.add_argument("--name", default="signal_run",
                    help="result name under bench/results/; only the default one sets keys of signal.json")
    a = ap.parse_args()

    import tomli_w

    work = Path(a.work)
    if a.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    run = work / "run"
    progress_path = work / "progress.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {}
    sample: dict[str, Any] = {"max_tokens": 128}
    if a.temperature is not None:
        sample["temperature"] = a.temperature
    if a.top_p is not None:
        sample["top_p"] = a.top_p
    settings = {"grpo": {"group_size": a.group_size, "prompts_per_step": a.prompts_per_step, "seed": 0,
                         "checkpoint_every": 5},
                "sample": sample, "variants": {"source": "symbolic", "depth": 2, "max_variants": 60}}
    config = work / "config.toml"
    atomic_write(config, tomli_w.dumps(settings))
    data = ROOT / "engine" / "data"
    if (run / "train.json").exists():
        cmd = ["train", "--resume", str(run)]
    else:
        shutil.rmtree(run, ignore_errors=True)  # made by a start killed before it was set up
        cmd = ["train", "--problems", str(data / "undergrad_train.jsonl"), "--model", a.model, "--steps", "100000",
               "--out", str(run), "--config", str(config),
               "--eval-problems", str(data / "undergrad_test.jsonl")]
    budget = 60 * a.minutes
    progress.setdefault("load_1min", []).append(round(os.getloadavg()[0], 2))  # this machine is shared
    if progress.get("spent_s", 0.0) < budget - 30:
        code, _ = run_engine(cmd, log_path=work / "engine.log", events_path=run / "events.jsonl", budget_s=budget,
                             progress=progress, save=lambda: atomic_write_json(progress_path, progress))
        if code != 0:
            raise SystemExit(f"`ladder train` exited with code {code}; see {work / 'engine.log'}")
        progress["load_1min"].append(round(os.getloadavg()[0], 2))
        atomic_write_json(progress_path, progress)
    result = summarize(run, progress["spent_s"], a.group_size)
    result.update({"model": a.model, "minutes": a.minutes, "settings": settings, "anchor": ANCHOR,
                   "config": json.loads((run / "config.json").read_text()),
                   "load_1min_at_starts_and_ends": progress.get("load_1min"),
                   "verified_per_hour_vs_anchor": round(result["verified_per_hour"] / ANCHOR["verified_per_hour"], 1)
                   if result["verified_per_hour"] else None})
    out = RESULTS / a.name
    out.mkdir(parents=True, exist_ok=True)
    steps = [e for e in read_events(run / "events.jsonl") if e["type"] == "step"]
    atomic_write(out / "steps.jsonl", "".join(json.dumps(e) + "\n" for e in steps))
    if (run / "screen.json").exists():
        shutil.copy(run / "screen.json", out / "screen.json")
    write_result(a.name, result)
    if a.name == "signal_run":
        update_summary({"verified_per_hour": result["verified_per_hour"],
                        "correctness_signal_share": result["correctness_signal_share"],
                        "ladder_run": {"date": dt.date.today().isoformat(), "minutes": a.minutes, "model": a.model,
                                       "settings": settings, "details": "bench/results/signal_run.json"}})
    print(f"{result['steps']} steps in {result['wall_s'] / 60:.1f} min: {result['verified_trained']} verified completions "
          f"trained on ({result['verified_per_hour']}/h, anchor {ANCHOR['verified_per_hour']}/h), signal in "
          f"{result['signal_groups']}/{result['drawn_groups']} drawn groups ({result['correctness_signal_share']:.0%}, "
          f"anchor {ANCHOR['correctness_signal_share']:.0%})")


if __name__ == "__main__":
    main()
