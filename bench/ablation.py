"""Ablation: does training on variant trees (LADDER) beat plain RL, and does TTRL add to it?

Arms, all with the same model, seed, training problems, step budget and hyper-parameters:
  base            the model as shipped
  rl_no_variants  GRPO on the training problems themselves (`ladder train --no-variants`)
  ladder          GRPO on variant trees of the same problems (`ladder train`)
  ladder_ttrl     TTRL (`ladder ttrl --adapter <ladder run>`) on held-out problems LADDER still
                  fails: the any-time solved rate (the paper's figure) and greedy after TTRL
  ladder_symbolic our own arm: LADDER with symbolic variants only (variants.source = "symbolic"):
                  a 0.5B model writes few valid variants, the symbolic generator always reaches
                  leaves the model can solve, so more of the step budget carries a reward signal

Every training and evaluation runs as its own `python -m engine.commands …` process, so arms are
isolated. Each arm keeps a state file in the work folder; rerunning the script skips finished
arms and resumes an unfinished training run from its last checkpoint.

Held-out accuracy is measured on a fixed subset of the undergraduate test set (every n-th problem,
chosen by position before any result was seen: no tuning on the test set); the training curve comes
from the trainer's own periodic `eval` events on that subset.

    nice -n 10 nohup .venv/bin/python bench/ablation.py --steps 20 --eval-limit 40 > ablation.log 2>&1 &
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, write_result  # noqa: E402

from engine.runs.events import read_events  # noqa: E402
from engine.runs.rundir import atomic_write, atomic_write_json  # noqa: E402

DATA = ROOT / "engine" / "data"
ARMS = ("base", "rl_no_variants", "ladder", "ladder_ttrl", "ladder_symbolic")
PYTHON = sys.executable


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def ladder_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "engine.commands", *args]


def spread_subset(source: Path, limit: int, path: Path) -> Path:
    """Every n-th problem of `source` (by file position), so all techniques and difficulties appear."""
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    stride = max(1, len(lines) // limit)
    atomic_write(path, "".join(line + "\n" for line in lines[::stride][:limit]))
    return path


def tree_overlap(run_dir: Path, subset: Path) -> int:
    """How many evaluated problems appear in the run's variant tree (must be 0)."""
    from engine.verify.parse import parse

    def canon(text: str) -> str:
        try:
            return str(parse(text).doit().expand())
        except Exception:  # a variant the parser refuses cannot equal a test problem
            return f"unparsed:{text}"

    tree = run_dir / "tree.jsonl"
    if not tree.exists():
        return 0
    nodes = {canon(json.loads(line)["integrand"]) for line in tree.read_text().splitlines() if line.strip()}
    return sum(canon(json.loads(line)["integrand"]) in nodes for line in subset.read_text().splitlines())


