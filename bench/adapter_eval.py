"""Evaluating a trained adapter fast and right: llama.cpp (batched, adapter as GGUF) against the
exact transformers model with the peft adapter, greedy, on the same problems.

    .venv/bin/python bench/adapter_eval.py --adapter runs/signal-run/run [--limit N]

For each way of running the adapter: seconds for the whole set, greedy accuracy, and agreement
with the exact HF evaluation (the share of problems with the same verdict, and with the same answer
text). The llama.cpp runs use the model's own Q4 file and higher-precision copies of it (q8_0, f16:
engine/inference/batched.py `rollout_file`), each with the adapter converted to GGUF. The anchor
is the HF evaluation, measured in the same run. Writes bench/results/adapter_eval.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import ROOT, write_result

from engine.evaluation.evaluate import evaluate
from engine.problems import load_problems
from engine.runs.config import Config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", required=True, metavar="RUN_DIR")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--problems", default=str(ROOT / "engine" / "data" / "undergrad_test.jsonl"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--files", default="model,q8_0,f16", help="llama.cpp files to try")
    a = ap.parse_args()

    from engine.inference.batched import rollout_file
    from engine.inference.hf import HFBackend
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.models import hf_model_dir, resolve

    problems = load_problems(a.problems)[: a.limit]
    cfg = Config(model=a.model)
    rows = {}

    def run(name: str, backend) -> None:
        t = time.perf_counter()
        report = evaluate(problems, backend, samples=0, cfg=cfg, keep_completions=False)
        seconds = time.perf_counter() - t
        rows[name] = {"seconds": round(seconds, 1), "greedy_correct": sum(r["greedy_ok"] for r in report["problems"]),
                      "n": len(report["problems"]),
                      "verdicts": {r["id"]: r["greedy_ok"] for r in report["problems"]},
                      "answers": {r["id"]: r["greedy_answer"] for r in report["problems"]}}
        print(f"{name}: {rows[name]['greedy_correct']}/{rows[name]['n']} in {seconds:.0f} s", flush=True)

    hf = HFBackend(hf_model_dir(a.model), model_name=a.model, adapter=a.adapter)
    run("hf", hf)
    del hf
    source = resolve(a.model).path
    for kind in a.files.split(","):
        backend = LlamaCppBackend(rollout_file(source, kind), model_name=a.model, adapter=a.adapter)
        run(f"llamacpp_{kind}", backend)
        backend.close()

    ref = rows["hf"]
    for name, row in rows.items():
        ids = ref["verdicts"].keys()
        row["verdict_agreement"] = round(sum(row["verdicts"][i] == ref["verdicts"][i] for i in ids) / len(ids), 4)
        row["answer_agreement"] = round(sum(row["answers"][i] == ref["answers"][i] for i in ids) / len(ids), 4)
        row["speedup_vs_hf"] = round(ref["seconds"] / row["seconds"], 2)
    for name, row in rows.items():
        print(f"{name:16s} {row['greedy_correct']:3d}/{row['n']}  {row['seconds']:7.0f} s  x{row['speedup_vs_hf']:.2f}  "
              f"same verdict {row['verdict_agreement']:.1%}  same answer {row['answer_agreement']:.1%}")
    write_result("adapter_eval", {"model": a.model, "adapter": str(Path(a.adapter)), "problems": a.problems,
                                  "n": len(problems), "runs": rows})


if __name__ == "__main__":
    main()
