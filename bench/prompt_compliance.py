"""Solve-prompt variants on 30 trivial integrals: answers in tags (format) and verified (correct).

Greedy decoding on llama.cpp, so each variant is one deterministic pass per model.

    .venv/bin/python bench/prompt_compliance.py [--models smollm2-135m qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import time

from common import machine_info, write_result

from engine.inference import prompts
from engine.verify.answer import extract
from engine.inference.base import GenerationParams
from engine.inference.models import load_backend
from engine.verify.verifier import verify_many

TRIVIAL = [
    "x", "x**2", "x**3", "3*x**2", "1", "2*x + 1", "cos(x)", "sin(x)", "exp(x)", "1/x",
    "sec(x)**2", "sinh(x)", "cosh(x)", "exp(2*x)", "sin(3*x)", "cos(2*x)", "1/(1 + x**2)",
    "x**4", "sqrt(x)", "1/x**2", "5", "x + 1", "4*x**3", "exp(-x)", "2*cos(x)", "x**5",
    "1/(x + 1)", "3*exp(x)", "sin(x) + cos(x)", "6*x",
]
# Few-shot sets written in x only (examples in u leak into answers; see DESIGN.md), none in TRIVIAL.
VARIANTS: dict[str, list[tuple[str, str]] | None] = {
    "zero-shot": [],
    "current (x*cos(x), 1/(x**2+4))": prompts.SOLVE_EXAMPLES,
    "easy few-shot (x**6, sin(2*x), 1/(x+2))": [
        ("x**6", "x**7/7"), ("sin(2*x)", "-cos(2*x)/2"), ("1/(x + 2)", "log(x + 2)"),
    ],
}


def chat(integrand: str, examples: list[tuple[str, str]]) -> list[dict[str, str]]:
    c = [{"role": "system", "content": prompts.SOLVE_SYSTEM}]
    for q, a in examples:
        c += [{"role": "user", "content": prompts.solve_user(q)}, {"role": "assistant", "content": f"<answer>{a}</answer>"}]
    return c + [{"role": "user", "content": prompts.solve_user(integrand)}]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    args = p.parse_args()
    started = time.time()
    rows = []
    for model in args.models:
        backend = load_backend(model)
        for name, examples in VARIANTS.items():
            outs = backend.generate([chat(f, examples) for f in TRIVIAL], GenerationParams(n=1, temperature=0, max_tokens=48))
            answers = [extract(o[0].text) for o in outs]
            verdicts = verify_many([(f, a) for f, a in zip(TRIVIAL, answers) if a is not None])
            correct = sum(v.ok for v in verdicts)
            it = iter(verdicts)
            solved = [f for f, a in zip(TRIVIAL, answers) if a is not None and next(it).ok]
            rows.append({"model": model, "variant": name, "in_tags": len(verdicts), "correct": correct,
                         "n": len(TRIVIAL), "solved": solved, "answers": answers})
            print(f"{model:20s} {name:42s} tags {len(verdicts)}/30 correct {correct}/30 {solved}", flush=True)
        backend.close()
    write_result("prompt_compliance", {"machine": machine_info(), "decoding": "greedy, llama.cpp, 48 tokens",
                                       "rows": rows, "wall_s": round(time.time() - started, 1)})


if __name__ == "__main__":
    main()
