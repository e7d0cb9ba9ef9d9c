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
   <= mp_rtol (1e-20); otherwise with 60, 120, 240 digits: agree if the error is within mp_rtol
   there, or has shrunk below mp_rtol times the previous precision's values (catastrophic
   cancellation: the error was rounding). A difference is a *mismatch* only once it is settled:
   F' and f the same at two precisions in a row, neither exactly 0 (tanh(6x)/6 - tanh(6x)^3/18
   differentiates to 0 at 30 and 60 digits at x = -10, where f = sech(6x)^4 = 1.8e-102, and to f at
   120). Never settled and both |F'|, |f| below 1e-12 of the largest |f| seen: the point does not
   vote. A mismatch rejects the candidate, unless F' itself is not real there (the point lies
   outside the candidate's real domain: it is skipped). Principal-branch forms whose imaginary part is constant (`log(x)` for 1/x at x < 0,
   `log((1+x)/(1-x))/2` at |x| > 1, `atanh`, `-log(cos(x))`, complex Rubi forms) have a real
   derivative equal to f and simply agree; `acosh(x)` for 1/sqrt(x^2 - 1) has a real derivative
   of the wrong sign for x < -1 and is rejected, as the rule "an antiderivative on every interval
   where f is real and finite" demands (`log(x + sqrt(x^2 - 1))` is right everywhere).
4. Accept only with at least `min_points` (8) agreeing points and no mismatch.
5. Jumps: sign/floor/ceiling may change value between agreeing points only where f is not finite
   or not real; elsewhere a jump of F there rejects (`x + sign(x)` for 1). The same holds for a
   jump written any other way (x/abs(x), sqrt(x**2)/x, (x - 1)/abs(x - 1), x*(1/abs(x)), ...): the
   hull of the agreeing points is cut into pieces, F(b) - F(a) is compared with the quadrature of
   f on each, and a difference that concentrates at one point (confirmed in mpmath) is a jump. It
   is allowed only at a pole of f or as a branch choice: a function whose argument is huge there
   (a pole fed into atan/tanh: atan(1/x), atan(tan(x))), the acot family at 0, or a complex branch
   cut. Rubi's piecewise forms built on sqrt(sin(x)**2)/sin(x) are rejected by the same rule.
