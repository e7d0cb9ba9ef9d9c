"""Screening's bookkeeping (engine/train/screen.py): which answer counts for which variant, the
greedy call at temperature 0, samples at the rollout temperature for what greedy solved, and the
per-tree report."""

from __future__ import annotations

import math

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


def greedy_screener(chunk: int, reserve: float):
    """A Screener over tree() whose model answers greedily what RIGHT knows (no samples); returns
    the config, the pool, the screener and the list of chunks it asked about."""
    from engine.train.pool import VariantPool
    from engine.train.screen import Screener

    cfg = Config()
    cfg.variants.screen_chunk, cfg.variants.screen_reserve, cfg.variants.screen_samples = chunk, reserve, 0
    pool = VariantPool(tree(), cfg.variants)
    seen = []

    def sample_many(rows, n, temperature, max_tokens):
        seen.append([r["id"] for r in rows])
        return [[RIGHT.get(r["integrand"], "0")] for r in rows]

    def judge(items):
        return [RIGHT.get(integrand) == text for integrand, text in items]

    return cfg, pool, Screener(pool, sample_many, judge, cfg), seen


def test_screener_visits_every_tree_early_and_stops_at_the_reserve():
    cfg, pool, screener, seen = greedy_screener(chunk=2, reserve=0.6)
    # round robin over the trees, the deepest variant of each first
    assert [n.id for n in screener.order] == ["a2", "b", "a1", "a"]
    # while screening, a variant not screened yet weighs what a saturated one does
    assert pool.weight("a") == pytest.approx(cfg.variants.pool_saturated_weight)
    chunks = []
    assert screener.top_up(lambda result, done, total: chunks.append((sorted(result), done, total))) == 2
    assert seen == [["a2", "b"]] and chunks == [(["a2", "b"], 2, 4)]
    # a2's greedy answer verified, nothing else known: p ~ Beta(1.5, 0.5), whose E[p^8] is
    # (1.5)(2.5)...(8.5) / (2)(3)...(9), and E[(1-p)^8] = (0.5)(1.5)...(7.5) / (2)(3)...(9)
    all_ok = math.prod(k + 1.5 for k in range(8)) / math.factorial(9)
    all_bad = math.prod(k + 0.5 for k in range(8)) / math.factorial(9)
    assert screener.promising() == pytest.approx(1 - all_ok - all_bad) and 0.6 < screener.promising() < 0.61
    assert [n.id for n in screener.pending()] == ["a1", "a"]
    assert pool.weight("a2") == pytest.approx(cfg.variants.pool_solvable_weight * cfg.variants.pool_depth_weight ** 2)
    assert screener.top_up() == 0  # the reserve holds
    cfg.variants.screen_reserve = 5
    assert screener.top_up() == 2 and not screener.pending()
    assert screener.known()["a1"] == Screened(True, 0, 0) and screener.known()["b"] == Screened(False, 0, 0)
    assert screener.top_up() == 0  # nothing left to screen


def test_a_variant_the_model_always_solves_stops_counting_in_the_reserve():
    """The reserve counts each solved variant by its chance of a group of G holding a verified and
    a failed answer: near 1 at a rate of one half, falling as the rollouts find it always solved,
    so screening resumes when the pool's variants saturate (it did not while any failure was left,
    and the 1.5B's signal share fell from 69 % to 35 % in an hour)."""
    from engine.train.pool import VariantPool

    cfg = Config()
    pool = VariantPool([Node("a", None, 0, "root", "user", "x"), Node("b", None, 0, "root", "user", "x**2")], cfg.variants)
    assert pool.promising(8) == 0  # nothing solved, nothing promised
    pool.record_screen("a", greedy=True, samples=2, solved=1)  # 2 of 3 verified: p ~ Beta(2.5, 1.5)
    half = pool.promising(8)
    all_ok = math.prod(k + 2.5 for k in range(8)) / math.prod(k + 4 for k in range(8))
    all_bad = math.prod(k + 1.5 for k in range(8)) / math.prod(k + 4 for k in range(8))
    assert half == pytest.approx(1 - all_ok - all_bad) and half > 0.85
    for k in range(80):
        pool.record("a", ok=k != 0)  # the rollouts then solve it 79 times in 80
    assert pool.promising(8) < 0.3
    assert pool.promising(2) < pool.promising(8)  # a smaller group is flat more often
    pool.record_screen("b", greedy=False, samples=0, solved=0)
    assert pool.promising(8) < 0.3  # a variant never solved adds nothing


def test_screening_moves_on_to_harder_variants_when_the_drawn_ones_are_always_solved():
    """With the reserve held, one chunk a step is screened while the draws are expected to hold
    fewer than screen_signal_share groups with signal, and only while screening has taken under
    screen_time_share of the time since it started."""
    cfg, pool, screener, seen = greedy_screener(chunk=1, reserve=0.02)
    screener.started -= 100.0  # as if training had run 100 s since screening started
    assert screener.top_up() == 1 and seen == [["a2"]]  # the reserve asked for it
    for _ in range(80):
        pool.record("a2", ok=True)  # the rollouts find a2 always solved
    assert screener.promising() >= cfg.variants.screen_reserve  # the reserve still holds
    assert pool.signal_share(8) < 0.1
    assert screener.top_up() == 1 and seen[-1] == ["b"]  # one chunk, not all that is left
    assert screener.top_up() == 1 and seen[-1] == ["a1"]  # b was never solved: still starved
    assert pool.signal_share(8) > cfg.variants.screen_signal_share  # a1 is at the edge
    assert screener.top_up() == 0 and len(seen) == 3
    cfg.variants.screen_signal_share = 1.0
    screener.seconds = 30.0  # screening has had over a quarter of the time: no more for the share
    assert screener.top_up() == 0
    screener.seconds = 0.0
    assert screener.top_up() == 1 and seen[-1] == ["a"]


