"""Is a number the value of a definite integral?

errors and wrong constants are rejected by orders of magnitude; the paper's 1e-2 accepted x1.009.

Definite (`lower`, `upper` given; "oo"/"-oo" allowed): the candidate must be a real constant;
accept iff |candidate - I| <= definite_rtol (1e-8) * max(1, |I|), where I is mpmath's tanh-sinh
quadrature at 25 digits (handles infinite and endpoint-singular integrals; on a poor error
"""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np

from engine.runs.config import VerifyConfig
from engine.verify.numeric import is_real, mp_closure, mp_value, np_values
from engine.verify.parse import Node, ParseError, depends_on_x, parse_tree
from engine.verify.verdict import Verdict

_INFINITIES = {"oo": 1, "+oo": 1, "inf": 1, "+inf": 1, "infinity": 1, "∞": 1, "-oo": -1, "-inf": -1, "-infinity": -1, "-∞": -1}


def bound_value(value: Any, dps: int) -> Any:
    """A bound as an mpmath number; 'oo'/'-oo'/'inf' are infinities; raises ParseError if unusable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return mp.mpf(value)
    text = str(value).strip()
    if text.lower() in _INFINITIES or text in _INFINITIES:
        return _INFINITIES.get(text.lower(), _INFINITIES.get(text)) * mp.inf
    tree = parse_tree(text)
    if depends_on_x(tree):
        raise ParseError(f"bound {text!r} depends on x")
    r = mp_value(tree, 0, dps)
    if r is None or not is_real(mp.mpc(r), 1e-20):
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
        fv = np.abs(np_values(f_tree, grid))
        fv[~np.isfinite(fv)] = 0
        peak = float(grid[int(np.argmax(fv))])
        pts.update(mp.mpf(peak + d) for d in ((0, -1, 1, -10, 10) if level else (0,)) if a < peak + d < b)
    return sorted(pts)


def check_definite(f_tree: Node, F_tree: Node, lower: Any, upper: Any, cfg: VerifyConfig) -> Verdict:
    if depends_on_x(F_tree):
        return Verdict(False, "a definite integral's answer must be a number, not a function of x")
    dps = 25
    try:
        a, b = bound_value(lower, dps), bound_value(upper, dps)
    except ParseError as e:
        return Verdict(False, f"bad bound: {e}", bad_integrand=True)
    got = mp_value(F_tree, 0, dps)
    if got is None or not is_real(mp.mpc(got), 1e-15):
        return Verdict(False, "the answer is not a real finite number")
    value = mp.re(got)
    f = mp_closure(f_tree, dps, False)

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


