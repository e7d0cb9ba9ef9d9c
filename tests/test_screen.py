"""Screening's bookkeeping (engine/train/screen.py): which answer counts for which variant, the
greedy call at temperature 0, samples at the rollout temperature for what greedy solved, and the
per-tree report."""

from __future__ import annotations

import pytest

from engine.runs.config import Config
from engine.train.screen import Screened, screen, tree_reports
from engine.variants.nodes import Node


def tree() -> list[Node]:
    return [Node("a", None, 0, "root", "user", "x*exp(x)"), Node("a1", "a", 1, "easier", "symbolic", "exp(x)"),
            Node("a2", "a1", 2, "easier", "symbolic", "x"), Node("b", None, 0, "root", "user", "sin(x)**7")]


# right answers, keyed by integrand; anything else is wrong
RIGHT = {"exp(x)": "exp(x)", "x": "x**2/2"}


def test_screen_samples_only_what_greedy_solved_in_chunks():
    calls = []

    def sample_many(rows, n, temperature, max_tokens):
        calls.append(([r["id"] for r in rows], n, temperature, max_tokens))
        # greedy is right wherever a right answer exists; of the samples only the first is right
        return [[RIGHT.get(r["integrand"], "0") if temperature == 0 or k == 0 else "wrong" for k in range(n)]
                for r in rows]

    def judge(items):
        return [RIGHT.get(integrand) == text for integrand, text in items]

    cfg = Config()
    cfg.variants.screen_samples, cfg.variants.screen_chunk, cfg.variants.screen_max_tokens = 3, 3, 40
    cfg.sample.temperature = 0.7
    progress = []
    result = screen(tree(), sample_many, judge, cfg, on_progress=lambda d, t: progress.append((d, t)))
    assert calls == [(["a", "a1", "a2"], 1, 0.0, 40), (["a1", "a2"], 3, 0.7, 40), (["b"], 1, 0.0, 40)]
    assert progress == [(3, 4), (4, 4)]
    assert result == {"a": Screened(False, 0, 0), "a1": Screened(True, 3, 1), "a2": Screened(True, 3, 1),
                      "b": Screened(False, 0, 0)}
    reports = {r.root: r for r in tree_reports(tree(), result)}
    assert (reports["a"].variants, reports["a"].solvable, reports["a"].edge) == (3, 2, 2)
    assert reports["a"].integrand == "x*exp(x)" and reports["a"].edge_share == 2 / 3
    assert (reports["b"].variants, reports["b"].solvable, reports["b"].edge, reports["b"].edge_share) == (1, 0, 0, 0.0)
    cfg.variants.screen_samples = 0
    calls.clear()
    assert screen(tree(), sample_many, judge, cfg)["a1"] == Screened(True, 0, 0)
    assert [c[1] for c in calls] == [1, 1]


def test_edge_needs_a_success_and_a_failure():
    nodes = tree()[:2]
    all_right = {"a": Screened(True, 2, 2), "a1": Screened(True, 0, 0)}
    (r,) = tree_reports(nodes, all_right)
    assert (r.solvable, r.edge) == (2, 0)
    (r,) = tree_reports(nodes, {"a": Screened(False, 2, 2)})
    assert (r.variants, r.solvable, r.edge) == (1, 1, 1)


def test_screener_visits_every_tree_early_and_stops_at_the_reserve():
    from engine.train.pool import VariantPool
    from engine.train.screen import Screener

    cfg = Config()
    cfg.variants.screen_chunk, cfg.variants.screen_reserve, cfg.variants.screen_samples = 2, 1, 0
    pool = VariantPool(tree(), cfg.variants)
    seen = []

    def sample_many(rows, n, temperature, max_tokens):
        seen.append([r["id"] for r in rows])
        return [[RIGHT.get(r["integrand"], "0")] for r in rows]

    def judge(items):
        return [RIGHT.get(integrand) == text for integrand, text in items]

    screener = Screener(pool, sample_many, judge, cfg)
    # round robin over the trees, the deepest variant of each first
    assert [n.id for n in screener.order] == ["a2", "b", "a1", "a"]
    # while screening, a variant not screened yet weighs what a saturated one does
    assert pool.weight("a") == pytest.approx(cfg.variants.pool_saturated_weight)
    chunks = []
    assert screener.top_up(lambda result, done, total: chunks.append((sorted(result), done, total))) == 2
    assert seen == [["a2", "b"]] and chunks == [(["a2", "b"], 2, 4)]
    assert pool.promising() == 1 and [n.id for n in screener.pending()] == ["a1", "a"]
    assert pool.weight("a2") == pytest.approx(cfg.variants.pool_solvable_weight * cfg.variants.pool_depth_weight ** 2)
    assert screener.top_up() == 0  # the reserve holds
    cfg.variants.screen_reserve = 5
    assert screener.top_up() == 2 and not screener.pending()
    assert screener.known()["a1"] == Screened(True, 0, 0) and screener.known()["b"] == Screened(False, 0, 0)
    assert screener.top_up() == 0  # nothing left to screen
