"""Numerical verifier: is a candidate an antiderivative of the integrand (or the value of a definite integral)?

It is the only reward signal of the system, so it must be strict, fair to every correct form, and
fast. Both texts go through `engine.expr.parse_tree` (allow-list, nothing executed); the trees
are evaluated here with forward-mode automatic differentiation, in numpy complex128 for a fast
first pass and in mpmath for anything that pass does not settle. No sympy in the hot path.

Decision rule, indefinite (`lower`/`upper` not given). F is the candidate, f the integrand.
1. Refuse unparsable text. A candidate without x is accepted only if f is identically zero
   (|f| < 1e-40 at 60 digits at the sample points), otherwise refused as a constant.
2. Points: rounds of `round_points` (40) seeded-random reals (seed: the integrand text). Round 0:
   [-domain, domain] and [-1.5, 1.5]; up to `retries` (3) more rounds, alternating between the
   hull of the points that agreed so far (narrow real domains such as sqrt(-3 - 4x - x^2)) and
   wider scales ([-100, 100] with [-0.2, 0.2], then ±10^U(-3, 3)). A point is *usable* where f is
   real and finite and F, F' are finite (principal branches, complex arithmetic, F' by forward-mode
   automatic differentiation).
3. At each usable point compare F'(x) with f(x). Float pass: agree if
   |F' - f| <= float_rtol (1e-9) * max(|F'|, |f|). Up to `max_confirm` (8) other points per round,
   largest error first, are recomputed with mp_dps (30) digits: agree if the relative error is
   <= mp_rtol (1e-20); otherwise again with 60 digits: agree if the error is within mp_rtol there,
   or has shrunk below mp_rtol times the 30-digit values (catastrophic cancellation: the error
   was rounding). A difference that survives both is a *mismatch* and rejects the candidate,
   unless F' itself is not real there (the point lies outside the candidate's real domain: it is
   skipped). Principal-branch forms whose imaginary part is constant (`log(x)` for 1/x at x < 0,
   `log((1+x)/(1-x))/2` at |x| > 1, `atanh`, `-log(cos(x))`, complex Rubi forms) have a real
   derivative equal to f and simply agree; `acosh(x)` for 1/sqrt(x^2 - 1) has a real derivative
   of the wrong sign for x < -1 and is rejected, as the rule "an antiderivative on every interval
   where f is real and finite" demands (`log(x + sqrt(x^2 - 1))` is right everywhere).
4. Accept only with at least `min_points` (8) agreeing points and no mismatch.
5. Jumps: sign/floor/ceiling may change value between agreeing points only where f is not finite
   or not real; elsewhere a jump of F there rejects (`x + sign(x)` for 1).
6. Cross-check (the paper's test): on up to `points` (5) intervals [a, a ± 0.1] starting at
   agreeing points, F(b) - F(a) must equal the Gauss-Legendre quadrature of f (12 nodes, checked
   against the two halves; a fast oscillation shrinks the interval by 4, up to 8 times) within
   interval_rtol (1e-7) of the quadrature's size; failing that, mpmath quad at 30 then 60 digits
   within 1e-12. An interval that still fails is bisected: a difference that concentrates at one
   point is a jump of F — allowed from a pole or branch cut (atan(tan(x))-style piecewise
   constants: the interval is skipped), refused from sign/floor/ceiling — and a difference that
   does not concentrate rejects the candidate.
So x1.001 (relative error 1e-3), `+ x/1000`, `+ sin(1000x)/1000` (derivative error O(1)), sign
errors and wrong constants are rejected by orders of magnitude; the paper's 1e-2 accepted x1.009.

Definite (`lower`, `upper` given; "oo"/"-oo" allowed): the candidate must be a real constant;
accept iff |candidate - I| <= definite_rtol (1e-8) * max(1, |I|), where I is mpmath's tanh-sinh
quadrature at 25 digits (handles infinite and endpoint-singular integrals; on a poor error
estimate the interval is split and the better estimate kept) with an error estimate below
1e-10 * max(1, |I|); otherwise the verdict says the quadrature did not converge.

Every call runs in a persistent pool of worker processes (fresh interpreters started with exec,
never forked from a possibly threaded parent) with a hard wall-clock limit (`timeout_s`, default 2 s): a worker that runs over
is killed and respawned, and the verdict says "timeout". Workers cache parsed and compiled
integrands, so the members of a GRPO group share that work.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import subprocess
import sys
import threading
import time
import zlib
from collections import deque
from dataclasses import asdict, dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable

import mpmath as mp
import numpy as np

from engine.config import VerifyConfig
from engine.errors import LadderError
from engine.expr import Node, ParseError, depends_on_x, parse_tree

GL_NODES, GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
MP_EXP_LIMIT = 1e6  # mpmath would happily build exp(1e100); beyond this a point is treated as overflow
BRANCH_FUNCTIONS = {"sign", "floor", "ceiling"}  # jumps these make are errors, not branch choices


@dataclass
class Verdict:
    """The outcome of one check, with the figures the UI shows."""

    ok: bool
    reason: str
    points: int = 0  # points where F' was compared with f and agreed
    max_error: float | None = None  # largest relative error |F' - f| / max(|F'|, |f|) at those points
    intervals: int = 0  # interval checks (the paper's test) that passed
    seconds: float = 0.0
    bad_integrand: bool = False  # the integrand (not the candidate) could not be used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Reject(Exception):
    """Internal: stop checking, the candidate is rejected for this reason."""


# ---------------------------------------------------------------------------------------------
# Compilation of a tree into a closure computing (value, derivative) at x
# ---------------------------------------------------------------------------------------------

class _Numpy:
    """complex128 arrays; every point of a round at once."""

    sin, cos, tan, exp = np.sin, np.cos, np.tan, np.exp
    sinh, cosh, tanh = np.sinh, np.cosh, np.tanh

    # Functions with branch cuts get `u + 0j`, which turns a signed zero -0j into +0j: numpy picks
    # the side of a cut by the sign of a zero imaginary part (log(-1-0j) = -i*pi), mpmath has no
    # signed zeros, and a negation or division must not silently switch branches.
    log, sqrt, asin, acos, atan, asinh, acosh, atanh = (
        staticmethod(lambda u, f=f: f(u + 0j))
        for f in (np.log, np.sqrt, np.arcsin, np.arccos, np.arctan, np.arcsinh, np.arccosh, np.arctanh)
    )

    # numpy scalars, not Python complex: 1/0 must give inf (under errstate), not raise
    @staticmethod
    def num(text: str) -> Any:
        return np.complex128(float(text))

    const = {"pi": np.complex128(math.pi), "E": np.complex128(math.e), "I": np.complex128(1j)}

    @staticmethod
    def abs(u: Any) -> Any:
        return np.abs(u).astype(complex)

    @staticmethod
    def re(u: Any) -> Any:
        return np.real(u)

    @staticmethod
    def conj(u: Any) -> Any:
        return np.conj(u)

    @staticmethod
    def sign(u: Any) -> Any:
        a = np.abs(u)
        general = np.where(a == 0, 0, u / np.where(a == 0, 1, a))
        return np.where(np.imag(u) == 0, np.sign(np.real(u)), general).astype(complex)

    @staticmethod
    def floor(u: Any) -> Any:
        return np.where(np.imag(u) == 0, np.floor(np.real(u)), np.nan).astype(complex)

    @staticmethod
    def ceiling(u: Any) -> Any:
        return np.where(np.imag(u) == 0, np.ceil(np.real(u)), np.nan).astype(complex)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return np.power(a + 0j, b)


class _Mpmath:
    """mpmath scalars at the working precision; raises ArithmeticError/ValueError at bad points."""

    sin, cos, tan, log, sqrt = (staticmethod(f) for f in (mp.sin, mp.cos, mp.tan, mp.log, mp.sqrt))
    tanh = staticmethod(mp.tanh)
    asin, acos, atan = (staticmethod(f) for f in (mp.asin, mp.acos, mp.atan))
    asinh, acosh, atanh = (staticmethod(f) for f in (mp.asinh, mp.acosh, mp.atanh))

    @staticmethod
    def num(text: str) -> Any:
        return mp.mpf(text)

    @property
    def const(self) -> dict[str, Any]:
        return {"pi": +mp.pi, "E": +mp.e, "I": mp.mpc(0, 1)}

    @staticmethod
    def _guard(u: Any) -> None:
        if abs(mp.re(u)) > MP_EXP_LIMIT:
            raise OverflowError("exponent too large")

    def exp(self, u: Any) -> Any:
        if mp.re(u) < -MP_EXP_LIMIT:  # underflows to 0 in any precision that matters here
            return mp.mpf(0)
        self._guard(u)
        return mp.exp(u)

    def sinh(self, u: Any) -> Any:
        self._guard(u)
        return mp.sinh(u)

    def cosh(self, u: Any) -> Any:
        self._guard(u)
        return mp.cosh(u)

    @staticmethod
    def abs(u: Any) -> Any:
        return abs(u)

    re = staticmethod(mp.re)
    conj = staticmethod(mp.conj)

    @staticmethod
    def sign(u: Any) -> Any:
        return mp.sign(u)

    @staticmethod
    def floor(u: Any) -> Any:
        if mp.im(u) != 0:
            raise ValueError("floor of a complex number")
        return mp.floor(mp.re(u))

    @staticmethod
    def ceiling(u: Any) -> Any:
        if mp.im(u) != 0:
            raise ValueError("ceiling of a complex number")
        return mp.ceil(mp.re(u))

    def pow(self, a: Any, b: Any) -> Any:
        if a == 0:
            return a ** b
        if mp.re(b * mp.log(a)) < -MP_EXP_LIMIT:
            return mp.mpf(0)
        self._guard(b * mp.log(a))
        return a ** b


_NP, _MP = _Numpy(), _Mpmath()

# name -> (value(B, u), derivative factor dv/du (B, u, v)). Inverse functions take the derivative
# from the value (1/cos(asin u), ...) so it follows whatever side of a branch cut the value took.
_FUNCS: dict[str, tuple[Callable, Callable]] = {
    "sin": (lambda B, u: B.sin(u), lambda B, u, v: B.cos(u)),
    "cos": (lambda B, u: B.cos(u), lambda B, u, v: -B.sin(u)),
    "tan": (lambda B, u: B.tan(u), lambda B, u, v: 1 / B.cos(u) ** 2),
    "cot": (lambda B, u: B.cos(u) / B.sin(u), lambda B, u, v: -1 / B.sin(u) ** 2),
    "sec": (lambda B, u: 1 / B.cos(u), lambda B, u, v: v * B.tan(u)),
    "csc": (lambda B, u: 1 / B.sin(u), lambda B, u, v: -v * B.cos(u) / B.sin(u)),
    "asin": (lambda B, u: B.asin(u), lambda B, u, v: 1 / B.cos(v)),
    "acos": (lambda B, u: B.acos(u), lambda B, u, v: -1 / B.sin(v)),
    "atan": (lambda B, u: B.atan(u), lambda B, u, v: 1 / (1 + u * u)),
    "acot": (lambda B, u: B.atan(1 / u), lambda B, u, v: -1 / (1 + u * u)),
    "asec": (lambda B, u: B.acos(1 / u), lambda B, u, v: 1 / (u * u * B.sin(v))),
    "acsc": (lambda B, u: B.asin(1 / u), lambda B, u, v: -1 / (u * u * B.cos(v))),
    "sinh": (lambda B, u: B.sinh(u), lambda B, u, v: B.cosh(u)),
    "cosh": (lambda B, u: B.cosh(u), lambda B, u, v: B.sinh(u)),
    "tanh": (lambda B, u: B.tanh(u), lambda B, u, v: 1 / B.cosh(u) ** 2),
    "coth": (lambda B, u: 1 / B.tanh(u), lambda B, u, v: -1 / B.sinh(u) ** 2),
    "sech": (lambda B, u: 1 / B.cosh(u), lambda B, u, v: -v * B.tanh(u)),
    "csch": (lambda B, u: 1 / B.sinh(u), lambda B, u, v: -v / B.tanh(u)),
    "asinh": (lambda B, u: B.asinh(u), lambda B, u, v: 1 / B.cosh(v)),
    "acosh": (lambda B, u: B.acosh(u), lambda B, u, v: 1 / B.sinh(v)),
    "atanh": (lambda B, u: B.atanh(u), lambda B, u, v: 1 / (1 - u * u)),
    "acoth": (lambda B, u: B.atanh(1 / u), lambda B, u, v: 1 / (1 - u * u)),
    "asech": (lambda B, u: B.acosh(1 / u), lambda B, u, v: -1 / (u * u * B.sinh(v))),
    "acsch": (lambda B, u: B.asinh(1 / u), lambda B, u, v: -1 / (u * u * B.cosh(v))),
    "exp": (lambda B, u: B.exp(u), lambda B, u, v: v),
    "log": (lambda B, u: B.log(u), lambda B, u, v: 1 / u),
    "sqrt": (lambda B, u: B.sqrt(u), lambda B, u, v: 1 / (2 * v)),
    "sign": (lambda B, u: B.sign(u), lambda B, u, v: 0),
    "floor": (lambda B, u: B.floor(u), lambda B, u, v: 0),
    "ceiling": (lambda B, u: B.ceiling(u), lambda B, u, v: 0),
}

Closure = Callable[[Any], tuple[Any, Any]]


def _compile(node: Node, B: Any, fold: bool = True) -> Closure:
    """A closure x -> (value, d value/dx) for the tree, with constant subtrees computed once."""
    op = node[0]
    if fold and op not in ("x", "num", "const") and not depends_on_x(node):
        value = _compile(node, B, fold=False)(B.num("0"))[0]
        return lambda x: (value, 0)
    if op == "x":
        return lambda x: (x, 1)
    if op == "num":
        c = B.num(node[1])
        return lambda x: (c, 0)
    if op == "const":
        c = B.const[node[1]]
        return lambda x: (c, 0)
    if op == "neg":
        a = _compile(node[1], B, fold)
        return lambda x: tuple(-t for t in a(x))
    if op == "fn":
        name, a = node[1], _compile(node[2], B, fold)
        if name == "abs":
            def absolute(x: Any) -> tuple[Any, Any]:
                u, du = a(x)
                v = B.abs(u)
                return v, B.re(B.conj(u) * du) / v
            return absolute
        value, deriv = _FUNCS[name]

        def call(x: Any) -> tuple[Any, Any]:
            u, du = a(x)
            v = value(B, u)
            return v, deriv(B, u, v) * du
        return call
    a, b = _compile(node[1], B, fold), _compile(node[2], B, fold)
    if op == "add":
        return lambda x: _add(a(x), b(x))
    if op == "sub":
        return lambda x: _sub(a(x), b(x))
    if op == "mul":
        return lambda x: _mul(a(x), b(x))
    if op == "div":
        return lambda x: _div(a(x), b(x))
    # power
    exponent = node[2]
    if not depends_on_x(exponent):
        n = _small_integer(exponent)
        if n is not None:
            if n == 0:
                return lambda x: (B.num("1"), 0)

            def ipow(x: Any) -> tuple[Any, Any]:
                u, du = a(x)
                return u ** n, n * u ** (n - 1) * du
            return ipow
        c = b(B.num("0"))[0]

        def cpow(x: Any) -> tuple[Any, Any]:
            u, du = a(x)
            v = B.pow(u, c)
            return v, c * v / u * du
        return cpow

    def gpow(x: Any) -> tuple[Any, Any]:
        (u, du), (w, dw) = a(x), b(x)
        v = B.pow(u, w)
        return v, v * (dw * B.log(u) + w * du / u)
    return gpow


def _compile_value(node: Node, B: Any) -> Callable[[Any], Any]:
    """A closure x -> value (the integrand needs no derivative, and its derivative may not exist
    where its value does, e.g. acos(sin(x)) at pi/2)."""
    op = node[0]
    if op not in ("x", "num", "const") and not depends_on_x(node):
        value = _compile(node, B, fold=False)(B.num("0"))[0]
        return lambda x: value
    if op == "x":
        return lambda x: x
    if op in ("num", "const"):
        c = B.num(node[1]) if op == "num" else B.const[node[1]]
        return lambda x: c
    if op == "neg":
        a = _compile_value(node[1], B)
        return lambda x: -a(x)
    if op == "fn":
        a = _compile_value(node[2], B)
        if node[1] == "abs":
            return lambda x: B.abs(a(x))
        value = _FUNCS[node[1]][0]
        return lambda x: value(B, a(x))
    a, b = _compile_value(node[1], B), _compile_value(node[2], B)
    if op == "add":
        return lambda x: a(x) + b(x)
    if op == "sub":
        return lambda x: a(x) - b(x)
    if op == "mul":
        return lambda x: a(x) * b(x)
    if op == "div":
        return lambda x: a(x) / b(x)
    n = _small_integer(node[2])
    if n is not None:
        return lambda x: a(x) ** n
    return lambda x: B.pow(a(x), b(x))


def _add(p: tuple, q: tuple) -> tuple:
    return p[0] + q[0], p[1] + q[1]


def _sub(p: tuple, q: tuple) -> tuple:
    return p[0] - q[0], p[1] - q[1]


def _mul(p: tuple, q: tuple) -> tuple:
    return p[0] * q[0], p[1] * q[0] + p[0] * q[1]


def _div(p: tuple, q: tuple) -> tuple:
    v = p[0] / q[0]
    return v, (p[1] - v * q[1]) / q[0]


def _small_integer(node: Node) -> int | None:
    """The exponent as a Python int when it is an integer constant of size <= 64 (exact powers)."""
    sign = 1
    while node[0] == "neg":
        sign, node = -sign, node[1]
    if node[0] == "num" and node[1].isdigit() and int(node[1]) <= 64:
        return sign * int(node[1])
    return None


@lru_cache(maxsize=2048)
def _np_closure(tree: Node, deriv: bool = True) -> Callable:
    return _compile(tree, _NP) if deriv else _compile_value(tree, _NP)


@lru_cache(maxsize=2048)
def _mp_closure(tree: Node, dps: int, deriv: bool = True) -> Callable:
    with mp.workdps(dps):
        return _compile(tree, _MP) if deriv else _compile_value(tree, _MP)


def _np_eval(tree: Node, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, F') at every point of xs, complex128."""
    with np.errstate(all="ignore"):
        v, d = _np_closure(tree)(xs.astype(complex))
        return np.broadcast_to(v, xs.shape).astype(complex), np.broadcast_to(d, xs.shape).astype(complex)


