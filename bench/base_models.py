"""Base models (no adapter) on the held-out sets: greedy and 4 samples at temperature 1, per model.

For each model and problem set this runs the CLI

    ladder eval --model M --problems FILE --samples 4 --temperature 1.0 --json --out OUT

as a subprocess (not through engine imports, so it measures whatever `ladder` is installed) and
keeps the full per-problem report in bench/results/base/<model>-<set>.json, next to a
<model>-<set>.run.json with the command, wall time and exit status. A (model, set) whose report
exists with the same number of samples is skipped, so the script can be stopped and started again. At the end it writes
bench/results/base_models.json: per model and set n, greedy accuracy with a Wilson 95 % interval,
mean@4 (the average fraction of the 4 samples that verify; the report's pass@1) with a bootstrap
interval, pass@4, greedy accuracy per difficulty and technique (undergrad set) or per year and
definite/indefinite (MIT Integration Bee set), seconds per problem, and paired comparisons of the
models on the same problems (McNemar on greedy, paired bootstrap on mean@4).

    nohup nice -n 10 .venv/bin/python bench/base_models.py > bench/results/base/run.log 2>&1 &
    .venv/bin/python bench/base_models.py --summarise-only     # only rebuild the summary
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.evaluation.stats import breakdown, mcnemar, paired_bootstrap, wilson_interval  # noqa: E402
from engine.runs.files import atomic_write_json  # noqa: E402

MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
SETS = ("engine/data/undergrad_test.jsonl", "engine/data/mit_bee_2023_2024.jsonl")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("problems"), list) else None


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (the cores are shared, so timings need them)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def run_one(ladder: list[str], model: str, problems: str, out: Path, samples: int, temperature: float,
            timeout: float | None, note: str | None = None) -> None:
    cmd = [*ladder, "eval", "--model", model, "--problems", problems, "--samples", str(samples),
           "--temperature", str(temperature), "--json", "--out", str(out)]
    log = out.with_suffix(".log")
    started, t0, load_before = now(), time.perf_counter(), loadavg()
    print(f"[{started}] {model} on {problems}: {shlex.join(cmd)}", flush=True)
    with open(log, "w") as err:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    meta = {"command": shlex.join(cmd), "model": model, "problems": problems, "started": started,
            "finished": now(), "wall_s": round(wall, 1), "exit_status": rc,
            "loadavg_before": load_before, "loadavg_after": loadavg(), "cpu_count": os.cpu_count(), "timed_out": rc is None,
            "commit": git_commit(), "log": rel(log), "note": note}
    atomic_write_json(out.with_suffix(".run.json"), meta)
    print(f"[{now()}] {model} on {problems}: exit {rc} after {wall:.0f} s", flush=True)


def rel(path: Path) -> str:
    """The path relative to the repository when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def read_problems(path: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def interval(lo_hi: tuple[float, float]) -> list[float]:
    return [round(lo_hi[0], 4), round(lo_hi[1], 4)]


def groups(stats: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): {"n": g.n, "correct": g.correct, "accuracy": round(g.accuracy, 4),
                     "wilson95": [round(g.low, 4), round(g.high, 4)]} for k, g in stats.items()}


