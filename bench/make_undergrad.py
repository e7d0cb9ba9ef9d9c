"""Write the undergraduate integral sets: engine/data/undergrad_{train,test}.jsonl.

Every problem below was written for this project (technique by technique, the way a first-year
calculus course orders them); the answers are hand-derived and checked here: d/dx of the answer
must equal the integrand symbolically, or, where sympy cannot simplify the difference, numerically
at seven real points (complex values allowed, principal branches). The script refuses to write
anything if one check fails, so the files never hold an unverified answer.

Difficulty: 1 near-trivial (one table entry), 2 easy (linear substitution, sums of powers),
3 one technique, 4 a technique with a twist or two steps.

The training split is TRAIN (15 problems, one or two per technique, mostly difficulty 3-4, as
the paper trains on a few undergraduate problems and lets the variant tree supply the easy ones);
PROBLEMS is the test set, which never enters a tree. Neither holds the
solve prompt's worked examples (x*cos(x), 1/(x**2 + 4)).

    .venv/bin/python bench/make_undergrad.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "engine" / "data"
SOURCE = "ladder undergrad set (written for this project, bench/make_undergrad.py)"

# (technique, difficulty, integrand, answer)
PROBLEMS: list[tuple[str, int, str, str]] = [
    # near-trivial: one table entry
    ("table", 1, "x**4", "x**5/5"),
    ("table", 1, "x**8", "x**9/9"),
    ("table", 1, "cos(x)", "sin(x)"),
    ("table", 1, "sin(x)", "-cos(x)"),
    ("table", 1, "exp(x)", "exp(x)"),
    ("table", 1, "1/x", "log(x)"),
    ("table", 1, "sec(x)**2", "tan(x)"),
    ("table", 1, "sinh(x)", "cosh(x)"),
    ("table", 1, "cosh(x)", "sinh(x)"),
    ("table", 1, "7", "7*x"),
    ("table", 1, "sqrt(x)", "2*x**(3/2)/3"),
    ("table", 1, "1/x**2", "-1/x"),
    ("table", 1, "1/(1 + x**2)", "atan(x)"),
    ("table", 1, "1/sqrt(1 - x**2)", "asin(x)"),
    ("table", 1, "x**(-3)", "-1/(2*x**2)"),
    ("table", 1, "exp(-x)", "-exp(-x)"),
    ("table", 1, "2**x", "2**x/log(2)"),
    ("table", 1, "csc(x)**2", "-cot(x)"),
    ("table", 1, "sec(x)*tan(x)", "sec(x)"),
    ("table", 1, "4*x**3", "x**4"),
    # sums and products of powers
    ("power_sum", 2, "3*x**2 + 2*x", "x**3 + x**2"),
    ("power_sum", 2, "x**3 - 4*x", "x**4/4 - 2*x**2"),
    ("power_sum", 2, "5*x**4 + 1", "x**5 + x"),
    ("power_sum", 2, "x**2 + x + 1", "x**3/3 + x**2/2 + x"),
    ("power_sum", 2, "6*x**5 - 3*x**2", "x**6 - x**3"),
    ("power_sum", 2, "4*x**3 + 3*x**2 + 2*x + 1", "x**4 + x**3 + x**2 + x"),
    ("power_sum", 2, "x*(x + 2)", "x**3/3 + x**2"),
    ("power_sum", 2, "(2*x - 1)*(x + 3)", "2*x**3/3 + 5*x**2/2 - 3*x"),
    ("power_sum", 2, "x**2*(x - 1)", "x**4/4 - x**3/3"),
    ("power_sum", 2, "1/x**3 + x", "-1/(2*x**2) + x**2/2"),
    ("power_sum", 2, "sqrt(x) + 1/sqrt(x)", "2*x**(3/2)/3 + 2*sqrt(x)"),
    ("power_sum", 2, "x**(1/3)", "3*x**(4/3)/4"),
    ("power_sum", 2, "(x**2 + 1)/x", "x**2/2 + log(x)"),
    ("power_sum", 2, "(x**4 - 1)/x**2", "x**3/3 + 1/x"),
    ("power_sum", 2, "3*cos(x) - 2*sin(x)", "3*sin(x) + 2*cos(x)"),
    ("power_sum", 2, "exp(x) + x", "exp(x) + x**2/2"),
    ("power_sum", 2, "2/x + 3*x**2", "2*log(x) + x**3"),
    ("power_sum", 2, "10*x**9 - 8*x**7", "x**10 - x**8"),
    ("power_sum", 2, "(x + 1)*(x - 1)", "x**3/3 - x"),
    ("power_sum", 2, "x**2/2 + x/3", "x**3/6 + x**2/6"),
    # linear substitution
    ("linear_sub", 2, "exp(3*x)", "exp(3*x)/3"),
    ("linear_sub", 2, "exp(-2*x)", "-exp(-2*x)/2"),
    ("linear_sub", 2, "cos(2*x)", "sin(2*x)/2"),
    ("linear_sub", 2, "sin(5*x)", "-cos(5*x)/5"),
    ("linear_sub", 2, "cos(4*x)", "sin(4*x)/4"),
    ("linear_sub", 2, "(2*x + 1)**3", "(2*x + 1)**4/8"),
    ("linear_sub", 2, "(3*x - 2)**5", "(3*x - 2)**6/18"),
    ("linear_sub", 2, "(x + 1)**2", "(x + 1)**3/3"),
    ("linear_sub", 2, "1/(x + 1)", "log(x + 1)"),
    ("linear_sub", 2, "1/(2*x + 3)", "log(2*x + 3)/2"),
    ("linear_sub", 2, "sqrt(x + 4)", "2*(x + 4)**(3/2)/3"),
    ("linear_sub", 2, "1/sqrt(2*x + 1)", "sqrt(2*x + 1)"),
    ("linear_sub", 2, "sec(3*x)**2", "tan(3*x)/3"),
    ("linear_sub", 2, "sinh(2*x)", "cosh(2*x)/2"),
    ("linear_sub", 2, "cosh(3*x)", "sinh(3*x)/3"),
    ("linear_sub", 2, "exp(x/2)", "2*exp(x/2)"),
    ("linear_sub", 2, "sin(x + 1)", "-cos(x + 1)"),
    ("linear_sub", 2, "1/(1 - x)", "-log(1 - x)"),
    ("linear_sub", 2, "(1 - x)**4", "-(1 - x)**5/5"),
    ("linear_sub", 2, "1/(x + 2)**2", "-1/(x + 2)"),
    ("linear_sub", 2, "exp(5*x + 1)", "exp(5*x + 1)/5"),
    ("linear_sub", 2, "cos(x/3)", "3*sin(x/3)"),
    ("linear_sub", 2, "1/(9 + x**2)", "atan(x/3)/3"),
    ("linear_sub", 2, "1/(1 + 4*x**2)", "atan(2*x)/2"),
    ("linear_sub", 2, "1/sqrt(4 - x**2)", "asin(x/2)"),
    ("linear_sub", 2, "sin(2*x) + cos(3*x)", "-cos(2*x)/2 + sin(3*x)/3"),
    # substitution u = g(x)
    ("substitution", 3, "2*x*cos(x**2)", "sin(x**2)"),
    ("substitution", 3, "x*exp(x**2)", "exp(x**2)/2"),
    ("substitution", 3, "x**2*exp(x**3)", "exp(x**3)/3"),
    ("substitution", 3, "x*sin(x**2)", "-cos(x**2)/2"),
    ("substitution", 3, "x/(x**2 + 1)", "log(x**2 + 1)/2"),
    ("substitution", 3, "2*x/(x**2 + 4)", "log(x**2 + 4)"),
    ("substitution", 3, "x**2/(x**3 + 1)", "log(x**3 + 1)/3"),
    ("substitution", 3, "x*sqrt(x**2 + 1)", "(x**2 + 1)**(3/2)/3"),
    ("substitution", 3, "x/sqrt(x**2 + 9)", "sqrt(x**2 + 9)"),
    ("substitution", 3, "x*(x**2 + 1)**4", "(x**2 + 1)**5/10"),
    ("substitution", 4, "x**3*(x**4 + 2)**3", "(x**4 + 2)**4/16"),
    ("substitution", 3, "cos(x)*sin(x)**3", "sin(x)**4/4"),
    ("substitution", 3, "sin(x)*cos(x)**2", "-cos(x)**3/3"),
    ("substitution", 3, "exp(x)/(1 + exp(x))", "log(1 + exp(x))"),
    ("substitution", 3, "exp(x)*cos(exp(x))", "sin(exp(x))"),
    ("substitution", 3, "log(x)/x", "log(x)**2/2"),
    ("substitution", 3, "1/(x*log(x))", "log(log(x))"),
    ("substitution", 3, "tan(x)", "-log(cos(x))"),
    ("substitution", 3, "cot(x)", "log(sin(x))"),
    ("substitution", 3, "sec(x)**2*tan(x)", "tan(x)**2/2"),
    ("substitution", 3, "exp(sin(x))*cos(x)", "exp(sin(x))"),
    ("substitution", 3, "cos(x)/(1 + sin(x))", "log(1 + sin(x))"),
    ("substitution", 3, "atan(x)/(1 + x**2)", "atan(x)**2/2"),
    ("substitution", 4, "asin(x)/sqrt(1 - x**2)", "asin(x)**2/2"),
    ("substitution", 3, "exp(sqrt(x))/sqrt(x)", "2*exp(sqrt(x))"),
    ("substitution", 3, "sin(sqrt(x))/sqrt(x)", "-2*cos(sqrt(x))"),
    ("substitution", 3, "log(x)**2/x", "log(x)**3/3"),
    ("substitution", 3, "x/(x**2 + 1)**2", "-1/(2*(x**2 + 1))"),
    ("substitution", 4, "exp(2*x)/(1 + exp(2*x))", "log(1 + exp(2*x))/2"),
    ("substitution", 3, "(2*x + 1)*exp(x**2 + x)", "exp(x**2 + x)"),
    ("substitution", 3, "cos(x)/sin(x)**2", "-1/sin(x)"),
    ("substitution", 4, "sin(2*x)/(1 + cos(x)**2)", "-log(1 + cos(x)**2)"),
    # integration by parts
    ("parts", 3, "x*exp(x)", "(x - 1)*exp(x)"),
    ("parts", 3, "x*sin(x)", "sin(x) - x*cos(x)"),
    ("parts", 3, "x*cos(2*x)", "x*sin(2*x)/2 + cos(2*x)/4"),
    ("parts", 3, "x*exp(-x)", "-(x + 1)*exp(-x)"),
    ("parts", 4, "x**2*exp(x)", "(x**2 - 2*x + 2)*exp(x)"),
    ("parts", 4, "x**2*sin(x)", "-x**2*cos(x) + 2*x*sin(x) + 2*cos(x)"),
    ("parts", 4, "x**2*cos(x)", "x**2*sin(x) + 2*x*cos(x) - 2*sin(x)"),
    ("parts", 3, "log(x)", "x*log(x) - x"),
    ("parts", 3, "x*log(x)", "x**2*log(x)/2 - x**2/4"),
    ("parts", 3, "x**2*log(x)", "x**3*log(x)/3 - x**3/9"),
    ("parts", 4, "log(x)/x**2", "-(log(x) + 1)/x"),
    ("parts", 3, "atan(x)", "x*atan(x) - log(1 + x**2)/2"),
    ("parts", 3, "asin(x)", "x*asin(x) + sqrt(1 - x**2)"),
    ("parts", 3, "x*sinh(x)", "x*cosh(x) - sinh(x)"),
    ("parts", 3, "x*cosh(x)", "x*sinh(x) - cosh(x)"),
    ("parts", 4, "log(x)**2", "x*log(x)**2 - 2*x*log(x) + 2*x"),
    ("parts", 4, "x*sec(x)**2", "x*tan(x) + log(cos(x))"),
    ("parts", 4, "x*atan(x)", "(x**2 + 1)*atan(x)/2 - x/2"),
    ("parts", 3, "x*exp(2*x)", "(2*x - 1)*exp(2*x)/4"),
    ("parts", 4, "sqrt(x)*log(x)", "2*x**(3/2)*log(x)/3 - 4*x**(3/2)/9"),
    ("parts", 4, "x**3*exp(x**2)", "(x**2 - 1)*exp(x**2)/2"),
    ("parts", 4, "log(x**2 + 1)", "x*log(x**2 + 1) - 2*x + 2*atan(x)"),
    # exponential times trigonometric
    ("exp_trig", 4, "exp(x)*sin(x)", "exp(x)*(sin(x) - cos(x))/2"),
    ("exp_trig", 4, "exp(x)*cos(x)", "exp(x)*(sin(x) + cos(x))/2"),
    ("exp_trig", 4, "exp(2*x)*sin(x)", "exp(2*x)*(2*sin(x) - cos(x))/5"),
    ("exp_trig", 4, "exp(-x)*cos(x)", "exp(-x)*(sin(x) - cos(x))/2"),
    ("exp_trig", 4, "exp(x)*cos(2*x)", "exp(x)*(cos(2*x) + 2*sin(2*x))/5"),
    ("exp_trig", 4, "exp(3*x)*sin(2*x)", "exp(3*x)*(3*sin(2*x) - 2*cos(2*x))/13"),
    ("exp_trig", 3, "exp(x)*sin(x) + exp(x)*cos(x)", "exp(x)*sin(x)"),
    ("exp_trig", 4, "exp(-2*x)*sin(3*x)", "-exp(-2*x)*(2*sin(3*x) + 3*cos(3*x))/13"),
    # partial fractions and rational functions
    ("partial_fractions", 3, "1/(x*(x + 1))", "log(x) - log(x + 1)"),
    ("partial_fractions", 3, "1/(x**2 - 1)", "(log(x - 1) - log(x + 1))/2"),
    ("partial_fractions", 3, "1/((x - 1)*(x - 2))", "log(x - 2) - log(x - 1)"),
    ("partial_fractions", 3, "x/((x + 1)*(x + 2))", "2*log(x + 2) - log(x + 1)"),
    ("partial_fractions", 3, "(3*x + 5)/((x + 1)*(x + 2))", "2*log(x + 1) + log(x + 2)"),
    ("partial_fractions", 3, "1/(x**2 - 4)", "(log(x - 2) - log(x + 2))/4"),
    ("partial_fractions", 3, "1/(x**2 + 3*x + 2)", "log(x + 1) - log(x + 2)"),
    ("partial_fractions", 3, "(2*x + 3)/(x**2 + 3*x + 2)", "log(x**2 + 3*x + 2)"),
    ("partial_fractions", 4, "1/(x*(x**2 + 1))", "log(x) - log(x**2 + 1)/2"),
    ("partial_fractions", 4, "1/(x**2*(x + 1))", "-1/x - log(x) + log(x + 1)"),
    ("partial_fractions", 3, "x**2/(x + 1)", "x**2/2 - x + log(x + 1)"),
    ("partial_fractions", 3, "(x + 1)/(x - 1)", "x + 2*log(x - 1)"),
    ("partial_fractions", 4, "x**3/(x**2 + 1)", "x**2/2 - log(x**2 + 1)/2"),
    ("partial_fractions", 3, "1/(x**2 + 2*x + 2)", "atan(x + 1)"),
    ("partial_fractions", 4, "1/(x**2 + 4*x + 5)", "atan(x + 2)"),
    ("partial_fractions", 3, "(x + 2)/(x**2 + 4*x + 5)", "log(x**2 + 4*x + 5)/2"),
    ("partial_fractions", 4, "1/((x + 1)**2*(x + 2))", "-log(x + 1) - 1/(x + 1) + log(x + 2)"),
    ("partial_fractions", 4, "1/(x**3 - x)", "-log(x) + log(x - 1)/2 + log(x + 1)/2"),
    ("partial_fractions", 3, "1/(9 - x**2)", "(log(x + 3) - log(x - 3))/6"),
    ("partial_fractions", 4, "(x**2 + 1)/(x**2 - 1)", "x + log(x - 1) - log(x + 1)"),
    # trigonometric powers and products
    ("trig_powers", 3, "sin(x)**2", "x/2 - sin(2*x)/4"),
    ("trig_powers", 3, "cos(x)**2", "x/2 + sin(2*x)/4"),
    ("trig_powers", 4, "sin(x)**3", "-cos(x) + cos(x)**3/3"),
    ("trig_powers", 4, "cos(x)**3", "sin(x) - sin(x)**3/3"),
    ("trig_powers", 3, "tan(x)**2", "tan(x) - x"),
    ("trig_powers", 3, "sin(x)*cos(x)", "sin(x)**2/2"),
    ("trig_powers", 4, "sin(x)**2*cos(x)**2", "x/8 - sin(4*x)/32"),
    ("trig_powers", 4, "sec(x)", "log(sec(x) + tan(x))"),
    ("trig_powers", 4, "csc(x)", "-log(csc(x) + cot(x))"),
    ("trig_powers", 4, "tan(x)**3", "tan(x)**2/2 + log(cos(x))"),
    ("trig_powers", 4, "sec(x)**4", "tan(x) + tan(x)**3/3"),
    ("trig_powers", 4, "sin(2*x)*cos(x)", "-cos(3*x)/6 - cos(x)/2"),
    ("trig_powers", 4, "sin(3*x)*sin(x)", "sin(2*x)/4 - sin(4*x)/8"),
    ("trig_powers", 4, "cos(x)**4", "3*x/8 + sin(2*x)/4 + sin(4*x)/32"),
    ("trig_powers", 4, "sin(x)**5", "-cos(x) + 2*cos(x)**3/3 - cos(x)**5/5"),
    ("trig_powers", 3, "cot(x)**2", "-cot(x) - x"),
    ("trig_powers", 4, "1/(1 + cos(x))", "tan(x/2)"),
    ("trig_powers", 3, "sin(x)/cos(x)**2", "1/cos(x)"),
    ("trig_powers", 4, "sin(x)**3*cos(x)**2", "cos(x)**5/5 - cos(x)**3/3"),
    # trigonometric and hyperbolic substitutions
    ("trig_substitution", 4, "sqrt(1 - x**2)", "(x*sqrt(1 - x**2) + asin(x))/2"),
    ("trig_substitution", 4, "1/(x**2*sqrt(1 - x**2))", "-sqrt(1 - x**2)/x"),
    ("trig_substitution", 4, "1/(1 + x**2)**(3/2)", "x/sqrt(1 + x**2)"),
    ("trig_substitution", 3, "1/sqrt(x**2 + 1)", "asinh(x)"),
    ("trig_substitution", 4, "1/sqrt(x**2 - 1)", "log(x + sqrt(x**2 - 1))"),
    ("trig_substitution", 4, "x**2/sqrt(1 - x**2)", "(asin(x) - x*sqrt(1 - x**2))/2"),
    ("trig_substitution", 4, "sqrt(4 - x**2)", "x*sqrt(4 - x**2)/2 + 2*asin(x/2)"),
    ("trig_substitution", 4, "1/(x**2 + 1)**2", "x/(2*(x**2 + 1)) + atan(x)/2"),
    ("trig_substitution", 4, "sqrt(x**2 + 1)", "(x*sqrt(x**2 + 1) + asinh(x))/2"),
    ("trig_substitution", 4, "x**3/sqrt(1 - x**2)", "-(x**2 + 2)*sqrt(1 - x**2)/3"),
    ("trig_substitution", 3, "1/sqrt(9 - x**2)", "asin(x/3)"),
    ("trig_substitution", 4, "1/(x**2 + 4)**(3/2)", "x/(4*sqrt(x**2 + 4))"),
    # hyperbolic functions
    ("hyperbolic", 3, "tanh(x)", "log(cosh(x))"),
    ("hyperbolic", 2, "sech(x)**2", "tanh(x)"),
    ("hyperbolic", 3, "cosh(x)**2", "x/2 + sinh(2*x)/4"),
    ("hyperbolic", 3, "sinh(x)**2", "sinh(2*x)/4 - x/2"),
    ("hyperbolic", 3, "sinh(x)*cosh(x)", "sinh(x)**2/2"),
    ("hyperbolic", 3, "coth(x)", "log(sinh(x))"),
    ("hyperbolic", 4, "sinh(x)**3", "cosh(x)**3/3 - cosh(x)"),
    ("hyperbolic", 3, "x*cosh(x**2)", "sinh(x**2)/2"),
    ("hyperbolic", 4, "exp(x)*sinh(x)", "exp(2*x)/4 - x/2"),
    ("hyperbolic", 4, "cosh(x)/(1 + sinh(x)**2)", "atan(sinh(x))"),
    ("hyperbolic", 2, "csch(x)**2", "-coth(x)"),
    ("hyperbolic", 2, "sech(x)*tanh(x)", "-sech(x)"),
    ("hyperbolic", 3, "sinh(x)*cosh(x)**2", "cosh(x)**3/3"),
    ("hyperbolic", 2, "2*sinh(x) + 3*cosh(x)", "2*cosh(x) + 3*sinh(x)"),
    # exponentials
    ("exponential", 2, "3**x", "3**x/log(3)"),
    ("exponential", 3, "x*2**(x**2)", "2**(x**2)/(2*log(2))"),
    ("exponential", 3, "exp(x)*(1 + exp(x))**2", "(1 + exp(x))**3/3"),
    ("exponential", 2, "exp(2*x) + exp(-2*x)", "(exp(2*x) - exp(-2*x))/2"),
    ("exponential", 4, "1/(1 + exp(x))", "x - log(1 + exp(x))"),
    ("exponential", 4, "exp(x)/(exp(2*x) + 1)", "atan(exp(x))"),
    ("exponential", 3, "(exp(x) + 1)**2", "exp(2*x)/2 + 2*exp(x) + x"),
    ("exponential", 3, "exp(x + exp(x))", "exp(exp(x))"),
    ("exponential", 3, "exp(x)*2**x", "exp(x)*2**x/(1 + log(2))"),
    ("exponential", 2, "10**x", "10**x/log(10)"),
    # radicals
    ("radicals", 4, "x*sqrt(x + 1)", "2*(x + 1)**(5/2)/5 - 2*(x + 1)**(3/2)/3"),
    ("radicals", 4, "x/sqrt(x + 1)", "2*(x + 1)**(3/2)/3 - 2*sqrt(x + 1)"),
    ("radicals", 4, "1/(1 + sqrt(x))", "2*sqrt(x) - 2*log(1 + sqrt(x))"),
    ("radicals", 4, "sqrt(x)/(1 + x)", "2*sqrt(x) - 2*atan(sqrt(x))"),
    ("radicals", 3, "1/(sqrt(x)*(1 + x))", "2*atan(sqrt(x))"),
    ("radicals", 3, "x**2*sqrt(x**3 + 1)", "2*(x**3 + 1)**(3/2)/9"),
    ("radicals", 4, "1/(x + sqrt(x))", "2*log(1 + sqrt(x))"),
    ("radicals", 2, "(x + 2)/sqrt(x)", "2*x**(3/2)/3 + 4*sqrt(x)"),
    ("radicals", 4, "x*sqrt(1 - x)", "-2*(1 - x)**(3/2)/3 + 2*(1 - x)**(5/2)/5"),
    ("radicals", 3, "sqrt(1 + sqrt(x))/sqrt(x)", "4*(1 + sqrt(x))**(3/2)/3"),
    ("radicals", 2, "x**(2/3)", "3*x**(5/3)/5"),
    ("radicals", 3, "1/(x**2*sqrt(x))", "-2/(3*x**(3/2))"),
]

# One or two per technique; mostly problems the base model fails, so the variant tree matters.
TRAIN = [
    ("power_sum", 2, "2*x**3 - 6*x**2 + 5", "x**4/2 - 2*x**3 + 5*x"),
    ("linear_sub", 2, "exp(4*x) + sin(2*x)", "exp(4*x)/4 - cos(2*x)/2"),
    ("linear_sub", 2, "(4*x + 1)**2", "(4*x + 1)**3/12"),
    ("substitution", 3, "x*cos(x**2 + 1)", "sin(x**2 + 1)/2"),
    ("substitution", 3, "x**2*(x**3 + 2)**2", "(x**3 + 2)**3/9"),
    ("substitution", 3, "sin(x)*exp(cos(x))", "-exp(cos(x))"),
    ("parts", 3, "x*sin(2*x)", "sin(2*x)/4 - x*cos(2*x)/2"),
    ("parts", 4, "x**2*exp(2*x)", "(2*x**2 - 2*x + 1)*exp(2*x)/4"),
    ("parts", 3, "x**3*log(x)", "x**4*log(x)/4 - x**4/16"),
    ("exp_trig", 4, "exp(2*x)*cos(x)", "exp(2*x)*(2*cos(x) + sin(x))/5"),
    ("partial_fractions", 3, "1/(x*(x + 2))", "(log(x) - log(x + 2))/2"),
    ("partial_fractions", 4, "(x + 3)/(x**2 + 2*x + 5)", "log(x**2 + 2*x + 5)/2 + atan((x + 1)/2)"),
    ("trig_powers", 4, "sin(x)**2*cos(x)", "sin(x)**3/3"),
    ("hyperbolic", 3, "x*sinh(2*x)", "x*cosh(2*x)/2 - sinh(2*x)/4"),
    ("radicals", 4, "x/sqrt(2*x + 1)", "(x - 1)*sqrt(2*x + 1)/3"),
]

X = sp.Symbol("x")
POINTS = (0.31, 0.77, 1.37, 2.21, 3.73, -0.63, -1.71)


def _parse(text: str) -> sp.Expr:
    # Our own trusted literals (not model output), so sympify is fine here.
    return sp.sympify(text, locals={"x": X})


def check(integrand: str, answer: str) -> str | None:
    """None when d/dx answer == integrand, else a message."""
    f, F = _parse(integrand), _parse(answer)
    diff = sp.diff(F, X) - f
    if sp.simplify(diff) == 0:
        return None
    agreed = 0
    for p in POINTS:
        a = complex(sp.N(sp.diff(F, X).subs(X, p), 30))
        b = complex(sp.N(f.subs(X, p), 30))
        if abs(a - b) > 1e-9 * max(1.0, abs(b)):
            return f"d/dx answer != integrand at x={p}: {a} vs {b}"
        agreed += 1
    return None if agreed >= 5 else "too few points to check"


def canonical(integrand: str) -> str:
    """A canonical form for duplicate detection (expanded, then simplified)."""
    return sp.srepr(sp.simplify(sp.expand(_parse(integrand))))


def rows(problems: list[tuple[str, int, str, str]], prefix: str) -> list[dict]:
    out, counters = [], {}
    for technique, difficulty, integrand, answer in problems:
        counters[technique] = counters.get(technique, 0) + 1
        out.append({
            "id": f"{prefix}-{technique}-{counters[technique]:02d}",
            "integrand": integrand, "answer": answer,
            "technique": technique, "difficulty": difficulty, "source": SOURCE,
        })
    return out


def main() -> int:
    failures = []
    for technique, _, integrand, answer in PROBLEMS + TRAIN:
        msg = check(integrand, answer)
        if msg:
            failures.append(f"{technique}: {integrand} -> {answer}: {msg}")
    seen: dict[str, str] = {}
    for _, _, integrand, _ in PROBLEMS + TRAIN:
        key = canonical(integrand)
        if key in seen:
            failures.append(f"duplicate integrand {integrand!r} ~ {seen[key]!r}")
        seen[key] = integrand
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    DATA.mkdir(parents=True, exist_ok=True)
    for name, problems, prefix in (("train", TRAIN, "ugtrain"), ("test", PROBLEMS, "ugtest")):
        path = DATA / f"undergrad_{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows(problems, prefix)))
        print(f"{path.relative_to(ROOT)}: {len(problems)} problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
