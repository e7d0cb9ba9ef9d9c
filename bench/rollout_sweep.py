"""Screening cost and the rollout temperature / top-p that give GRPO the most correctness signal.

    .venv/bin/python bench/rollout_sweep.py [--model qwen2.5-coder-0.5b] [--groups 32] [--group-size 8]

1. Trees: the symbolic variant trees of the 15 training problems (depth 2, 60 variants each, the
   ablation's settings), evaluation problems excluded.
2. Screening exactly as `ladder train` does it (engine/train/screen.py: a greedy answer per variant,
   samples for those it solved, decoded together on llama.cpp, verified). Prints its seconds and
   tokens/s, and per tree the variants solved and at the edge.
3. Sweep: `--groups` variants drawn by the pool from the screened weights (what training would draw
   first), then one group of `--group-size` completions per variant at each (temperature, top-p)
   setting, all groups of a setting decoded together with the same seeds. For each setting: verified
   answers per sample, and the share of groups holding both a verified and a failed answer (a group
   with only one kind has zero advantages and teaches nothing). The anchor is the old default,
   temperature 1.0 / top-p 1.0, measured in the same run on the same variants. `pick_best` says
   how the winner is chosen.

Writes bench/results/rollout_sweep.json (and `rollout_sweep` into bench/results/signal.json).
"""

from __future__ import annotations

import argparse
import random
import time

from common import RESULTS, update_summary, write_result

from engine.inference.base import GenerationParams
from engine.runs.config import Config
from engine.runs.events import EventSink

DATA = RESULTS.parents[1] / "engine" / "data"
SETTINGS = [(1.0, 1.0), (0.8, 1.0), (0.6, 1.0), (0.8, 0.9)]
STOP = ("</answer>",)


