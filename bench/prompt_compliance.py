"""Solve-prompt studies, greedy decoding on llama.cpp (one deterministic pass per model and prompt).

trivial  (default) 30 trivial integrals: answers in tags (format) and verified (correct) for
         zero-shot and two few-shot sets; writes bench/results/prompt_compliance.json
format   answer only (the engine's solve prompt, 128 tokens) against a short written derivation
         before the tagged answer (same worked examples with one line of reasoning each, 256
         tokens) on every third indefinite problem of the undergraduate test set: accuracy with a
         Wilson interval, an exact McNemar test, seconds per problem; sets the "answer_format" key
         of prompt_compliance.json

    .venv/bin/python bench/prompt_compliance.py [--models smollm2-135m qwen2.5-coder-0.5b]
    .venv/bin/python bench/prompt_compliance.py --study format --models qwen2.5-coder-0.5b qwen2.5-coder-1.5b
"""

from __future__ import annotations

import argparse
import time

from common import ROOT, machine_info, update_summary, write_result

from engine.evaluation.stats import mcnemar, wilson_interval
from engine.inference import prompts
from engine.inference.base import GenerationParams
from engine.inference.models import load_backend
from engine.problems import load_problems
from engine.verify.answer import extract
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


# The same worked examples as the engine's solve prompt, each with the line of reasoning a person
# would write first.
DERIVATION_SYSTEM = (
    "You are an expert at calculus. Find an antiderivative of the given function of x. "
    "First write a short derivation (a few lines at most), then the final answer as a plain expression "
    "in x using Python syntax (** for powers, * for products, exp, log, sin, cos, tan, atan, asin, sqrt), "
    "between <answer> and </answer>. Do not add a constant of integration. Do not use LaTeX."
)
DERIVATION_EXAMPLES = [
    ("x**6", "Power rule: raise the exponent by one and divide by the new exponent.", "x**7/7"),
    ("sin(2*x)", "The antiderivative of sin is -cos; divide by the inner derivative 2.", "-cos(2*x)/2"),
    ("1/(x + 2)", "1/(x + a) integrates to log(x + a).", "log(x + 2)"),
]
FORMAT_TOKENS = {"answer only": 128, "short derivation": 256}


def derivation_chat(integrand: str) -> list[dict[str, str]]:
    c = [{"role": "system", "content": DERIVATION_SYSTEM}]
    for q, why, a in DERIVATION_EXAMPLES:
        c += [{"role": "user", "content": prompts.solve_user(q)},
              {"role": "assistant", "content": f"{why}\n<answer>{a}</answer>"}]
    return c + [{"role": "user", "content": prompts.solve_user(integrand)}]


def format_study(models: list[str], every: int) -> dict:
    """Answer only vs short derivation, per model, on the same problems."""
    problems = [p for p in load_problems(ROOT / "engine" / "data" / "undergrad_test.jsonl")[::every] if p.lower is None]
    out: dict = {"problems": len(problems), "subset": f"every {every}th indefinite problem of undergrad_test",
                 "decoding": "greedy, llama.cpp, batched", "models": {}}
    for model in models:
        backend = load_backend(model)
        arms = {}
        for name, max_tokens in FORMAT_TOKENS.items():
            build = derivation_chat if name == "short derivation" else prompts.solve_chat
            t0 = time.perf_counter()
            outs = backend.generate([build(p.integrand) for p in problems],
                                    GenerationParams(n=1, temperature=0, max_tokens=max_tokens))
            gen_s = time.perf_counter() - t0
            answers = [extract(o[0].text) for o in outs]
            verdicts = iter(verify_many([(p.integrand, a) for p, a in zip(problems, answers) if a is not None]))
            ok = [a is not None and next(verdicts).ok for a in answers]
            lo, hi = wilson_interval(sum(ok), len(ok))
            arms[name] = {"correct": sum(ok), "n": len(ok), "accuracy": round(sum(ok) / len(ok), 4),
                          "wilson_95": [round(lo, 4), round(hi, 4)], "in_tags": sum(a is not None for a in answers),
                          "s_per_problem": round(gen_s / len(problems), 2),
                          "mean_tokens": round(sum(o[0].tokens for o in outs) / len(outs), 1),
                          "max_tokens": max_tokens, "ok": ok, "answers": answers,
                          "first_texts": [o[0].text for o in outs[:3]]}
            print(f"{model:20s} {name:17s} {sum(ok)}/{len(ok)} in {gen_s:.0f} s "
                  f"({arms[name]['mean_tokens']} tokens per answer)", flush=True)
        getattr(backend, "close", lambda: None)()  # the HF backend holds nothing to close
        test = mcnemar(arms["answer only"]["ok"], arms["short derivation"]["ok"])  # b01: only the derivation right
        ratio = arms["short derivation"]["s_per_problem"] / max(arms["answer only"]["s_per_problem"], 1e-9)
        out["models"][model] = {**arms, "paired": {"derivation_right_answer_only_wrong": test.b01,
                                                   "answer_only_right_derivation_wrong": test.b10,
                                                   "mcnemar_p": round(test.p_value, 6)},
                                "derivation_time_ratio": round(ratio, 2),
                                "winner": "short derivation" if test.b01 > test.b10 and test.p_value < 0.05
                                          else "answer only"}
    out["winner_rule"] = ("short derivation only if it wins the paired test at p < 0.05; otherwise answer only "
                          "(it is also the faster)")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--study", choices=["trivial", "format"], default="trivial")
    p.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    p.add_argument("--every", type=int, default=3, help="format study: every N-th problem of the test set")
    args = p.parse_args()
    started = time.time()
    if args.study == "format":
        study = format_study(args.models, args.every)
        study["wall_s"] = round(time.time() - started, 1)
        study["machine"] = machine_info()
        print(f"wrote {update_summary({'answer_format': study}, name='prompt_compliance')}")
        return
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
        getattr(backend, "close", lambda: None)()  # the HF backend holds nothing to close
    write_result("prompt_compliance", {"machine": machine_info(), "decoding": "greedy, llama.cpp, 48 tokens",
                                       "rows": rows, "wall_s": round(time.time() - started, 1)})


if __name__ == "__main__":
    main()
