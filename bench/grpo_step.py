"""Seconds per GRPO step: our trainer (engine/train/grpo.py) against TRL's GRPOTrainer, same run.

One step = 1 prompt x G = 8 completions, <= 128 new tokens, LoRA r = 16 on q/k/v/o/gate/up/down,
the verifier reward, one optimizer step. Each trainer runs in its own child process (so its peak
RSS is its own), for --steps steps after the model is loaded; the ratio is TRL's median step time
over ours. Ours prints its time split (generation, verification, forward/backward, optimizer).
It also times rollouts by llama.cpp with the current adapter converted to GGUF and hot-loaded
(convert + load + generate) against our HF rollouts, to choose the rollout backend.

    .venv/bin/python bench/grpo_step.py                       # smollm2-135m and qwen2.5-coder-0.5b
    .venv/bin/python bench/grpo_step.py --models smollm2-135m --steps 3
    .venv/bin/python bench/grpo_step.py --models qwen2.5-coder-0.5b qwen2.5-coder-1.5b --no-trl \
        --updating --result grpo_step_models                  # the model table's step times

Writes bench/results/grpo_step.json (or --result NAME: bench/results/NAME.json).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, updating_reward, write_result

PROBLEM = "x*exp(x)"
GROUP, MAX_TOKENS, SEED = 8, 128, 0


def _config(model: str):
    from engine.runs.config import Config

    cfg = Config()
    cfg.model, cfg.device = model, "auto"
    cfg.grpo.group_size, cfg.grpo.seed, cfg.grpo.max_resample = GROUP, SEED, 0
    cfg.sample.max_tokens = MAX_TOKENS
    return cfg


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def worker_ours(model: str, steps: int, updating: bool = False) -> dict:
    from engine.inference.models import hf_model_dir
    from engine.train.grpo import GRPOTrainer

    cfg = _config(model)
    model_dir = hf_model_dir(model)
    trainer = GRPOTrainer(model_dir, cfg, reward_fn=updating_reward(cfg) if updating else None)
    prompt = {"id": "bench", "integrand": PROBLEM}
    rows = []
    for i in range(steps):
        s = trainer.step(lambda: prompt)
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in s.event_fields().items()}
        row["tokens"] = s.tokens
        rows.append(row)
        print(f"[ours {model}] step {i + 1}: {s.seconds:.1f} s = gen {s.gen_s:.1f} + verify {s.verify_s:.2f} "
              f"+ fwd/bwd {s.train_s:.1f} + opt {s.opt_s:.2f} ({s.tokens} tokens, reward {s.reward_mean:.3f}, "
              f"updated {s.updated})", file=sys.stderr, flush=True)
    out = {"steps": rows, "peak_rss_gb": round(_peak_rss_gb(), 2), "device": trainer.device,
           "dtype": str(trainer.dtype).removeprefix("torch."), "rollout_backend": trainer.rollout_backend}
    out["llamacpp_rollout"] = _llamacpp_rollout(trainer, model, model_dir, prompt)
    return out


def _llamacpp_rollout(trainer, model: str, model_dir: Path, prompt: dict) -> dict | None:
    """Time one llama.cpp rollout of the group with the trainer's adapter (convert, load, generate)."""
    from engine.inference.base import GenerationParams
    from engine.inference.models import resolve

    resolved = resolve(model)
    if resolved.format != "gguf":
        return None
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.lora_gguf import convert_lora
    from engine.inference.prompts import solve_chat

    backend = LlamaCppBackend(resolved.path, model_name=model)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        trainer.model.save_pretrained(Path(tmp) / "adapter")
        gguf = convert_lora(Path(tmp) / "adapter", Path(tmp) / "adapter.gguf", base_dir=model_dir)
        backend.set_adapter(gguf)
        t1 = time.perf_counter()
        params = GenerationParams(n=GROUP, temperature=1.0, max_tokens=MAX_TOKENS, seed=SEED)
        samples = backend.generate([solve_chat(prompt["integrand"])], params)[0]
        t2 = time.perf_counter()
    backend.close()
    tokens = sum(s.tokens for s in samples)
    print(f"[llamacpp {model}] convert+load {t1 - t0:.2f} s, generate {t2 - t1:.1f} s ({tokens} tokens)",
          file=sys.stderr, flush=True)
    return {"convert_load_s": round(t1 - t0, 2), "generate_s": round(t2 - t1, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / (t2 - t1), 1)}


