"""Screening's bookkeeping (engine/train/screen.py): which answer counts for which variant, the
greedy call at temperature 0 and the samples at the rollout temperature, and the per-tree report."""

from __future__ import annotations

from engine.runs.config import Config
from engine.train.screen import Screened, screen, tree_reports
from engine.variants.nodes import Node


def tree() -> list[Node]:
    return [Node("a", None, 0, "root", "user", "x*exp(x)"), Node("a1", "a", 1, "easier", "symbolic", "exp(x)"),
            Node("a2", "a1", 2, "easier", "symbolic", "x"), Node("b", None, 0, "root", "user", "sin(x)**7")]


# right answers, keyed by integrand; anything else is wrong
RIGHT = {"exp(x)": "exp(x)", "x": "x**2/2"}


def test_screen_counts_greedy_and_samples_per_variant_in_chunks():
    calls = []

    def sample_many(rows, n, temperature):
        calls.append((len(rows), n, temperature))
        # greedy solves exp(x); samples: the first of each variant right when there is a right answer
        return [[RIGHT.get(r["integrand"], "0") if (temperature == 0 and r["integrand"] == "exp(x)") or
                 (temperature > 0 and k == 0) else "wrong" for k in range(n)] for r in rows]

    def judge(items):
        return [RIGHT.get(integrand) == text for integrand, text in items]

    cfg = Config()
    cfg.variants.screen_samples, cfg.variants.screen_chunk, cfg.sample.temperature = 3, 3, 0.7
    progress = []
    result = screen(tree(), sample_many, judge, cfg, on_progress=lambda d, t: progress.append((d, t)))
    assert calls == [(3, 1, 0.0), (3, 3, 0.7), (1, 1, 0.0), (1, 3, 0.7)]
    assert progress == [(3, 4), (4, 4)]
    assert result == {"a": Screened(False, 3, 0), "a1": Screened(True, 3, 1), "a2": Screened(False, 3, 1),
                      "b": Screened(False, 3, 0)}
    reports = {r.root: r for r in tree_reports(tree(), result)}
    assert (reports["a"].variants, reports["a"].solvable, reports["a"].edge) == (3, 2, 2)
    assert reports["a"].integrand == "x*exp(x)" and reports["a"].edge_share == 2 / 3
    assert (reports["b"].variants, reports["b"].solvable, reports["b"].edge, reports["b"].edge_share) == (1, 0, 0, 0.0)


def test_edge_needs_a_success_and_a_failure():
    nodes = tree()[:2]
    all_right = {"a": Screened(True, 2, 2), "a1": Screened(True, 0, 0)}
    (r,) = tree_reports(nodes, all_right)
    assert (r.solvable, r.edge) == (2, 0)
    (r,) = tree_reports(nodes, {"a": Screened(False, 2, 2)})
    assert (r.variants, r.solvable, r.edge) == (1, 1, 1)
