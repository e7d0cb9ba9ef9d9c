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

With `--eval` the final adapter is then scored on the 215 held-out undergraduate problems (greedy
and 4 samples at temperature 1, llama.cpp, the ablation's settings) and paired, problem by
problem, against the base model's report of the same settings (`--base-eval`: exact McNemar on
greedy, paired bootstrap on mean@4), so that two short runs with different settings (`--lr`) can
be told apart by what they did to held-out accuracy and not only by their signal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ablation import paired_arms, run_engine, run_plain
from common import RESULTS, ROOT, update_summary, write_result

from engine.runs.events import read_events
from engine.runs.files import atomic_write, atomic_write_json

BASE_EVAL = RESULTS / "ablation-2026-12-01" / "evals" / "base.undergrad_test.json"
EVAL_SAMPLES, EVAL_TEMPERATURE, EVAL_MAX_TOKENS, EVAL_SEED = 4, 1.0, 128, 0
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


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def evaluate(model: str, run: Path, out: Path, base_eval: Path, log_path: Path) -> dict[str, Any]:
    """Score the run's final adapter on the undergraduate test set (cached in `out`) and pair it
    with the base model's report of the same problems and settings."""
    if not out.exists():
        run_plain(["eval", "--model", model, "--backend", "llamacpp", "--adapter", str(run),
                   "--problems", str(ROOT / "engine" / "data" / "undergrad_test.jsonl"),
                   "--samples", str(EVAL_SAMPLES), "--temperature", str(EVAL_TEMPERATURE),
                   "--max-tokens", str(EVAL_MAX_TOKENS), "--seed", str(EVAL_SEED), "--json", "--out", str(out)],
                  log_path)
    report, base = json.loads(out.read_text()), json.loads(base_eval.read_text())
    if [r["id"] for r in report["problems"]] != [r["id"] for r in base["problems"]] or base["k"] != EVAL_SAMPLES:
        raise SystemExit(f"{base_eval} is not a report of the same problems with {EVAL_SAMPLES} samples")
    rows = report["problems"]
    return {"report": _shown(out), "step": report.get("step"), "n": len(rows),
            "greedy_correct": report["greedy_correct"], "greedy_accuracy": report["greedy_accuracy"],
            f"mean@{EVAL_SAMPLES}": report["pass@1"], "base_report": _shown(base_eval),
            "base_greedy_correct": base["greedy_correct"], f"base_mean@{EVAL_SAMPLES}": base["pass@1"],
            "paired_vs_base": paired_arms(rows, base["problems"], EVAL_SAMPLES)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=None, help="rollout temperature (default: the engine's)")
    ap.add_argument("--top-p", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the engine's)")
    ap.add_argument("--eval", action="store_true", help="score the final adapter on the held-out set, paired with base")
    ap.add_argument("--base-eval", default=str(BASE_EVAL), help="the base model's `ladder eval --json` report to pair with")
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
    grpo: dict[str, Any] = {"group_size": a.group_size, "prompts_per_step": a.prompts_per_step, "seed": 0,
                            "checkpoint_every": 5}
    if a.lr is not None:
        grpo["lr"] = a.lr
    settings = {"grpo": grpo,
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
    if a.eval:
        result["held_out"] = evaluate(a.model, run, out / "eval.undergrad_test.json", Path(a.base_eval),
                                      work / "eval.log")
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
    if a.eval:
        h, p = result["held_out"], result["held_out"]["paired_vs_base"]
        print(f"held out: greedy {h['greedy_correct']}/{h['n']} (base {h['base_greedy_correct']}, McNemar p = "
              f"{p['greedy']['p_value']:.3g}), mean@{EVAL_SAMPLES} {h[f'mean@{EVAL_SAMPLES}']:.3f} "
              f"(base {h[f'base_mean@{EVAL_SAMPLES}']:.3f}, bootstrap p = {p[f'mean@{EVAL_SAMPLES}']['p_value']:.3g})")


if __name__ == "__main__":
    main()
