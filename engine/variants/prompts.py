"""Variant generation prompts, following the LADDER paper's recipe: each prompt names 3-5
transformations sampled from one of the two libraries below, a rotating persona, and asks for a
batch of variants, one plain expression per line.
"""

from __future__ import annotations

from engine.inference.base import Chat

EASIER_TRANSFORMS: tuple[str, ...] = (
    "remove one term of a sum",
    "lower an exponent by one",
    "replace an inner function argument such as 3*x+1 or x**2 by plain x",
    "set a numeric coefficient to 1",
    "keep only one factor of a product",
    "remove a square root",
    "replace a polynomial factor by x",
    "remove a denominator",
    "replace a trigonometric power like sin(x)**3 by sin(x)",
    "replace tan, sec or csc by sin or cos",
    "drop a constant added inside a function",
    "replace a product of two functions by one of them",
    "replace a high-degree polynomial by its leading term",
    "replace exp(f(x)) by exp(x)",
    "replace log(f(x)) by log(x)",
    "turn a rational function into a simple fraction like 1/(x+1)",
    "remove a nested function so only one function remains",
)

EQUIVALENT_TRANSFORMS: tuple[str, ...] = (
    "expand a product or power",
    "factor a polynomial",
    "apply a double-angle identity",
    "write sin(x)**2 or cos(x)**2 with cos(2*x)",
    "substitute x by -x",
    "substitute x by x + 1",
    "substitute x by 2*x",
    "multiply the integrand by a constant",
    "rewrite a power of exp as exp of a multiple",
    "split a fraction into partial fractions",
    "combine fractions over a common denominator",
    "rewrite tan(x) as sin(x)/cos(x)",
    "rewrite sqrt(x) as x**(1/2) times a simpler factor",
    "rewrite a hyperbolic function with exp",
    "write a quotient as a product with a negative power",
    "swap the order of factors and terms",
)

PERSONAS: tuple[str, ...] = (
    "Think like Euler: look for a clever substitution.",
    "Think like a patient calculus teacher writing warm-up exercises.",
    "Think like Gauss: strip the problem to its simplest core.",
    "Think like an Integration Bee coach building a ladder of drills.",
    "Think like Cauchy: be careful and precise.",
    "Think like a student who wants an easier version of a hard homework problem.",
    "Think like Ramanujan: spot a pattern and rewrite it.",
    "Think like a computer algebra system designer testing simple cases.",
)

VARIANT_SYSTEM = (
    "You write variants of integration problems. Every variant is a function of x written as a "
    "plain Python expression (** for powers, * for products, exp, log, sin, cos, tan, sqrt). "
    "Write one variant per line, numbered, without integral signs, without dx, without LaTeX and "
    "without explanations."
)

VARIANT_EXAMPLE = (
    "Integrand: x**2*cos(3*x)\nWrite 3 easier variants.",
    "1. x*cos(3*x)\n2. x**2*cos(x)\n3. cos(3*x)",
)


def variant_chat(integrand: str, kind: str, transforms: list[str], persona: str, count: int,
                 examples: list[str] | None = None) -> Chat:
    """The chat asking for `count` variants of `integrand` of `kind` (easier or equivalent).

    `examples` (variants of this very integrand, from the symbolic generator) make the worked
    turn; small models copy a fixed example's functions into their answers otherwise."""
    wanted = "easier" if kind == "easier" else "equivalent (same difficulty, different form)"
    steps = "\n".join(f"- {t}" for t in transforms)
    if examples:
        question = f"Integrand: {integrand}\nWrite {len(examples)} {wanted} variants."
        answer = "\n".join(f"{i}. {e}" for i, e in enumerate(examples, 1))
        ask = f"Write {count} more {wanted} variants of {integrand}, different from those."
    else:
        question, answer = VARIANT_EXAMPLE
        ask = f"Integrand: {integrand}\nWrite {count} {wanted} variants."
    return [
        {"role": "system", "content": VARIANT_SYSTEM},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"{persona}\n{ask} Use transformations such as:\n{steps}"},
    ]
