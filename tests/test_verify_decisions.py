"""The indefinite check's decision functions one at a time, with inputs chosen so that every
constant and comparison of engine/verify/indefinite.py shows: the sampling rule of each round, the
mpmath confirmation's precision ladder and its skip rules, the sign/floor/ceiling jump rule, the
jump locator, the branch-choice classifier, the interval quadrature and the verdicts' exact
wording. `make mutate` runs these against mutants of that file (tests/test_verify_layers.py tests
the same layers through the whole check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.runs.config import VerifyConfig
from engine.verify import indefinite as ind
from engine.verify.parse import parse_tree
from engine.verify.verdict import Reject

T = parse_tree
DEFAULT = VerifyConfig()


def cfg(**changes) -> VerifyConfig:
    return dataclasses.replace(VerifyConfig(), **changes)


# ------------------------------------------------------------------ sampling rounds


def _rng(seed=11):
    return np.random.default_rng(seed)


def test_round_0_draws_two_thirds_on_the_domain_and_the_rest_near_0():
    c = cfg(round_points=30, domain=7.0)
    xs = ind._sample(_rng(), 0, c, None)
    r = _rng()
    expected = np.concatenate([r.uniform(-7.0, 7.0, 20), r.uniform(-1.5, 1.5, 10)])
    assert np.array_equal(xs, expected)
    assert xs[:20].min() < -5 and xs[:20].max() > 5 and np.abs(xs[20:]).max() <= 1.5


@pytest.mark.parametrize("round_", [1, 3])
def test_odd_rounds_sample_the_padded_hull_of_the_agreeing_points(round_):
    c = cfg(round_points=25)
    lo, hi = -3.0, -1.0
    xs = ind._sample(_rng(), round_, c, (lo, hi))
    pad = 0.25 * (hi - lo) + 1e-3 * (1 + abs(lo) + abs(hi))
    assert pad == pytest.approx(0.505)
    assert np.array_equal(xs, _rng().uniform(lo - pad, hi + pad, 25))
    # the pad grows with |lo| + |hi| (a hull far from 0), not with their difference
    xs = ind._sample(_rng(), round_, c, (100.0, 100.5))
    assert np.allclose(xs, _rng().uniform(100.0 - 0.3265, 100.5 + 0.3265, 25), rtol=1e-13, atol=0)


def test_round_2_samples_wide_and_very_near_0():
    c = cfg(round_points=25, domain=3.0)
    for hull in (None, (-3.0, -1.0)):  # even rounds ignore the hull
        xs = ind._sample(_rng(), 2, c, hull)
        r = _rng()
        assert np.array_equal(xs, np.concatenate([r.uniform(-30.0, 30.0, 12), r.uniform(-0.2, 0.2, 13)]))
    # round 1 without a hull (nothing agreed yet) is a wide round too
    assert np.array_equal(ind._sample(_rng(), 1, c, None), ind._sample(_rng(), 2, c, None))


def test_round_3_without_a_hull_spans_six_decades_of_both_signs():
    c = cfg(round_points=25)
    for round_ in (3, 4):
        xs = ind._sample(_rng(), round_, c, None if round_ == 3 else (1.0, 2.0))
        r = _rng()
        assert np.array_equal(xs, r.choice([-1.0, 1.0], 25) * 10 ** r.uniform(-3, 3, 25))
        assert len(xs) == 25 and (xs < 0).any() and (xs > 0).any()


# ------------------------------------------------------------------ mpmath confirmation


def confirm(f, F, x, typical=None, **c):
    args = (T(f), T(F), x, cfg(**c))
    return ind._confirm(*args) if typical is None else ind._confirm(*args, typical)


def test_confirm_agree_mismatch_and_undefined():
    assert confirm("cos(x)", "sin(x)", 1.0) == "agree"
    assert confirm("cos(x)", "sin(x)*(1 + 1e-15)", 1.0) == "mismatch"
    assert confirm("1/x", "log(x)", 0.0) == "skip"  # f undefined
    assert confirm("1", "x + 1/(x - 2)", 2.0) == "skip"  # F undefined, f fine
    assert confirm("x**2", "sqrt(x)", -1.0) == "skip"  # F' not real where f is: outside F's domain


def test_confirm_imaginary_parts_of_f():
    # f with a relative imaginary part of 2e-18 (below 10^-(dps/2)) is real: agree
    assert confirm("cos(x) + 1e-18*sqrt(x - 5)", "sin(x)", 1.0) == "agree"
    assert confirm("cos(x) + 1e-16*sqrt(x - 5)", "sin(x)", 1.0) == "agree"
    # 1e-12 relative is not: the point is outside f's real domain
    assert confirm("cos(x) + 1e-12*sqrt(x - 5)", "sin(x)", 1.0) == "skip"
    assert confirm("sqrt(x)", "2*x**(3/2)/3", -1.0) == "skip"


def test_confirm_raises_precision_up_to_8_times_mp_dps():
    # d/dx (tanh(6x)/6 - tanh(6x)^3/18) = sech(6x)^4 cancels to 0 in low precision; at x = -40 the
    # value 1e-417 only shows with ~210 digits: the last rung (240) of 30, 60, 120, 240
    f, F = "sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18"
    assert confirm(f, F, -10.0) == "agree"
    assert confirm(f, F, -40.0) == "agree"
    assert confirm(f, F, -40.0, mp_dps=20) == "mismatch"  # 20..160 digits never see it


def test_confirm_cancellation_with_an_exact_zero_is_not_settled():
    # F' = 2(x+1) - 2x - 2 is 0 at every precision: never settled. f = exp(-x^2) is tiny there.
    f, F = "exp(-x**2)", "(x + 1)**2 - x**2 - 2*x"
    assert confirm(f, F, 5.3) == "mismatch"  # no typical size given: nothing is negligible
    assert confirm(f, F, 5.3, typical=10.0) == "skip"  # 6e-13 < 1e-12 * 10
    assert confirm(f, F, 5.3, typical=0.1) == "mismatch"  # 6e-13 > 1e-12 * 0.1
    assert confirm(f, F, 6.0, typical=0.5) == "skip"  # 2e-16 < 5e-13
    assert confirm("exp(-x**2) + 1e-3", F, 6.0, typical=0.5) == "mismatch"  # f itself not negligible


def test_confirm_agrees_when_the_higher_precision_error_is_below_the_lower_precision_values():
    # at 30 digits the difference is rounding noise; at 60 it is far below 1e-20 of the 30-digit values
    assert confirm("sech(6*x)**4", "tanh(6*x)/6 - tanh(6*x)**3/18", -10.0, mp_dps=30) == "agree"


def test_confirm_settled_difference_needs_two_equal_precisions():
    # exp(x) vs exp(x) * (1 + 1e-25): settled at 30 and 60 digits, relative error 1e-25 > ... no:
    # below mp_rtol (1e-20): agree. 1e-18 relative: a settled mismatch.
    assert confirm("exp(x)", "exp(x)*(1 + 1e-25)", 0.5) == "agree"
    assert confirm("exp(x)", "exp(x)*(1 + 1e-18)", 0.5) == "mismatch"
    assert confirm("exp(x)", "exp(x)*(1 + 1e-18)", 0.5, mp_rtol=1e-17) == "agree"


# ------------------------------------------------------------------ derivative check rounds


def test_derivative_check_stops_at_min_points_and_runs_retries_plus_one_rounds():
    f, F = T("cos(x)"), T("sin(x)")
    agree, err = ind._derivative_check(f, F, 1, cfg(round_points=8, min_points=8))
    assert len(agree) == 8 and 0 <= err <= 1e-9  # round 0 is enough: no second round
    agree, _ = ind._derivative_check(f, F, 1, cfg(round_points=2, min_points=100, retries=3))
    assert len(agree) == 8  # 4 rounds of 2
    agree, _ = ind._derivative_check(f, F, 1, cfg(round_points=2, min_points=100, retries=0))
    assert len(agree) == 2


def test_derivative_check_follows_a_narrow_real_domain():
    # f is real only on [-3, -1]: round 0 finds a point or two, the hull rounds find the rest
    f, F = T("1/sqrt(-3 - 4*x - x**2)"), T("asin(x + 2)")
    agree, _ = ind._derivative_check(f, F, 0, cfg(round_points=12))
    assert len(agree) >= 8 and all(-3 < x < -1 for x in agree)


def test_derivative_check_reports_the_largest_float_error():
    agree, err = ind._derivative_check(T("exp(x)"), T("exp(x)*(1 + 3e-10)"), 3, DEFAULT)
    assert len(agree) >= 8 and err == pytest.approx(3e-10, rel=1e-3)


def test_derivative_check_rejects_at_a_settled_mismatch():
    with pytest.raises(Reject, match="derivative differs"):
        ind._derivative_check(T("exp(x)"), T("exp(x)*(1 + 1e-8)"), 3, DEFAULT)


# ------------------------------------------------------------------ sign / floor / ceiling


def test_switch_nodes_finds_every_sign_floor_ceiling_subtree():
    tree = T("x + sign(x - 1) * floor(x) + ceiling(sign(x)) + abs(x)")
    names = sorted(n[1] for n in ind._switch_nodes(tree))
    assert names == ["ceiling", "floor", "sign", "sign"]
    assert ind._switch_nodes(T("x*exp(x) + abs(x)")) == []
    assert ind._switch_nodes(T("sign(x)")) == [T("sign(x)")]


AGREE = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("f, F", [
    ("1", "x + sign(x)"),
    ("0*x", "floor(x)"),
    ("1", "x + 7.5e-7*sign(x**3 - 0.0025)"),  # a jump of 1.5e-6 > 1e-6 * (1 + |F|) = 1.13e-6
    ("2*x", "x**2 + ceiling(x - 0.3)"),
])
def test_switch_jump_where_f_is_continuous_rejects(f, F):
    with pytest.raises(Reject, match="sign/floor/ceiling step"):
        ind._check_switch_jumps(T(f), T(F), AGREE)


@pytest.mark.parametrize("f, F", [
    ("1", "x"),  # no switch
    ("1", "x + 4e-7*sign(x**3 - 0.0025)"),  # 8e-7 is below 1e-6 * (1 + |F|)
    ("1", "1e7 + x + 0.5*sign(x)"),  # 1 is below 1e-6 * 1e7
    ("1/x", "log(abs(x)) + sign(x)"),  # at a pole of f
    ("1/x**3", "-1/(2*x**2) + sign(x)"),
    ("1/sqrt(x)", "2*sqrt(x) + sign(x)"),  # where f stops being real
    ("1", "x + sign(x - 10)"),  # outside the agreeing points
    # steps that cancel: sign(sin(x)) and floor(x/pi) switch a few ulps apart at pi (sin(pi) is
    # 1.2e-16 in floating point), so F is compared a little outside the switch
    ("abs(sin(x))", "-cos(x)*sign(sin(x)) + 2*floor(x/pi)"),
    ("1", "x + sign(x - 0.3) - sign(x - 0.3 - 1e-15)"),
])
def test_switch_jump_allowed_or_absent(f, F):
    ind._check_switch_jumps(T(f), T(F), AGREE)


def test_switch_jump_located_at_the_change():
    with pytest.raises(Reject, match=r"x = 0\.3 "):
        ind._check_switch_jumps(T("1"), T("x + sign(x - 0.3)"), AGREE)
    with pytest.raises(Reject, match=r"x = -1\.5 "):  # the first change, not the last
        ind._check_switch_jumps(T("1"), T("x + sign(x + 1.5) + sign(x - 1.5)"), AGREE)


# ------------------------------------------------------------------ jump locator and classifier


def test_locate_jump_zooms_onto_the_step():
    lo, hi = ind._locate_jump(T("2*x"), T("x**2 + sign(x - 0.3)"), 0.0, 1.0, 2.0)
    assert lo <= 0.3 <= hi and hi - lo < 1e-12
    lo, hi = ind._locate_jump(T("1"), T("x/abs(x)"), -0.7, 0.4, 2.0)  # F undefined at the step
    assert lo < 0 < hi and hi - lo < 1e-12
    assert ind._locate_jump(T("1"), T("1.001*x"), 0.0, 1.0, 0.001) is None  # a smooth error


def test_defined_end_steps_out_of_where_F_is_undefined():
    F = T("x/abs(x)")
    assert ind._defined_end(F, 0.5, 1) == 0.5
    assert ind._defined_end(F, 0.0, 1) == 1e-15
    assert ind._defined_end(F, 0.0, -1) == -1e-15
    # undefined on [0, 1e-12): steps of 1e-15, 4e-15, 16e-15, ... until past it
    end = ind._defined_end(T("1/floor(x*1e12)"), 0.0, 1)
    assert end == pytest.approx(1e-15 * (1 + 4 + 16 + 64 + 256 + 1024))
    end = ind._defined_end(T("1/floor(x*1e12 - 2e12)"), 2.0, 1)  # steps scale with 1 + |x|
    assert end == pytest.approx(2.0 + 3e-15 * (1 + 4 + 16 + 64 + 256), abs=1e-15)
    # never defined: gives up after 20 steps
    assert ind._defined_end(T("1/(x - x)"), 0.0, 1) == pytest.approx(1e-15 * (4 ** 20 - 1) / 3)


def test_branch_jump_classifier_decisions():
    eps = 1e-13
    assert ind._branch_jump(T("atan(1/x)"), -eps, eps)  # argument huge at the jump
    assert ind._branch_jump(T("acot(x)"), -eps, eps)  # acot family at 0
    assert not ind._branch_jump(T("x + atan(x)"), -eps, eps)  # no jump at all
    assert not ind._branch_jump(T("x + sign(x)"), -eps, eps)
    assert not ind._branch_jump(T("x + abs(x)/x"), -eps, eps)
    assert not ind._branch_jump(T("sqrt(x**2)/x"), -eps, eps)  # sqrt of a real, small argument
    assert not ind._branch_jump(T("x*(1/abs(x))"), -eps, eps)  # an integer power is no branch
    assert not ind._branch_jump(T("atan(1e-3/x)"), -1e-8, 1e-8)  # argument 1e5 < HUGE: a step
    assert ind._branch_jump(T("atan(1e5/x)"), -1e-12, 1e-12)


def test_is_integer_power():
    assert ind._is_integer_power(T("x**2"))
    assert ind._is_integer_power(T("x**(-1)"))
    assert not ind._is_integer_power(T("x**0.5"))
    assert not ind._is_integer_power(T("x**x"))


def test_real_jump_threshold():
    assert ind._real_jump(T("x + sign(x)"), -1e-9, 1e-9, 30)
    assert not ind._real_jump(T("x"), -1e-9, 1e-9, 30)
    assert ind._real_jump(T("7.5e-8*sign(x)"), -1e-9, 1e-9, 30)  # 1.5e-7 > 1e-7 * (1 + |F|)
    assert not ind._real_jump(T("4e-8*sign(x)"), -1e-9, 1e-9, 30)
    assert ind._real_jump(T("1000*x + 1e-5*sign(x)"), -1e-9, 1e-9, 30)  # F's value, not its slope, scales
    assert not ind._real_jump(T("1e6 + 1e-2*sign(x)"), -1e-9, 1e-9, 30)
    assert ind._real_jump(T("1e6 + 1*sign(x)"), -1e-9, 1e-9, 30)
    assert not ind._real_jump(T("x/abs(x)"), 0.0, 1e-9, 30)  # F undefined at an end: no verdict


# ------------------------------------------------------------------ intervals


def test_interval_gap_values():
    gap, scale, resolved = ind._interval_gap(T("cos(x)"), T("sin(x)"), 0.2, 0.3)
    assert abs(gap) < 1e-15 and resolved
    size = 0.1 * max(abs(np.cos(0.2)), abs(np.cos(0.3)))
    quad = np.sin(0.3) - np.sin(0.2)
    assert scale == pytest.approx(quad + 0.1 * np.cos(0.2 + 0.1 * (1 - 0.9815606342467192) / 2) + 1e-12 * np.sin(0.3), rel=1e-3)
    assert size < scale < 2 * size + 1e-6
    gap, _, _ = ind._interval_gap(T("cos(x)"), T("sin(x) + x**2"), 0.2, 0.3)
    assert gap.real == pytest.approx(0.3**2 - 0.2**2, rel=1e-12)
    gap, _, _ = ind._interval_gap(T("cos(x)"), T("sin(x)"), -2.0, -1.5)
    assert abs(gap) < 1e-15
    assert ind._interval_gap(T("1/floor(x)"), T("x"), 0.2, 0.3) is None  # f not finite
    assert ind._interval_gap(T("sqrt(x)"), T("2*x**(3/2)/3"), -0.2, -0.1) is None  # f not real
    assert ind._interval_gap(T("1"), T("x + 1/(x - 0.1)"), 0.0, 0.1) is None  # F not finite
    # a fast oscillation is not resolved by 12 nodes; shrinking the interval resolves it
    assert not ind._interval_gap(T("cos(exp(x))*exp(x)"), T("sin(exp(x))"), 9.0, 9.1)[2]
    assert ind._interval_gap(T("cos(exp(x))*exp(x)"), T("sin(exp(x))"), 9.0, 9.0 + 0.1 / 4 ** 6)[2]


def test_interval_scale_grows_with_F():
    _, small, _ = ind._interval_gap(T("1"), T("x"), 0.0, 0.1)
    _, large, _ = ind._interval_gap(T("1"), T("x + 1e9"), 0.0, 0.1)
    assert small == pytest.approx(0.2, rel=1e-9) and large == pytest.approx(0.2 + 1e-3, rel=1e-6)


def test_mp_interval_ok():
    assert ind._mp_interval_ok(T("cos(x)"), T("sin(x)"), 0.2, 0.3, 0.2, DEFAULT)
    assert not ind._mp_interval_ok(T("cos(x)"), T("sin(x)*(1 + 1e-9)"), 0.2, 0.3, 0.2, DEFAULT)
    assert not ind._mp_interval_ok(T("1"), T("x + 1/(x - 0.3)"), 0.2, 0.3, 0.2, DEFAULT)  # F undefined
    # within 1e-12 of the scale: the scale decides
    assert ind._mp_interval_ok(T("cos(x)"), T("sin(x) + 1e-14*x"), 0.2, 0.3, 0.2, DEFAULT)
    assert not ind._mp_interval_ok(T("cos(x)"), T("sin(x) + 1e-10*x"), 0.2, 0.3, 0.2, DEFAULT)
    assert ind._mp_interval_ok(T("cos(x)"), T("sin(x) + 1e-10*x"), 0.2, 0.3, 100.0, DEFAULT)


def test_interval_check_counts_and_width():
    f, F = T("cos(x)"), T("sin(x)")
    assert ind._interval_check(f, F, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], cfg(points=5)) == 5
    assert ind._interval_check(f, F, [0.5, 1.0], cfg(points=5)) == 2
    assert ind._interval_check(f, F, [], cfg(points=5)) == 0
    # starts where neither direction is usable (f undefined within 0.1) are skipped, 3 * points at most
    g, G = T("1/floor(x)"), T("x/floor(x)")
    assert ind._interval_check(g, G, [0.5] * 6 + [5.5, 5.5], cfg(points=2)) == 0
    assert ind._interval_check(g, G, [0.5] * 5 + [5.5, 5.5], cfg(points=2)) == 1


def test_interval_check_rejects_a_smooth_error_and_a_jump():
    with pytest.raises(Reject, match="differs from the integral"):
        ind._interval_check(T("cos(x)"), T("sin(x) + 1e-6*x**2"), [1.0], DEFAULT)
    with pytest.raises(Reject, match="jumps near"):
        ind._interval_check(T("1"), T("x + sign(x**3 - 1.2)"), [1.0], DEFAULT)
    # a branch jump says nothing: the next interval decides
    assert ind._interval_check(T("-1/(1 + x**2)"), T("atan(1/x)"), [-0.05, 1.0], cfg(points=1)) == 1


# ------------------------------------------------------------------ the jump scan


def test_scan_jumps_rejects_a_step_anywhere_between_agreeing_points():
    # (steps at irrational points: at x = 3.7 the float bracket closes on float(3.7), which mpmath,
    # reading the decimal 3.7 exactly, puts on one side of the step; sign(x - 3.7) is left to the
    # sign/floor/ceiling check)
    with pytest.raises(Reject, match=r"jumps at x = 3\.684"):
        ind._scan_jumps(T("1"), T("x + sign(x**3 - 50)*1e-3"), [-5.0, 5.0], DEFAULT)
    with pytest.raises(Reject, match="jumps"):
        ind._scan_jumps(T("2*x"), T("x**2 + abs(x**3 - 0.05)/(x**3 - 0.05)"), [-9.0, -1.0, 9.0], DEFAULT)


@pytest.mark.parametrize("f, F, agree", [
    ("1", "x", [-5.0, 5.0]),
    ("1", "x + 1e-9*sign(x - 3.75)", [-5.0, 5.0]),  # below JUMP_RTOL
    ("1/x", "log(abs(x)) + sign(x)", [-5.0, 5.0]),  # at a pole
    ("-1/(1 + x**2)", "atan(1/x)", [-5.0, 5.0]),  # a branch choice
    ("1", "x + sign(x - 3.75)", [5.0]),  # one point: no hull
    ("1", "x + sign(x - 7)", [-5.0, 5.0]),  # outside the hull
])
def test_scan_jumps_lets_through(f, F, agree):
    ind._scan_jumps(T(f), T(F), agree, DEFAULT)


# ------------------------------------------------------------------ whole-check verdicts


def test_check_indefinite_verdicts_exactly():
    v = ind.check_indefinite(T("0*x"), T("3"), "0*x", DEFAULT)
    assert v.ok is True and v.reason == "the integrand is identically zero, so a constant is an antiderivative"
    v = ind.check_indefinite(T("x"), T("3"), "x", DEFAULT)
    assert v.ok is False and v.reason == "the answer is a constant, not a function of x"
    v = ind.check_indefinite(T("cos(x)"), T("sin(x)"), "cos(x)", DEFAULT)
    assert v.ok is True and v.reason == "derivative matches the integrand" and v.points >= 8 and v.intervals == 5
    v = ind.check_indefinite(T("cos(x)"), T("sin(x) + 1"), "cos(x)", DEFAULT)
    assert v.ok is True and v.max_error <= 1e-9
    v = ind.check_indefinite(T("1/sqrt(-x**2 - 1)"), T("x"), "f", DEFAULT)
    assert v.ok is False and v.reason == "too few points where integrand and answer are real and finite (0 < 8)"
    v = ind.check_indefinite(T("1"), T("x + sign(x)"), "1", DEFAULT)
    assert v.ok is False and "jumps" in v.reason


def test_identically_zero_needs_half_of_min_points():
    z = T("0*x")
    assert ind._identically_zero(z, 1, DEFAULT)
    assert not ind._identically_zero(T("1e-30*x"), 1, DEFAULT)  # |f| > 1e-40
    assert ind._identically_zero(T("1e-45*x"), 1, DEFAULT)
    # f real only on [-1, 1] (log of a negative number is complex, still finite): 60 digits decide
    assert not ind._identically_zero(T("(x - x)*1 + 1e-39"), 1, DEFAULT)
    # too few usable points: undecided means no
    assert not ind._identically_zero(z, 1, cfg(round_points=3, min_points=8))
    assert ind._identically_zero(z, 1, cfg(round_points=6, min_points=8))
    assert not ind._identically_zero(z, 1, cfg(round_points=4, min_points=10))
    assert ind._identically_zero(z, 1, cfg(round_points=5, min_points=10))


def test_interval_check_width_and_directions():
    f = T("1")
    c = {0.09: "1.295029", 0.11: "1.367631", -0.11: "0.704969"}  # (1 + d)**3: a step at 1 + d
    with pytest.raises(Reject, match="jumps near"):  # within interval_width (0.1) of the start
        ind._interval_check(f, T(f"x + sign(x**3 - {c[0.09]})"), [1.0], cfg(points=1))
    for d in (0.11, -0.11):  # beyond it, on either side: the interval does not see it
        assert ind._interval_check(f, T(f"x + sign(x**3 - {c[d]})"), [1.0], cfg(points=1)) == 1
    # f undefined on [a, a + w]: the interval to the left, [a - w, a], is taken instead
    assert ind._interval_check(T("1/floor(x)"), T("x/floor(x)"), [-0.05], cfg(points=1)) == 1


def test_pole_tests_scale_with_the_typical_size_of_f():
    # f = 1e7 everywhere is large, not a pole: the step of F is still a step
    with pytest.raises(Reject, match="jumps at x = 3\\.684"):
        ind._scan_jumps(T("1e7"), T("1e7*x + 1e3*sign(x**3 - 50)"), [-5.0, 5.0], DEFAULT)
    with pytest.raises(Reject, match="sign/floor/ceiling step"):
        ind._check_switch_jumps(T("1e7"), T("1e7*x + 1e3*sign(x**3 - 50)"), AGREE + [5.0])


def test_scan_jumps_judges_each_piece_where_f_is_real():
    # f is not real for x < 0; the pieces for x > 0 are still scanned
    with pytest.raises(Reject, match="jumps at x = 3\\.684"):
        ind._scan_jumps(T("1/sqrt(x)"), T("2*sqrt(x) + 1e-3*sign(x**3 - 50)"), [-5.0, 5.0], DEFAULT)


def test_switch_check_goes_on_past_an_allowed_change():
    # the first change (at 0) is at a pole, or where f stops being real; the second (1.5) is a step
    with pytest.raises(Reject, match=r"x = 1\.5 "):
        ind._check_switch_jumps(T("1/x"), T("log(abs(x)) + sign(x) + sign(x - 1.5)"), AGREE)
    with pytest.raises(Reject, match=r"x = 1\.5 "):
        ind._check_switch_jumps(T("1/sqrt(x)"), T("2*sqrt(x) + sign(x) + sign(x - 1.5)"), AGREE)


@pytest.mark.parametrize("f, F", [
    ("abs(sin(x))", "-cos(x)*sqrt(sin(x)**2)/sin(x)"),  # Rubi's form: jumps by 2 at every k*pi
    ("sqrt(1 - cos(x)**2)", "-cos(x)*sqrt(sin(x)**2)/sin(x)"),
    ("sqrt(1 - sin(x)**2)", "sin(x)*sqrt(cos(x)**2)/cos(x)"),
])
def test_a_step_at_a_corner_of_f_is_found(f, F):
    """f = |sin x| has corners at k*pi, where 12-node quadrature does not resolve a piece; a step of
    F there (far beyond the quadrature's error) is still scanned, located and rejected."""
    from engine.verify.verifier import check

    v = check(f, F)
    assert v.ok is False and "jumps at x = " in v.reason, v.reason
    assert check("abs(x)", "x*abs(x)/2").ok  # a corner of f with a continuous F passes
