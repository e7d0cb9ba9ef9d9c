"""Is F an antiderivative of f? The indefinite check.

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
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

import mpmath as mp
import numpy as np

from engine.runs.config import VerifyConfig
from engine.verify.numeric import (
    is_real,
    mp_closure,
    mp_eval,
    mp_value,
    np_eval,
    np_values,
)
from engine.verify.parse import Node, depends_on_x
from engine.verify.verdict import Reject, Verdict

GL_NODES, GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
BRANCH_FUNCTIONS = {"sign", "floor", "ceiling"}  # jumps these make are errors, not branch choices


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
    return xs, np_values(tree, xs)


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
        f = mp_value(f_tree, x, dps)
        F = mp_eval(F_tree, x, dps)
        if f is None or F is None:
            return "skip"
        fv, (Fv, Fd) = mp.mpc(f), (mp.mpc(F[0]), mp.mpc(F[1]))
        scale = max(abs(Fd), abs(fv))
        if not is_real(fv, mp.mpf(10) ** (-dps // 2)) and abs(fv.imag) > cfg.mp_rtol * (previous or scale):
            return "skip"
        diff = abs(Fd - fv.real)
        if diff <= cfg.mp_rtol * scale or (previous is not None and diff <= cfg.mp_rtol * previous):
            return "agree"
        previous = scale
        result = "mismatch" if is_real(Fd, 1e-12) else "skip"
    return result


def _derivative_check(f_tree: Node, F_tree: Node, seed: int, cfg: VerifyConfig) -> tuple[list[float], float]:
    """Agreeing points and the largest relative error among them; raises Reject on a mismatch."""
    agree: list[float] = []
    max_err = 0.0
    for round_ in range(cfg.retries + 1):
        if round_ == 0:
            xs, fv = _round0(f_tree, seed, (cfg.round_points, cfg.domain))
        else:
            real_f = agree or usable_x
            hull = (min(real_f), max(real_f)) if real_f else None
            xs = _sample(np.random.default_rng([seed, round_]), round_, cfg, hull)
            fv = np_values(f_tree, xs)
        Fv, Fd = np_eval(F_tree, xs)
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
                raise Reject(f"derivative differs from the integrand at x = {xs[i]:.6g} "
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
    return np.array([np_values(n, xs) for n in nodes])


def _check_switch_jumps(f_tree: Node, F_tree: Node, agree: list[float]) -> None:
    """sign/floor/ceiling may only make F jump where f is not finite (or not real): `x + sign(x)`
    for 1 has the right derivative everywhere except at 0 and is still wrong. Raises Reject."""
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
        fv = np_values(f_tree, ends)
        if not (np.all(np.isfinite(fv)) and np.all(np.abs(fv.imag) <= 1e-9 * np.abs(fv))):
            continue  # f is not real/finite here: different intervals of f's domain
        typical = float(np.median(np.abs(np_values(f_tree, xs))))
        if float(np.max(np.abs(fv))) > 1e6 * (1 + typical):
            continue  # a pole of f
        Fv = np_eval(F_tree, ends)[0]
        if abs(Fv[1] - Fv[0]) > 1e-6 * (1 + float(np.max(np.abs(Fv)))):
            raise Reject(f"the candidate jumps at x = {lo:.6g} (a sign/floor/ceiling step) where the integrand is continuous")


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
    fv = np_values(f_tree, nodes)
    if not (np.all(np.isfinite(fv)) and np.all(np.abs(fv.imag) <= 1e-9 * np.abs(fv))):
        return None
    Fv, _ = np_eval(F_tree, np.array([a, b]))
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
            Fa, Fb = mp_eval(F_tree, a, dps), mp_eval(F_tree, b, dps)
            if Fa is None or Fb is None:
                return False
            f = mp_closure(f_tree, dps, False)
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
            found.append(complex(np_values(n, np.array([x]))[0]))
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
    """The paper's check on up to cfg.points intervals; returns how many passed, raises Reject.

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
                raise Reject(f"F(b) - F(a) differs from the integral of f over [{lo:.4g}, {hi:.4g}]")
            if not legit:
                raise Reject(f"the candidate jumps near x = {lo:.4g}..{hi:.4g} where the integrand is continuous")
            break  # a pole/branch jump: this interval says nothing, take the next
    return passed


def _identically_zero(f_tree: Node, seed: int, cfg: VerifyConfig) -> bool:
    """True if f vanishes (to 40 digits, computed with 60) at the first usable points of round 0."""
    xs, fv = _round0(f_tree, seed, (cfg.round_points, cfg.domain))
    tried = 0
    for x in xs[np.isfinite(fv)][: cfg.min_points]:
        r = mp_value(f_tree, float(x), 60)
        if r is None:
            continue
        if abs(r) > 1e-40:
            return False
        tried += 1
    return tried >= cfg.min_points // 2


def check_indefinite(f_tree: Node, F_tree: Node, integrand: str, cfg: VerifyConfig) -> Verdict:
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
    except Reject as r:
        return Verdict(False, str(r))
    return Verdict(True, "derivative matches the integrand", points=len(agree), max_error=max_err, intervals=intervals)


