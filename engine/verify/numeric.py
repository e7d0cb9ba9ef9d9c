"""Expression trees compiled into closures computing (value, derivative) at x.

numpy complex128 for a fast first pass over many points, mpmath at a chosen precision for
anything that pass does not settle. No sympy: the trees come from `engine.verify.parse`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import mpmath as mp
import numpy as np

from engine.verify.parse import Node, depends_on_x

MP_EXP_LIMIT = 1e6  # mpmath would happily build exp(1e100); beyond this a point is treated as overflow

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
def np_closure(tree: Node, deriv: bool = True) -> Callable:
    return _compile(tree, _NP) if deriv else _compile_value(tree, _NP)


@lru_cache(maxsize=2048)
def mp_closure(tree: Node, dps: int, deriv: bool = True) -> Callable:
    with mp.workdps(dps):
        return _compile(tree, _MP) if deriv else _compile_value(tree, _MP)


def np_eval(tree: Node, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, F') at every point of xs, complex128."""
    with np.errstate(all="ignore"):
        v, d = np_closure(tree)(xs.astype(complex))
        return np.broadcast_to(v, xs.shape).astype(complex), np.broadcast_to(d, xs.shape).astype(complex)


def np_values(tree: Node, xs: np.ndarray) -> np.ndarray:
    """f at every point of xs, complex128."""
    with np.errstate(all="ignore"):
        return np.broadcast_to(np_closure(tree, False)(xs.astype(complex)), xs.shape).astype(complex)


def mp_eval(tree: Node, x: float, dps: int) -> tuple[Any, Any] | None:
    """(value, derivative) at x with `dps` digits, or None where it is undefined or overflows."""
    with mp.workdps(dps):
        try:
            v, d = mp_closure(tree, dps)(mp.mpf(x))
            v, d = mp.mpmathify(v), mp.mpmathify(d)
        except (ArithmeticError, ValueError, TypeError):
            return None
        if not (mp.isfinite(v) and mp.isfinite(d)):
            return None
        return v, d


def mp_value(tree: Node, x: Any, dps: int) -> Any | None:
    """The value at x with `dps` digits, or None where it is undefined, overflows or is not finite."""
    with mp.workdps(dps):
        try:
            v = mp.mpmathify(mp_closure(tree, dps, False)(mp.mpf(x)))
        except (ArithmeticError, ValueError, TypeError):
            return None
        return v if mp.isfinite(v) else None




def is_real(v: Any, rel: float = 1e-9) -> bool:
    """True if the imaginary part of `v` is negligible next to its size."""
    return abs(v.imag) <= rel * abs(v)