def pick_best(rows: list[dict]) -> dict:
    """The setting with the most groups holding signal; settings within one group of it count as
    tied (one group of 32 is noise), and among those the most verified answers per sample wins,
    since every verified answer in a kept group is a positive example for the update."""
    top = max(r["signal_groups"] for r in rows)
    return max((r for r in rows if r["signal_groups"] >= top - 1), key=lambda r: r["verified_per_sample"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--groups", type=int, default=32)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    from engine.inference.batched import BatchedLlama
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.models import resolve
    from engine.inference.prompts import solve_chat
    from engine.problems import load_problems
    from engine.train.pool import VariantPool
    from engine.train.screen import screen, tree_reports
    from engine.train.setup import build_pool_nodes
    from engine.variants.nodes import Node
    from engine.verify.judge import Task, judge_many

    cfg = Config(model=a.model)
    cfg.variants.source, cfg.variants.depth, cfg.variants.max_variants = "symbolic", 2, 60
    cfg.sample.max_tokens = a.max_tokens
    exclude = {p.integrand for name in ("undergrad_test", "mit_bee_2023_2024")
               for p in load_problems(DATA / f"{name}.jsonl")}
    t = time.perf_counter()
    rows = build_pool_nodes(load_problems(DATA / "undergrad_train.jsonl"), cfg, variants=True, exclude=exclude,
                            sink=EventSink())
    tree_s = time.perf_counter() - t
    nodes = [Node.from_dict(r) for r in rows]
    print(f"trees: {len(nodes)} variants in {tree_s:.1f} s")

    backend = LlamaCppBackend(resolve(a.model).path, model_name=a.model, n_ctx=512)
    engine = BatchedLlama(backend)
    prompts = {n.id: backend.prompt_tokens(solve_chat(n.integrand)) for n in nodes}

    def verified(pairs: list[tuple[str, str]]) -> list[bool]:
        return [j.ok for j in judge_many([Task(i, c) for i, c in pairs], cfg.verify)]

    # -- screening, as training does it (engine/train/screen.py)
    tokens = 0

    def sample_many(rows: list[dict], n: int, temperature: float, max_tokens: int) -> list[list[str]]:
        nonlocal tokens
        params = GenerationParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=a.seed, stop=STOP)
        outs = engine.generate([prompts[r["id"]] for r in rows], params)
        tokens += sum(len(c.token_ids) for g in outs for c in g)
        return [[c.text for c in g] for g in outs]

    t = time.perf_counter()
    screened = screen(nodes, sample_many, verified, cfg,
                      on_progress=lambda done, total: print(f"  screened {done}/{total}", flush=True))
    screen_s = time.perf_counter() - t
    greedy = {i: s.greedy for i, s in screened.items()}
    trees = tree_reports(nodes, screened)
    print(f"screening: {len(nodes)} variants in {screen_s:.0f} s ({tokens / screen_s:.1f} tok/s), "
          f"{sum(greedy.values())} solved greedily; trees with none solved: {sum(r.solvable == 0 for r in trees)}")

    # -- the variants training would draw first
    pool = VariantPool(nodes, cfg.variants)
    for i, s in screened.items():
        pool.record_screen(i, s.greedy, s.samples, s.solved)
    drawn = pool.sample(a.groups, random.Random(a.seed))
    print(f"drawn: {len(drawn)} variants, {sum(greedy[n.id] for n in drawn)} of them solved greedily")

    rows_out = []
    per_call = max(1, 128 // a.group_size)  # 128 sequences per llama.cpp call
    for temperature, top_p in SETTINGS:
        t = time.perf_counter()
        oks: list[list[bool]] = []
        tok = 0
        for start in range(0, len(drawn), per_call):
            part = drawn[start:start + per_call]
            params = GenerationParams(n=a.group_size, temperature=temperature, top_p=top_p, max_tokens=a.max_tokens,
                                      seed=a.seed + start, stop=STOP)
            outs = engine.generate([prompts[n.id] for n in part], params)
            tok += sum(len(c.token_ids) for g in outs for c in g)
            flat = verified([(n.integrand, c.text) for n, g in zip(part, outs) for c in g])
            oks += [flat[k * a.group_size:(k + 1) * a.group_size] for k in range(len(part))]
        seconds = time.perf_counter() - t
        samples = sum(len(g) for g in oks)
        row = {"temperature": temperature, "top_p": top_p, "groups": len(oks),
               "signal_groups": sum(len(set(g)) == 2 for g in oks), "all_verified": sum(all(g) for g in oks),
               "none_verified": sum(not any(g) for g in oks), "verified": sum(map(sum, oks)), "samples": samples,
               "seconds": round(seconds, 1), "tokens_per_s": round(tok / seconds, 1)}
        row["signal_share"] = round(row["signal_groups"] / row["groups"], 4)
        row["verified_per_sample"] = round(row["verified"] / samples, 4)
        rows_out.append(row)
        print(f"T={temperature} top_p={top_p}: signal {row['signal_groups']}/{row['groups']} "
              f"({row['signal_share']:.0%}), verified {row['verified']}/{samples}, {seconds:.0f} s", flush=True)
    engine.close()
    backend.close()

    anchor = rows_out[0]
    best = pick_best(rows_out)
    ratio = best["signal_share"] / anchor["signal_share"] if anchor["signal_share"] else None
    print(f"best: T={best['temperature']} top_p={best['top_p']}, signal share {best['signal_share']:.0%} vs "
          f"{anchor['signal_share']:.0%} at T=1.0/top-p 1.0" + (f" ({ratio:.2f}x)" if ratio else ""))
    result = {
        "model": a.model, "group_size": a.group_size, "max_tokens": a.max_tokens, "seed": a.seed,
        "variants": len(nodes), "tree_s": round(tree_s, 2),
        "screening": {"seconds": round(screen_s, 1), "tokens": tokens, "tokens_per_s": round(tokens / screen_s, 1),
                      "greedy_verified": sum(greedy.values()), "samples": cfg.variants.screen_samples,
                      "sample_temperature": cfg.sample.temperature,
                      "trees": [{"root": r.root, "integrand": r.integrand, "variants": r.variants,
                                 "solvable": r.solvable, "edge": r.edge, "edge_share": round(r.edge_share, 4)}
                                for r in trees]},
        "drawn": len(drawn), "drawn_solved_greedy": sum(greedy[n.id] for n in drawn),
        "settings": rows_out, "best": {"temperature": best["temperature"], "top_p": best["top_p"]},
        "signal_share_vs_anchor": round(ratio, 2) if ratio else None,
    }
    write_result("rollout_sweep", result)
    update_summary({"rollout_sweep": {
        "best": result["best"], "signal_share": best["signal_share"], "anchor_signal_share": anchor["signal_share"],
        "verified_per_sample": best["verified_per_sample"], "anchor_verified_per_sample": anchor["verified_per_sample"],
        "details": "bench/results/rollout_sweep.json"}})


if __name__ == "__main__":
    main()
