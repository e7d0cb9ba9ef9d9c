"""Reference antiderivatives from sympy, for statistics only (never a reward); they run in the
verifier's worker pool, whose workers are killed at the timeout, so nothing can hang."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from engine.variants import symbolic
from engine.variants.nodes import Node
from engine.verify.parse import parse_integrand


def sympy_antiderivative(integrand: str) -> str | None:
    """sympy's antiderivative of `integrand`, or None if it gives up (runs in a pool worker)."""
    try:
        expr = parse_integrand(integrand)
        result = sp.integrate(expr, symbolic.the_x(expr))
    except Exception:  # noqa: BLE001 - any sympy failure just means "no reference"
        return None
    return None if result.has(sp.Integral) else sp.sstr(result)


def references(integrands: Sequence[str], timeout_s: float) -> list[str | None]:
    """sympy's antiderivative of each integrand (None if it fails or takes over `timeout_s`),
    computed in the verifier's worker pool, whose workers are killed at the timeout."""
    from engine.verify.pool import Failure, pool

    results = pool().run(sympy_antiderivative, [(text,) for text in integrands], timeout_s)
    return [None if isinstance(r, Failure) else r for r in results]


def attach_references(nodes: list[Node], timeout_s: float) -> None:
    """Fill `reference` of every node (None where sympy cannot integrate within the timeout)."""
    for node, ref in zip(nodes, references([n.integrand for n in nodes], timeout_s)):
        node.reference = ref