def test_grow_level_adds_easier_variants_below_the_leaves():
    """One level of easier symbolic variants below the given leaves: ids continue below each parent,
    depth + 1, leaves first, nothing already in the pool or equal to an evaluation problem."""
    from engine.variants.symbolic import canonical, key
    from engine.variants.tree import grow_level, registry_of
    from engine.verify.parse import parse_integrand

    cfg = Config().variants
    leaves = [Node("p.0.1", "p.0", 2, "easier", "symbolic", "x**3*log(x)"),
              Node("p.1.0", "p.1", 2, "easier", "symbolic", "x*sinh(2*x)")]
    registry = registry_of(["x**3*log(x)", "x*sinh(2*x)", "log(x)"], cfg, exclude=["sinh(2*x)"])
    grown = grow_level(leaves, registry, cfg=cfg, n=6)
    assert 0 < len(grown) <= 6
    assert {n.parent for n in grown} == {"p.0.1", "p.1.0"}  # the parents take turns
    assert all(n.depth == 3 and n.kind == "easier" and n.source == "symbolic" for n in grown)
    for parent in ("p.0.1", "p.1.0"):
        ids = [n.id for n in grown if n.parent == parent]
        assert ids == [f"{parent}.g{k}" for k in range(len(ids))]
    assert {n.integrand for n in grown} >= {"x**3", "x**2*log(x)", "x*sinh(x)"}
    keys = [key(canonical(parse_integrand(n.integrand))) for n in grown]
    assert len(set(keys)) == len(keys)
    assert key(canonical(parse_integrand("log(x)"))) not in keys  # taken by the pool
    assert key(canonical(parse_integrand("sinh(2*x)"))) not in keys  # an evaluation problem
    assert all(registry.screen(canonical(parse_integrand(n.integrand)))[0] == "duplicate" for n in grown)  # added
    assert grow_level([Node("q", None, 0, "root", "user", "x**2")], registry_of([], cfg), cfg, 5) == []  # nothing easier


def test_screener_grows_a_tree_in_which_nothing_was_solved():
    """Tree a: a variant is solved, so it never grows. Tree b: every variant screened and none solved,
    so it grows a level below its deepest variants, which are screened next; it stops growing at
    [variants] grow_levels below the tree's depth, and a growth that yields nothing is not retried."""
    from engine.train.pool import VariantPool
    from engine.train.screen import Screener

    cfg = Config()
    cfg.variants.screen_chunk, cfg.variants.screen_reserve, cfg.variants.screen_samples = 8, 99, 0
    cfg.variants.depth, cfg.variants.grow_levels = 1, 2
    nodes = [Node("a", None, 0, "root", "user", "x*exp(x)"), Node("a1", "a", 1, "easier", "symbolic", "exp(x)"),
             Node("b", None, 0, "root", "user", "sin(x)**7"), Node("b1", "b", 1, "easier", "symbolic", "sin(x)**5")]
    pool = VariantPool(nodes, cfg.variants)
    asked: list[list[str]] = []

    def grow(leaves):
        asked.append([n.id for n in leaves])
        if leaves[0].depth >= 2:
            return []  # pretend nothing easier exists below level 2 ... checked below
        return [Node(f"{n.id}.g0", n.id, n.depth + 1, "easier", "symbolic", f"sin(x)**{n.depth + 2}") for n in leaves]

    def sample_many(rows, n, temperature, max_tokens):
        return [[RIGHT.get(r["integrand"], "0")] for r in rows]

    def judge(items):
        return [RIGHT.get(integrand) == text for integrand, text in items]

    screener = Screener(pool, sample_many, judge, cfg, grow=grow)
    grown_events: list[list[str]] = []
    screener.top_up(on_grow=lambda new: grown_events.append([n.id for n in new]))
    assert asked[0] == ["b1"] and grown_events[0] == ["b1.g0"]  # tree a had exp(x) solved
    assert pool.nodes["b1.g0"].depth == 2 and pool.stats["b1.g0"].greedy is False  # screened after growing
    assert asked == [["b1"], ["b1.g0"]] and "b" in screener.barren  # the second growth gave nothing
    assert screener.top_up() == 0 and len(asked) == 2  # not retried
    # a tree already grown to depth + grow_levels does not ask again
    cfg2 = Config()
    cfg2.variants.depth, cfg2.variants.grow_levels, cfg2.variants.screen_samples = 1, 1, 0
    pool2 = VariantPool(nodes[2:], cfg2.variants)
    asked.clear()
    Screener(pool2, sample_many, judge, cfg2, grow=grow).top_up()
    assert asked == [["b1"]] and "b1.g0" in pool2.nodes
    # without a grow function (RL without variants) nothing grows
    pool3 = VariantPool(nodes[2:], cfg2.variants)
    plain = Screener(pool3, sample_many, judge, cfg2)
    plain.top_up()
    assert len(pool3) == 2 and "b" in plain.unsolved_trees()  # unsolved, but nothing to grow it with