def worker_trl(model: str, steps: int) -> dict:
    """TRL's GRPOTrainer with the same model, group, token budget, LoRA, reward and GRPO settings."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import GRPOConfig, GRPOTrainer

    from engine.inference.models import hf_model_dir
    from engine.inference.prompts import solve_chat
    from engine.train.rewards_trl import VerifierReward
    from engine.train.trl_backend import lora_config

    cfg = _config(model)
    g, s = cfg.grpo, cfg.sample
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)
            print(f"[trl {model}] step {len(times)}: {times[-1]:.1f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=GROUP, num_generations=GROUP,
            max_completion_length=MAX_TOKENS, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
            learning_rate=g.lr, lr_scheduler_type="constant", max_grad_norm=g.max_grad_norm, beta=g.kl_coef,
            epsilon=g.clip_eps, loss_type=cfg.trl.loss_type, scale_rewards="group",
            activation_checkpointing=False, seed=SEED, use_cpu=True, bf16=False, disable_dropout=True,
            remove_unused_columns=False, logging_steps=1, save_strategy="no", report_to="none",
            disable_tqdm=True, dataloader_num_workers=0,
        )
        data = Dataset.from_list([{"prompt": solve_chat(PROBLEM), "integrand": PROBLEM}] * (steps * GROUP))
        trainer = GRPOTrainer(model=str(hf_model_dir(model)), reward_funcs=VerifierReward(cfg), args=args,
                              train_dataset=data, peft_config=lora_config(cfg), callbacks=[Clock()])
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        trainer.train()
        tokens = [round(h.get("completions/mean_length", 0) * GROUP) for h in trainer.state.log_history
                  if "completions/mean_length" in h]
    return {"steps": [{"seconds": round(t, 2), "tokens": tok} for t, tok in zip(times, tokens + [None] * len(times))],
            "peak_rss_gb": round(_peak_rss_gb(), 2)}


def run_child(kind: str, model: str, steps: int, updating: bool = False) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, __file__, "--worker", kind, "--models", model, "--steps", str(steps), "--out", out.name]
        cmd += ["--updating"] if updating else []
        subprocess.run(cmd, check=True, cwd=ROOT)
        return json.loads(Path(out.name).read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-trl", action="store_true")
    ap.add_argument("--updating", action="store_true",
                    help="our trainer only: add 1e-6 x completion length to the reward so every step updates")
    ap.add_argument("--result", default="grpo_step", help="result file name under bench/results (default grpo_step)")
    ap.add_argument("--worker", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        result = worker_ours(a.models[0], a.steps, a.updating) if a.worker == "ours" else worker_trl(a.models[0], a.steps)
        Path(a.out).write_text(json.dumps(result))
        return
    t0 = time.perf_counter()
    results = {}
    for model in a.models:
        ours = run_child("ours", model, a.steps, a.updating)
        entry = {"ours": ours, "ours_median_s": statistics.median(r["seconds"] for r in ours["steps"])}
        if not a.no_trl:
            trl = run_child("trl", model, a.steps)
            entry["trl"] = trl
            entry["trl_median_s"] = statistics.median(r["seconds"] for r in trl["steps"])
            entry["speedup_vs_trl"] = round(entry["trl_median_s"] / entry["ours_median_s"], 2)
        results[model] = entry
        print(f"{model}: ours {entry['ours_median_s']:.1f} s/step (peak RSS {ours['peak_rss_gb']} GB)"
              + (f", TRL {entry['trl_median_s']:.1f} s/step (peak RSS {entry['trl']['peak_rss_gb']} GB), "
                 f"ratio {entry['speedup_vs_trl']}x" if not a.no_trl else ""), flush=True)
    path = write_result(a.result, {
        "problem": PROBLEM, "group": GROUP, "max_tokens": MAX_TOKENS, "lora_r": 16, "seed": SEED,
        "steps": a.steps, "updating_reward": a.updating, "results": results, "wall_s": round(time.perf_counter() - t0, 1),
        "note": "median step time after model load; ours stops a completion at </answer>, TRL at EOS or the budget",
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
