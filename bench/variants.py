"""Variant generators: throughput, parse/duplicate shares, sympy-integrable share, depth reached.

Per generator and model (symbolic; LLM-only with each local model): variants per minute, the share
of proposals that parse, the share of duplicates, the share of accepted variants sympy integrates
within 5 s (the paper's "unsolvable" is about 8%), and the depth a depth-3 tree of
x**2*exp(x)*sin(x) reaches. And a ~100-variant tree (LLM + symbolic) with the default model,
timed against the 10-minute target: the tree's LLM budget (VariantConfig.llm_budget_s, checked
between generate calls) hands the remaining levels to the symbolic generator. The anchor measured in the same run is the symbolic
generator: LLM figures are also given as a ratio to it, since the machine is shared and noisy.

Each section writes bench/results/variants.json as soon as it finishes, so a run cut short keeps
what it measured; `--sections symbolic` re-measures the anchor only and keeps the LLM rows of the
previous run (their ratios then compare with that run's anchor, stored with them).

    nice -n 10 nohup .venv/bin/python bench/variants.py > variants.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result  # noqa: E402

from engine.runs.config import Config, VariantConfig  # noqa: E402
from engine.runs.events import Control  # noqa: E402
from engine.variants.nodes import Tree  # noqa: E402
from engine.variants.references import references  # noqa: E402
from engine.variants.tree import build_tree_stats  # noqa: E402

ROOT_PROBLEM = "x**2*exp(x)*sin(x)"
RESULT_FILE = RESULTS / "variants.json"
SYMBOLIC_PROBLEMS = ("x**2*exp(x)*sin(x)", "x*sqrt(1 + x**2)", "1/(x**2 + 3*x + 2)", "sin(3*x + 1)**2*cos(x)",
                     "x**3*log(x) + exp(2*x)/(1 + exp(x))")


@contextmanager
def budget(seconds: float) -> Iterator[Control]:
    """A Control that asks the tree to stop after `seconds` (obeyed between generate calls)."""
    control = Control()
    timer = threading.Timer(seconds, control.stop)
    timer.start()
    try:
        yield control
    finally:
        timer.cancel()


def measure(tree: Tree, source: str, integrable_sample: int, timeout_s: float) -> dict[str, Any]:
    """The figures of one tree for one source."""
    stats = tree.stats.summary()
    s = stats.get(source, {})
    made = [n for n in tree.nodes[1:] if n.source == source]
    minutes = max(tree.stats.sources[source].seconds, 1e-9) / 60
    sample = made[:integrable_sample]
    refs = references([n.integrand for n in sample], timeout_s) if sample else []
    return {
        "variants": len(made),
        "variants_per_min": round(len(made) / minutes, 1),
        "proposals": s.get("proposals", 0),
        "share_parsed": s.get("parsed"),
        "share_duplicate": s.get("duplicate"),
        "share_valid": s.get("valid"),
        "share_sympy_integrable_5s": round(sum(r is not None for r in refs) / len(refs), 3) if refs else None,
        "integrable_sample": len(refs),
        "depth_reached": max((n.depth for n in made), default=0),
        "per_level": stats["per_level"],
        "generator_seconds": round(tree.stats.sources[source].seconds, 1),
        "wall_seconds": round(tree.stats.seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    ap.add_argument("--llm-n", type=int, default=20, help="variants asked of each LLM-only tree")
    ap.add_argument("--combined-n", type=int, default=100)
    ap.add_argument("--integrable-sample", type=int, default=20, help="variants per generator sent to sympy")
    ap.add_argument("--llm-budget-s", type=float, default=300, help="stop an LLM-only tree after this long")
    ap.add_argument("--sections", nargs="*", choices=["symbolic", "llm", "combined"],
                    default=["symbolic", "llm", "combined"],
                    help="a subset re-measures only those and keeps the others from the previous results file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = VariantConfig(depth=3)
    timeout_s = cfg.reference_timeout_s
    t_start = time.perf_counter()
    previous = json.loads(RESULT_FILE.read_text()) if RESULT_FILE.exists() else {}
    result: dict[str, Any] = {
        "problem": ROOT_PROBLEM, "depth": cfg.depth, "seed": args.seed, "load_average_start": os.getloadavg(),
        "config": {"per_node": cfg.per_node, "max_tokens": cfg.max_tokens, "temperatures": cfg.temperatures,
                   "easier_share": cfg.easier_share},
        "generators": {},
        "sections_measured_now": args.sections,
    }
    if set(args.sections) != {"symbolic", "llm", "combined"}:
        result["generators"] = previous.get("generators", {})
        if "combined" in previous:
            result["combined"] = previous["combined"]
        result["previous_run_date"] = previous.get("date")

    def save() -> None:
        result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
        result["load_average_end"] = os.getloadavg()
        write_result("variants", result)

    # Anchor: the symbolic generator on the main problem (depth 3, 100 variants) and four others;
    # always measured, so every ratio below compares with this run.
    sym = build_tree_stats(ROOT_PROBLEM, cfg=cfg, n=100, source="symbolic", seed=args.seed)
    anchor = measure(sym, "symbolic", args.integrable_sample, timeout_s)
    others = [build_tree_stats(p, cfg=cfg, n=100, source="symbolic", seed=args.seed) for p in SYMBOLIC_PROBLEMS[1:]]
    anchor["other_problems"] = {p: {"variants": len(t.nodes) - 1, "depth_reached": max(n.depth for n in t.nodes),
                                    "seconds": round(t.stats.seconds, 2)}
                                for p, t in zip(SYMBOLIC_PROBLEMS[1:], others)}
    result["generators"]["symbolic"] = anchor
    print(f"symbolic: {anchor}", flush=True)
    save()

    from engine.inference.models import load_backend

    def llm_only(model: str) -> None:
        backend = load_backend(model)
        with budget(args.llm_budget_s) as control:
            tree = build_tree_stats(ROOT_PROBLEM, backend=backend, cfg=cfg, n=args.llm_n, source="llm",
                                    seed=args.seed, control=control)
        row = measure(tree, "llm", args.integrable_sample, timeout_s)
        row["budget_s"], row["stopped_by_budget"] = args.llm_budget_s, control.stopped
        row["speed_ratio_to_symbolic"] = round(row["variants_per_min"] / anchor["variants_per_min"], 5)
        row["anchor_symbolic_variants_per_min"] = anchor["variants_per_min"]
        row["prompts"] = tree.stats.sources["llm"].prompts
        row["sample_variants"] = [n.integrand for n in tree.nodes[1:9]]
        result["generators"][f"llm:{model}"] = row
        print(f"llm {model}: {row}", flush=True)
        save()

    default = Config().model
    if "combined" in args.sections:
        backend = load_backend(default)
        t0 = time.perf_counter()
        # No outer stop here: the tree's own LLM budget (cfg.llm_budget_s) hands over to the
        # symbolic generator, which is what the 10-minute target is about.
        tree = build_tree_stats(ROOT_PROBLEM, backend=backend, cfg=cfg, n=args.combined_n, source="both",
                                seed=args.seed)
        seconds = time.perf_counter() - t0
        summary = tree.stats.summary()
        result["combined"] = {
            "model": default, "variants": len(tree.nodes) - 1, "seconds": round(seconds, 1),
            "target_seconds": 600, "ratio_to_target": round(seconds / 600, 3),
            "llm_budget_s": cfg.llm_budget_s, "llm_out_of_time": tree.stats.llm_out_of_time,
            "ratio_to_symbolic_only": round(seconds / max(sym.stats.seconds, 1e-9), 1),
            "from_llm": sum(n.source == "llm" for n in tree.nodes),
            "from_symbolic": sum(n.source == "symbolic" for n in tree.nodes),
            "depth_reached": max(n.depth for n in tree.nodes),
            "per_level": summary["per_level"], "stats": summary,
        }
        print(f"combined: {result['combined']}", flush=True)
        save()
        del backend

    llm_models = args.models if "llm" in args.sections else []
    for model in llm_models:
        llm_only(model)

    print(f"done in {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
