"""Numerical verifier: is a candidate an antiderivative of the integrand (or the value of a definite integral)?

It is the only reward signal of the system, so it must be strict, fair to every correct form, and
fast. Both texts go through `engine.verify.parse.parse_tree` (allow-list, nothing executed); the trees
are evaluated here with forward-mode automatic differentiation, in numpy complex128 for a fast
first pass and in mpmath for anything that pass does not settle. No sympy in the hot path.


The decision rules are in indefinite.py and definite.py; `verify` runs them in the worker pool
(pool.py) under a hard time limit.
"""

from __future__ import annotations

import time
from typing import Any

from engine.runs.config import VerifyConfig
from engine.verify.definite import check_definite
from engine.verify.indefinite import check_indefinite
from engine.verify.parse import ParseError, parse_answer, parse_tree
from engine.verify.pool import Failure, pool
from engine.verify.verdict import Verdict


def check(integrand: str, candidate: str | None, lower: Any = None, upper: Any = None,
          cfg: VerifyConfig | None = None) -> Verdict:
    """Verify in the calling process WITHOUT a time limit (workers and tests); use `verify` instead."""
    cfg = cfg or VerifyConfig()
    start = time.perf_counter()
    try:
        try:
            f_tree = parse_tree(integrand)
        except ParseError as e:
            return Verdict(False, f"cannot parse the integrand: {e}", bad_integrand=True)
        if candidate is None or not str(candidate).strip():
            return Verdict(False, "no answer")
        try:
            F_tree, constant = parse_answer(candidate)
        except ParseError as e:
            return Verdict(False, f"cannot parse the answer: {e}")
        if (lower is None) != (upper is None):
            return Verdict(False, "give both bounds or neither", bad_integrand=True)
        if lower is not None:
            verdict = check_definite(f_tree, F_tree, lower, upper, cfg)
        else:
            verdict = check_indefinite(f_tree, F_tree, integrand, cfg)
        if constant:
            verdict.reason += f" (the constant of integration {constant} was dropped)"
    except (RecursionError, MemoryError, ArithmeticError, ValueError) as e:
        verdict = Verdict(False, f"numeric evaluation failed ({type(e).__name__})")
    verdict.seconds = time.perf_counter() - start
    return verdict


def warm_up() -> None:
    """Run once in each worker before its first timed check: loads the lazy imports."""
    check("cos(x)", "sin(x)")
    check("x", "1/2", 0, 1)


def verify(integrand: str, candidate: str | None, *, lower: Any = None, upper: Any = None,
           timeout: float | None = None, cfg: VerifyConfig | None = None) -> Verdict:
    """Check `candidate` against `integrand` (see the module docstring) within a hard time limit.

    Never raises for bad input: unparsable text, timeouts and crashes are verdicts with ok=False.
    `bad_integrand` is set when the integrand (or a bound) is the problem.
    """
    return verify_many([(integrand, candidate, lower, upper)], timeout=timeout, cfg=cfg)[0]


def verify_many(items: list[tuple], *, timeout: float | None = None, cfg: VerifyConfig | None = None) -> list[Verdict]:
    """Verdicts for (integrand, candidate) or (integrand, candidate, lower, upper) tuples, in order,
    spread over all worker processes; each item has its own hard time limit."""
    cfg = cfg or VerifyConfig()
    timeout = cfg.timeout_s if timeout is None else timeout
    tasks = []
    for item in items:
        integrand, candidate, *bounds = item
        lower, upper = (bounds + [None, None])[:2]
        tasks.append((integrand, candidate, lower, upper, cfg))
    if not tasks:
        return []
    results = pool(cfg.workers).run(check, tasks, timeout)
    return [Verdict(False, r.reason, seconds=timeout if r.reason.startswith("timeout") else 0.0)
            if isinstance(r, Failure) else r for r in results]

