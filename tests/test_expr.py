"""engine.verify.parse: every accepted spelling parses to the right expression; everything else is refused."""

from __future__ import annotations

import time

import pytest
import sympy as sp

from engine.verify.parse import ParseError, depends_on_x, parse, parse_integrand, parse_tree

x = sp.Symbol("x")


def same(text: str, expected: str) -> bool:
    """parse(text) equals the sympy expression `expected` (trusted test text) identically."""
    got = parse(text).doit()
    want = sp.sympify(expected, locals={"x": x})
    return sp.simplify(got - want) == 0


@pytest.mark.parametrize("text, expected", [
    ("x**2/2", "x**2/2"),
    ("x^2", "x**2"),
    ("2x", "2*x"),
    ("3x^2 + 2x + 1", "3*x**2 + 2*x + 1"),
    ("x sin(x)", "x*sin(x)"),
    ("sin x", "sin(x)"),
    ("2 sin x cos x", "2*sin(x)*cos(x)"),
    ("(x+1)(x-1)", "x**2 - 1"),
    ("2(x+1)", "2*x + 2"),
    ("ln(x)", "log(x)"),
    ("ln|x|", "log(Abs(x))"),
    ("ln abs(x)", "log(Abs(x))"),
    ("|x|", "Abs(x)"),
    ("x|x|/2", "x*Abs(x)/2"),
    ("|x|*|x-1|", "Abs(x)*Abs(x - 1)"),
    ("Abs(x)", "Abs(x)"),
    ("arctan(x)", "atan(x)"),
    ("arcsin(x) + arccos(x)", "asin(x) + acos(x)"),
    ("arcsinh(x)", "asinh(x)"),
    ("arccosh(x)", "acosh(x)"),
    ("artanh(x)", "atanh(x)"),
    ("e^x", "exp(x)"),
    ("e**x", "exp(x)"),
    ("exp(x)", "exp(x)"),
    ("E**x", "exp(x)"),
    ("xe^x", "x*exp(x)"),
    ("e^{2x}", "exp(2*x)"),
    ("e^(-x^2)", "exp(-x**2)"),
    ("sin^2(x)", "sin(x)**2"),
    ("sin^{-1}(x)", "asin(x)"),
    ("sin^2 x", "sin(x)**2"),
    (r"\cos^2 x", "cos(x)**2"),
    ("tan^-1 x", "atan(x)"),
    ("sinx + xcosx", "sin(x) + x*cos(x)"),
    ("lnx", "log(x)"),
    ("tan x sec x", "tan(x)*sec(x)"),
    ("log(x, 2)", "log(x)/log(2)"),
    ("sech(x) + csch(x) + coth(x)", "sech(x) + csch(x) + coth(x)"),
    ("asec(x) + acsc(x) + acot(x)", "asec(x) + acsc(x) + acot(x)"),
    ("sign(x)", "sign(x)"),
    ("0.5*x**2", "x**2/2"),
    ("1e-3 x", "x/1000"),
    ("x^(1/3)", "x**(1/3)"),
    ("(1/2)x^2", "x**2/2"),
    # constants of integration
    ("x^2/2 + C", "x**2/2"),
    ("x^2/2 + c", "x**2/2"),
    ("x^2/2 + constant", "x**2/2"),
    ("x**2/2 + K", "x**2/2"),
    ("sin(x) + C.", "sin(x)"),
    ("C + x^2/2", "x**2/2"),
    # LaTeX
    (r"\frac{x^3}{3}", "x**3/3"),
    (r"\dfrac{1}{2}x^2", "x**2/2"),
    (r"\frac12 x^2", "x**2/2"),
    (r"\sqrt{x^2+1}", "sqrt(x**2 + 1)"),
    (r"\sqrt[3]{x}", "x**(1/3)"),
    (r"\left(x+1\right)^2", "(x + 1)**2"),
    (r"x \cdot \sin(x)", "x*sin(x)"),
    (r"3 \times x", "3*x"),
    (r"\ln\left|x\right|", "log(Abs(x))"),
    (r"\arctan\left(\frac{x}{2}\right)", "atan(x/2)"),
    (r"\sin^{2}(x)", "sin(x)**2"),
    (r"\operatorname{arcsinh}(x)", "asinh(x)"),
    (r"\frac{1}{2}\ln\left|\frac{1+x}{1-x}\right|", "log(Abs((1 + x)/(1 - x)))/2"),
    (r"-\frac{1}{x}", "-1/x"),
    (r"e^{x}\cos x", "exp(x)*cos(x)"),
    (r"\pi x", "pi*x"),
    # leading equations and wrappers
    ("∫ x dx = x^2/2 + C", "x**2/2"),
    (r"\int x \, dx = \frac{x^2}{2} + C", "x**2/2"),
    ("F(x) = x**2/2", "x**2/2"),
    ("y = sin(x)", "sin(x)"),
    ("$x^2$", "x**2"),
    ("$$x^2$$", "x**2"),
    (r"\(x^2\)", "x**2"),
    (r"\[x^2\]", "x**2"),
    ("`x**2`", "x**2"),
    ("```\nx**2\n```", "x**2"),
    ("```python\nx**2/2\n```", "x**2/2"),
    # unicode
    ("π x", "pi*x"),
    ("√x", "sqrt(x)"),
    ("√(x+1)", "sqrt(x + 1)"),
    ("2·x", "2*x"),
    ("−x", "-x"),
    ("3×x", "3*x"),
    ("x²", "x**2"),
    ("x³/3", "x**3/3"),
    ("e⁻ˣ", None),
])
def test_accepted_forms(text, expected):
    if expected is None:
        with pytest.raises(ParseError):
            parse(text)
        return
    assert same(text, expected), (text, parse(text))


