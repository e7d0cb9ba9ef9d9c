"""Sympy-level work for variant trees: canonical forms, duplicate keys and the symbolic generator.

The symbolic generator is not in the LADDER paper. Small models write poor variants, so next to the
LLM generator (engine/variants/tree.py) a set of operators on the sympy tree produces variants that are
easier or equivalent by construction:

  easier      drop_summand, drop_factor, take_factor, lower_exponent, remove_root, inner_to_x,
              coeff_to_one, leaf (a trivial piece such as x**2, sin(x), exp(x))
  equivalent  linear_substitution (x -> (x - b)/a for an argument a*x + b), reflect (x -> -x),
              expand, expand_trig, apart, together

Every operator returns expressions that involve x, are not constant and differ from their input up
to `key` (the duplicate key); `leaf` makes sure each tree can reach trivial integrals in one step.
Expressions reaching this module came through `engine.verify.parse.parse` (the only door for model text).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

Path = tuple[int, ...]

# Functions f for which f(x) is a "trivial" integral a small model should learn first.
ELEMENTARY = (sp.sin, sp.cos, sp.tan, sp.exp, sp.log, sp.sinh, sp.cosh, sp.tanh, sp.asin, sp.acos, sp.atan)


class TooBig(ValueError):
    """An expression whose evaluation would be absurdly expensive (e.g. 9**9**9)."""


def canonical(expr: sp.Expr, max_exponent: int = 50) -> sp.Expr:
    """Rebuild `expr` with sympy's evaluation on: sorted Add/Mul args (x+1 == 1+x), folded
    numbers, floats turned into exact rationals. Raises TooBig before computing a huge power."""
    if expr.is_Float:
        return sp.nsimplify(expr, rational=True)
    if not expr.args:
        return expr
    args = [canonical(a, max_exponent) for a in expr.args]
    if isinstance(expr, sp.Pow):
        base, exp = args
        if exp.is_Number and abs(exp) > max_exponent:
            raise TooBig(f"exponent {exp} is too large")
    return expr.func(*args)


def primitive(expr: sp.Expr) -> sp.Expr:
    """`expr` without its overall constant factor (sign included): 3*sin(x) -> sin(x),
    exp(-1)*sin(x - 1) -> sin(x - 1)."""
    x = the_x(expr)
    if x is None:
        return expr
    _, rest = expr.as_content_primitive()  # 2*x + 2 -> x + 1
    _, rest = rest.as_independent(x, as_Add=False)
    if not rest.has(x):
        return expr
    return -rest if rest.could_extract_minus_sign() else rest


@lru_cache(maxsize=65536)
def key(expr: sp.Expr) -> sp.Expr:
    """Duplicate key of a canonical expression: integrals differing only by a constant factor
    are the same problem (their antiderivatives differ by that factor). sympy expressions hash
    and compare structurally, so the key is the expression without that factor."""
    return primitive(expr)


def size(expr: sp.Expr) -> int:
    """Nodes in the expression tree: a cheap measure of how big a proposal is."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def the_x(expr: sp.Expr) -> sp.Symbol | None:
    """The symbol named x in `expr` (whatever assumptions the parser gave it), or None."""
    return next((s for s in expr.free_symbols if s.name == "x"), None)


def is_trivial(expr: sp.Expr, x: sp.Symbol) -> bool:
    """x**n, c*x**n, f(x) for an elementary f: the bottom of every ladder."""
    expr = primitive(expr)
    if expr == x:
        return True
    if isinstance(expr, sp.Pow) and expr.base == x and expr.exp.is_Number:
        return True
    return isinstance(expr, ELEMENTARY) and expr.args == (x,)


def walk(expr: sp.Expr, path: Path = ()) -> Iterator[tuple[Path, sp.Expr]]:
    """Every subexpression with its path of argument indices, parents first."""
    yield path, expr
    for i, arg in enumerate(expr.args):
        yield from walk(arg, path + (i,))


def replace_at(expr: sp.Expr, path: Path, new: sp.Expr) -> sp.Expr:
    """`expr` with the subexpression at `path` replaced by `new`, re-evaluated on the way up."""
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = replace_at(args[path[0]], path[1:], new)
    return expr.func(*args)


