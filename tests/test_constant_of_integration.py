"""A constant of integration written as an added term is accepted (and reported); any other use of
`C` is still refused."""

from __future__ import annotations

import pytest
import sympy as sp

from engine.verify.parse import ParseError, parse, parse_answer
from engine.verify.verifier import check

x = sp.Symbol("x")


def same(text: str, expected: str) -> bool:
    got = parse(text).doit()
    want = sp.sympify(expected, locals={"x": x})
    return sp.simplify(got - want) == 0


@pytest.mark.parametrize("text, expected, constant", [
    ("log(x) - (1/sin(x) + C)", "log(x) - 1/sin(x)", "C"),
    ("x^2/2 + C", "x**2/2", "C"),
    ("x^2/2 + c", "x**2/2", "c"),
    ("x^2/2 + K", "x**2/2", "K"),
    ("x^2/2 - C", "x**2/2", "C"),
    ("C + x^2/2", "x**2/2", "C"),
    ("c + sin(x)", "sin(x)", "c"),
    ("(sin(x) + C)", "sin(x)", "C"),
    ("-(cos(x) + C)", "-cos(x)", "C"),
    ("x - (x^2 - (x^3 + K))", "x - x**2 + x**3", "K"),
    ("(x + C) + (x^2 + C)", "x + x**2", "C"),
    ("x + C_1", "x", "C_1"),
    ("x + C1 + 1", "x + 1", "C1"),
    ("x + constant", "x", "constant"),
    (r"\ln|x| + C", "log(Abs(x))", "C"),
    (r"\frac{x^2}{2} - \left(\cos x + C\right)", "x**2/2 - cos(x)", "C"),
    ("∫ x dx = x^2/2 + C", "x**2/2", "C"),
    ("x^2/2", "x**2/2", None),
])
def test_added_constant_is_dropped_and_reported(text: str, expected: str, constant: str | None) -> None:
    assert same(text, expected), (text, parse(text))
    assert parse_answer(text)[1] == constant


@pytest.mark.parametrize("text", [
    "C*x", "x*C", "2C", "sin(C)", "x/(1 + C)", "(x + C)^2", "x^C", "exp(x + C)", "C(x)", "x + C*2",
    "log(C*x)", "c x",
])
def test_constant_in_any_other_role_is_refused(text: str) -> None:
    with pytest.raises(ParseError, match="constant of integration may only be added|unknown name"):
        parse(text)


@pytest.mark.parametrize("text", ["C", "+ C", "-(C)", "C + K"])
def test_a_constant_alone_is_not_an_answer(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_other_unknown_names_still_refused() -> None:
    with pytest.raises(ParseError, match="unknown name 'y'"):
        parse("x + y")
    with pytest.raises(ParseError, match="unknown name 'D'"):
        parse("x + D")


def test_verdict_accepts_the_issue_answer_and_says_the_constant_was_dropped() -> None:
    # d/dx [log(x) - 1/sin(x)] = 1/x + cos(x)/sin(x)^2
    verdict = check("1/x + cos(x)/sin(x)**2", "log(x) - (1/sin(x) + C)")
    assert verdict.ok, verdict.reason
    assert "constant of integration C was dropped" in verdict.reason


def test_verdict_without_a_constant_says_nothing_about_one() -> None:
    verdict = check("x", "x^2/2")
    assert verdict.ok and "constant of integration" not in verdict.reason


def test_wrong_answer_with_a_constant_is_still_wrong() -> None:
    verdict = check("x", "x^3/3 + C")
    assert not verdict.ok


def test_multiplied_constant_is_a_parse_failure_verdict() -> None:
    verdict = check("x", "C*x^2/2")
    assert not verdict.ok and "cannot parse the answer" in verdict.reason
