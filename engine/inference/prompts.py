"""The prompts that ask a model to solve an integral (the variant prompts are in engine/variants/prompts.py).

The solve prompt asks for the antiderivative between <answer> tags as a plain expression. Worked
examples are written in `x` only: examples written with a substitution variable `u` leak into small
models' answers (measured: `-sin(u)/1` for `cos(x)`), see DESIGN.md.
"""

from __future__ import annotations

from engine.inference.base import Chat

SOLVE_SYSTEM = (
    "You are an expert at calculus. Find an antiderivative of the given function of x. "
    "Reply with the final answer only, as a plain expression in x using Python syntax "
    "(** for powers, * for products, exp, log, sin, cos, tan, atan, asin, sqrt), between "
    "<answer> and </answer>. Do not add a constant of integration. Do not use LaTeX."
)

# Easy examples beat harder ones (bench/prompt_compliance.py, greedy, 30 trivial integrals):
# qwen2.5-coder-0.5b 9/30 correct vs 5/30 (x*cos(x), 1/(x**2+4)) and 4/30 zero-shot; smollm2 2/30.
SOLVE_EXAMPLES: list[tuple[str, str]] = [
    ("x**6", "x**7/7"),
    ("sin(2*x)", "-cos(2*x)/2"),
    ("1/(x + 2)", "log(x + 2)"),
]


def solve_user(integrand: str) -> str:
    return f"Integrate: {integrand}"


def solve_chat(integrand: str, examples: bool = True) -> Chat:
    """The chat that asks a model for the antiderivative of `integrand`."""
    chat: Chat = [{"role": "system", "content": SOLVE_SYSTEM}]
    if examples:
        for question, answer in SOLVE_EXAMPLES:
            chat.append({"role": "user", "content": solve_user(question)})
            chat.append({"role": "assistant", "content": f"<answer>{answer}</answer>"})
    chat.append({"role": "user", "content": solve_user(integrand)})
    return chat


DEFINITE_SYSTEM = (
    "You are an expert at calculus. Evaluate the given definite integral. "
    "Reply with the exact value only, as a plain expression using Python syntax "
    "(** for powers, * for products, pi, E, sqrt, log), between <answer> and </answer>. "
    "Do not use LaTeX."
)


def definite_chat(integrand: str, lower: str, upper: str) -> Chat:
    """The chat that asks a model for the value of a definite integral (checked by value)."""
    return [
        {"role": "system", "content": DEFINITE_SYSTEM},
        {"role": "user", "content": f"Evaluate the integral of {integrand} for x from {lower} to {upper}."},
    ]
