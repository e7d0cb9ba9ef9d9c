"""Does TTRL solve more when it gets more updates? The ablation's LADDER + TTRL arm gave each
problem 5 minutes, which on a 2-core CPU buys 2 to 4 updates of the 1.5B (the paper allows 100).

    .venv/bin/python bench/ttrl_budget.py --ablation ablation-2026-12-02 --limit 4 --steps 8

Takes the problems that arm left unsolved, `--limit` of them evenly spaced by position (chosen
before any result is seen), and runs `ladder ttrl` on each from the committed LADDER adapter with
the ablation's settings and seed, capped at `--steps` updates instead of minutes. A problem whose
run finished is not run again, so the same command resumes. Writes bench/results/ttrl_budget.json:
per problem, the ablation's outcome and steps beside this run's, and the seconds per step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import DATA, config_tables, read_jsonl, run_plain, spread, write_jsonl
from common import RESULTS, ROOT, write_result

from engine.runs.events import read_events
from engine.runs.files import atomic_write


def step_seconds(events: Path) -> list[float]:
    """Seconds of each TTRL update, from the run's step events."""
    return [e["seconds"] for e in read_events(events) if e.get("type") == "step"] if events.exists() else []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ablation", default="ablation-2026-12-02", help="a finished ablation under bench/results")
    p.add_argument("--limit", type=int, default=4, help="unsolved problems to run, evenly spaced")
    p.add_argument("--steps", type=int, default=8, help="TTRL updates per problem at most")
    p.add_argument("--adapter", default="bench/results/adapters/ladder", help="the LADDER adapter to start from")
    p.add_argument("--work", default=str(ROOT / "runs" / "ttrl-long"), help="run folder (resumable)")
    a = p.parse_args(argv)

    result = json.loads((RESULTS / f"{a.ablation}.json").read_text())
    ttrl = result["arms"]["ladder_ttrl"].get("ttrl")
    if not ttrl:
        print(f"ttrl_budget: {a.ablation} has no finished LADDER + TTRL arm", file=sys.stderr)
        return 2
    settings = json.loads((RESULTS / a.ablation / "settings.json").read_text())
    unsolved = [r for r in ttrl["problems"] if not r["solved"]]
    chosen = {r["id"]: r for r in spread(unsolved, a.limit)}
    problems = {row["id"]: row for name in {r["set"] for r in unsolved} for row in read_jsonl(DATA / f"{name}.jsonl")}
    work = Path(a.work)
    config = work / "shared.toml"
    atomic_write(config, tomli_w.dumps(config_tables(settings)["shared"]))

    out = []
    for pid, before in chosen.items():
        run_dir = work / pid
        done = run_dir / "ttrl.json"
        if not (done.exists() and json.loads(done.read_text())):
            print(f"ttrl_budget: {pid} ({problems[pid]['integrand']}), up to {a.steps} updates", file=sys.stderr)
            run_plain(["ttrl", "--problems", str(write_jsonl(work / f"{pid}.jsonl", [problems[pid]])),
                       "--model", settings["model"], "--adapter", a.adapter, "--steps", str(a.steps),
                       "--seed", str(settings["seed"]), "--config", str(config), "--out", str(run_dir), "--json"],
                      work / f"{pid}.log")
        rec = json.loads(done.read_text())[0]
        secs = step_seconds(run_dir / "events.jsonl")
        out.append({
            "id": pid, "integrand": before["integrand"],
            "ablation": {"steps_run": before["steps_run"], "solved": before["solved"]},
            "solved": rec["solved"], "step": rec["step"], "steps_run": rec["steps_run"],
            "answer": rec["answer"], "greedy_answer": rec["greedy_answer"], "greedy_ok": rec["greedy_ok"],
            "median_step_s": round(statistics.median(secs), 1) if secs else None,
        })
        print(f"{pid:28s} {before['integrand']:32s} ablation {before['steps_run']} steps, unsolved; "
              f"here {rec['steps_run']} steps, {'solved at step ' + str(rec['step']) if rec['solved'] else 'unsolved'}, "
              f"greedy {'right' if rec['greedy_ok'] else 'wrong'}")
    solved = sum(r["solved"] for r in out)
    print(f"{solved}/{len(out)} solved at some point with up to {a.steps} updates "
          f"(the ablation's 5 minutes: 0/{len(out)}); greedy right after on {sum(r['greedy_ok'] for r in out)}")
    path = write_result("ttrl_budget", {
        "ablation": a.ablation, "adapter": a.adapter, "max_steps": a.steps,
        "chosen": f"{len(out)} of the {len(unsolved)} problems the ablation's TTRL left unsolved, evenly spaced",
        "solved_anytime": solved, "greedy_right_after": sum(r["greedy_ok"] for r in out), "problems": out,
    })
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
