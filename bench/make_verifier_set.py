"""Write bench/data/verifier_set.jsonl: textbook antiderivatives, equivalent rewritings and wrong answers.

The set exists to measure the verifier (bench/verifier.py); it is kept out of every training tree.
Each table entry below is a standard integral-table formula with parameters (a, b, n); every
instance becomes one `reference` answer, its equivalent rewritings (sympy identities: expand,
together, log/exp rewrites, a "+ C", `^` and `ln` spellings, log-of-abs forms) and its mutations
(x1.001, x1.01, sign flip, changed inner constant, dropped term, + x/1000 drift, + sin(100x)/100
perturbation). Labels are checked independently of engine.verify.verifier: sympy differentiates each
answer and evaluates F' - f with 30 digits at 12 real points (principal branches); a correct
answer must agree to 1e-20 wherever f and F are real, a wrong one must differ by more than 1e-6
somewhere. Entries failing their check are dropped and counted, never written.

    .venv/bin/python bench/make_verifier_set.py
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "data" / "verifier_set.jsonl"
x = sp.Symbol("x")
R = sp.Rational

# (family, integrand, antiderivative) as functions of the parameters a > 0, b > 0, n >= 2
TABLE: list[tuple[str, str, str]] = [
    ("power", "x**n", "x**(n + 1)/(n + 1)"),
    ("power", "(a*x + b)**n", "(a*x + b)**(n + 1)/(a*(n + 1))"),
    ("power", "1/(a*x + b)", "log(a*x + b)/a"),
    ("power", "1/(a*x + b)**2", "-1/(a*(a*x + b))"),
    ("power", "x**n + a*x + b", "x**(n + 1)/(n + 1) + a*x**2/2 + b*x"),
    ("exponential", "exp(a*x)", "exp(a*x)/a"),
    ("exponential", "x*exp(a*x)", "exp(a*x)*(a*x - 1)/a**2"),
    ("exponential", "x**2*exp(a*x)", "exp(a*x)*(a**2*x**2 - 2*a*x + 2)/a**3"),
    ("exponential", "(b + 1)**x", "(b + 1)**x/log(b + 1)"),
    ("exponential", "exp(a*x)*sin(b*x)", "exp(a*x)*(a*sin(b*x) - b*cos(b*x))/(a**2 + b**2)"),
    ("exponential", "exp(a*x)*cos(b*x)", "exp(a*x)*(a*cos(b*x) + b*sin(b*x))/(a**2 + b**2)"),
    ("exponential", "exp(a*x)/(1 + exp(a*x))", "log(1 + exp(a*x))/a"),
    ("exponential", "x*exp(a*x**2)", "exp(a*x**2)/(2*a)"),
    ("trig", "sin(a*x)", "-cos(a*x)/a"),
    ("trig", "cos(a*x)", "sin(a*x)/a"),
    ("trig", "tan(a*x)", "-log(cos(a*x))/a"),
    ("trig", "cot(a*x)", "log(sin(a*x))/a"),
    ("trig", "sec(a*x)", "log(sec(a*x) + tan(a*x))/a"),
    ("trig", "csc(a*x)", "-log(csc(a*x) + cot(a*x))/a"),
    ("trig", "sec(a*x)**2", "tan(a*x)/a"),
    ("trig", "csc(a*x)**2", "-cot(a*x)/a"),
    ("trig", "sec(a*x)*tan(a*x)", "sec(a*x)/a"),
    ("trig", "sin(a*x)**2", "x/2 - sin(2*a*x)/(4*a)"),
    ("trig", "cos(a*x)**2", "x/2 + sin(2*a*x)/(4*a)"),
    ("trig", "sin(a*x)**3", "cos(a*x)**3/(3*a) - cos(a*x)/a"),
    ("trig", "sin(a*x)*cos(a*x)", "sin(a*x)**2/(2*a)"),
    ("trig", "x*sin(a*x)", "sin(a*x)/a**2 - x*cos(a*x)/a"),
    ("trig", "x*cos(a*x)", "cos(a*x)/a**2 + x*sin(a*x)/a"),
    ("trig", "tan(a*x)**2", "tan(a*x)/a - x"),
    ("trig", "sin(a*x)*cos(a*x)**n", "-cos(a*x)**(n + 1)/(a*(n + 1))"),
    ("trig", "1/(b + 1 + cos(x))", "2*atan(sqrt(b/(b + 2))*tan(x/2))/sqrt(b*(b + 2))"),
    ("inverse_trig", "1/(a**2 + x**2)", "atan(x/a)/a"),
    ("inverse_trig", "1/sqrt(a**2 - x**2)", "asin(x/a)"),
    ("inverse_trig", "1/(x*sqrt(x**2 - a**2))", "atan(sqrt(x**2 - a**2)/a)/a"),
    ("inverse_trig", "atan(a*x)", "x*atan(a*x) - log(1 + a**2*x**2)/(2*a)"),
    ("inverse_trig", "asin(a*x)", "x*asin(a*x) + sqrt(1 - a**2*x**2)/a"),
    ("inverse_trig", "acos(a*x)", "x*acos(a*x) - sqrt(1 - a**2*x**2)/a"),
    ("inverse_trig", "1/(x**2 + 2*b*x + b**2 + a**2)", "atan((x + b)/a)/a"),
    ("inverse_trig", "x/(x**4 + a**2)", "atan(x**2/a)/(2*a)"),
    ("hyperbolic", "sinh(a*x)", "cosh(a*x)/a"),
    ("hyperbolic", "cosh(a*x)", "sinh(a*x)/a"),
    ("hyperbolic", "tanh(a*x)", "log(cosh(a*x))/a"),
    ("hyperbolic", "coth(a*x)", "log(sinh(a*x))/a"),
    ("hyperbolic", "sech(a*x)**2", "tanh(a*x)/a"),
    ("hyperbolic", "sech(a*x)", "2*atan(exp(a*x))/a"),
    ("hyperbolic", "csch(a*x)", "log(tanh(a*x/2))/a"),
    ("hyperbolic", "sinh(a*x)**2", "sinh(2*a*x)/(4*a) - x/2"),
    ("hyperbolic", "cosh(a*x)**2", "sinh(2*a*x)/(4*a) + x/2"),
    ("hyperbolic", "x*cosh(a*x)", "x*sinh(a*x)/a - cosh(a*x)/a**2"),
    ("hyperbolic", "1/sqrt(x**2 + a**2)", "asinh(x/a)"),
    ("hyperbolic", "1/sqrt(x**2 - a**2)", "log(x + sqrt(x**2 - a**2))"),
    ("hyperbolic", "1/(a**2 - x**2)", "atanh(x/a)/a"),
    ("hyperbolic", "asinh(a*x)", "x*asinh(a*x) - sqrt(a**2*x**2 + 1)/a"),
    ("hyperbolic", "atanh(a*x)", "x*atanh(a*x) + log(1 - a**2*x**2)/(2*a)"),
    ("radical", "sqrt(a*x + b)", "2*(a*x + b)**(3/2)/(3*a)"),
    ("radical", "1/sqrt(a*x + b)", "2*sqrt(a*x + b)/a"),
    ("radical", "x*sqrt(x**2 + a**2)", "(x**2 + a**2)**(3/2)/3"),
    ("radical", "x/sqrt(x**2 + a**2)", "sqrt(x**2 + a**2)"),
    ("radical", "sqrt(a**2 - x**2)", "(x*sqrt(a**2 - x**2) + a**2*asin(x/a))/2"),
    ("radical", "sqrt(x**2 + a**2)", "(x*sqrt(x**2 + a**2) + a**2*asinh(x/a))/2"),
    ("radical", "x*sqrt(a*x + b)", "2*(3*a*x - 2*b)*(a*x + b)**(3/2)/(15*a**2)"),
    ("radical", "1/(x**2*sqrt(x**2 + a**2))", "-sqrt(x**2 + a**2)/(a**2*x)"),
    ("log", "log(a*x)", "x*log(a*x) - x"),
    ("log", "x*log(a*x)", "x**2*log(a*x)/2 - x**2/4"),
    ("log", "log(a*x)/x", "log(a*x)**2/2"),
    ("log", "1/(x*log(a*x))", "log(log(a*x))"),
    ("log", "log(x**2 + a**2)", "x*log(x**2 + a**2) - 2*x + 2*a*atan(x/a)"),
    ("log_abs", "1/x", "log(abs(x))"),
    ("log_abs", "1/(x**2 - a**2)", "log(abs((x - a)/(x + a)))/(2*a)"),
    ("log_abs", "1/((x + a)*(x + a + b))", "(log(abs(x + a)) - log(abs(x + a + b)))/b"),
    ("log_abs", "x/(x**2 + a**2)", "log(x**2 + a**2)/2"),
    ("log_abs", "(2*x + b)/(x**2 + b*x - a)", "log(abs(x**2 + b*x - a))"),
    ("log_abs", "cos(x)/(b + sin(x))", "log(abs(b + sin(x)))"),
    ("log_abs", "1/(x*(a*x + b))", "log(abs(x/(a*x + b)))/b"),
    ("substitution", "2*a*x*cos(a*x**2)", "sin(a*x**2)"),
    ("substitution", "x**(n - 1)*exp(x**n)", "exp(x**n)/n"),
    ("substitution", "cos(x)*exp(a*sin(x))", "exp(a*sin(x))/a"),
    ("substitution", "x/(x**2 + a)**2", "-1/(2*(x**2 + a))"),
    ("substitution", "sin(x)/cos(x)**n", "1/((n - 1)*cos(x)**(n - 1))"),
]

PARAMS = [
    {"a": 1, "b": 1, "n": 2}, {"a": 2, "b": 1, "n": 3}, {"a": 3, "b": 2, "n": 4}, {"a": R(1, 2), "b": 3, "n": 2},
    {"a": 4, "b": 5, "n": 5}, {"a": 5, "b": R(1, 2), "n": 3}, {"a": 2, "b": 3, "n": 6}, {"a": R(3, 2), "b": 2, "n": 4},
]
SYMBOLS = {"a": sp.Symbol("a"), "b": sp.Symbol("b"), "n": sp.Symbol("n"), "x": x}


def instantiate(text: str, p: dict) -> sp.Expr:
    e = sp.sympify(text, locals=SYMBOLS)  # our own table text: trusted, not model output
    return e.subs({SYMBOLS[k]: v for k, v in p.items()})


def text_of(e: sp.Expr) -> str:
    return sp.sstr(e)


def rewrites(F: sp.Expr) -> list[tuple[str, str]]:
    """Equivalent forms of F, each as (kind, text); identities hold on principal branches."""
    out: list[tuple[str, str]] = []
    for kind, fn in (("expand", sp.expand), ("together", sp.together), ("log_rewrite", lambda e: e.rewrite(sp.log)),
                     ("exp_rewrite", lambda e: e.rewrite(sp.exp)), ("expand_log", lambda e: sp.expand_log(e, force=False))):
        try:
            g = fn(F)
        except Exception:
            continue
        if g != F and sp.count_ops(g) < 80:
            out.append((kind, text_of(g)))
    base = text_of(F)
    out.append(("plus_constant", f"{base} + 7/3"))
    out.append(("caret_and_C", base.replace("**", "^").replace("log(", "ln(") + " + C"))
    return out[:4] if len(out) > 4 else out


def mutations(F: sp.Expr, p: dict, table_F: str) -> list[tuple[str, sp.Expr]]:
    out: list[tuple[str, sp.Expr]] = [
        ("scale_1.001", sp.Mul(sp.Float("1.001", 30), F, evaluate=False)),
        ("scale_1.01", sp.Mul(sp.Float("1.01", 30), F, evaluate=False)),
        ("sign_flip", -F),
        ("drift", F + x / 1000),
        ("perturbation", F + sp.sin(100 * x) / 100),
    ]
    changed = instantiate(table_F, {**p, "a": p["a"] + 1}) if "a" in table_F else None
    if changed is not None and changed != F:
        out.append(("changed_constant", changed))
    else:
        out.append(("changed_constant", F * 2))
    if isinstance(F, sp.Add) and len(F.args) > 1:
        terms = [t for t in F.args if t.has(x)]
        if len(terms) > 1:
            out.append(("dropped_term", F - terms[0]))
    return out


def independent_check(f: sp.Expr, F: sp.Expr, rng: random.Random) -> str:
    """'correct', 'wrong' or 'unclear', from sympy's own derivative evaluated with 30 digits."""
    import mpmath as mp

    xr = sp.Symbol("x", real=True)  # so that d/dx |x| is sign(x), not a Derivative of re(x)
    fr, Fr = f.subs(x, xr), F.subs(x, xr)
    fn, Fn, dFn = (sp.lambdify(xr, e, "mpmath") for e in (fr, Fr, sp.diff(Fr, xr)))
    agree = differ = 0
    with mp.workdps(30):
        for i in range(16):
            p = mp.mpf(rng.uniform(-4, 4) if i < 10 else rng.uniform(-1, 1))
            try:
                fv, Fv, dv = (mp.mpc(g(p)) for g in (fn, Fn, dFn))
            except (ArithmeticError, ValueError, TypeError):
                continue
            if not all(mp.isfinite(v) for v in (fv, Fv, dv)) or abs(fv.imag) > 1e-25 * (1 + abs(fv)):
                continue
            diff, scale = abs(dv - fv), max(abs(fv), abs(dv))
            if diff <= 1e-20 * scale:
                agree += 1
            elif diff > 1e-6 * scale and abs(Fv.imag) <= 1e-25 * (1 + abs(Fv)):
                differ += 1
    if differ:
        return "wrong"
    return "correct" if agree >= 4 else "unclear"


