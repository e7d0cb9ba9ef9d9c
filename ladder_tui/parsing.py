"""From what a person types (`∫ x e^x dx`, `\\int_0^1 x^2 dx`, `x^2 sin(x)`) to an integrand
string and optional bounds, and a pretty preview of it.

Only the integral's frame (∫, \\int, bounds, dx) is handled here; the integrand itself is parsed by
`engine.verify.parse.parse`, the project's one safe parser (imported on first use: it pulls in sympy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUND = r"(?:\{([^{}]*)\}|(-?[\w.]+))"
_FRAME = re.compile(
    r"^\s*(?:∫|\\int|integrate|int)\s*(?:_\s*" + _BOUND + r"\s*\^\s*" + _BOUND + r")?\s*(.*?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SPLIT_DX = re.compile(r"^(.*?)\s*\\?,?\s*\bd\s*x\s*$", re.DOTALL)


@dataclass
class IntegralText:
    """The integrand as text and the bounds (None for an indefinite integral)."""

    integrand: str
    lower: str | None = None
    upper: str | None = None


def split_integral(text: str) -> IntegralText:
    """Strip a leading ∫ / \\int (with `_a^b` bounds) and a trailing `dx`."""
    text = text.strip()
    lower = upper = None
    m = _FRAME.match(text)
    if m and re.match(r"^\s*(∫|\\int|integrate\b|int\b)", text, re.IGNORECASE):
        lower = m.group(1) or m.group(2)
        upper = m.group(3) or m.group(4)
        text = m.group(5)
    m = _SPLIT_DX.match(text)
    if m and m.group(1):
        text = m.group(1)
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    return IntegralText(text.strip(), lower, upper)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def pretty_integral(integrand: str, lower: str | None = None, upper: str | None = None) -> tuple[str, str]:
    """Sympy's unicode pretty form of the integral, and the integrand in plain sympy syntax
    (what the engine is given); raises engine.verify.parse.ParseError on bad input."""
    import sympy

    from engine.verify.parse import ParseError, parse

    expr = parse(integrand)
    x = sympy.Symbol("x")
    if (lower is None) != (upper is None):
        raise ParseError("give both bounds or neither")
    if lower is not None and upper is not None:
        a, b = parse(lower), parse(upper)
        if a.free_symbols or b.free_symbols:
            raise ParseError("bounds must be numbers")
        integral = sympy.Integral(expr, (x, a, b))
    else:
        integral = sympy.Integral(expr, x)
    return sympy.pretty(integral, use_unicode=True), sympy.sstr(expr)
