"""The variant pool's decisions, value by value: the weight formula of each branch (unseen, edge,
saturated), the depth and recency factors, the floor, the draw counter, and the order of a weighted
draw. Written so that changing any constant or comparison in engine/train/pool.py fails a test
(`make mutate` checks that)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from engine.errors import LadderError
from engine.runs.config import VariantConfig
from engine.train.pool import SolveStats, VariantPool
from engine.variants.nodes import Node

# distinct values, so a weight identifies the branch and the factors that produced it
CFG = dict(pool_memory=0, pool_min_attempts=3, pool_unseen_weight=0.7, pool_edge_weight=2.0, pool_saturated_weight=0.3,
           pool_depth_weight=1.5, pool_recency_window=0, pool_solvable_weight=1.3)


def node(i: str, depth: int = 0) -> Node:
    return Node(i, None, depth, "easier" if depth else "root", "symbolic", "x")


def pool_with(attempts: int, successes: int, depth: int = 0, **cfg) -> VariantPool:
    pool = VariantPool([node("v", depth)], VariantConfig(**{**CFG, **cfg}))
    for j in range(attempts):
        pool.record("v", j < successes)
    return pool


def test_fresh_pool_state():
    pool = VariantPool([node("a"), {"id": "b", "integrand": "x", "depth": 2}], VariantConfig())
    assert pool.draws == 0 and len(pool) == 2 and pool.nodes["b"].depth == 2
    assert pool.stats == {"a": SolveStats(0, 0, -1), "b": SolveStats(0, 0, -1)}
    fresh = {"attempts": 0, "successes": 0, "last_draw": -1, "greedy": None}
    assert pool.state_dict() == {"draws": 0, "stats": {"a": fresh, "b": fresh}, "grown": [], "recent": []}
    assert pool.rate("a") is None and pool.edge() == []
    with pytest.raises(LadderError, match="empty"):
        VariantPool([], VariantConfig())


def test_record_counts_attempts_and_successes():
    pool = pool_with(0, 0)
    pool.record("v", True)
    pool.record("v", False)
    pool.record("v", 1)
    assert pool.stats["v"] == SolveStats(3, 2, -1) and pool.rate("v") == pytest.approx(2 / 3)
    pool.record("new", True)  # an id the pool did not start with is counted too
    assert pool.stats["new"] == SolveStats(1, 1, -1)


@pytest.mark.parametrize("attempts, successes, weight", [
    (0, 0, 0.7),  # unseen
    (2, 2, 0.7),  # one attempt short of pool_min_attempts: still unseen
    (3, 0, 0.3),  # never solved: saturated
    (3, 3, 0.3),  # always solved: saturated
    (4, 1, 0.3 + 2.0 * 4 * 0.25 * 0.75),  # at the edge, p = 1/4
    (4, 2, 0.3 + 2.0),  # p = 1/2: the full edge weight
    (3, 1, 0.3 + 2.0 * 4 * (1 / 3) * (2 / 3)),
    (3, 2, 0.3 + 2.0 * 4 * (2 / 3) * (1 / 3)),
])
def test_weight_of_each_branch(attempts, successes, weight):
    assert pool_with(attempts, successes).weight("v") == pytest.approx(weight, rel=1e-12)


@pytest.mark.parametrize("greedy, samples, solved, weight", [
    (True, 2, 0, 1.3),  # greedy verified: solvable, rate still unknown
    (False, 2, 1, 1.3),  # a sample verified
    (False, 2, 0, 0.3),  # nothing verified: rarely drawn
    (False, 0, 0, 0.3),
    (True, 3, 3, 0.3),  # enough samples: the rate decides (all verified: saturated)
    (False, 4, 2, 0.3 + 2.0),  # rate 0.5: the edge
])
def test_screening_weights(greedy, samples, solved, weight):
    pool = pool_with(0, 0)
    pool.record_screen("v", greedy, samples, solved)
    s = pool.stats["v"]
    assert (s.greedy, s.attempts, s.successes) == (greedy, samples, solved)
    assert pool.weight("v") == pytest.approx(weight)


def test_screening_adds_to_rollout_counts():
    pool = pool_with(1, 1)
    pool.record_screen("v", False, 2, 1)
    assert (pool.stats["v"].attempts, pool.stats["v"].successes) == (3, 2)


def test_depth_multiplies_the_weight():
    assert pool_with(0, 0, depth=2).weight("v") == pytest.approx(0.7 * 1.5 ** 2, rel=1e-12)
    assert pool_with(4, 2, depth=3).weight("v") == pytest.approx(2.3 * 1.5 ** 3, rel=1e-12)


def test_edge_lists_only_rates_strictly_between_0_and_1():
    pool = VariantPool([node(i) for i in "abcde"], VariantConfig(**CFG))
    for vid, attempts, successes in (("a", 2, 0), ("b", 2, 2), ("c", 2, 1), ("d", 1, 1), ("e", 0, 0)):
        for j in range(attempts):
            pool.record(vid, j < successes)
    assert pool.edge() == ["c"]


def test_recency_factor_and_window():
    pool = pool_with(0, 0, pool_recency_window=4)
    base = 0.7
    assert pool.weight("v") == pytest.approx(base)  # never drawn: no factor
    pool.sample(1, random.Random(0))
    assert pool.draws == 1 and pool.stats["v"].last_draw == 1
    assert pool.weight("v") == pytest.approx(base * 1 / 4)  # just drawn
    pool.draws += 1
    assert pool.weight("v") == pytest.approx(base * 2 / 4)
    pool.draws += 2
    assert pool.weight("v") == pytest.approx(base * 4 / 4)
    pool.draws += 5
    assert pool.weight("v") == pytest.approx(base)  # capped at 1
    # a checkpoint may hold last_draw 0 (drawn before the first counted draw): still recent
    pool.load_state_dict({"draws": 0, "stats": {"v": {"attempts": 0, "successes": 0, "last_draw": 0}}})
    assert pool.weight("v") == pytest.approx(base / 4)
    # window 0 switches the recency factor off
    off = pool_with(0, 0, pool_recency_window=0)
    off.sample(1, random.Random(0))
    assert off.weight("v") == pytest.approx(base)


def test_weight_has_a_positive_floor():
    pool = pool_with(0, 0, pool_unseen_weight=0.0)
    assert pool.weight("v") == 1e-9
    assert pool_with(0, 0, pool_unseen_weight=1e-12).weight("v") == 1e-9
    assert pool_with(0, 0, pool_unseen_weight=2e-9).weight("v") == 2e-9


def test_sample_takes_the_heaviest_and_counts_draws():
    nodes = [node(i) for i in "abc"]
    pool = VariantPool(nodes, VariantConfig(**CFG))
    for j in range(4):  # a: edge (2.3); b and c saturated (0.3)
        pool.record("a", j < 2)
        pool.record("b", False)
        pool.record("c", True)
    pool.cfg = VariantConfig(**{**CFG, "pool_edge_weight": 1e6})
    rng = random.Random(3)
    firsts = [pool.sample(1, rng)[0].id for _ in range(50)]
    assert firsts.count("a") >= 48
    assert pool.draws == 50 and pool.stats["a"].last_draw == 50
    drawn = pool.sample(5, rng)
    ids = [n.id for n in drawn]
    assert ids[0] == "a" and sorted(ids[:3]) == ["a", "b", "c"] and ids[3:] == ids[:2]  # wraps around
    assert pool.draws == 51 and all(pool.stats[i].last_draw == 51 for i in "abc")


def test_sample_order_follows_weights_not_their_inverse():
    # one heavy and many light variants: the heavy one is the first pick nearly always
    pool = VariantPool([node(str(i)) for i in range(10)], VariantConfig(**CFG))
    for j in range(4):
        pool.record("0", j < 2)
    pool.cfg = VariantConfig(**{**CFG, "pool_edge_weight": 100.0})
    rng = random.Random(7)
    firsts = [pool.sample(1, rng)[0].id for _ in range(200)]
    assert firsts.count("0") > 150


def test_state_round_trip_restores_draws_and_stats():
    pool = pool_with(5, 2, pool_recency_window=3)
    pool.record_screen("v", True, 0, 0)
    pool.sample(1, random.Random(0))
    pool.sample(1, random.Random(0))
    state = pool.state_dict()
    assert state == {"draws": 2, "stats": {"v": {"attempts": 5, "successes": 2, "last_draw": 2, "greedy": True}},
                     "grown": [], "recent": []}
    other = pool_with(0, 0, pool_recency_window=3)
    other.load_state_dict({"draws": "2", "stats": state["stats"]})
    assert other.draws == 2 and isinstance(other.draws, int) and other.stats == pool.stats
    assert other.weight("v") == pool.weight("v")
    # variants grown during training come back with their counts; the tree file does not hold them
    grown = Node("v.g0", "v", 3, "easier", "symbolic", "x**2")
    assert pool.add([grown, grown]) == [grown] and pool.add([grown]) == []
    pool.record("v.g0", True)
    again = pool_with(0, 0)
    again.load_state_dict(pool.state_dict())
    assert again.nodes["v.g0"] == grown and again.stats["v.g0"].successes == 1 and again.grown == [grown]
    assert again.state_dict() == pool.state_dict()
    # the last groups' signal comes back too (the screening share rule reads it after --resume)
    pool.record_groups([[Scored("v", True), Scored("v", False)], [Scored("v", True)]])
    again.load_state_dict(pool.state_dict())
    assert list(again.recent) == [True, False] and again.state_dict() == pool.state_dict()
    # a checkpoint written before screening existed has no "greedy": not screened
    old = pool_with(0, 0)
    old.load_state_dict({"draws": 0, "stats": {"v": {"attempts": 1, "successes": 0, "last_draw": -1}}})
    assert old.stats["v"].greedy is None and old.weight("v") == pytest.approx(0.7)


def test_signal_share_is_the_draw_weighted_mean_of_each_variants_chance_of_a_mixed_group():
    # prior 1 (uniform) keeps the Beta-binomial chances in small fractions, worked out by hand:
    # E[p^8] for p ~ Beta(a, b) is (a)(a+1)...(a+7) / ((a+b)(a+b+1)...(a+b+7))
    pool = VariantPool([node("a"), node("b"), node("c")], VariantConfig(**CFG, pool_prior=1.0))
    for j in range(4):
        pool.record("a", j < 2)  # Beta(3, 3): E[p^8] = 3*4*5 / (11*12*13) = 5/143, edge weight 0.3 + 2.0
    for _ in range(4):
        pool.record("b", True)  # Beta(5, 1): E[p^8] = 5/13, E[(1-p)^8] = 8! 5! / 13! = 1/1287; weight 0.3
    for _ in range(4):
        pool.record("c", False)  # never solved: no chance, saturated weight 0.3
    mixed_a, mixed_b = 1 - 10 / 143, 1 - 5 / 13 - 1 / 1287
    assert pool.promising(8) == pytest.approx(mixed_a + mixed_b, rel=1e-12)
    assert pool.signal_share(8) == pytest.approx((2.3 * mixed_a + 0.3 * mixed_b) / (2.3 + 0.3 + 0.3), rel=1e-12)
    # a verified greedy answer counts as a try: Beta(2, 5), E[p^8] = 3/1001, E[(1-p)^8] = 15/91
    pool.record_screen("c", greedy=True, samples=0, solved=0)
    mixed_c = 1 - 3 / 1001 - 15 / 91
    assert pool.signal_share(8) == pytest.approx((2.3 * mixed_a + 0.3 * mixed_b + 0.3 * mixed_c) / 2.9, rel=1e-12)


def beta_moment(a: float, b: float, g: int) -> float:
    """E[p^g] for p ~ Beta(a, b), as the ratio of Beta functions B(a + g, b) / B(a, b)."""
    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    return math.exp(log_beta(a + g, b) - log_beta(a, b))


def test_a_variant_solved_on_all_its_screening_answers_is_not_counted_as_a_sure_mixed_group():
    """Greedy plus 2 of 2 samples verified: with the default Jeffreys prior Beta(1/2, 1/2) the
    predicted chance of a mixed group of 8 is 0.46 (the 1.5B's run saw 46 % such groups), not the
    0.83 that Laplace's single rate 4/5 gave, so the screening share rule can fire."""
    pool = VariantPool([node("v")], VariantConfig(**CFG))
    assert pool.cfg.pool_prior == 0.5
    pool.record_screen("v", greedy=True, samples=2, solved=2)
    expected = 1 - beta_moment(3.5, 0.5, 8) - beta_moment(0.5, 3.5, 8)
    assert pool.signal_share(8) == pytest.approx(expected, rel=1e-9)
    assert 0.45 < expected < 0.47 and 1 - 0.8 ** 8 - 0.2 ** 8 > 0.83
    # more evidence narrows the prediction towards the plug-in value
    for _ in range(20):
        pool.record("v", True)
    for _ in range(20):
        pool.record("v", False)
    assert pool.promising(8) == pytest.approx(1 - beta_moment(23.5, 20.5, 8) - beta_moment(20.5, 23.5, 8), rel=1e-9)
    assert pool.promising(8) > 0.98


@dataclass
class Scored:
    """What the pool reads of a scored rollout."""

    variant: str
    ok: bool


def test_old_answers_fade_past_the_pool_memory():
    """Past pool_memory answers each new one scales the counts by memory / (memory + 1), so a
    variant the model has learnt to solve leaves the edge: 3 of 8, then 8 of 8 five times, is a
    rate of 0.955 with a memory of 16 (whole-run 43/48 = 0.896)."""
    pool = VariantPool([node("v")], VariantConfig(**{**CFG, "pool_memory": 16}))
    for k in range(8):
        pool.record("v", k < 3)
    for _ in range(40):
        pool.record("v", True)
    s = pool.stats["v"]
    # the 5 failures of the first 8 answers, faded by (16/17) for each of the 32 answers past 16
    assert s.attempts == 16 and s.successes == pytest.approx(16 - 5 * (16 / 17) ** 32, rel=1e-12)
    assert s.rate == pytest.approx(0.955, abs=5e-4)
    whole = VariantPool([node("v")], VariantConfig(**CFG))  # CFG keeps every answer (memory 0)
    for k in range(48):
        whole.record("v", k < 3 or k >= 8)
    assert whole.stats["v"].attempts == 48 and whole.stats["v"].rate == pytest.approx(43 / 48)
    assert pool.weight("v") < whole.weight("v")  # closer to always solved: drawn less


def test_screening_answers_fade_like_training_answers():
    """A screening record past pool_memory is scaled down to the memory at once, with its rate
    kept, instead of outweighing the next training answers until they fade it."""
    pool = VariantPool([node("v")], VariantConfig(**{**CFG, "pool_memory": 4}))
    pool.record("v", False)
    pool.record_screen("v", greedy=True, samples=6, solved=6)
    s = pool.stats["v"]
    assert s.attempts == 4 and s.successes == pytest.approx(4 * 6 / 7)


def test_signal_share_is_observed_once_the_window_is_full():
    """Before pool_signal_window groups the share is the predicted one; after, the share of the
    last window's groups that held both a verified and a failed answer."""
    pool = VariantPool([node("a")], VariantConfig(**{**CFG, "pool_signal_window": 4}))
    pool.record_screen("a", greedy=True, samples=2, solved=1)
    predicted = pool.predicted_share(8)
    mixed, flat = [Scored("a", True), Scored("a", False)], [Scored("a", True), Scored("a", True)]
    pool.record_groups([mixed, flat, flat])
    assert pool.signal_share(8) == pytest.approx(pool.predicted_share(8)) and predicted > 0.8
    pool.record_groups([flat])
    assert pool.signal_share(8) == 0.25
    pool.record_groups([mixed, mixed])  # the window slides: flat, flat, mixed, mixed
    assert pool.signal_share(8) == 0.5 and list(pool.recent) == [False, False, True, True]
    assert pool.stats["a"].attempts == 2 + 12 and pool.stats["a"].successes == 1 + 9  # screening: 1 of 2