def run_eval(args: argparse.Namespace, problems: Path, out: Path, adapter: Path | None = None) -> dict[str, Any]:
    """`ladder eval` in its own process; returns the report (cached in `out`)."""
    if out.exists():
        return json.loads(out.read_text())
    cmd = ladder_cmd("eval", "--model", args.model, "--backend", args.eval_backend, "--problems", str(problems),
                     "--samples", str(args.samples), "--seed", str(args.seed), "--out", str(out))
    if adapter is not None:
        cmd += ["--adapter", str(adapter)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return json.loads(out.read_text())


def run_engine(cmd: list[str], minutes: float, log_path: Path) -> tuple[float, bool]:
    """Run `ladder engine …`; past the time cap, ask it to stop (it checkpoints first).

    Returns (wall seconds, whether the cap stopped it).
    """
    t0 = time.time()
    capped = False
    with open(log_path, "a") as out:
        proc = subprocess.Popen(ladder_cmd("engine", *cmd), stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        while proc.poll() is None:
            if not capped and time.time() - t0 > 60 * minutes:
                log(f"time cap of {minutes} min reached: asking the run to stop")
                proc.stdin.write('{"cmd": "stop"}\n')
                proc.stdin.flush()
                capped = True
            time.sleep(2)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed with code {proc.returncode}; see {log_path}")
    return time.time() - t0, capped


def curve(run_dir: Path) -> list[dict[str, Any]]:
    """Held-out greedy accuracy vs step, from the trainer's eval events."""
    events = run_dir / "events.jsonl"
    if not events.exists():
        return []
    return [{"step": e.get("step"), "greedy_accuracy": e.get("greedy_accuracy")}
            for e in read_events(events) if e["type"] == "eval"]


def count_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


def steps_done(run_dir: Path) -> int:
    events = run_dir / "events.jsonl"
    if not events.exists():
        return 0
    return max((e.get("step", 0) for e in read_events(events) if e["type"] == "step"), default=0)


def train_arm(args: argparse.Namespace, arm: str, work: Path, subset: Path, train: Path, config: Path,
              extra: list[str]) -> dict[str, Any]:
    run_dir = work / arm
    if (run_dir / "config.json").exists():
        cmd = ["train", "--resume", str(run_dir)]
    else:
        cmd = ["train", "--problems", str(train), "--model", args.model,
               "--steps", str(args.steps), "--out", str(run_dir), "--seed", str(args.seed),
               "--config", str(config), "--eval-problems", str(subset), *extra]
    log(f"{arm}: {' '.join(cmd)}")
    wall, capped = run_engine(cmd, args.minutes, work / f"{arm}.log")
    points = curve(run_dir)
    if args.final_eval == "trainer" and points:
        # The trainer's own greedy evaluation after its last step (HF backend on the weights
        # dequantised from the same GGUF): saves a second pass over the subset on a slow machine.
        final = {"greedy_accuracy": points[-1]["greedy_accuracy"], "pass@1": None, "backend": "hf (trainer)"}
    else:
        report = run_eval(args, subset, work / f"{arm}-eval.json", adapter=run_dir)
        final = {"greedy_accuracy": report["greedy_accuracy"], "pass@1": report["pass@1"],
                 f"pass@{args.samples}": report.get(f"pass@{args.samples}"), "backend": report["backend"],
                 "eval_seconds": report["seconds"]}
    return {
        **final,
        "curve": points, "steps_done": steps_done(run_dir), "stopped_by_time_cap": capped,
        "tree_size": count_lines(run_dir / "tree.jsonl"), "tree_overlap_with_eval": tree_overlap(run_dir, subset),
        "train_wall_s": round(wall, 1),
        "settings": {"command": cmd, "config": config.read_text()},
    }


def ttrl_arm(args: argparse.Namespace, work: Path, subset: Path, config: Path) -> dict[str, Any]:
    ladder_eval = run_eval(args, subset, work / "ladder-eval.json", adapter=work / "ladder")
    failed = [r["id"] for r in ladder_eval["problems"] if not r["greedy_ok"]]
    attempted = failed[: args.ttrl_limit]
    rows = {json.loads(line)["id"]: line for line in subset.read_text().splitlines() if line.strip()}
    problems = work / "ttrl_problems.jsonl"
    atomic_write(problems, "".join(rows[i] + "\n" for i in attempted))
    run_dir = work / "ladder_ttrl"
    cmd = ["ttrl", "--problems", str(problems), "--model", args.model, "--adapter", str(work / "ladder"),
           "--steps", str(args.ttrl_steps), "--out", str(run_dir), "--seed", str(args.seed),
           "--config", str(config)]
    log(f"ladder_ttrl: {' '.join(cmd)}")
    wall, capped = run_engine(cmd, args.minutes, work / "ladder_ttrl.log")
    # ttrl.json: one record per problem with `solved` (any verified sample during TTRL, the
    # paper's figure) and `greedy_ok` (the adapted model's greedy answer, before roll-back).
    records = json.loads((run_dir / "ttrl.json").read_text())
    anytime = sorted(r["id"] for r in records if r["solved"])
    greedy_after = sorted(r["id"] for r in records if r["greedy_ok"])
    n = ladder_eval["n_problems"]
    base_correct = n - len(failed)
    return {
        # problems never attempted (past --ttrl-limit) count as failed: a lower bound
        "greedy_accuracy": (base_correct + len(greedy_after)) / n,
        "anytime_accuracy": (base_correct + len(anytime)) / n,
        "pass@1": None,
        "ttrl_failed_by_ladder": len(failed), "ttrl_attempted": len(records),
        "ttrl_solved_anytime": len(anytime), "ttrl_solved_greedy_after": len(greedy_after),
        "ttrl_anytime_rate": len(anytime) / len(records) if records else None,
        "solved_anytime": anytime, "solved_greedy_after": greedy_after, "curve": [],
        "train_wall_s": round(wall, 1), "stopped_by_time_cap": capped,
        "settings": {"command": cmd, "config": config.read_text()},
    }


def plot(arms: dict[str, Any], base_acc: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, arm in arms.items():
        pts = [(p["step"], p["greedy_accuracy"]) for p in arm.get("curve", []) if p["step"] is not None]
        if arm.get("steps_done") and (not pts or arm["steps_done"] > pts[-1][0]):
            pts.append((arm["steps_done"], arm["greedy_accuracy"]))  # the final evaluation
        if base_acc is not None and pts and pts[0][0] != 0:
            pts = [(0, base_acc), *pts]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=name)
    if base_acc is not None:
        ax.axhline(base_acc, color="gray", linestyle="--", label="base")
    top = max([base_acc or 0.0] + [a.get("greedy_accuracy") or 0.0 for a in arms.values()])
    ax.set_ylim(0, max(0.25, 1.2 * top))  # a flat line near zero must look flat, not noisy
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("held-out greedy accuracy")
    ax.set_title("LADDER ablation (undergraduate test subset)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def training_record(run_dir: Path) -> dict[str, Any]:
    """What a training run's events say, finished or not: how long the variant tree took to
    build (the variants written before the first step; for TTRL, the first problem's tree), and
    per step its time split, reward and share of verified answers."""
    events = list(read_events(run_dir / "events.jsonl"))
    steps = [e for e in events if e["type"] == "step"]
    first_step = steps[0]["t"] if steps else float("inf")
    variants = [e["t"] for e in events if e["type"] == "variant" and e["t"] < first_step]
    started = next((e["t"] for e in events if e["type"] == "run_started"), None)
    per_step = lambda key: [e.get(key) for e in steps]  # noqa: E731
    return {"steps_done": len(steps), "variants": sum(e["type"] == "variant" for e in events),
            "tree_seconds": round(variants[-1] - events[0]["t"], 1) if variants else 0.0,
            "step_seconds": per_step("seconds"), "generation_seconds": per_step("gen_s"),
            "train_seconds": per_step("train_s"), "reward_mean": per_step("reward_mean"),
            "accuracy": per_step("accuracy"), "groups_skipped": per_step("skipped"),
            "seconds_since_start": round(events[-1]["t"] - started, 1) if started and events else None}


def write(args: argparse.Namespace, arms: dict[str, Any], subset: Path, train: Path, work: Path) -> Path:
    """The result file and plot, rewritten after every arm so a partial run is still reported."""
    base_acc = arms.get("base", {}).get("greedy_accuracy")
    name = f"ablation-{args.date}"
    plot(arms, base_acc, RESULTS / f"{name}.png")
    ids = lambda path: [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]  # noqa: E731
    return write_result(name, {
        "model": args.model, "seeds": [args.seed],
        "settings": {k: v for k, v in vars(args).items() if k != "work"},
        "eval_set": {"file": "engine/data/undergrad_test.jsonl", "ids": ids(subset)},
        "train_set": {"file": "engine/data/undergrad_train.jsonl", "ids": ids(train)},
        "wall_s": round(sum(a.get("wall_s", 0) for a in arms.values()), 1),
        "arms_missing": [a for a in args.arms.split(",") if a not in arms],
        # finished and unfinished runs alike: the figures behind the README's training columns
        "training": {a: training_record(work / a) for a in args.arms.split(",")
                     if (work / a / "events.jsonl").exists()},
        "arms": arms,
    })


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--steps", type=int, default=20, help="GRPO steps per training arm")
    p.add_argument("--minutes", type=float, default=25.0, help="wall-clock cap per arm's training")
    p.add_argument("--eval-limit", type=int, default=40, help="size of the fixed held-out subset")
    p.add_argument("--train-limit", type=int, default=15, help="training problems used (same for every arm)")
    p.add_argument("--eval-every", type=int, default=0, help="held-out evaluation every N steps (0: at the end)")
    p.add_argument("--samples", type=int, default=2, help="K for the final pass@1 / pass@K")
    p.add_argument("--final-eval", choices=["eval", "trainer"], default="eval",
                   help="trained arms: a separate `ladder eval` (greedy + K samples) or the trainer's last greedy eval")
    # transformers applies the trained peft adapter to the dequantised weights exactly; llama.cpp
    # applies the same adapter correctly but on Q4 weights, whose rounding noise is larger than a
    # young adapter's effect (engine/inference/lora_gguf.py), so every arm, base included, is scored with hf.
    p.add_argument("--eval-backend", choices=["hf", "llamacpp"], default="hf")
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--depth", type=int, default=2, help="variant tree depth")
    p.add_argument("--max-variants", type=int, default=60)
    p.add_argument("--ttrl-steps", type=int, default=5)
    p.add_argument("--ttrl-limit", type=int, default=5, help="failed problems given to TTRL")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--date", default=dt.date.today().isoformat(), help="names the work folder and result")
    p.add_argument("--work", default=None, help="default: runs/ablation-<date>")
    p.add_argument("--report-only", action="store_true", help="rewrite the result from the state files, run nothing")
    args = p.parse_args()

    work = Path(args.work or ROOT / "runs" / f"ablation-{args.date}")
    write_ = lambda: write(args, arms, subset, train, work)  # noqa: E731
    work.mkdir(parents=True, exist_ok=True)
    subset = spread_subset(DATA / "undergrad_test.jsonl", args.eval_limit, work / "eval_subset.jsonl")
    train = spread_subset(DATA / "undergrad_train.jsonl", args.train_limit, work / "train_subset.jsonl")
    # One hyper-parameter file shared by every training arm; the symbolic arm adds one override.
    # The in-training held-out evaluation is greedy only ([eval] samples = 0): it is the curve.
    shared = (f"[grpo]\ngroup_size = {args.group_size}\neval_every = {args.eval_every}\nseed = {args.seed}\n"
              f"[eval]\nsamples = 0\n[variants]\nmax_variants = {args.max_variants}\ndepth = {args.depth}\n")
    config = work / "shared.toml"
    atomic_write(config, shared)
    symbolic = work / "symbolic.toml"
    atomic_write(symbolic, shared + 'source = "symbolic"\n')

    state_dir = work / "state"
    arms: dict[str, Any] = {}
    for arm in args.arms.split(","):
        state = state_dir / f"{arm}.json"
        if args.report_only and not state.exists():
            continue
        if state.exists():
            arms[arm] = json.loads(state.read_text())
            log(f"{arm}: done earlier (greedy {arms[arm]['greedy_accuracy']:.3f})")
            continue
        t0 = time.time()
        log(f"{arm}: starting")
        try:
            if arm == "base":
                report = run_eval(args, subset, work / "base-eval.json")
                result = {"greedy_accuracy": report["greedy_accuracy"], "pass@1": report["pass@1"],
                          f"pass@{args.samples}": report.get(f"pass@{args.samples}"),
                          "curve": [], "eval_seconds": report["seconds"],
                          "problems_per_minute": report["problems_per_minute"],
                          "solved": sorted(r["id"] for r in report["problems"] if r["greedy_ok"]),
                          "settings": {"samples": args.samples}}
            elif arm == "rl_no_variants":
                result = train_arm(args, arm, work, subset, train, config, ["--no-variants"])
            elif arm == "ladder":
                result = train_arm(args, arm, work, subset, train, config, [])
            elif arm == "ladder_symbolic":
                result = train_arm(args, arm, work, subset, train, symbolic, [])
            elif arm == "ladder_ttrl":
                result = ttrl_arm(args, work, subset, config)
            else:
                raise SystemExit(f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")
        except (RuntimeError, OSError, KeyError, subprocess.CalledProcessError) as e:
            log(f"{arm}: failed ({e}); going on with the next arm")
            continue
        result["wall_s"] = round(time.time() - t0, 1)
        atomic_write_json(state, result)
        arms[arm] = result
        log(f"{arm}: greedy {result['greedy_accuracy']:.3f} in {result['wall_s']:.0f} s")
        log(f"wrote {write_()}")
    write_()
    return 0


if __name__ == "__main__":
    sys.exit(main())
