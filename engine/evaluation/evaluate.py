"""Evaluation on a problem set: greedy accuracy, pass@1 and pass@k, with per-problem outcomes.

Every problem gets one greedy answer (temperature 0) and K sampled answers. All chats go to the
backend in batches (`EvalConfig.batch_size` prompts per `Backend.generate` call), and all answers are
checked in one `verify_many` call over the verifier's worker pool. Indefinite problems are checked
as antiderivatives; definite ones (`lower`/`upper` set) by value.

pass@1 is the fraction of correct samples averaged over problems; pass@k uses the unbiased
estimator of Chen et al. (2021), 1 - C(n-c, k)/C(n, k), per problem, averaged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import LadderError
from engine.inference.base import Backend, Chat, GenerationParams, Sample
from engine.inference.prompts import definite_chat, solve_chat
from engine.problems import Problem
from engine.runs.config import Config, VerifyConfig
from engine.runs.events import Eval, EventSink, Phase


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(at least one of k samples is correct) from c correct out of n."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k)/C(n, k) as a product, which stays exact-ish for large n (no huge binomials).
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@dataclass
class Outcome:
    """One checked answer."""

    completion: str
    answer: str | None
    ok: bool
    reason: str
    tokens: int


def chat_for(problem: Problem) -> Chat:
    if problem.definite:
        return definite_chat(problem.integrand, problem.lower, problem.upper)
    return solve_chat(problem.integrand)


def _check(problems: list[Problem], samples: list[list[Sample]], cfg: VerifyConfig) -> list[list[Outcome]]:
    """Judge every answer, all problems in one parallel `judge_many` call."""
    from engine.verify.judge import Task, judge_many

    tasks = [Task(p.integrand, s.text, p.lower, p.upper) for p, group in zip(problems, samples) for s in group]
    judgements = iter(judge_many(tasks, cfg))
    return [[Outcome(completion=s.text, answer=(j := next(judgements)).answer, ok=j.ok, reason=j.reason,
                     tokens=s.tokens) for s in group] for group in samples]


def evaluate(
    problems: list[Problem],
    backend: Backend,
    *,
    samples: int | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int = 0,
    cfg: Config | None = None,
    sink: EventSink | None = None,
    set_name: str = "test",
    step: int | None = None,
    keep_completions: bool = True,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Greedy accuracy, pass@1 and pass@K (K = `samples`; 0 = greedy only) on `problems`.

    Returns a JSON-ready report: the summary keys `greedy_accuracy`, `pass@1`, `pass@K`, timing
    and token counts, and `problems`, one entry per problem with its greedy and sampled outcomes.
    Problems go in batches of [eval] batch_size; after each, `on_progress(done, total, greedy
    correct so far)` is called (the command's progress bar). Emits phase events and an `eval`
    event to `sink` when one is given.
    """
    if not problems:
        raise LadderError("no problems to evaluate")
    cfg = cfg or Config()
    k = cfg.eval.samples if samples is None else samples
    if k < 0:
        raise LadderError("--samples must be 0 or more")
    max_tokens = max_tokens or cfg.sample.max_tokens
    common = dict(max_tokens=max_tokens, top_p=cfg.sample.top_p, top_k=cfg.sample.top_k,
                  min_p=cfg.sample.min_p, seed=seed)
    greedy_params = GenerationParams(n=1, temperature=0.0, **common)
    temp = cfg.eval.temperature if temperature is None else temperature
    sample_params = GenerationParams(n=k, temperature=temp, **common)
    t0 = time.perf_counter()
    gen_s = 0.0
    checked: list[list[Outcome]] = []
    for start in range(0, len(problems), cfg.eval.batch_size):
        batch = problems[start:start + cfg.eval.batch_size]
        chats = [chat_for(p) for p in batch]
        t = time.perf_counter()
        greedy = backend.generate(chats, greedy_params)
        sampled = backend.generate(chats, sample_params) if k else [[] for _ in batch]
        gen_s += time.perf_counter() - t
        checked += _check(batch, [g[:1] + s for g, s in zip(greedy, sampled)], cfg.verify)
        done, right = len(checked), sum(outs[0].ok for outs in checked)
        if on_progress is not None:
            on_progress(done, len(problems), right)
        if sink is not None:
            sink.emit(Phase(phase="eval", done=done, total=len(problems), detail=f"{right} greedy correct"))
    seconds = time.perf_counter() - t0

    rows = []
    for p, outs in zip(problems, checked):
        g, ss = outs[0], outs[1:]
        c = sum(o.ok for o in ss)
        row: dict[str, Any] = {
            "id": p.id, "integrand": p.integrand, "greedy_ok": g.ok, "greedy_answer": g.answer,
            "greedy_reason": g.reason, "correct": c, "n": len(ss),
            "sample_answers": [o.answer for o in ss], "sample_ok": [o.ok for o in ss],
            "technique": p.technique, "difficulty": p.difficulty,
        }
        if p.definite:
            row.update(lower=p.lower, upper=p.upper)
        if keep_completions:
            row["greedy_completion"] = g.completion
        rows.append(row)

    n = len(problems)
    tokens = sum(o.tokens for outs in checked for o in outs)
    report: dict[str, Any] = {
        "set": set_name, "model": getattr(backend, "model_name", None),
        "backend": getattr(backend, "name", None), "step": step, "n_problems": n, "k": k,
        "greedy_accuracy": sum(r["greedy_ok"] for r in rows) / n,
        "pass@1": sum(r["correct"] / k for r in rows) / n if k else None,
        f"pass@{k}": sum(pass_at_k(k, r["correct"], k) for r in rows) / n if k else None,
        "answered": sum(r["greedy_answer"] is not None for r in rows) / n,
        "tokens": tokens, "seconds": round(seconds, 2), "generation_seconds": round(gen_s, 2),
        "verify_seconds": round(seconds - gen_s, 2),
        "tokens_per_s": round(tokens / gen_s, 1) if gen_s > 0 else None,
        "problems_per_minute": round(60 * n / seconds, 2) if seconds > 0 else None,
        "params": {"temperature": cfg.eval.temperature if temperature is None else temperature,
                   "max_tokens": max_tokens, "seed": seed, "batch_size": cfg.eval.batch_size},
        "problems": rows,
    }
    report.update(_with_intervals(rows, k))
    if sink is not None:
        sink.emit(Eval(set=set_name, step=step, greedy_accuracy=report["greedy_accuracy"],
                       pass_at_1=report["pass@1"], pass_at_k=report.get(f"pass@{k}"), k=k))
    return report


def _with_intervals(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Wilson 95 % intervals of greedy accuracy, overall and per difficulty and technique (with
    mean@k of the samples per group), so every accuracy in a report carries its uncertainty."""
    from engine.evaluation.stats import breakdown, wilson_interval

    def groups(key: str) -> dict[str, Any]:
        table = breakdown(rows, key, "greedy_ok")
        out = {}
        for g, s in table.items():
            members = [r for r in rows if r[key] == g]
            mean_k = sum(r["correct"] / k for r in members) / len(members) if k else None
            out[str(g)] = {**s.to_dict(), f"mean@{k}": mean_k} if k else s.to_dict()
        return out

    right = sum(r["greedy_ok"] for r in rows)
    low, high = wilson_interval(right, len(rows))
    return {"greedy_correct": right, "greedy_interval": [low, high],
            "by_difficulty": groups("difficulty"), "by_technique": groups("technique")}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the per-problem rows."""
    return {key: v for key, v in report.items() if key != "problems"}