6. Cross-check (the paper's test): on up to `points` (5) intervals [a, a ± 0.1] starting at
   agreeing points, F(b) - F(a) must equal the Gauss-Legendre quadrature of f (12 nodes, checked
   against the two halves; a fast oscillation shrinks the interval by 4, up to 8 times) within
   interval_rtol (1e-7) of the quadrature's size; failing that, mpmath quad at 30 then 60 digits
   within 1e-12. An interval that still fails is bisected: a difference that concentrates at one
   point is a jump of F — allowed as a branch choice (as in 5: the interval is skipped), refused
   otherwise — and a difference that does not concentrate rejects the candidate.
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
SCAN_PIECES = 96  # _scan_jumps: grid pieces over the hull of the agreeing points
SCAN_BISECTIONS = 8  # _scan_jumps: at most this many suspicious pieces are searched for a jump
ZOOM = 64  # _locate_jump: pieces per zoom round
JUMP_RTOL = 1e-7  # _scan_jumps: a jump of F smaller than this times 1 + |F| is ignored


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


MAX_DPS_FACTOR = 8  # _confirm raises precision mp_dps, 2x, 4x, 8x until a value is settled
NEGLIGIBLE = 1e-12  # unsettled at every precision and below this share of f's largest value: no vote


def _confirm(f_tree: Node, F_tree: Node, x: float, cfg: VerifyConfig, typical: float = 0.0) -> str:
    """Settle one point in mpmath: 'agree', 'mismatch', or 'skip' (undefined, F' not real there, or
    both sides negligible and unsettled at every precision).

    Agree if |F' - f| <= mp_rtol * max(|F'|, |f|) at some precision (mp_dps, doubled up to
    MAX_DPS_FACTOR times); or if the difference at a higher precision is below mp_rtol times the
    values at the lower one: then the lower-precision values were rounding noise (an integrand that
    cancels to 0, say). A mismatch needs a *settled* difference: F' and f the same (to mp_rtol) at
    two precisions in a row (and neither exactly 0). Values that keep moving as precision rises are cancellation noise
    (tanh(6x)/6 - tanh(6x)^3/18 differentiates to sech^2 (1 - tanh^2), 0 at 30 digits for x = -10):
    the precision is raised; if it never settles and |f|, |F'| are both below NEGLIGIBLE times
    `typical` (the largest |f| seen), the point is skipped, otherwise it is a mismatch."""
    previous: tuple[Any, Any, Any] | None = None  # (F', f, scale) at the lower precision
    dps = cfg.mp_dps
    while dps <= MAX_DPS_FACTOR * cfg.mp_dps:
        f = mp_value(f_tree, x, dps)
        F = mp_eval(F_tree, x, dps)
        if f is None or F is None:
            return "skip"
        with mp.workdps(dps):
            fv, Fd = mp.mpc(f), mp.mpc(F[1])
            scale = max(abs(Fd), abs(fv))
            if not is_real(fv, mp.mpf(10) ** (-dps // 2)) and abs(fv.imag) > cfg.mp_rtol * (previous[2] if previous else scale):
                return "skip"
            diff = abs(Fd - fv.real)
            if diff <= cfg.mp_rtol * scale or (previous is not None and diff <= cfg.mp_rtol * previous[2]):
                return "agree"
            if previous is not None:
                # an exact 0 at two precisions is what total cancellation gives: not settled
                settled = (Fd != 0 and fv != 0 and abs(Fd - previous[0]) <= cfg.mp_rtol * scale
                           and abs(fv - previous[1]) <= cfg.mp_rtol * scale)
                if settled:
                    return "mismatch" if is_real(Fd, 1e-12) else "skip"
            previous = (Fd, fv, scale)
        dps *= 2
    if not is_real(previous[0], 1e-12):
        return "skip"
    negligible = NEGLIGIBLE * typical
    if typical > 0 and abs(previous[0]) <= negligible and abs(previous[1]) <= negligible:
        return "skip"
    return "mismatch"


def _derivative_check(f_tree: Node, F_tree: Node, seed: int, cfg: VerifyConfig) -> tuple[list[float], float]:
    """Agreeing points and the largest relative error among them; raises Reject on a mismatch."""
    agree: list[float] = []
    max_err = typical = 0.0
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
        if usable.any():
            typical = max(typical, float(np.max(np.abs(fv[usable]))))
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
            outcome = _confirm(f_tree, F_tree, float(xs[i]), cfg, typical)
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
        # F is compared a little outside the switch, not at the two floats around it: steps that
        # cancel (-cos(x)*sign(sin(x)) + 2*floor(x/pi) for |sin(x)|) switch a few ulps apart in
        # floating point (sin(pi) is 1.2e-16, not 0), and between them F looks like it jumped.
        d = 1e-9 * (1 + abs(lo))
        wide = np.array([lo - d, hi + d])
        Fv = np_eval(F_tree, wide)[0]
        slope = float(np.max(np.abs(np_values(f_tree, wide))))
        if abs(Fv[1] - Fv[0]) > 1e-6 * (1 + float(np.max(np.abs(Fv)))) + 4 * slope * (hi - lo + 2 * d):
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


# Functions whose principal branch jumps where their argument is 0 (they are computed as atan(1/u),
# atanh(1/u), ...): a jump of F there is a branch choice, like atan's at an infinite argument.
POLE_AT_ZERO = {"acot", "acoth", "asec", "acsc", "asech", "acsch"}
HUGE = 1e6  # |argument| beyond this at a jump: a pole fed into a bounded function (atan(1/x), atan(tan x))


def _subtrees(tree: Node) -> list[Node]:
    """Every x-dependent subtree of a tree, the tree itself included."""
    if not depends_on_x(tree):
        return []
    found = [tree]
    for c in tree[1:]:
        if isinstance(c, tuple):
            found += _subtrees(c)
    return found


def _locate_jump(f_tree: Node, F_tree: Node, a: float, b: float, gap: complex) -> tuple[float, float] | None:
    """Zoom into [a, b] towards where F(b) - F(a) - integral of f concentrates: the tiny interval
    holding a jump of F, or None if the difference does not concentrate (a smooth error).

    Each round cuts the interval into ZOOM pieces (one numpy call for F, one for f at the pieces'
    midpoints) and keeps the piece whose increment of F differs most from f times its width."""
    lo, hi = a, b
    for _ in range(20):
        if not lo < (lo + hi) / 2 < hi:
            break
        cuts = np.linspace(lo, hi, ZOOM + 1)
        cuts = np.unique(np.clip(cuts, lo, hi))
        if len(cuts) < 3:
            break
        Fv = np_eval(F_tree, cuts)[0]
        fm = np_values(f_tree, (cuts[:-1] + cuts[1:]) / 2)
        with np.errstate(all="ignore"):
            residual = np.abs(np.diff(Fv) - fm * np.diff(cuts))
        residual = np.where(np.isfinite(residual), residual, np.inf)
        k = int(np.argmax(residual))
        lo, hi = float(cuts[k]), float(cuts[k + 1])
    # F may be undefined exactly at the jump (x/abs(x) at 0): step out until it is defined
    lo, hi = _defined_end(F_tree, lo, -1), _defined_end(F_tree, hi, 1)
    final = _interval_gap(f_tree, F_tree, lo, hi)
    if final is not None and abs(final[0]) < 0.5 * abs(gap):
        return None
    return lo, hi


def _defined_end(F_tree: Node, x: float, direction: int) -> float:
    """x, or the nearest point a little further in `direction` where F is finite."""
    step = 1e-15 * (1 + abs(x))
    for _ in range(20):
        if np.isfinite(np_eval(F_tree, np.array([x]))[0][0]):
            return x
        x += direction * step
        step *= 4
    return x


def _branch_jump(F_tree: Node, a: float, b: float) -> bool:
    """Does F's jump between a and b (a tiny interval) come from a branch choice (True) or is it an
    artificial step (False)?

    A branch choice: a function node (not sign/floor/ceiling/abs) whose value jumps by a finite
    amount there while its argument is huge (a pole fed into a bounded function: atan(1/x),
    atan(tan(x))), or is 0 for the acot family (acot(x) = atan(1/x)), or is not real (a complex
    branch cut). Anything else — sign, floor, ceiling, and every way of writing them: x/abs(x),
    sqrt(x**2)/x, x*(1/abs(x)), (x - 1)/abs(x - 1) — makes a step from continuous pieces and is
    not an antiderivative across the point."""
    ends = np.array([a, b])
    for node in _subtrees(F_tree):
        if node[0] == "pow":
            if _is_integer_power(node):
                continue
            arg = node[1]
        elif node[0] == "fn" and node[1] not in BRANCH_FUNCTIONS and node[1] != "abs":
            arg = node[2]
        else:
            continue
        v = np_values(node, ends)
        if not np.all(np.isfinite(v)) or abs(v[1] - v[0]) <= 1e-9 * (1 + float(np.max(np.abs(v)))):
            continue  # no finite jump at this node
        u = np_values(arg, ends)
        if not np.all(np.isfinite(u)) or float(np.max(np.abs(u))) > HUGE:
            return True
        if node[0] == "fn" and node[1] in POLE_AT_ZERO and float(np.max(np.abs(u))) < 1 / HUGE:
            return True
        if not (np.all(np.abs(u.imag) <= 1e-12 * np.abs(u)) and np.all(np.abs(v.imag) <= 1e-12 * np.abs(v))):
            return True
    return False


def _is_integer_power(node: Node) -> bool:
    exponent = node[2]
    if depends_on_x(exponent):
        return False
    value = complex(np_values(exponent, np.array([0.0]))[0])
    return value.imag == 0 and float(value.real).is_integer()


def _real_jump(F_tree: Node, lo: float, hi: float, dps: int) -> bool:
    """F(hi) - F(lo) is a jump (above JUMP_RTOL * (1 + |F|)) also at `dps` digits, not rounding
    noise of a float evaluation (large terms that cancel)."""
    Flo, Fhi = mp_eval(F_tree, lo, dps), mp_eval(F_tree, hi, dps)
    if Flo is None or Fhi is None:
        return False
    with mp.workdps(dps):
        return bool(abs(Fhi[0] - Flo[0]) > JUMP_RTOL * (1 + max(abs(Flo[0]), abs(Fhi[0]))))


def _jump_is_legitimate(f_tree: Node, F_tree: Node, a: float, b: float, gap: complex, dps: int) -> bool | None:
    """Zoom into [a, b]: None if the difference does not concentrate at a point (a smooth error),
    else False for a confirmed artificial step and True otherwise (a branch choice, or no jump
    once computed with `dps` digits)."""
    where = _locate_jump(f_tree, F_tree, a, b, gap)
    if where is None:
        return None
    return not _real_jump(F_tree, *where, dps) or _branch_jump(F_tree, *where)


def _scan_jumps(f_tree: Node, F_tree: Node, agree: list[float], cfg: VerifyConfig) -> None:
    """Look for jumps of F anywhere between the agreeing points, not only on the paper's intervals:
    the hull of the agreeing points is cut into pieces (at the agreeing points and on a grid of
    SCAN_PIECES), and on each piece where f is real and finite, F(b) - F(a) is compared with the
    12-node Gauss-Legendre quadrature; where that does not resolve f (a corner of |sin x|, a fast
    oscillation) only a difference far beyond the quadrature's own error counts. A piece that differs is bisected; a jump found
    there rejects the candidate unless f has a pole there or the jump is a branch choice
    (`_branch_jump`). Raises Reject."""
    xs = np.array(sorted(set(agree)))
    if len(xs) < 2:
        return
    grid = np.linspace(xs[0], xs[-1], SCAN_PIECES + 1)
    cuts = np.unique(np.concatenate([xs, grid]))
    a, b = cuts[:-1], cuts[1:]
    keep = b - a > 1e-9 * (1 + np.abs(a))
    a, b = a[keep], b[keep]
    m = (a + b) / 2
    centres = np.stack([m, (a + m) / 2, (m + b) / 2], axis=1)  # (n, 3)
    halves = np.stack([b - a, m - a, b - m], axis=1) / 2
    nodes = centres[:, :, None] + halves[:, :, None] * GL_NODES  # (n, 3, 12)
    fv = np_values(f_tree, nodes.ravel()).reshape(nodes.shape)
    Fv = np_eval(F_tree, cuts)[0]
    Fa, Fb = Fv[:-1][keep], Fv[1:][keep]
    with np.errstate(all="ignore"):
        real_f = np.all(np.isfinite(fv) & (np.abs(fv.imag) <= 1e-9 * np.abs(fv)), axis=(1, 2))
        sums = halves * (fv.real @ GL_WEIGHTS)  # (n, 3)
        whole, split = sums[:, 0], sums[:, 1] + sums[:, 2]
        size = (b - a) * np.max(np.abs(fv), axis=(1, 2))
        resolved = np.abs(whole - split) <= 1e-9 * (np.abs(split) + size)
        finite_F = np.isfinite(Fa) & np.isfinite(Fb)
        gap = Fb - Fa - split
        # a jump below JUMP_RTOL * (1 + |F|) is not rejected anyway; rounding in F stays far below
        scale = cfg.interval_rtol * (np.abs(split) + size) + 0.1 * JUMP_RTOL * (1 + np.maximum(np.abs(Fa), np.abs(Fb)))
        # an unresolved piece (f has a kink or oscillates fast there) is still bad when the
        # difference is far beyond the quadrature's own error: a step of F next to a kink of f
        # (-cos(x)*sqrt(sin(x)**2)/sin(x) for |sin(x)| jumps where f has its corners)
        bad = real_f & finite_F & (np.abs(gap) > scale) & (resolved | (np.abs(gap) > 100 * np.abs(whole - split)))
    typical = float(np.max(np.abs(fv[real_f]))) if real_f.any() else 0.0
    for i in np.flatnonzero(bad)[np.argsort(-np.abs(gap[bad]) / scale[bad])][:SCAN_BISECTIONS]:
        where = _locate_jump(f_tree, F_tree, float(a[i]), float(b[i]), complex(gap[i]))
        if where is None:
            continue  # not a jump; the interval check judges smooth differences
        lo, hi = where
        ends = np.array([lo, hi])
        fe = np_values(f_tree, ends)
        if not (np.all(np.isfinite(fe)) and np.all(np.abs(fe.imag) <= 1e-9 * np.abs(fe))):
            continue  # f is not real/finite here: different intervals of f's domain
        if float(np.max(np.abs(fe))) > HUGE * (1 + typical):
            continue  # a pole of f
        Fe = np_eval(F_tree, ends)[0]
        if not np.all(np.isfinite(Fe)) or abs(Fe[1] - Fe[0]) <= JUMP_RTOL * (1 + float(np.max(np.abs(Fe)))):
            continue
        if _real_jump(F_tree, lo, hi, cfg.mp_dps) and not _branch_jump(F_tree, lo, hi):
            raise Reject(f"the candidate jumps at x = {lo:.6g} (by {_show(Fe[1] - Fe[0])}) where the integrand is continuous")


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
            legit = _jump_is_legitimate(f_tree, F_tree, lo, hi, gap, cfg.mp_dps)
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
        _scan_jumps(f_tree, F_tree, agree, cfg)
        intervals = _interval_check(f_tree, F_tree, agree, cfg)
    except Reject as r:
        return Verdict(False, str(r))
    return Verdict(True, "derivative matches the integrand", points=len(agree), max_error=max_err, intervals=intervals)


