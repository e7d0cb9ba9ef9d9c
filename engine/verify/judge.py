"""A completion in, a verdict out: the one place that turns model text into correct or not.

    judge(integrand, completion)  =  extract the tagged answer (answer.py)
                                  -> parse it through the allow-list (parse.py)
                                  -> verify it numerically in the worker pool (verifier.py)

Rewards, `ladder solve`, `ladder eval` and TTRL all call `judge_many`, so the same completion gets
the same verdict everywhere, under the same VerifyConfig (timeouts, tolerances, the \\boxed{}
fallback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.runs.config import VerifyConfig
from engine.verify.answer import extract
from engine.verify.parse import ParseError, parse_tree
from engine.verify.verifier import verify_many

NO_ANSWER = "no answer between <answer> tags"


@dataclass(frozen=True)
class Judgement:
    """What a completion was worth."""

    answer: str | None  # the extracted answer text, if any
    parsed: bool  # the answer passed the allow-list parser (earns the format reward)
    ok: bool  # the verifier accepted it
    reason: str  # the verifier's reason, or why nothing was verified


@dataclass(frozen=True)
class Task:
    """One completion to judge; `lower`/`upper` make it a definite integral."""

    integrand: str
    completion: str
    lower: str | None = None
    upper: str | None = None


def judge_many(tasks: Sequence[Task], cfg: VerifyConfig | None = None) -> list[Judgement]:
    """Judgements in order; every parseable answer is verified, all of them in parallel."""
    cfg = cfg or VerifyConfig()
    results: list[Judgement | None] = [None] * len(tasks)
    todo: list[tuple[int, str]] = []  # (position, answer)
    for i, task in enumerate(tasks):
        answer = extract(task.completion, boxed=cfg.boxed_fallback)
        if answer is None:
            results[i] = Judgement(None, False, False, NO_ANSWER)
            continue
        try:
            parse_tree(answer)
        except ParseError as e:
            results[i] = Judgement(answer, False, False, f"unparseable answer: {e}")
            continue
        todo.append((i, answer))
    items = [(tasks[i].integrand, a, tasks[i].lower, tasks[i].upper) for i, a in todo]
    for (i, answer), verdict in zip(todo, verify_many(items, cfg=cfg) if items else []):
        results[i] = Judgement(answer, True, verdict.ok, verdict.reason)
    return results  # type: ignore[return-value]  # every slot is filled above


def judge(integrand: str, completion: str, *, lower: str | None = None, upper: str | None = None,
          cfg: VerifyConfig | None = None) -> Judgement:
    """The judgement of one completion (see the module docstring)."""
    return judge_many([Task(integrand, completion, lower, upper)], cfg)[0]
