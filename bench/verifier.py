"""Verifier benchmark: accuracy on bench/data/verifier_set.jsonl, latency, throughput, and an anchor.

1. Accuracy: every answer of the set (references, equivalent rewritings, mutations) through
   `verify_many` on all cores; correct answers must be accepted, mutated ones rejected.
2. Latency: a warm single-worker pool (one core) verifies a sample one call at a time; the median
   includes the round trip to the worker process. The same checks are also timed in-process.
3. Anchor, timed in the same run on the same sample: the plain approach, in-process and without
   a pool: sympify, sympy derivative, then evalf at 30 digits (mpmath) at 5 random real points.
   The ratio anchor / ours is the speed-up.
4. Throughput: answers per second of `verify_many` on all cores.

    .venv/bin/python bench/verifier.py [--sample 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_result  # noqa: E402
from engine.runs.config import VerifyConfig  # noqa: E402
from engine.verify.pool import WorkerPool, pool  # noqa: E402
from engine.verify.verifier import check, verify_many  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "verifier_set.jsonl"


def anchor_check(integrand: str, candidate: str, rng: random.Random) -> bool:
    """The plain check: sympy derivative, evaluated with evalf (mpmath, 30 digits) at 5 real points.
    Trusted benchmark text only (sympify evaluates its input)."""
    import sympy as sp

    x = sp.Symbol("x")
    f = sp.sympify(integrand, locals={"x": x})
    dF = sp.diff(sp.sympify(candidate.replace(" + C", ""), locals={"x": x}), x)
    agree = 0
    for _ in range(20):
        p = sp.Float(rng.uniform(-10, 10), 30)
        fv = f.evalf(30, subs={x: p})
        if not fv.is_real or not fv.is_finite:
            continue
        dv = dF.evalf(30, subs={x: p})
        if not dv.is_finite or abs(complex(dv) - complex(fv)) > 1e-10 * max(abs(complex(fv)), 1e-300):
            return False
        agree += 1
        if agree == 5:
            return True
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=300, help="answers timed one by one (ours and the anchor)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    rng = random.Random(args.seed)
    wall = time.perf_counter()

    # 1 + 4: accuracy and throughput on all cores (warm the pool first)
    verify_many([(rows[0]["integrand"], rows[0]["candidate"])] * pool().size * 2)
    start = time.perf_counter()
    verdicts = verify_many([(r["integrand"], r["candidate"]) for r in rows])
    many_s = time.perf_counter() - start
    by_kind: dict[str, Counter] = defaultdict(Counter)
    by_family: dict[str, Counter] = defaultdict(Counter)
    mistakes = []
    for r, v in zip(rows, verdicts):
        right = v.ok == r["label"]
        by_kind[r["kind"]]["right" if right else "wrong"] += 1
        by_family[r["family"]]["right" if right else "wrong"] += 1
        if not right:
            mistakes.append({**r, "verdict": v.reason})
    correct = [v.ok for r, v in zip(rows, verdicts) if r["label"]]
    wrong = [not v.ok for r, v in zip(rows, verdicts) if not r["label"]]

    # 2 + 3: latency on one core, anchor on the same sample, same run
    sample = rng.sample(rows, min(args.sample, len(rows)))
    single = WorkerPool(workers=1)
    cfg = VerifyConfig()
    try:
        single.run(check, [(r["integrand"], r["candidate"], None, None, cfg) for r in sample[:20]], cfg.timeout_s)  # warm
        ours_ms = []
        for r in sample:
            t = time.perf_counter()
            single.run(check, [(r["integrand"], r["candidate"], None, None, cfg)], cfg.timeout_s)
            ours_ms.append((time.perf_counter() - t) * 1000)
    finally:
        single.close()
    inproc_ms = []  # the same work without the process round trip (what the pool adds is IPC)
    for r in sample:
        t = time.perf_counter()
        check(r["integrand"], r["candidate"], cfg=cfg)
        inproc_ms.append((time.perf_counter() - t) * 1000)
    anchor_ms, anchor_right = [], 0
    for r in sample:
        t = time.perf_counter()
        try:
            ok = anchor_check(r["integrand"], r["candidate"], rng)
        except Exception:
            ok = False
        anchor_ms.append((time.perf_counter() - t) * 1000)
        anchor_right += ok == r["label"]

    ours_median, anchor_median = statistics.median(ours_ms), statistics.median(anchor_ms)
    result = {
        "set": str(DATA.relative_to(DATA.parents[2])),
        "integrals": len({r["id"] for r in rows}),
        "answers": len(rows),
        "correct_answers": len(correct),
        "wrong_answers": len(wrong),
        "accepted_correct": sum(correct) / len(correct),
        "rejected_wrong": sum(wrong) / len(wrong),
        "mistakes": mistakes,
        "by_kind": {k: dict(c) for k, c in sorted(by_kind.items())},
        "by_family": {k: dict(c) for k, c in sorted(by_family.items())},
        "sample": len(sample),
        "median_ms_one_core_warm_pool": ours_median,
        "p90_ms_one_core_warm_pool": sorted(ours_ms)[int(0.9 * len(ours_ms))],
        "median_ms_in_process": statistics.median(inproc_ms),
        "anchor": "sympify + sympy diff + evalf(30) at 5 points, in-process",
        "anchor_median_ms": anchor_median,
        "anchor_accuracy_on_sample": anchor_right / len(sample),
        "speedup_vs_anchor": anchor_median / ours_median,
        "speedup_vs_anchor_in_process": anchor_median / statistics.median(inproc_ms),
        "verify_many_workers": pool().size,
        "verify_many_answers_per_s": len(rows) / many_s,
        "single_worker_answers_per_s": 1000 / statistics.mean(ours_ms),
        "seed": args.seed,
        "wall_s": time.perf_counter() - wall,
    }
    path = write_result("verifier", result)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"verifier on {result['integrals']} integrals / {len(rows)} answers")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("correct answers accepted", f"{sum(correct)}/{len(correct)} ({result['accepted_correct']:.1%})")
    table.add_row("wrong answers rejected", f"{sum(wrong)}/{len(wrong)} ({result['rejected_wrong']:.1%})")
    table.add_row("median ms, warm pool, 1 core", f"{ours_median:.2f}")
    table.add_row("median ms, same checks in-process", f"{result['median_ms_in_process']:.2f}")
    table.add_row("anchor median ms (sympy diff + mpmath, in-process)", f"{anchor_median:.2f}")
    table.add_row("speed-up vs anchor (pool / in-process)",
                  f"{result['speedup_vs_anchor']:.1f}x / {result['speedup_vs_anchor_in_process']:.1f}x")
    table.add_row("anchor accuracy on the sample", f"{result['anchor_accuracy_on_sample']:.1%}")
    table.add_row(f"verify_many answers/s ({pool().size} workers)", f"{result['verify_many_answers_per_s']:.0f}")
    table.add_row("single worker answers/s", f"{result['single_worker_answers_per_s']:.0f}")
    console = Console()
    console.print(table)
    for m in mistakes[:20]:
        console.print(f"[red]mistake[/] {m['kind']}: ∫ {m['integrand']} → {m['candidate']}: {m['verdict']}", highlight=False)
    console.print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