def summarise_one(report: dict[str, Any], meta: dict[str, Any] | None, problems_file: Path) -> dict[str, Any]:
    rows = report["problems"]
    n = len(rows)
    greedy = sum(bool(r["greedy_ok"]) for r in rows)
    info = read_problems(ROOT / problems_file)
    missing = [r["id"] for r in rows if r["id"] not in info]
    joined = [{**info.get(r["id"], {}), "ok": bool(r["greedy_ok"])} for r in rows]
    out: dict[str, Any] = {
        "n": n,
        "greedy_correct": greedy,
        "greedy_accuracy": round(greedy / n, 4),
        "greedy_wilson95": interval(wilson_interval(greedy, n)),
        "answered_greedy": report.get("answered"),
    }
    k = report.get("k") or 0
    if k and all("sample_ok" in r for r in rows):
        per_problem = [sum(map(bool, r["sample_ok"])) / len(r["sample_ok"]) for r in rows]
        boot = paired_bootstrap(per_problem, [0.0] * n, iterations=10000, seed=0)
        out[f"mean@{k}"] = round(boot.diff, 4)
        out[f"mean@{k}_bootstrap95"] = [round(boot.low, 4), round(boot.high, 4)]
        out[f"mean@{k}_note"] = (f"average over problems of the fraction of {k} samples at temperature "
                                 f"{report.get('params', {}).get('temperature')} that verify; interval "
                                 "from 10,000 bootstrap resamples of problems")
        out[f"pass@{k}"] = round(report[f"pass@{k}"], 4) if report.get(f"pass@{k}") is not None else None
        out[f"any_of_{k}_correct"] = sum(any(r["sample_ok"]) for r in rows)
    else:
        out[f"mean@{k}"] = None
        out[f"mean@{k}_note"] = "the report has no per-sample outcomes"
    if any("difficulty" in j for j in joined):
        out["greedy_by_difficulty"] = groups(breakdown(joined, lambda j: j.get("difficulty")))
    if any("technique" in j for j in joined):
        out["greedy_by_technique"] = groups(breakdown(joined, lambda j: j.get("technique")))
    if any("year" in j for j in joined):
        out["greedy_by_year"] = groups(breakdown(joined, lambda j: j.get("year")))
    if any("definite" in j for j in joined):
        out["greedy_by_kind"] = groups(breakdown(
            joined, lambda j: "definite" if j.get("definite") else "indefinite"))
    if missing:
        out["ids_not_in_problem_file"] = missing
    seconds = report.get("seconds")
    out["eval_seconds"] = seconds
    out["generation_seconds"] = report.get("generation_seconds")
    out["verify_seconds"] = report.get("verify_seconds")
    out["seconds_per_problem"] = round(seconds / n, 2) if seconds else None
    out["seconds_per_problem_note"] = (f"eval time (1 greedy + {k} sampled answers per problem, generation "
                                       "and verification, model load excluded) / n")
    if meta:
        out["wall_s_including_load"] = meta.get("wall_s")
        out["started"], out["finished"] = meta.get("started"), meta.get("finished")
        out["loadavg_before_after"] = [meta.get("loadavg_before"), meta.get("loadavg_after")]
        out["code"] = meta.get("note") or meta.get("command")
    out["tokens_per_s"] = report.get("tokens_per_s")
    out["params"] = report.get("params")
    out["backend"] = report.get("backend")
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Paired comparison of two reports on the same problems (b minus a)."""
    ra = {r["id"]: r for r in a["problems"]}
    rb = {r["id"]: r for r in b["problems"]}
    ids = [i for i in ra if i in rb]
    g = mcnemar([bool(ra[i]["greedy_ok"]) for i in ids], [bool(rb[i]["greedy_ok"]) for i in ids])
    out: dict[str, Any] = {"n_paired": len(ids),
                           "greedy_mcnemar": {"only_second_right": g.b01, "only_first_right": g.b10,
                                              "p_value": round(g.p_value, 6)}}
    if all(ra[i].get("sample_ok") and rb[i].get("sample_ok") for i in ids):
        ma = [sum(map(bool, ra[i]["sample_ok"])) / len(ra[i]["sample_ok"]) for i in ids]
        mb = [sum(map(bool, rb[i]["sample_ok"])) / len(rb[i]["sample_ok"]) for i in ids]
        boot = paired_bootstrap(mb, ma, iterations=10000, seed=0)
        out["mean@k_difference"] = {"diff": round(boot.diff, 4), "bootstrap95": [round(boot.low, 4), round(boot.high, 4)],
                                    "p_value": round(boot.p_value, 4)}
    return out


def summarise(out_dir: Path, models: list[str], sets: list[str], summary_path: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "written": now(),
        "what": "base models (no adapter), llama.cpp backend: 1 greedy answer + 4 samples at temperature 1.0 "
                "per problem, every answer checked by the numerical verifier",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other work, run under nice 10), no GPU",
        "models": {},
        "comparisons": {},
        "missing": [],
    }
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    for model in models:
        for problems in sets:
            stem = Path(problems).stem
            path = out_dir / f"{model}-{stem}.json"
            report = load_report(path)
            if report is None:
                result["missing"].append(f"{model} on {stem}")
                continue
            reports[(model, stem)] = report
            meta_path = path.with_suffix(".run.json")
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
            entry = summarise_one(report, meta, Path(problems))
            entry["report"] = rel(path)
            result["models"].setdefault(model, {})[stem] = entry
    for problems in sets:
        stem = Path(problems).stem
        for i, m1 in enumerate(models):
            for m2 in models[i + 1:]:
                if (m1, stem) in reports and (m2, stem) in reports:
                    result["comparisons"][f"{m1} vs {m2} on {stem}"] = compare(reports[(m1, stem)], reports[(m2, stem)])
    atomic_write_json(summary_path, result)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ladder", default=os.environ.get("LADDER", str(ROOT / ".venv" / "bin" / "ladder")),
                    help="the ladder command (may hold arguments); default .venv/bin/ladder or $LADDER")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=None, help="seconds per (model, set) run")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results" / "base")
    ap.add_argument("--summary", type=Path, default=ROOT / "bench" / "results" / "base_models.json")
    ap.add_argument("--summarise-only", action="store_true")
    ap.add_argument("--note", default=None, help="kept with each run (e.g. which code the ladder command runs)")
    args = ap.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if not args.summarise_only:
        ladder = shlex.split(args.ladder)
        # One set at a time for both models, so the paired comparison on a set comes early.
        for problems in args.sets:
            for model in args.models:
                out = args.out_dir / f"{model}-{Path(problems).stem}.json"
                report = load_report(out)
                if report is not None and report.get("k") == args.samples:
                    print(f"[{now()}] skip {model} on {problems}: {out} exists", flush=True)
                    continue  # a report with fewer samples (greedy only) is redone
                run_one(ladder, model, problems, out, args.samples, args.temperature, args.timeout, args.note)
                summarise(args.out_dir, args.models, args.sets, args.summary)
    result = summarise(args.out_dir, args.models, args.sets, args.summary)
    print(json.dumps({m: {s: {"n": e["n"], "greedy": e["greedy_accuracy"], "wilson95": e["greedy_wilson95"],
                               "mean@k": e.get(f"mean@{args.samples}"), "s/problem": e["seconds_per_problem"]}
                           for s, e in sets.items()} for m, sets in result["models"].items()}, indent=1), flush=True)
    if result["missing"]:
        print("missing: " + ", ".join(result["missing"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
