"""Inference speed: `ladder solve "x**2"` wall time with the default model, and tokens/s of llama.cpp
vs the HF backend on the same batch (8 samples x 128 tokens) for both real models.

Anchor: the HF backend's tokens/s on the same chats in the same run; the figure reported is the
llama.cpp / HF ratio (machine load cancels out to first order). The solve wall time is measured
after one warm-up run (models pulled and converted, OS file cache warm), as a user sees it.

    .venv/bin/python bench/inference.py [--samples 8] [--tokens 128] [--models qwen2.5-coder-0.5b smollm2-135m]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import ROOT, machine_info, write_result

from engine.inference.base import GenerationParams
from engine.inference.models import load_backend
from engine.inference.prompts import solve_chat

SEED = 0


def solve_wall(model: str) -> dict:
    """Wall time of the CLI, interpreter start and model load included (second of two runs)."""
    cmd = [sys.executable, "-c", "import sys; from engine.commands import main; main(sys.argv[1:])",
           "solve", "x**2", "--model", model, "-k", "1", "--temperature", "0", "--json"]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm-up
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True, text=True)
    wall = time.perf_counter() - start
    report = json.loads(out.stdout)
    return {"wall_s": round(wall, 2), "tokens_per_s": report["tokens_per_s"], "solved": report["solved"],
            "answer": report["samples"][0]["answer"]}


def tokens_per_s(model: str, backend: str, samples: int, tokens: int) -> dict:
    """Generate `samples` completions of exactly-bounded length for one chat; tokens over time."""
    b = load_backend(model, backend=backend)
    # No stop string and no end of turn: every sample runs to exactly max_tokens in both backends.
    params = GenerationParams(n=samples, temperature=1.0, max_tokens=tokens, seed=SEED, stop=(), ignore_eos=True)
    start = time.perf_counter()
    out = b.generate([solve_chat("x*exp(x)")], params)[0]
    seconds = time.perf_counter() - start
    if hasattr(b, "close"):
        b.close()
    n = sum(s.tokens for s in out)
    return {"tokens": n, "seconds": round(seconds, 2), "tokens_per_s": round(n / seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "smollm2-135m"])
    p.add_argument("--skip-solve", action="store_true")
    args = p.parse_args()
    started = time.time()
    result: dict = {"machine": machine_info(), "seed": SEED, "samples": args.samples, "max_tokens": args.tokens}
    if not args.skip_solve:
        result["solve_x2"] = {"model": args.models[0], **solve_wall(args.models[0])}
        print(f"ladder solve x**2 ({args.models[0]}): {result['solve_x2']['wall_s']} s wall, "
              f"{result['solve_x2']['tokens_per_s']} tokens/s (target < 10 s)")
    rows = []
    for model in args.models:
        llama = tokens_per_s(model, "llamacpp", args.samples, args.tokens)
        hf = tokens_per_s(model, "hf", args.samples, args.tokens)
        ratio = round(llama["tokens_per_s"] / hf["tokens_per_s"], 2)
        rows.append({"model": model, "llamacpp": llama, "hf": hf, "ratio_llamacpp_over_hf": ratio})
        print(f"{model}: llama.cpp {llama['tokens_per_s']} tok/s, HF {hf['tokens_per_s']} tok/s, ratio {ratio}x")
    result["throughput"] = rows
    result["wall_s"] = round(time.time() - started, 1)
    write_result("inference", result)


if __name__ == "__main__":
    main()