@pytest.mark.parametrize("text, reason", [
    ("Integral(x**2, x)", "Integral"),
    ("integrate(x**2, x)", "integrate"),
    ("Derivative(x**3, x)", "Derivative"),
    ("diff(x**3, x)", "diff"),
    ("Subs(x, x, 1)", "Subs"),
    ("Sum(x, (x, 1, 2))", "Sum"),
    ("limit(x, x, 0)", "limit"),
    ("∫ x dx", "integral"),
    ("__import__('os').system('echo hacked')", "__import__"),
    ("x.__class__", "attribute"),
    ("x.real", "attribute"),
    ("(lambda: 1)()", "lambda"),
    ("'x'", "string"),
    ("x[0]", "subscript"),
    ("y", "unknown name 'y'"),
    ("x*t", "unknown name 't'"),
    ("f(x)", "unknown name 'f'"),
    ("oo", "'oo'"),
    ("nan", "'nan'"),
    ("zoo", "'zoo'"),
    ("factorial(10**9)", "factorial"),
    ("gamma(x)", "gamma"),
    ("x!", "factorial"),
    ("x == 1", "equation"),
    ("x < 1", "comparison"),
    ("x; import os", "one expression"),
    ("x if x else 1", "keyword"),
    ("sin(x, x)", "one argument"),
    ("sin()", "one argument"),
    ("sin", "without an argument"),
    ("sin(x=1)", "equation"),
    ("9**9**9", "too large"),
    ("exp(exp(exp(1000)))", "too large"),
    ("10**400000", "too large"),
    ("1" * 150, "digits"),
    ("", "empty"),
    ("   ", "empty"),
    ("x +", "not a valid expression"),
    ("(x", "not a valid expression"),
    ("a" * 1_000_000, "too long"),
    ("(" * 10_000 + "x" + ")" * 10_000, "too long"),
    ("(" * 150 + "x" + ")" * 150, "nested too deeply"),
    ("-" * 1500 + "x", "nested too deeply"),
    ("x|", "bars"),
])
def test_refused_with_reason(text, reason):
    with pytest.raises(ParseError) as err:
        parse(text)
    assert reason.lower() in str(err.value).lower(), str(err.value)


def test_parse_error_is_a_ladder_error():
    from engine.errors import LadderError

    assert issubclass(ParseError, LadderError)


def test_nothing_is_executed(tmp_path, monkeypatch):
    """Hostile text never runs: the file it tries to create does not appear."""
    target = tmp_path / "pwned"
    for text in (f"__import__('os').system('touch {target}')",
                 f"open('{target}', 'w')",
                 f"eval(\"open('{target}','w')\")",
                 "().__class__.__bases__[0].__subclasses__()"):
        with pytest.raises(ParseError):
            parse(text)
    assert not target.exists()


def test_adversarial_inputs_are_refused_fast():
    start = time.perf_counter()
    for text in ("9**9**9", "a" * 1_000_000, "(" * 10_000 + "x" + ")" * 10_000, "exp(exp(exp(1000)))",
                 "2**2**2**2**2**2", "factorial(10**9)"):
        with pytest.raises(ParseError):
            parse(text)
    assert time.perf_counter() - start < 2.0


def test_structure_is_kept_and_unevaluated():
    e = parse("x**3/3 + x**3/3")
    assert e.args and not e.is_Mul  # not folded into 2*x**3/3
    assert parse("x^x^x^x^x").has(x)  # parses; evaluation is the verifier's business
    assert not depends_on_x(parse_tree("2*pi + E"))
    assert depends_on_x(parse_tree("sin(x) - sin(x)"))


def test_parse_integrand_is_evaluated_and_uses_plain_symbol_x():
    e = parse_integrand("x^2 + x^2")
    assert e == 2 * x**2
    assert e.free_symbols == {sp.Symbol("x")}
    assert parse_integrand("sin(x)**2 + 1/(1 + x**2)") == sp.sin(x)**2 + 1 / (1 + x**2)


def test_latex_and_unicode_give_the_same_tree_as_plain_text():
    plain = parse_tree("x**2*exp(x)/2")
    for text in (r"\frac{x^2 e^x}{2}", "x²·eˣ/2".replace("ˣ", "^x"), "$x^2 e^x/2$"):
        assert sp.simplify(parse(text) - parse("x**2*exp(x)/2")) == 0
    assert plain == parse_tree("x**2*exp(x)/2")