def _np_values(tree: Node, xs: np.ndarray) -> np.ndarray:
    """f at every point of xs, complex128."""
    with np.errstate(all="ignore"):
        return np.broadcast_to(_np_closure(tree, False)(xs.astype(complex)), xs.shape).astype(complex)


def _mp_eval(tree: Node, x: float, dps: int) -> tuple[Any, Any] | None:
    """(value, derivative) at x with `dps` digits, or None where it is undefined or overflows."""
    with mp.workdps(dps):
        try:
            v, d = _mp_closure(tree, dps)(mp.mpf(x))
            v, d = mp.mpmathify(v), mp.mpmathify(d)
        except (ArithmeticError, ValueError, TypeError):
            return None
        if not (mp.isfinite(v) and mp.isfinite(d)):
            return None
        return v, d


def _mp_value(tree: Node, x: Any, dps: int) -> Any | None:
    """The value at x with `dps` digits, or None where it is undefined, overflows or is not finite."""
    with mp.workdps(dps):
        try:
            v = mp.mpmathify(_mp_closure(tree, dps, False)(mp.mpf(x)))
        except (ArithmeticError, ValueError, TypeError):
            return None
        return v if mp.isfinite(v) else None


# ---------------------------------------------------------------------------------------------
# Indefinite integrals
# ---------------------------------------------------------------------------------------------

