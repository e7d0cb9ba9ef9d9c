"""Parallel verification really spreads over the worker processes: every worker object counts the
tasks it answered (`done`), and a batch keeps all of them busy, not one."""

from __future__ import annotations

import time

import pytest

from engine.verify.pool import WorkerPool, pool
from engine.verify.verifier import verify_many


def test_worker_pool_gives_every_worker_a_share_of_a_batch():
    p = WorkerPool(2)
    try:
        assert p.run("time:sleep", [(0.0,)] * 2, timeout=60) == [None, None]  # start and load both
        before = [w.done for w in p.workers]
        start = time.perf_counter()
        results = p.run("time:sleep", [(0.25,)] * 8, timeout=60)
        elapsed = time.perf_counter() - start
        assert results == [None] * 8
        answered = [w.done - b for w, b in zip(p.workers, before)]
        assert len(p.workers) == 2 and sum(answered) == 8
        assert min(answered) >= 2, f"one worker did the batch: {answered}"
        assert elapsed < 0.8 * 8 * 0.25, f"no faster than one worker: {elapsed:.2f} s"
    finally:
        p.close()


def test_results_keep_their_order_whichever_worker_answers():
    p = WorkerPool(3)
    try:
        values = [30.0, 0.0, 20.0, 4.0, 10.0, 9.0]
        assert p.run("math:sqrt", [(v,) for v in values], timeout=60) == [v ** 0.5 for v in values]
        assert sum(w.done for w in p.workers) == len(values)
    finally:
        p.close()


DEFINITE = [("exp(-x**2)", "sqrt(pi)", "-oo", "oo"), ("exp(-(x - 2024)**2/4)", "2*sqrt(pi)", "-oo", "oo"),
            ("1/sqrt(1 - x**2)", "pi", "-1", "1"), ("x**2", "1/3", "0", "1")]


def test_verify_many_spreads_over_the_shared_pool():
    p = pool()
    if p.size < 2:
        pytest.skip("one core: nothing to spread over")
    verify_many([("x", "x**2/2")] * 2 * p.size)  # workers started and loaded
    before = {id(w): w.done for w in p.workers}
    verdicts = verify_many(DEFINITE * 4 * p.size)
    assert all(v.ok for v in verdicts), [v.reason for v in verdicts if not v.ok][:3]
    answered = [w.done - before.get(id(w), 0) for w in p.workers]
    assert sum(answered) == len(verdicts)
    assert sum(a > 0 for a in answered) == p.size, f"tasks went to some workers only: {answered}"
