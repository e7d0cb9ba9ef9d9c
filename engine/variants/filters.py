"""Which proposals join a tree: canonical forms, duplicates up to a constant factor, and
evaluation problems kept out (also when rewritten, e.g. 2*sin(x)*cos(x) for sin(2*x))."""

from __future__ import annotations

import cmath
from collections.abc import Iterable

import numpy as np
import sympy as sp

from engine.runs.config import VariantConfig
from engine.variants import symbolic
from engine.verify.parse import ParseError, parse_integrand


class Registry:
    """The keys already in the tree, the evaluation problems to keep out, and the checks."""

    def __init__(self, cfg: VariantConfig, exclude: Iterable[str] = ()):
        self.cfg = cfg
        self.seen: set[sp.Expr] = set()
        self.exclude_keys: set[sp.Expr] = set()
        self.exclude_values: list[list[complex]] = []
        for text in exclude:
            try:
                expr = symbolic.canonical(parse_integrand(text), cfg.max_exponent)
            except (ParseError, symbolic.TooBig):
                continue  # an evaluation problem we cannot read cannot be matched either
            self.exclude_keys.add(symbolic.key(expr))
            if (values := _values(expr)) is not None:
                self.exclude_values.append(values)

    def screen(self, expr: sp.Expr | None) -> tuple[str, sp.Expr | None]:
        """(outcome, canonical expression) for a parsed proposal (None: it did not parse).
        An "accepted" expression is new; it is not yet added (see `add`)."""
        if expr is None:
            return "unparsable", None
        try:
            expr = symbolic.canonical(expr, self.cfg.max_exponent)
        except symbolic.TooBig:
            return "too_big", None
        x = symbolic.the_x(expr)
        if x is None:
            return "no_x", None
        if not symbolic.valid_variant(expr, x, self.cfg.max_nodes):
            return "too_big", None
        k = symbolic.key(expr)
        if k in self.seen:
            return "duplicate", expr
        if k in self.exclude_keys or self._equals_excluded(expr):
            return "excluded", expr
        return "accepted", expr

    def add(self, expr: sp.Expr) -> bool:
        """Record `expr` as in the tree; False if its key is already there."""
        k = symbolic.key(expr)
        if k in self.seen:
            return False
        self.seen.add(k)
        return True

    def _equals_excluded(self, expr: sp.Expr) -> bool:
        """Numerically equal to an evaluation problem up to a constant factor (rewritten forms
        such as 2*sin(x)*cos(x) for sin(2*x) would leak the problem otherwise)."""
        if not self.exclude_values or (values := _values(expr)) is None:
            return False
        return any(_proportional(values, ex) for ex in self.exclude_values)


# Points where variants are compared numerically; irrational so that no simple pole lands on one.
_POINTS = (0.3183098861837907, 1.4142135623730951, 2.718281828459045, -0.6931471805599453)


def _values(expr: sp.Expr) -> list[complex] | None:
    x = symbolic.the_x(expr)
    if x is None:
        return None
    try:
        f = sp.lambdify(x, expr, modules="numpy")
        with np.errstate(all="ignore"):  # overflow and poles give inf/nan, rejected below
            return [complex(f(np.complex128(p))) for p in _POINTS]
    except (ArithmeticError, ValueError, TypeError, NameError, KeyError):
        return None


def _proportional(a: list[complex], b: list[complex]) -> bool:
    ratios = []
    for u, v in zip(a, b):
        if not (cmath.isfinite(u) and cmath.isfinite(v)):
            return False
        if abs(v) < 1e-12:
            if abs(u) > 1e-12:
                return False
            continue
        ratios.append(u / v)
    return bool(ratios) and all(abs(r - ratios[0]) <= 1e-9 * max(1.0, abs(ratios[0])) for r in ratios)


def integrand_text(expr: sp.Expr) -> str:
    """sympy's string of a canonical expression, in the syntax engine.verify.parse reads."""
    return sp.sstr(expr)


def round_trips(expr: sp.Expr, max_exponent: int) -> bool:
    """True if the node's string parses back (through engine.verify.parse) to the same key, so every
    consumer of tree.jsonl reads the variant that was generated."""
    try:
        back = symbolic.canonical(parse_integrand(integrand_text(expr)), max_exponent)
    except (ParseError, symbolic.TooBig):
        return False
    return symbolic.key(back) == symbolic.key(expr)