def _linear(arg: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """(a, b) if arg == a*x + b with numbers a != 0 and (a, b) != (1, 0), else None."""
    if arg == x or not arg.has(x):
        return None
    poly = sp.Poly(arg, x) if arg.is_polynomial(x) else None
    if poly is None or poly.degree() != 1:
        return None
    a, b = poly.all_coeffs()
    return (a, b) if a.is_Number and b.is_Number else None


# --- operators: each maps (expr, x) to a list of new expressions ------------------------------

def drop_summand(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [replace_at(expr, p, sp.Add(*(a for j, a in enumerate(n.args) if j != i)))
            for p, n in walk(expr) if isinstance(n, sp.Add) for i in range(len(n.args))]


def _factors(node: sp.Expr, x: sp.Symbol) -> list[int]:
    return [i for i, a in enumerate(node.args) if a.has(x)]


def drop_factor(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    out = []
    for p, n in walk(expr):
        if isinstance(n, sp.Mul) and len(idx := _factors(n, x)) >= 2:
            out += [replace_at(expr, p, sp.Mul(*(a for j, a in enumerate(n.args) if j != i))) for i in idx]
    return out


def take_factor(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """Split a product: each factor involving x on its own."""
    out = []
    for p, n in walk(expr):
        if isinstance(n, sp.Mul) and len(idx := _factors(n, x)) >= 2:
            out += [replace_at(expr, p, n.args[i]) for i in idx]
    return out


def lower_exponent(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    out = []
    for p, n in walk(expr):
        if isinstance(n, sp.Pow) and n.exp.is_Integer and abs(n.exp) >= 2 and n.base.has(x):
            out.append(replace_at(expr, p, n.base ** (n.exp - sp.sign(n.exp))))
    return out


def remove_root(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """sqrt(g) -> g, g**(-1/2) -> 1/g: a fractional power becomes a whole one."""
    out = []
    for p, n in walk(expr):
        if isinstance(n, sp.Pow) and n.exp.is_Rational and not n.exp.is_Integer and n.base.has(x):
            out.append(replace_at(expr, p, n.base ** sp.sign(n.exp)))
    return out


def inner_to_x(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """f(g(x)) -> f(x) and g(x)**n -> x**n for an inner argument g other than x."""
    out = []
    for p, n in walk(expr):
        if isinstance(n, sp.Function) and len(n.args) == 1 and n.args[0] != x and n.args[0].has(x):
            out.append(replace_at(expr, p, n.func(x)))
        elif isinstance(n, sp.Pow) and n.exp.is_Number and n.base != x and n.base.has(x):
            out.append(replace_at(expr, p, x ** n.exp))
    return out


def coeff_to_one(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """A numeric coefficient (inside a function, a power or a sum) or constant term becomes 1."""
    out = []
    for p, n in walk(expr):
        if not p:
            continue  # the overall factor does not change the problem (see `key`)
        if isinstance(n, sp.Mul):
            coeff, rest = n.as_coeff_Mul()
            if coeff.is_Number and abs(coeff) != 1 and rest.has(x):
                out.append(replace_at(expr, p, sp.sign(coeff) * rest))
        elif isinstance(n, sp.Add):
            coeff, rest = n.as_coeff_Add()
            if coeff.is_Number and coeff not in (0, 1):
                out.append(replace_at(expr, p, rest + 1))
    return out


def leaf(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """The trivial pieces of `expr` (x**n, sin(x), exp(x), …) and the trivial pieces the
    `inner_to_x` step would give (sin(3*x) -> sin(x)), so any tree can end at the bottom."""
    out = []
    for _, n in walk(expr):
        if isinstance(n, ELEMENTARY) and n.args[0].has(x):
            out.append(n.func(x))
        elif isinstance(n, sp.Pow) and n.exp.is_Number and n.base.has(x):
            out.append(x ** n.exp)
    return out or [x]


def linear_substitution(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """For an argument a*x + b: substitute x -> (x - b)/a everywhere, so that argument becomes x
    (the integral is the same up to the constant factor 1/a)."""
    out = []
    for _, n in walk(expr):
        if isinstance(n, (sp.Function, sp.Pow)) and (ab := _linear(n.args[0], x)) is not None:
            a, b = ab
            out.append(expr.subs(x, (x - b) / a))
    return out


def reflect(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [expr.subs(x, -x)]


def rescale(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """x -> a*x: the same integral after the substitution u = a*x."""
    return [expr.subs(x, a * x) for a in (2, 3, sp.Rational(1, 2))]


def shift(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """x -> x + b: the same integral after the substitution u = x + b."""
    return [expr.subs(x, x + b) for b in (1, -1, 2)]


def expand(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [sp.expand(expr)]


def expand_trig(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [sp.expand_trig(expr)]


def apart(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [sp.apart(expr, x)] if expr.is_rational_function(x) and not expr.is_polynomial(x) else []


def together(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    return [sp.together(expr)] if isinstance(expr, sp.Add) else []


Operator = Callable[[sp.Expr, sp.Symbol], list[sp.Expr]]

OPERATORS: dict[str, tuple[str, Operator]] = {
    "drop_summand": ("easier", drop_summand),
    "drop_factor": ("easier", drop_factor),
    "take_factor": ("easier", take_factor),
    "lower_exponent": ("easier", lower_exponent),
    "remove_root": ("easier", remove_root),
    "inner_to_x": ("easier", inner_to_x),
    "coeff_to_one": ("easier", coeff_to_one),
    "leaf": ("easier", leaf),
    "linear_substitution": ("equivalent", linear_substitution),
    "reflect": ("equivalent", reflect),
    "rescale": ("equivalent", rescale),
    "shift": ("equivalent", shift),
    "expand": ("equivalent", expand),
    "expand_trig": ("equivalent", expand_trig),
    "apart": ("equivalent", apart),
    "together": ("equivalent", together),
}


@dataclass(frozen=True)
class Candidate:
    """One symbolic proposal: the new expression, its kind and the operator that made it."""

    expr: sp.Expr
    kind: str
    op: str


def valid_variant(expr: sp.Expr, x: sp.Symbol, max_nodes: int) -> bool:
    """Involves x, is not constant, is finite and small enough to be a problem."""
    return (
        isinstance(expr, sp.Expr)
        and expr.has(x)
        and not expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan)
        and size(expr) <= max_nodes
    )


def candidates(expr: sp.Expr, x: sp.Symbol, max_nodes: int = 80, max_exponent: int = 50,
               ops: tuple[str, ...] | None = None) -> list[Candidate]:
    """Every distinct valid variant the operators make from `expr`, each different from it."""
    seen = {key(expr)}
    out: list[Candidate] = []
    n_in = size(expr)
    for name in ops or tuple(OPERATORS):
        kind, fn = OPERATORS[name]
        if n_in > max_nodes and kind == "equivalent":
            continue  # expand/apart on big inputs is slow and gives worse problems
        # An equivalent form much longer than its input (expand_trig of sin(3*x+1)**2) is noise.
        limit = max_nodes if kind == "easier" else min(max_nodes, 2 * n_in + 6)
        try:
            made = fn(expr, x)
        except (sp.PolynomialError, sp.SympifyError, TypeError, ValueError, NotImplementedError):
            continue  # sympy refuses some shapes (apart of a non-rational, …): no proposal
        for new in made:
            try:
                new = primitive(canonical(new, max_exponent))
            except TooBig:
                continue
            k = key(new)
            if k in seen or not valid_variant(new, x, limit):
                continue
            seen.add(k)
            out.append(Candidate(new, kind, name))
    return out


def pick(cands: list[Candidate], count: int, easier_share: float, rng: random.Random,
         leaf_first: bool = False) -> list[Candidate]:
    """Up to `count` candidates, ordered so that any prefix holds about `easier_share` easier
    ones; operators take turns within a kind (no operator floods a batch). With `leaf_first`
    (the last level of a tree) a trivial leaf comes first, otherwise last (a leaf has no
    children, so early levels keep the tree growing)."""
    by_op: dict[str, list[Candidate]] = {}
    for c in rng.sample(cands, len(cands)):
        by_op.setdefault(c.op, []).append(c)
    order = sorted(by_op, key=lambda op: ((op == "leaf") != leaf_first, rng.random()))
    queue: dict[str, list[Candidate]] = {"easier": [], "equivalent": []}
    while any(by_op.values()):
        for op in order:
            if by_op[op]:
                c = by_op[op].pop(0)
                queue[c.kind].append(c)
    chosen: list[Candidate] = []
    n_easy = 0
    while len(chosen) < count and (queue["easier"] or queue["equivalent"]):
        want_easy = n_easy < easier_share * (len(chosen) + 1)
        kind = "easier" if (want_easy and queue["easier"]) or not queue["equivalent"] else "equivalent"
        chosen.append(queue[kind].pop(0))
        n_easy += kind == "easier"
    return chosen
