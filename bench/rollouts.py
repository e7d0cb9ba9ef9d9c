"""GRPO rollouts on llama.cpp vs transformers, in the same run: throughput, step time, policy gap.

1. throughput  qwen2.5-coder-0.5b, one prompt x 8 sequences x exactly 128 new tokens (end of turn
               ignored, no stop string), temperature 1, a LoRA adapter (r = 16, every projection,
               small random B) loaded on both sides: the HF backend (peft model, one batched
               `generate`; the anchor) against engine/inference/batched.py (one llama_batch per
               token for the 8 sequences, prompt evaluated once), alternated round by round so
               machine load hits both alike; llama.cpp one sequence after another once, for context.
2. step        one updating GRPO step, 1 prompt x 8 completions, <= 128 tokens, four trainers,
               alternated step by step: the trainer of commit 8032459, the last before llama.cpp
               rollouts, with its own code in a child process (`--before`, bench/anchor_trainer.py:
               the trainer issue "Learning signal per hour" was measured against); today's trainer
               with HF rollouts on fp32 weights ([grpo] rollout_backend = "hf"; a stricter anchor,
               since it has every later improvement but llama.cpp and bf16); the default
               ("llamacpp", [grpo] dtype "auto": bf16 base weights on a CPU with native bf16); and
               "llamacpp" on fp32 weights, which splits the gain between its two causes and stands
               for a CPU without bf16. The reward is the verifier's plus 1e-6 x completion length,
               so that every step updates (a flat group would skip the update and flatter every side).
3. gap         per-token |log pi_train - log pi_rollout| on the llama.cpp trainer's real rollouts
               (from its step events), for the Q4 file and, with --precision, a q8_0 copy.

    .venv/bin/python bench/rollouts.py [--rounds 2] [--steps 3] [--precision q8_0] [--before COMMIT]

Writes bench/results/rollouts.json and the summary bench/results/signal.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from common import RESULTS, ROOT, update_summary, updating_reward, write_result

MODEL = "qwen2.5-coder-0.5b"
PROBLEM = "x*exp(x)"
GROUP, MAX_TOKENS, SEED = 8, 128, 0


# the last commit before llama.cpp rollouts: the trainer issue "Learning signal per hour" measured
BEFORE = "8032459"
# name -> ([grpo] rollout_backend, [grpo] dtype); the first is the anchor, the second the default
TRAINERS = {"hf": ("hf", "float32"), "llamacpp": ("llamacpp", "auto"), "llamacpp_fp32": ("llamacpp", "float32")}


def _config(backend: str, rollout_gguf: str = "model", dtype: str = "auto"):
    from engine.runs.config import Config

    cfg = Config()
    cfg.model, cfg.device = MODEL, "auto"
    cfg.grpo.group_size, cfg.grpo.seed, cfg.grpo.max_resample = GROUP, SEED, 0
    cfg.grpo.rollout_backend, cfg.grpo.rollout_gguf, cfg.grpo.dtype = backend, rollout_gguf, dtype
    cfg.sample.max_tokens = MAX_TOKENS
    return cfg


def _make_adapter(model_dir: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.inference.hf import load_hf_model

    model, _ = load_hf_model(model_dir, "cpu")
    torch.manual_seed(SEED)
    peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.002)
    peft.save_pretrained(out)
    del peft, model
    return out


def throughput(rounds: int, sequential: bool) -> dict:
    from engine.inference.base import GenerationParams
    from engine.inference.batched import BatchedLlama
    from engine.inference.hf import HFBackend
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.lora_gguf import convert_lora
    from engine.inference.models import hf_model_dir, resolve
    from engine.inference.prompts import solve_chat

    model_dir = hf_model_dir(MODEL)
    chat = solve_chat(PROBLEM)
    params = GenerationParams(n=GROUP, temperature=1.0, max_tokens=MAX_TOKENS, ignore_eos=True, stop=(), seed=SEED)
    with tempfile.TemporaryDirectory() as tmp:
        peft_dir = _make_adapter(model_dir, Path(tmp) / "adapter")
        gguf = convert_lora(peft_dir, Path(tmp) / "adapter.gguf", model_dir)
        hf = HFBackend(model_dir, model_name=MODEL, device="auto", adapter=peft_dir)
        backend = LlamaCppBackend(resolve(MODEL).path, model_name=MODEL, n_ctx=512)
        engine = BatchedLlama(backend)
        engine.set_adapter(gguf)
        prompt = backend.prompt_tokens(chat)
        rows = []
        for r in range(rounds):
            t = time.perf_counter()
            out = hf.generate([chat], params)[0]
            hf_s = time.perf_counter() - t
            hf_tok = sum(s.tokens for s in out)
            t = time.perf_counter()
            got = engine.generate([prompt], params)[0]
            ll_s = time.perf_counter() - t
            ll_tok = sum(len(c.token_ids) for c in got)
            row = {"hf_tokens": hf_tok, "hf_s": round(hf_s, 2), "hf_tokens_per_s": round(hf_tok / hf_s, 2),
                   "llamacpp_tokens": ll_tok, "llamacpp_s": round(ll_s, 2),
                   "llamacpp_tokens_per_s": round(ll_tok / ll_s, 2),
                   "llamacpp_prefill_s": round(engine.last_stats["prefill_s"], 2)}
            row["ratio"] = round(row["llamacpp_tokens_per_s"] / row["hf_tokens_per_s"], 2)
            rows.append(row)
            print(f"[throughput {r + 1}] HF {row['hf_tokens_per_s']} tok/s, llama.cpp batched "
                  f"{row['llamacpp_tokens_per_s']} tok/s, ratio {row['ratio']}", file=sys.stderr, flush=True)
        seq = None
        if sequential:
            one = GenerationParams(n=1, temperature=1.0, max_tokens=MAX_TOKENS, ignore_eos=True, stop=(), seed=SEED)
            t = time.perf_counter()
            toks = sum(len(engine.generate([prompt], one)[0][0].token_ids) for _ in range(GROUP))
            seq = {"tokens": toks, "s": round(time.perf_counter() - t, 2)}
            seq["tokens_per_s"] = round(toks / seq["s"], 2)
            print(f"[throughput] llama.cpp one sequence at a time {seq['tokens_per_s']} tok/s", file=sys.stderr)
        engine.close()
        backend.close()
        del hf
    return {"rounds": rows, "llamacpp_sequential": seq, "device": "cpu" if not _cuda() else "cuda",
            "median_ratio": statistics.median(r["ratio"] for r in rows),
            "hf_tokens_per_s": statistics.median(r["hf_tokens_per_s"] for r in rows),
            "llamacpp_tokens_per_s": statistics.median(r["llamacpp_tokens_per_s"] for r in rows)}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _row(s) -> dict:
    row = {k: v for k, v in s.event_fields().items()}
    row["tokens"] = s.tokens
    return row


class AnchorTrainer:
    """The GRPO trainer of an older commit in a child process (bench/anchor_trainer.py), stepped
    on request so its steps alternate with this process's trainers under the same load."""

    def __init__(self, commit: str, model_dir: Path, tree: Path):
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "engine", "models"],
                                 capture_output=True, check=True).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(tree, filter="data")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("anchor_trainer.py")), str(model_dir), PROBLEM,
             str(GROUP), str(MAX_TOKENS), str(SEED)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)})
        self.ready = self._reply()
        if not self.ready["engine"].startswith(str(tree)):
            raise RuntimeError(f"the anchor imported {self.ready['engine']}, not the tree of {commit}")

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the anchor trainer exited with code {self.proc.wait()}")
        return json.loads(line)

    def step(self) -> dict:
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def steps(n_steps: int, precision: str | None, anchor_commit: str | None) -> dict:
    from engine.inference.models import hf_model_dir
    from engine.train.grpo import GRPOTrainer

    model_dir = hf_model_dir(MODEL)
    prompt = {"id": "bench", "integrand": PROBLEM}
    trainers = {}
    for name, (backend, dtype) in TRAINERS.items():
        cfg = _config(backend, dtype=dtype)
        trainers[name] = GRPOTrainer(model_dir, cfg, reward_fn=updating_reward(cfg))
    dtypes = {name: str(tr.dtype).removeprefix("torch.") for name, tr in trainers.items()}
    stepper = {name: (lambda tr=tr: _row(tr.step(lambda: prompt))) for name, tr in trainers.items()}
    anchor = None
    if anchor_commit:
        tree = tempfile.TemporaryDirectory()
        anchor = AnchorTrainer(anchor_commit, model_dir, Path(tree.name))
        stepper["before"] = anchor.step
        dtypes["before"] = anchor.ready["dtype"]
    rows: dict[str, list] = {name: [] for name in stepper}
    for i in range(n_steps):
        for name, step in stepper.items():
            s = step()
            rows[name].append(s)
            print(f"[step {i + 1} {name}] {s['seconds']:.1f} s = gen {s['gen_s']:.1f} + verify {s['verify_s']:.2f} + "
                  f"fwd/bwd {s['train_s']:.1f} + opt {s['opt_s']:.2f}; {s['tokens']} tokens, "
                  f"{s['tokens_per_s']:.1f} tok/s, updated {s['updated']}", file=sys.stderr, flush=True)
    if anchor:
        anchor.close()
        tree.cleanup()
    sync_s = trainers["llamacpp"].rollouts.sync_s
    del trainers
    out = {**rows, "dtype": dtypes, "llamacpp_adapter_sync_s_total": round(sync_s, 2)}
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in rows.items()}
    for name in rows:
        out[f"{name}_median_s"] = round(med[name], 2)
    out["ratio"] = round(med["hf"] / med["llamacpp"], 2)
    out["ratio_fp32"] = round(med["hf"] / med["llamacpp_fp32"], 2)
    out["per_round_ratio"] = [round(a["seconds"] / b["seconds"], 2) for a, b in zip(rows["hf"], rows["llamacpp"])]
    if anchor:
        out["before_commit"] = anchor_commit
        out["ratio_vs_before"] = round(med["before"] / med["llamacpp"], 2)
        out["ratio_fp32_vs_before"] = round(med["before"] / med["llamacpp_fp32"], 2)
    if precision:
        cfg = _config("llamacpp", precision)
        t = time.perf_counter()
        tr = GRPOTrainer(model_dir, cfg, reward_fn=updating_reward(cfg))
        build_s = time.perf_counter() - t
        prow = []
        for i in range(n_steps):
            s = tr.step(lambda: prompt)
            prow.append(_row(s))
            print(f"[step {i + 1} llamacpp {precision}] {s.seconds:.1f} s, gen {s.gen_s:.1f}, {s.tokens_per_s:.1f} tok/s, "
                  f"gap {s.logp_gap:.3f}, w {s.is_weight:.3f}, capped {s.is_capped:.3f}", file=sys.stderr, flush=True)
        out["precision"] = {"rollout_gguf": precision, "trainer_start_s": round(build_s, 1), "steps": prow}
    return out


