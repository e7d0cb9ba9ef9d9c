"""engine.evaluation.stats against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.evaluation.stats import breakdown, mcnemar, paired_bootstrap, wilson_interval

# Wilson, z = 1.96: z^2 = 3.8416, denom = 1 + z^2/n, centre = (p + z^2/2n)/denom,
# half = z/denom * sqrt(p(1-p)/n + z^2/4n^2).


def test_wilson_zero_of_ten():
    # p = 0: z^2/n = 0.38416, denom = 1.38416, centre = 0.19208/1.38416 = 0.138770,
    # half = 1.96/1.38416 * sqrt(3.8416/400) = 1.416021 * 0.098 = 0.138770 -> (0, 0.38416/1.38416)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.27754, abs=1e-5)


def test_wilson_ten_of_ten_mirrors_zero():
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(1 - 0.27754, abs=1e-5)
    assert high == 1.0


def test_wilson_half():
    # p = 0.5: centre = 0.5, half = 1.416021 * sqrt(0.025 + 0.009604) = 1.416021 * 0.186021 = 0.263410
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.23659, abs=1e-4)
    assert high == pytest.approx(0.76341, abs=1e-4)


def test_wilson_asymmetric_17_of_72():
    # p = 0.236111, z^2/n = 0.053356, denom = 1.053356, centre = 0.262789/1.053356 = 0.249478,
    # half = 1.860719 * sqrt(0.0025051 + 0.00018526) = 1.860719 * 0.051869 = 0.096513
    low, high = wilson_interval(17, 72)
    assert low == pytest.approx(0.15297, abs=2e-4)
    assert high == pytest.approx(0.34599, abs=2e-4)
    assert low < 17 / 72 < high


def test_wilson_wider_z_is_wider_and_bad_input_raises():
    narrow, wide = wilson_interval(5, 10, z=1.0), wilson_interval(5, 10, z=2.576)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]
    assert wilson_interval(0, 0) == (0.0, 1.0)
    for args in ((11, 10), (-1, 10), (0, -1)):
        with pytest.raises(ValueError):
            wilson_interval(*args)


def test_mcnemar_all_discordant_one_way():
    # b01 = 0, b10 = 6: P = 2 * 0.5**6 = 0.03125
    a = [True] * 6 + [True, False, True]
    b = [False] * 6 + [True, False, True]
    r = mcnemar(a, b)
    assert (r.b01, r.b10) == (0, 6)
    assert r.p_value == pytest.approx(0.03125, abs=1e-12)
    assert mcnemar(b, a).p_value == pytest.approx(0.03125, abs=1e-12)
    assert (mcnemar(b, a).b01, mcnemar(b, a).b10) == (6, 0)


def test_mcnemar_two_against_eight():
    # n = 10 discordant, smaller side 2: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2**10 = 2 * 56/1024
    a = [False, False] + [True] * 8 + [True] * 5
    b = [True, True] + [False] * 8 + [True] * 5
    r = mcnemar(a, b)
    assert (r.b01, r.b10, r.discordant) == (2, 8, 10)
    assert r.p_value == pytest.approx(0.109375, abs=1e-12)


def test_mcnemar_identical_and_balanced_arms_give_one():
    same = [True, False, True, True, False]
    r = mcnemar(same, same)
    assert (r.b01, r.b10, r.p_value) == (0, 0, 1.0)
    # 3 vs 3: 2 * (1 + 6 + 15 + 20)/64 = 1.3125, capped at 1
    assert mcnemar([True] * 3 + [False] * 3, [False] * 3 + [True] * 3).p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_bootstrap_identical_arms():
    a = [1.0, 0.0, 0.5, 0.25, 1.0, 0.0]
    r = paired_bootstrap(a, list(a), iterations=2000)
    assert r.diff == 0.0
    assert (r.low, r.high) == (0.0, 0.0)
    assert r.p_value == 1.0


def test_bootstrap_clear_difference():
    # every paired difference is 1: every resampled mean is 1, none is as far from 1 as 1 is
    # from 0, so p = 1/(1 + iterations)
    r = paired_bootstrap([1.0] * 30, [0.0] * 30, iterations=999)
    assert r.diff == 1.0 and (r.low, r.high) == (1.0, 1.0)
    assert r.p_value == pytest.approx(1 / 1000)
    # 20/30 vs 5/30 with 15 items better and none worse: the shifted null is far away
    a = [1.0] * 20 + [0.0] * 10
    b = [1.0] * 5 + [0.0] * 25
    r = paired_bootstrap(a, b, iterations=5000, seed=3)
    assert r.diff == pytest.approx(0.5)
    assert r.p_value < 0.001
    assert 0.3 < r.low < 0.5 < r.high < 0.7


def test_bootstrap_one_item_of_thirty():
    # d = one 1 and 29 zeros, diff = 1/30. A resample's mean is C/30 with C ~ Bin(30, 1/30);
    # |C/30 - 1/30| >= 1/30 unless C = 1, P(C = 1) = (29/30)**29 = 0.3741, so p ~ 0.626.
    # P(C <= 2) = 0.923, P(C <= 3) = 0.983: the 97.5 % quantile is 3/30; P(C = 0) = 0.362: low = 0.
    a = [1.0] + [0.0] * 29
    r = paired_bootstrap(a, [0.0] * 30, iterations=10000, seed=0)
    assert r.diff == pytest.approx(1 / 30)
    assert 0.60 < r.p_value < 0.65
    assert r.low == 0.0
    assert r.high == pytest.approx(0.1)
    again = paired_bootstrap(a, [0.0] * 30, iterations=10000, seed=0)
    assert again == r
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


def test_breakdown_groups_by_field_with_wilson():
    rows = [
        {"difficulty": 2, "ok": True}, {"difficulty": 1, "ok": True}, {"difficulty": 1, "ok": False},
        {"difficulty": 2, "ok": True}, {"difficulty": 1, "ok": False}, {"difficulty": 3, "ok": False},
    ]
    out = breakdown(rows, "difficulty")
    assert list(out) == [1, 2, 3]
    assert (out[1].n, out[1].correct) == (3, 1) and out[1].accuracy == pytest.approx(1 / 3)
    assert (out[2].n, out[2].correct, out[2].accuracy) == (2, 2, 1.0)
    assert (out[3].n, out[3].correct, out[3].accuracy) == (1, 0, 0.0)
    assert (out[1].low, out[1].high) == wilson_interval(1, 3)
    assert out[2].to_dict() == {"n": 2, "correct": 2, "accuracy": 1.0,
                                "low": wilson_interval(2, 2)[0], "high": 1.0}


def test_breakdown_with_functions_and_objects():
    @dataclass
    class Row:
        technique: str
        greedy_ok: bool

    rows = [Row("parts", True), Row("table", True), Row("parts", False), Row("parts", False)]
    out = breakdown(rows, "technique", "greedy_ok")
    assert list(out) == ["parts", "table"]
    assert (out["parts"].n, out["parts"].correct) == (3, 1)
    by_len = breakdown(rows, key=lambda r: len(r.technique), correct=lambda r: r.greedy_ok)
    assert (by_len[5].n, by_len[5].correct) == (4, 2)
    assert breakdown([], "technique") == {}
