"""Each layer of the indefinite check (engine/verify/indefinite.py) on its own, with answers that only
that layer can reject: the float tolerance, the mpmath confirmation (and its precision escalation
for cancellation), the number of agreeing points, the jump rule in every spelling, and the paper's
interval check. All in-process through `check` (no worker pool)."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from engine.runs.config import VerifyConfig
from engine.verify import indefinite, numeric
from engine.verify.parse import parse_tree
from engine.verify.verdict import Reject
from engine.verify.verifier import check

DEFAULT = VerifyConfig()


def cfg(**changes) -> VerifyConfig:
    return dataclasses.replace(VerifyConfig(), **changes)


# ------------------------------------------------------------------ float tolerance and mpmath confirmation

@pytest.mark.parametrize("integrand, answer", [
    ("exp(x)", "exp(x)*(1 + 1e-7)"),
    ("exp(x)", "exp(x)*(1 + 1e-8)"),
    ("x**2", "x**3/3*(1 + 3e-9)"),
    ("cos(x)", "sin(x)*(1 - 2e-8)"),
])
def test_relative_errors_above_the_float_tolerance_are_rejected(integrand, answer):
    """Within 1e-6 but above float_rtol (1e-9): the float pass sends the points to mpmath, which
    finds a settled difference. A looser float tolerance would wave these through (the interval
    check's 1e-7 does not see them)."""
    v = check(integrand, answer)
    assert not v.ok and "derivative differs" in v.reason, v.reason
    assert DEFAULT.float_rtol == 1e-9


def test_rounding_below_the_float_tolerance_is_accepted():
    """1e-12 is float rounding territory: the float pass accepts it without mpmath (a tighter float
    tolerance would send it to mpmath, which rejects it)."""
    assert check("exp(x)", "exp(x)*(1 + 1e-12)").ok
    assert check("x**2", "x**3/3*(1 + 1e-13)").ok
    assert not check("exp(x)", "exp(x)*(1 + 1e-12)", cfg=cfg(float_rtol=1e-14)).ok


def test_the_float_tolerance_is_what_rejects_1e_7():
    assert check("exp(x)", "exp(x)*(1 + 1e-7)", cfg=cfg(float_rtol=1e-6)).ok  # the layer switched off
    assert not check("exp(x)", "exp(x)*(1 + 1e-7)").ok


def test_mpmath_confirmation_rejects_what_float_cannot_settle():
    """Where F' cancels in float (|6x| > 3), the float pass cannot settle a point; mpmath decides."""
    # F' = sech^2 (1 - tanh^2) cancels for |6x| > 3; a 1e-4 error on the cubic term shows at 60 digits
    v = check("sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18.0018")
    assert not v.ok and "derivative differs" in v.reason


# Steep hyperbolic and exponential forms: at large |x| F' cancels to 0 at 30 (or 60) digits while f is
# tiny but not zero; the precision is raised until the values settle. Correct forms must pass, forms
# wrong by a little must still fail.
STEEP_CORRECT = [
    ("sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18"),
    ("sech(5*x)**6", "tanh(5*x)/5 - 2*tanh(5*x)**3/15 + tanh(5*x)**5/25"),
    ("sech(9*x)**8", "tanh(9*x)/9 - tanh(9*x)**3/9 + tanh(9*x)**5/15 - tanh(9*x)**7/63"),
    ("sech(4*x)**4", "tanh(4*x)/4 - tanh(4*x)**3/12"),
    ("1/(1 + exp(-12*x))", "x + log(1 + exp(-12*x))/12"),
    ("1/(1 + exp(-12*x))", "log(1 + exp(12*x))/12"),
    ("1/(1 + exp(10*x))", "x - log(1 + exp(10*x))/10"),
    ("6*sech(6*x)**2", "(exp(12*x) - 1)/(exp(12*x) + 1)"),
    ("exp(-30*x)*sinh(30*x)", "x/2 + exp(-60*x)/120"),
    ("tanh(7*x)**2", "x - tanh(7*x)/7"),
    ("exp(8*x)/(1 + exp(8*x))**2", "-1/(8*(1 + exp(8*x)))"),
    ("sech(4*x)**2*tanh(4*x)", "-sech(4*x)**2/8"),
]
STEEP_WRONG = [
    ("sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18.0001"),
    ("sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18 + exp(-(x + 9)**2)"),
    ("sech(6*x)**4", "tanh(6*x)/6.000001 - tanh(6*x)**3/18"),
    ("sech(5*x)**6", "tanh(5*x)/5 - 2*tanh(5*x)**3/15 + tanh(5*x)**5/24"),
    ("sech(9*x)**8", "tanh(9*x)/9 - tanh(9*x)**3/9 + tanh(9*x)**5/15 - tanh(9*x)**7/62"),
    ("1/(1 + exp(-12*x))", "x + log(1 + exp(-12*x))/12.001"),
    ("1/(1 + exp(-12*x))", "x + log(1 + exp(-12*x))/12 + exp(12*x)*1e-6"),
    ("6*sech(6*x)**2", "(exp(12*x) - 1)/(exp(12*x) + 1.000001)"),
    ("exp(-30*x)*sinh(30*x)", "x/2 + exp(-60*x)/119"),
    ("tanh(7*x)**2", "x - tanh(7*x)/7.0001"),
]


@pytest.mark.parametrize("integrand, answer", STEEP_CORRECT, ids=[a for _, a in STEEP_CORRECT])
def test_steep_forms_that_cancel_are_accepted(integrand, answer):
    v = check(integrand, answer)
    assert v.ok, v.reason


@pytest.mark.parametrize("integrand, answer", STEEP_WRONG, ids=[a for _, a in STEEP_WRONG])
def test_steep_forms_wrong_by_a_little_are_rejected(integrand, answer):
    v = check(integrand, answer)
    assert not v.ok, (integrand, answer)


def test_cancellation_is_settled_by_raising_precision_not_by_giving_up():
    """At x = -9.88 the answer's derivative is 0 at 30 digits; at more digits it equals f = 1.8e-102."""
    f, F = parse_tree("sech(6*x)**4"), parse_tree("tanh(6*x)/6 - tanh(6*x)**3/18")
    assert indefinite._confirm(f, F, -9.87656, DEFAULT, typical=1.0) == "agree"
    wrong = parse_tree("tanh(6*x)/6 - tanh(6*x)**3/18.0001")
    assert indefinite._confirm(f, wrong, -9.87656, DEFAULT, typical=1.0) == "mismatch"
    # a constant F' of 0 against f = 1 is settled at once, whatever the cancellation rule says
    assert indefinite._confirm(parse_tree("1"), parse_tree("floor(x)"), 0.5, DEFAULT, typical=1.0) == "mismatch"


# ------------------------------------------------------------------ the number of agreeing points

def only_finite_at(integrand: str, k: int) -> str:
    """An answer equal to x (right for the integrand 1) that is finite only at the first k points of
    the first sampling round and NaN everywhere else (0/0), so exactly k points can agree."""
    xs, _ = indefinite._round0(parse_tree(integrand), zlib.crc32(integrand.encode()),
                               (DEFAULT.round_points, DEFAULT.domain))
    bumps = " + ".join(f"floor(2e-18/((x - {float(x)!r})**2 + 1e-18))" for x in xs[:k])
    return f"x + 0/({bumps})"


@pytest.mark.parametrize("k", [1, 2, 7])
def test_fewer_than_min_points_agreeing_points_reject(k):
    v = check("1", only_finite_at("1", k))
    assert not v.ok and v.points == k and f"({k} < 8)" in v.reason, v.reason
    assert DEFAULT.min_points == 8


def test_min_points_agreeing_points_accept():
    v = check("1", only_finite_at("1", 8))
    assert v.ok and v.points == 8, v.reason
    assert not check("1", only_finite_at("1", 8), cfg=cfg(min_points=9)).ok


# ------------------------------------------------------------------ jumps

JUMPS = [
    ("1", "x + sign(x)"),
    ("1", "x + floor(x)"),
    ("1", "x + ceiling(x/3)"),
    ("1", "x + x/abs(x)"),
    ("1", "x + abs(x)/x"),
    ("1", "x + sqrt(x**2)/x"),
    ("1", "x + x/sqrt(x**2)"),
    ("1", "x + (x**2)**(1/2)/x"),
    ("1", "x + x*(1/abs(x))"),
    ("1", "x + x**2/x/abs(x)"),
    ("1", "x + (abs(x) + x)/(2*x)"),
    ("1", "x + sqrt(-x**2)/(I*x)"),
    ("1", "x + sqrt(x**2)/x/1000"),
    ("1", "x + abs(x - 3)/(x - 3)"),
    ("1", "x + sqrt((x - 2)**2)/(x - 2)"),
    ("x", "x**2/2 + (x - 1)/abs(x - 1)"),
    ("x", "x**2/2 + sign(x - 1)"),
    ("x", "x**2/2 + floor(x/4)"),
    ("cos(x)", "sin(x) + (x + 0.5)/abs(x + 0.5)/100"),
    ("exp(x)", "exp(x) + abs(x - 0.3)/(x - 0.3)"),
]


@pytest.mark.parametrize("integrand, answer", JUMPS, ids=[a for _, a in JUMPS])
def test_a_jump_where_the_integrand_is_continuous_is_rejected_however_it_is_written(integrand, answer):
    v = check(integrand, answer)
    assert not v.ok and "jump" in v.reason, v.reason


BRANCH_JUMPS = [  # jumps at a pole fed into a bounded function, or the acot family at 0: allowed
    ("1", "atan(tan(x))"),
    ("1/(1 + x**2)", "-atan(1/x)"),
    ("1/(1 + x**2)", "-acot(x)"),
    ("1/(1 - x**2)", "acoth(x)"),
    ("1/(1 + cos(x)**2)", "atan(tan(x)/sqrt(2))/sqrt(2)"),
    ("1/(2 + cos(x))", "2*atan(tan(x/2)/sqrt(3))/sqrt(3)"),
    ("sec(x)", "2*atanh(tan(x/2))"),
    ("abs(x)", "x**2*sign(x)/2"),  # sign inside, but F is continuous
    ("abs(x)", "x*abs(x)/2"),
    ("1/x", "log(abs(x))"),  # the jump of log|x| is at f's pole
    ("1/x**2", "-1/x + sign(x)"),  # a step at f's pole: different intervals of f's domain
]


@pytest.mark.parametrize("integrand, answer", BRANCH_JUMPS, ids=[a for _, a in BRANCH_JUMPS])
def test_branch_jumps_and_jumps_at_poles_are_accepted(integrand, answer):
    v = check(integrand, answer)
    assert v.ok, v.reason


def test_jump_scan_finds_a_jump_away_from_the_paper_intervals():
    """_scan_jumps alone (not the interval check) rejects x + x/abs(x) from the agreeing points."""
    f, F = parse_tree("1"), parse_tree("x + x/abs(x)")
    agree = [-7.0, -3.0, -0.5, 0.25, 2.0, 5.0, 8.0, 9.5]
    with pytest.raises(Reject, match="jumps at x = "):
        indefinite._scan_jumps(f, F, agree, DEFAULT)
    indefinite._scan_jumps(f, parse_tree("x + 5"), agree, DEFAULT)  # no jump: no Reject
    indefinite._scan_jumps(parse_tree("1/(1 + x**2)"), parse_tree("-atan(1/x)"), agree, DEFAULT)


def test_branch_jump_classifier():
    assert indefinite._branch_jump(parse_tree("atan(1/x)"), -1e-20, 1e-20)
    assert indefinite._branch_jump(parse_tree("acot(x)"), -1e-20, 1e-20)
    for artificial in ("x/abs(x)", "sqrt(x**2)/x", "sign(x)", "x*(1/abs(x))", "(abs(x) + x)/(2*x)"):
        assert not indefinite._branch_jump(parse_tree(artificial), -1e-20, 1e-20), artificial


def test_rounding_noise_in_a_large_answer_is_not_a_jump():
    """Terms of 1e10 that cancel leave float noise of 1e-5 between neighbouring points; mpmath
    shows there is no jump (Rubi's answer for 1/(sin(x) + tan(x))**4 tripped a float-only rule)."""
    F = parse_tree("cot(x)**11 - cot(x)**11 + x")
    assert not indefinite._real_jump(F, -0.0990459, -0.0990459 + 1e-15, DEFAULT.mp_dps)
    assert indefinite._real_jump(parse_tree("x/abs(x)"), -1e-20, 1e-20, DEFAULT.mp_dps)


# ------------------------------------------------------------------ the interval check (the paper's test)

def test_interval_check_alone_rejects_a_wrong_antiderivative():
    f = parse_tree("1")
    starts = [-6.0, -2.5, 0.3, 1.7, 4.2, 7.9]
    assert indefinite._interval_check(f, parse_tree("x + 3"), starts, DEFAULT) == DEFAULT.points
    with pytest.raises(Reject, match="differs from the integral"):
        indefinite._interval_check(f, parse_tree("1.001*x"), starts, DEFAULT)
    with pytest.raises(Reject):
        indefinite._interval_check(parse_tree("cos(x)"), parse_tree("sin(x) + x*1e-5"), starts, DEFAULT)


def test_interval_check_catches_what_a_broken_derivative_rule_lets_through(monkeypatch):
    """The interval check does not use F': with the derivative rule of sinh broken (cosh + 1), the
    wrong answer sinh(x) - x has F' = cosh(x) = f at every point, and only F(b) - F(a) against the
    quadrature of f rejects it."""
    value, _ = numeric._FUNCS["sinh"]
    monkeypatch.setitem(numeric._FUNCS, "sinh", (value, lambda B, u, v: B.cosh(u) + 1))
    numeric.np_closure.cache_clear()
    numeric.mp_closure.cache_clear()
    try:
        f, F = parse_tree("cosh(x)"), parse_tree("sinh(x) - x")
        agree, _ = indefinite._derivative_check(f, F, 1, DEFAULT)
        assert len(agree) >= DEFAULT.min_points  # the derivative layer is fooled
        v = check("cosh(x)", "sinh(x) - x")
        assert not v.ok and "differs from the integral" in v.reason, v.reason
    finally:
        numeric.np_closure.cache_clear()
        numeric.mp_closure.cache_clear()


def test_verdict_counts_intervals():
    v = check("x*cos(x)", "x*sin(x) + cos(x)")
    assert v.ok and v.intervals == DEFAULT.points and v.points >= DEFAULT.min_points


# ------------------------------------------------------------------ constants

def test_constant_answers():
    assert check("x - x", "0").ok and check("sin(x)**2 + cos(x)**2 - 1", "5").ok
    assert not check("x**2", "5").ok and not check("1e-30", "0").ok


def test_sample_points_are_seeded_by_the_integrand():
    a = indefinite._sample(np.random.default_rng([1, 0]), 0, DEFAULT, None)
    b = indefinite._sample(np.random.default_rng([1, 0]), 0, DEFAULT, None)
    assert np.array_equal(a, b) and len(a) == DEFAULT.round_points
    assert np.all(np.abs(a) <= DEFAULT.domain) and np.sum(np.abs(a) <= 1.5) >= DEFAULT.round_points // 3