def _gap(rows: list[dict]) -> dict:
    upd = [r for r in rows if r["updated"]]
    return {"mean_abs_logp_gap": round(statistics.mean(r["logp_gap"] for r in upd), 4) if upd else None,
            "mean_is_weight": round(statistics.mean(r["is_weight"] for r in upd), 4) if upd else None,
            "capped_share": round(statistics.mean(r["is_capped"] for r in upd), 4) if upd else None,
            "rollout_tokens_per_s": round(statistics.median(r["rollout_tokens_per_s"] for r in rows), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--precision", choices=["q8_0", "f16"], default=None)
    ap.add_argument("--no-sequential", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--before", default=BEFORE, metavar="COMMIT",
                    help="also time this commit's trainer in a child process ('' to skip)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    tp = None if a.skip_throughput else throughput(a.rounds, not a.no_sequential)
    st = steps(a.steps, a.precision, a.before or None)
    settings = {"model": MODEL, "problem": PROBLEM, "group": GROUP, "max_tokens": MAX_TOKENS, "lora_r": 16,
                "seed": SEED, "rounds": a.rounds, "steps": a.steps, "temperature": 1.0, "is_cap": 2.0}
    gaps = {"model": _gap(st["llamacpp"])}
    if "precision" in st:
        gaps[st["precision"]["rollout_gguf"]] = _gap(st["precision"]["steps"])
    tp_date = None
    if tp is None:  # --skip-throughput keeps the last measured figures, with their date
        previous = json.loads((RESULTS / "rollouts.json").read_text()) if (RESULTS / "rollouts.json").is_file() else {}
        tp, tp_date = previous.get("throughput"), previous.get("throughput_date", previous.get("date"))
    result = {**settings, "throughput": tp, "throughput_date": tp_date, "step": st, "logp_gap": gaps,
              "wall_s": round(time.perf_counter() - t0, 1),
              "note": "alternated rounds (the older trainer in a child process); shared 2-core machine, so absolute figures move with load"}
    path = write_result("rollouts", result)
    summary = {**settings, "step_speedup_vs_hf_trainer": st["ratio"],
               "step_s": {name: st[f"{name}_median_s"] for name in st["dtype"]},
               "step_dtype": st["dtype"],
               "logp_gap": gaps, "details": "bench/results/rollouts.json"}
    if "ratio_vs_before" in st:
        summary["step_speedup_vs_trainer_before"] = {"commit": st["before_commit"], "default": st["ratio_vs_before"],
                                                     "fp32": st["ratio_fp32_vs_before"]}
    if tp_date is None and tp is not None:
        summary["rollout_speedup_vs_hf"] = tp["median_ratio"]
        summary["rollout_tokens_per_s"] = {"hf": tp["hf_tokens_per_s"], "llamacpp_batched": tp["llamacpp_tokens_per_s"],
                                           "llamacpp_sequential": (tp["llamacpp_sequential"] or {}).get("tokens_per_s")}
    update_summary(summary)
    print(f"rollouts: llama.cpp batched / HF = {tp['median_ratio'] if tp else None}x; step HF fp32 / default "
          f"({st['dtype']['llamacpp']}) = {st['ratio']}x, / llama.cpp fp32 = {st['ratio_fp32']}x; trainer of "
          f"{a.before or '-'} / default = {st.get('ratio_vs_before')}x, / fp32 = {st.get('ratio_fp32_vs_before')}x; wrote {path}")


if __name__ == "__main__":
    main()