def _sample(rng: np.random.Generator, round_: int, cfg: VerifyConfig, hull: tuple[float, float] | None) -> np.ndarray:
    """Round 0: [-domain, domain] plus [-1.5, 1.5]. Later rounds alternate between the hull of the
    points that agreed so far (narrow real domains such as sqrt(-3 - 4x - x^2)) and wider scales."""
    n, d = cfg.round_points, cfg.domain
    if round_ == 0:
        k = n * 2 // 3
        return np.concatenate([rng.uniform(-d, d, k), rng.uniform(-1.5, 1.5, n - k)])
    if hull is not None and round_ % 2 == 1:
        lo, hi = hull
        pad = 0.25 * (hi - lo) + 1e-3 * (1 + abs(lo) + abs(hi))
        return rng.uniform(lo - pad, hi + pad, n)
    if round_ <= 2:
        return np.concatenate([rng.uniform(-10 * d, 10 * d, n // 2), rng.uniform(-0.2, 0.2, n - n // 2)])
    return rng.choice([-1.0, 1.0], n) * 10 ** rng.uniform(-3, 3, n)


@lru_cache(maxsize=512)
def _round0(tree: Node, seed: int, cfg_key: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Round 0's points and f there (cached: the members of a GRPO group share one integrand)."""
    cfg = VerifyConfig(round_points=cfg_key[0], domain=cfg_key[1])
    xs = _sample(np.random.default_rng([seed, 0]), 0, cfg, None)
    return xs, _np_values(tree, xs)


def _real(v: Any, rel: float = 1e-9) -> bool:
    return abs(v.imag) <= rel * abs(v)


def _rel_error(deriv: Any, f: Any) -> float:
    scale = max(abs(deriv), abs(f))
    return 0.0 if scale == 0 else float(abs(deriv - f) / scale)


def _confirm(f_tree: Node, F_tree: Node, x: float, cfg: VerifyConfig) -> str:
    """Settle one point in mpmath: 'agree', 'mismatch', or 'skip' (undefined, or F' not real there).

    Agree if |F' - f| <= mp_rtol * max(|F'|, |f|) at mp_dps digits, or at twice that many; or if the
    difference at the higher precision is below mp_rtol times the values at the lower one: then the
    lower-precision values were rounding noise (an integrand that cancels to 0, say)."""
    result, previous = "skip", None
    for dps in (cfg.mp_dps, 2 * cfg.mp_dps):
        f = _mp_value(f_tree, x, dps)
        F = _mp_eval(F_tree, x, dps)
        if f is None or F is None:
            return "skip"
        fv, (Fv, Fd) = mp.mpc(f), (mp.mpc(F[0]), mp.mpc(F[1]))
        scale = max(abs(Fd), abs(fv))
        if not _real(fv, mp.mpf(10) ** (-dps // 2)) and abs(fv.imag) > cfg.mp_rtol * (previous or scale):
            return "skip"
        diff = abs(Fd - fv.real)
        if diff <= cfg.mp_rtol * scale or (previous is not None and diff <= cfg.mp_rtol * previous):
            return "agree"
        previous = scale
        result = "mismatch" if _real(Fd, 1e-12) else "skip"
    return result


def _derivative_check(f_tree: Node, F_tree: Node, seed: int, cfg: VerifyConfig) -> tuple[list[float], float]:
    """Agreeing points and the largest relative error among them; raises _Reject on a mismatch."""
    agree: list[float] = []
    max_err = 0.0
    for round_ in range(cfg.retries + 1):
        if round_ == 0:
            xs, fv = _round0(f_tree, seed, (cfg.round_points, cfg.domain))
        else:
            real_f = agree or usable_x
            hull = (min(real_f), max(real_f)) if real_f else None
            xs = _sample(np.random.default_rng([seed, round_]), round_, cfg, hull)
            fv = _np_values(f_tree, xs)
        Fv, Fd = _np_eval(F_tree, xs)
        with np.errstate(all="ignore"):
            usable = (np.isfinite(fv) & (np.abs(fv.imag) <= 1e-9 * np.abs(fv)) & np.isfinite(Fv) & np.isfinite(Fd))
            scale = np.maximum(np.abs(Fd), np.abs(fv))
            err = np.where(scale > 0, np.abs(Fd - fv.real) / np.where(scale > 0, scale, 1), 0.0)
        usable_x = [float(x) for x in xs[usable]]
        # F' not real where f is: the point is outside the candidate's real domain (skipped)
        dF_complex = np.abs(Fd.imag) > 1e-6 * np.abs(Fd)
        fine = usable & (err <= cfg.float_rtol)
        agree += [float(x) for x in xs[fine]]
        if fine.any():
            max_err = max(max_err, float(np.max(err[fine])))
        # The rest goes to mpmath, largest float error first (a real difference shows there first),
        # at most max_confirm points per round: the cost of a call stays bounded.
        unsettled = np.flatnonzero(usable & ~fine & ~dF_complex)
        for i in unsettled[np.argsort(-err[unsettled])][: cfg.max_confirm]:
            outcome = _confirm(f_tree, F_tree, float(xs[i]), cfg)
            if outcome == "agree":
                agree.append(float(xs[i]))
            elif outcome == "mismatch":
                raise _Reject(f"derivative differs from the integrand at x = {xs[i]:.6g} "
                              f"(F' = {_show(Fd[i])}, f = {_show(fv[i])})")
        if len(agree) >= cfg.min_points:
            break
    return agree, max_err


def _switch_nodes(tree: Node) -> list[Node]:
    """The sign/floor/ceiling subtrees of a tree."""
    found = [tree] if tree[0] == "fn" and tree[1] in BRANCH_FUNCTIONS else []
    for c in tree[1:]:
        if isinstance(c, tuple):
            found += _switch_nodes(c)
    return found


def _switch_values(nodes: list[Node], xs: np.ndarray) -> np.ndarray:
    return np.array([_np_values(n, xs) for n in nodes])


def _check_switch_jumps(f_tree: Node, F_tree: Node, agree: list[float]) -> None:
    """sign/floor/ceiling may only make F jump where f is not finite (or not real): `x + sign(x)`
    for 1 has the right derivative everywhere except at 0 and is still wrong. Raises _Reject."""
    nodes = _switch_nodes(F_tree)
    if not nodes:
        return
    xs = np.array(sorted(set(agree)))
    vals = _switch_values(nodes, xs)
    changes = np.flatnonzero(np.any(vals[:, 1:] != vals[:, :-1], axis=0))
    for i in changes[:20]:
        lo, hi = float(xs[i]), float(xs[i + 1])
        left = _switch_values(nodes, np.array([lo]))[:, 0]
        for _ in range(80):  # bisect to the first switch change
            m = (lo + hi) / 2
            if not lo < m < hi:
                break
            if np.array_equal(_switch_values(nodes, np.array([m]))[:, 0], left):
                lo = m
            else:
                hi = m
        ends = np.array([lo, hi])
        fv = _np_values(f_tree, ends)
        if not (np.all(np.isfinite(fv)) and np.all(np.abs(fv.imag) <= 1e-9 * np.abs(fv))):
            continue  # f is not real/finite here: different intervals of f's domain
        typical = float(np.median(np.abs(_np_values(f_tree, xs))))
        if float(np.max(np.abs(fv))) > 1e6 * (1 + typical):
            continue  # a pole of f
        Fv = _np_eval(F_tree, ends)[0]
        if abs(Fv[1] - Fv[0]) > 1e-6 * (1 + float(np.max(np.abs(Fv)))):
            raise _Reject(f"the candidate jumps at x = {lo:.6g} (a sign/floor/ceiling step) where the integrand is continuous")


def _show(v: complex) -> str:
    return f"{v.real:.6g}" if abs(v.imag) <= 1e-12 * abs(v) else f"{v.real:.4g}{v.imag:+.4g}i"


def _interval_gap(f_tree: Node, F_tree: Node, a: float, b: float) -> tuple[complex, float, bool] | None:
    """(F(b) - F(a) - quad f, tolerance scale, quadrature resolved?) in float; None where f or F is
    unusable. The quadrature is 12-node Gauss-Legendre on [a, b] and on its two halves: it counts as
    resolved when both agree (a fast oscillation like cos(exp(x)) at x = 9 is not)."""
    m = (a + b) / 2
    centres = np.array([m, (a + m) / 2, (m + b) / 2])
    halves = np.array([b - a, m - a, b - m]) / 2
    nodes = (centres[:, None] + halves[:, None] * GL_NODES).ravel()
    fv = _np_values(f_tree, nodes)
    if not (np.all(np.isfinite(fv)) and np.all(np.abs(fv.imag) <= 1e-9 * np.abs(fv))):
        return None
    Fv, _ = _np_eval(F_tree, np.array([a, b]))
    if not np.all(np.isfinite(Fv)):
        return None
    sums = halves * (fv.real.reshape(3, -1) @ GL_WEIGHTS)
    whole, split = sums[0], sums[1] + sums[2]
    size = abs(b - a) * float(np.max(np.abs(fv)))
    scale = abs(split) + size + 1e-12 * float(np.max(np.abs(Fv)))
    return complex(Fv[1] - Fv[0] - split), scale, abs(whole - split) <= 1e-9 * (abs(split) + size)


def _mp_interval_ok(f_tree: Node, F_tree: Node, a: float, b: float, scale: float, cfg: VerifyConfig) -> bool:
    """The interval test again in mpmath (mp_dps, then twice that for cancellation in F(b) - F(a))."""
    for dps in (cfg.mp_dps, 2 * cfg.mp_dps):
        with mp.workdps(dps):
            Fa, Fb = _mp_eval(F_tree, a, dps), _mp_eval(F_tree, b, dps)
            if Fa is None or Fb is None:
                return False
            f = _mp_closure(f_tree, dps, False)
            try:
                q, e = mp.quad(f, [a, b], error=True)
            except (ArithmeticError, ValueError, TypeError):
                return False
            if abs(Fb[0] - Fa[0] - q) <= 1e-12 * scale and e <= 1e-12 * scale:
                return True
    return False


def _switches(tree: Node, x: float) -> list[complex]:
    """Values of the sign/floor/ceiling subtrees at x (to tell artificial jumps from branch jumps)."""
    found: list[complex] = []

    def walk(n: Node) -> None:
        if n[0] == "fn" and n[1] in BRANCH_FUNCTIONS:
            found.append(complex(_np_values(n, np.array([x]))[0]))
        for c in n[1:]:
            if isinstance(c, tuple):
                walk(c)
    walk(tree)
    return found


def _jump_is_legitimate(f_tree: Node, F_tree: Node, a: float, b: float, gap: complex) -> bool | None:
    """Bisect [a, b]: None if the difference does not concentrate at a point (a smooth error),
    else whether the jump there comes from a pole/branch cut (True) or from sign/floor/ceiling."""
    for _ in range(60):
        m = (a + b) / 2
        if not a < m < b:
            break
        left, right = _interval_gap(f_tree, F_tree, a, m), _interval_gap(f_tree, F_tree, m, b)
        gl = left[0] if left else complex("inf")
        gr = right[0] if right else complex("inf")
        a, b = (a, m) if abs(gl) >= abs(gr) else (m, b)
    final = _interval_gap(f_tree, F_tree, a, b)
    if final is not None and abs(final[0]) < 0.5 * abs(gap):
        return None
    return _switches(F_tree, a) == _switches(F_tree, b)


def _interval_check(f_tree: Node, F_tree: Node, starts: list[float], cfg: VerifyConfig) -> int:
    """The paper's check on up to cfg.points intervals; returns how many passed, raises _Reject.

    An interval whose quadrature does not resolve f (fast oscillation) is shrunk by 4, up to 8 times."""
    passed = 0
    for a in starts[: 3 * cfg.points]:
        if passed >= cfg.points:
            break
        for direction in (1, -1):
            width, res = cfg.interval_width, None
            for _ in range(8):
                lo, hi = sorted((a, a + direction * width))
                res = _interval_gap(f_tree, F_tree, lo, hi)
                if res is None or res[2]:
                    break
                width /= 4
            if res is None or not res[2]:
                continue
            gap, scale, _ = res
            if abs(gap) <= cfg.interval_rtol * scale or _mp_interval_ok(f_tree, F_tree, lo, hi, scale, cfg):
                passed += 1
                break
            legit = _jump_is_legitimate(f_tree, F_tree, lo, hi, gap)
            if legit is None:
                raise _Reject(f"F(b) - F(a) differs from the integral of f over [{lo:.4g}, {hi:.4g}]")
            if not legit:
                raise _Reject(f"the candidate jumps near x = {lo:.4g}..{hi:.4g} where the integrand is continuous")
            break  # a pole/branch jump: this interval says nothing, take the next
    return passed


def _identically_zero(f_tree: Node, seed: int, cfg: VerifyConfig) -> bool:
    """True if f vanishes (to 40 digits, computed with 60) at the first usable points of round 0."""
    xs, fv = _round0(f_tree, seed, (cfg.round_points, cfg.domain))
    tried = 0
    for x in xs[np.isfinite(fv)][: cfg.min_points]:
        r = _mp_value(f_tree, float(x), 60)
        if r is None:
            continue
        if abs(r) > 1e-40:
            return False
        tried += 1
    return tried >= cfg.min_points // 2


def _check_indefinite(f_tree: Node, F_tree: Node, integrand: str, cfg: VerifyConfig) -> Verdict:
    seed = zlib.crc32(integrand.encode())
    if not depends_on_x(F_tree):
        if _identically_zero(f_tree, seed, cfg):
            return Verdict(True, "the integrand is identically zero, so a constant is an antiderivative")
        return Verdict(False, "the answer is a constant, not a function of x")
    try:
        agree, max_err = _derivative_check(f_tree, F_tree, seed, cfg)
        if len(agree) < cfg.min_points:
            return Verdict(False, f"too few points where integrand and answer are real and finite "
                                  f"({len(agree)} < {cfg.min_points})", points=len(agree))
        _check_switch_jumps(f_tree, F_tree, agree)
        intervals = _interval_check(f_tree, F_tree, agree, cfg)
    except _Reject as r:
        return Verdict(False, str(r))
    return Verdict(True, "derivative matches the integrand", points=len(agree), max_error=max_err, intervals=intervals)


# ---------------------------------------------------------------------------------------------
# Definite integrals
# ---------------------------------------------------------------------------------------------

_INFINITIES = {"oo": 1, "+oo": 1, "inf": 1, "+inf": 1, "infinity": 1, "∞": 1, "-oo": -1, "-inf": -1, "-infinity": -1, "-∞": -1}


def _bound(value: Any, dps: int) -> Any:
    """A bound as an mpmath number; 'oo'/'-oo'/'inf' are infinities; raises ParseError if unusable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return mp.mpf(value)
    text = str(value).strip()
    if text.lower() in _INFINITIES or text in _INFINITIES:
        return _INFINITIES.get(text.lower(), _INFINITIES.get(text)) * mp.inf
    tree = parse_tree(text)
    if depends_on_x(tree):
        raise ParseError(f"bound {text!r} depends on x")
    r = _mp_value(tree, 0, dps)
    if r is None or not _real(mp.mpc(r), 1e-20):
        raise ParseError(f"bound {text!r} is not a real number")
    return mp.re(r)


def _split_points(f_tree: Node, a: Any, b: Any, level: int) -> list[Any]:
    """Where to split [a, b] for tanh-sinh. Level 0: the ends, 0 (infinite ranges) and the largest
    |f| found by a float scan, so a narrow peak far out (exp(-(x-2024)^2)) sits at a node; level 1
    adds an even split (or powers of ten) and the peak's neighbourhood; level 2 a finer one."""
    pts = {a, b}
    finite = mp.isfinite(a) and mp.isfinite(b)
    if finite:
        if level:
            pts.update(mp.linspace(a, b, 9 if level == 1 else 33))
        grid = np.linspace(float(a), float(b), 4001)[1:-1]
    else:
        far = [mp.mpf(10) ** k for k in range(-2, 8)] if level else []
        pts.update(p for p in [mp.mpf(0), *far, *(-p for p in far)] if a < p < b)
        logs = np.logspace(-3, 7, 4000)
        grid = np.concatenate([np.linspace(-50, 50, 2001), logs, -logs])
        grid = grid[(grid > float(a)) & (grid < float(b))]
    if grid.size:
        fv = np.abs(_np_values(f_tree, grid))
        fv[~np.isfinite(fv)] = 0
        peak = float(grid[int(np.argmax(fv))])
        pts.update(mp.mpf(peak + d) for d in ((0, -1, 1, -10, 10) if level else (0,)) if a < peak + d < b)
    return sorted(pts)


def _check_definite(f_tree: Node, F_tree: Node, lower: Any, upper: Any, cfg: VerifyConfig) -> Verdict:
    if depends_on_x(F_tree):
        return Verdict(False, "a definite integral's answer must be a number, not a function of x")
    dps = 25
    try:
        a, b = _bound(lower, dps), _bound(upper, dps)
    except ParseError as e:
        return Verdict(False, f"bad bound: {e}", bad_integrand=True)
    got = _mp_value(F_tree, 0, dps)
    if got is None or not _real(mp.mpc(got), 1e-15):
        return Verdict(False, "the answer is not a real finite number")
    value = mp.re(got)
    f = _mp_closure(f_tree, dps, False)

    ends: set[Any] = set()  # split points: tanh-sinh may land exactly on one of a short piece

    def fx(t: Any) -> Any:
        try:
            return f(t)
        except (ArithmeticError, ValueError, TypeError):
            return mp.mpf(0) if t in ends else mp.nan

    sign = 1
    if a > b:
        a, b, sign = b, a, -1
    best = None
    with mp.workdps(dps):
        for level in range(3):
            pts = _split_points(f_tree, a, b, level)
            ends.update(pts)
            try:
                q, e = mp.quad(fx, pts, error=True)
            except (ArithmeticError, ValueError, TypeError):
                continue
            if mp.isfinite(q) and (best is None or e < best[1]):
                best = (sign * mp.mpc(q), e)
            if best is not None and best[1] <= 1e-12 * max(1, abs(best[0])):
                break
    if best is None:
        return Verdict(False, "the integrand is not finite on the interval (no quadrature possible)")
    q, e = best
    size = max(mp.mpf(1), abs(q))
    if abs(q.imag) > 1e-10 * size:
        return Verdict(False, "the integrand is not real on the interval")
    if e > 1e-10 * size:
        return Verdict(False, f"quadrature did not converge (error estimate {float(e):.2g}); cannot decide")
    err = float(abs(value - q.real) / size)
    if err <= cfg.definite_rtol:
        return Verdict(True, f"value matches the integral ({mp.nstr(q.real, 15)})", points=1, max_error=err)
    return Verdict(False, f"value {mp.nstr(value, 10)} differs from the integral {mp.nstr(q.real, 15)}",
                   points=1, max_error=err)


# ---------------------------------------------------------------------------------------------
# One check, in-process (what a worker runs)
# ---------------------------------------------------------------------------------------------

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
            F_tree = parse_tree(candidate)
        except ParseError as e:
            return Verdict(False, f"cannot parse the answer: {e}")
        if (lower is None) != (upper is None):
            return Verdict(False, "give both bounds or neither", bad_integrand=True)
        if lower is not None:
            verdict = _check_definite(f_tree, F_tree, lower, upper, cfg)
        else:
            verdict = _check_indefinite(f_tree, F_tree, integrand, cfg)
    except (RecursionError, MemoryError, ArithmeticError, ValueError) as e:
        verdict = Verdict(False, f"numeric evaluation failed ({type(e).__name__})")
    verdict.seconds = time.perf_counter() - start
    return verdict


# ---------------------------------------------------------------------------------------------
# Worker pool with hard timeouts
# ---------------------------------------------------------------------------------------------

WORKER_MEMORY_BYTES = 4 * 2**30
STARTUP_TIMEOUT_S = 60.0
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _worker_main(task_fd: int, result_fd: int) -> None:
    """Worker loop: receive (integrand, candidate, lower, upper, cfg), send back a Verdict."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(WORKER_MEMORY_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass
    tasks, results = Connection(task_fd, writable=False), Connection(result_fd, readable=False)
    check("cos(x)", "sin(x)")  # load the lazy imports now, not inside the first timed call
    check("x", "1/2", 0, 1)
    results.send("ready")
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            verdict = check(*task)
        except Exception as e:  # a bug must cost one verdict, never the worker
            verdict = Verdict(False, f"verifier error: {type(e).__name__}: {e}")
        results.send(verdict)


class _Worker:
    """One worker: a fresh interpreter (exec, never a fork of this possibly threaded process) that
    talks over two pipes. Not multiprocessing.Process: its spawn re-imports the caller's __main__."""

    def __init__(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p))
        code = f"import engine.verify as v; v._worker_main({task_r}, {result_w})"
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(task_r, result_w), env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            os.close(task_r)
            os.close(result_w)
        self.conn = Connection(result_r, writable=False)  # results (and "ready") come back here
        self.tasks = Connection(task_w, readable=False)
        self.ready = False
        self.started = time.monotonic()

    def send(self, task: Any) -> None:
        self.tasks.send(task)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.conn.close()
        self.tasks.close()


class VerifierPool:
    """Persistent worker processes; each task gets a hard wall-clock limit (kill + respawn on overrun)."""

    def __init__(self, workers: int = 0) -> None:
        self.size = workers or _cores()
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()
        self.respawned = 0

    def _spawn(self) -> _Worker:
        return _Worker()

    def close(self) -> None:
        for w in self.workers:
            try:
                w.send(None)
                w.proc.wait(1)
            except (OSError, subprocess.TimeoutExpired):
                pass
            w.kill()
        self.workers = []

    def run(self, tasks: list[tuple], timeout: float) -> list[Verdict]:
        """Verdicts for `tasks` (argument tuples of `check`), in order."""
        with self.lock:
            while len(self.workers) < min(self.size, max(1, len(tasks))):
                self.workers.append(self._spawn())
            results: list[Verdict | None] = [None] * len(tasks)
            pending = deque(range(len(tasks)))
            busy: dict[Any, tuple[int, _Worker, float]] = {}  # conn -> (task index, worker, deadline)
            while pending or busy:
                for w in self.workers:
                    if pending and w.ready and w.conn not in busy:
                        i = pending.popleft()
                        w.send(tasks[i])
                        busy[w.conn] = (i, w, time.monotonic() + timeout)
                waiting = [w for w in self.workers if not w.ready]
                now = time.monotonic()
                deadlines = [d for _, _, d in busy.values()] + [w.started + STARTUP_TIMEOUT_S for w in waiting]
                ready = wait_connections([c for c in busy] + [w.conn for w in waiting],
                                         timeout=max(0.0, min(deadlines) - now) if deadlines else None)
                for conn in ready:
                    if conn in busy:
                        i, w, _ = busy.pop(conn)
                        try:
                            results[i] = conn.recv()
                        except (EOFError, OSError):
                            results[i] = Verdict(False, "verifier worker died (out of memory?)")
                            self._replace(w)
                    else:
                        w = next(w for w in waiting if w.conn is conn)
                        try:
                            w.ready = conn.recv() == "ready"
                        except (EOFError, OSError):
                            self._replace(w, failed_start=True)
                now = time.monotonic()
                for conn, (i, w, deadline) in list(busy.items()):
                    if now >= deadline:
                        del busy[conn]
                        results[i] = Verdict(False, f"timeout: no verdict within {timeout:g} s", seconds=timeout)
                        self._replace(w)
                for w in list(self.workers):
                    if not w.ready and now >= w.started + STARTUP_TIMEOUT_S:
                        self._replace(w, failed_start=True)
            return [r if r is not None else Verdict(False, "no verdict") for r in results]

    def _replace(self, w: _Worker, failed_start: bool = False) -> None:
        w.kill()
        idx = self.workers.index(w)
        if failed_start and all(not x.ready for x in self.workers if x is not w):
            raise LadderError("the verifier's worker processes do not start")
        self.workers[idx] = self._spawn()
        self.respawned += 1


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_pool: VerifierPool | None = None
_pool_lock = threading.Lock()


def pool(workers: int | None = None) -> VerifierPool:
    """The process-wide pool (created on first use; `workers` sizes it the first time)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = VerifierPool(VerifyConfig().workers if workers is None else workers)
            atexit.register(_pool.close)
        return _pool


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
    return pool(cfg.workers).run(tasks, timeout)


# ---------------------------------------------------------------------------------------------
# ladder verify
# ---------------------------------------------------------------------------------------------

def cli_verify(args: argparse.Namespace) -> int:
    """`ladder verify INTEGRAND CANDIDATE [--lower A --upper B] [--timeout S] [--json]`.

    Exit status: 0 accepted, 1 rejected, 2 (via LadderError) unusable integrand or bounds.
    """
    try:
        parse_tree(args.integrand)
    except ParseError as e:
        raise LadderError(f"cannot parse the integrand: {e}") from None
    if (args.lower is None) != (args.upper is None):
        raise LadderError("give both --lower and --upper, or neither")
    for bound in (args.lower, args.upper):
        if bound is not None:
            try:
                _bound(bound, 20)
            except ParseError as e:
                raise LadderError(f"bad bound: {e}") from None
    cfg = VerifyConfig(workers=1)
    verdict = verify(args.integrand, args.candidate, lower=args.lower, upper=args.upper, timeout=args.timeout, cfg=cfg)
    if args.json:
        print(json.dumps(verdict.to_dict()))
    else:
        from rich.console import Console

        console = Console(stderr=getattr(args, "engine_mode", False))
        mark = "[bold green]✓ correct[/]" if verdict.ok else "[bold red]✗ rejected[/]"
        console.print(f"{mark}  {verdict.reason}", highlight=False)
        details = f"{verdict.points} points"
        if verdict.max_error is not None:
            details += f", max relative error {verdict.max_error:.1e}"
        if args.lower is None and verdict.ok:
            details += f", {verdict.intervals} interval checks"
        console.print(f"[dim]{details}, {verdict.seconds * 1000:.1f} ms[/]", highlight=False)
    return 0 if verdict.ok else 1