def main() -> int:
    rng = random.Random(0)
    rows, dropped, seen = [], 0, set()
    for t, (family, f_text, F_text) in enumerate(TABLE):
        for k, p in enumerate(PARAMS):
            f, F = instantiate(f_text, p), instantiate(F_text, p)
            if f in seen or not F.has(x):
                continue
            seen.add(f)
            pid = f"{family}-{t:02d}-{k}"
            if independent_check(f, F, rng) != "correct":
                dropped += 1
                continue
            integrand = text_of(f)
            rows.append({"id": pid, "family": family, "integrand": integrand, "candidate": text_of(F), "label": True, "kind": "reference"})
            for kind, g in rewrites(F):
                G = sp.sympify(g.replace("^", "**").replace("ln(", "log(").replace(" + C", ""), locals=SYMBOLS)
                if independent_check(f, G, rng) == "correct":
                    rows.append({"id": pid, "family": family, "integrand": integrand, "candidate": g, "label": True, "kind": f"rewrite:{kind}"})
                else:
                    dropped += 1
            for kind, G in mutations(F, p, F_text):
                if independent_check(f, G, rng) == "wrong":
                    rows.append({"id": pid, "family": family, "integrand": integrand, "candidate": text_of(G), "label": False, "kind": f"mutation:{kind}"})
                else:
                    dropped += 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = len({r["id"] for r in rows})
    print(f"{problems} integrals, {len(rows)} answers ({sum(r['label'] for r in rows)} correct, "
          f"{sum(not r['label'] for r in rows)} wrong), {dropped} dropped by the independent check -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
