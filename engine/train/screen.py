"""Screening: a cheap first estimate of every variant's solve rate, before the first GRPO step.

A group of G completions teaches nothing when all G are verified or all G fail (every advantage is
0), and with a small model most variants of a hard problem are never solved: drawn blind, most
groups came back flat (bench/results/ablation-2026-11-25.json: 4 of 42 groups held a verified and a
failed answer). Screening asks the model, before training, for one greedy answer to every variant
and [variants] screen_samples answers at the rollout temperature to those it solved, all decoded
together on llama.cpp (the solve prompt's shared head is evaluated once,
engine/inference/batched.py), and verifies them. The pool (engine/train/pool.py) then starts from these counts: variants solved at
least once are drawn first, those never solved rarely, and every rollout refines the rates.

The per-tree report says whether each training problem's tree reaches integrals the model does
solve and what share of its variants sit at the edge, solved sometimes but not always. The paper
recurses until the model solves something; so does the Screener: a tree in which every variant was
screened and none was ever verified grows one more level of easier variants below its deepest ones
(engine.variants.tree.grow_level), up to [variants] grow_levels levels below the tree's depth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.runs.config import Config
from engine.variants.nodes import Node

# (prompts as pool rows, answers per prompt, temperature, max tokens) -> answers[prompt][k]
SampleFn = Callable[[list[dict[str, Any]], int, float, int], list[list[str]]]
# (integrand, completion) pairs -> verified or not, in order
JudgeFn = Callable[[list[tuple[str, str]]], list[bool]]
# the deepest variants of a tree nothing in which was solved -> easier variants one level below
GrowFn = Callable[[list[Node]], list[Node]]


@dataclass
class Screened:
    """One variant's screening: its greedy answer verified or not, and samples verified of drawn."""

    greedy: bool
    samples: int
    solved: int

    @property
    def tries(self) -> int:
        return 1 + self.samples

    @property
    def successes(self) -> int:
        return int(self.greedy) + self.solved


@dataclass
class TreeReport:
    """What screening found in one training problem's tree."""

    root: str
    integrand: str
    variants: int
    solvable: int  # solved at least once (greedy or a sample)
    edge: int  # solved by some tries and not by others
    grown: int = 0  # variants added during training because nothing in the tree was solved

    @property
    def edge_share(self) -> float:
        return self.edge / self.variants if self.variants else 0.0


def screen(nodes: Sequence[Node], sample_many: SampleFn, judge: JudgeFn, cfg: Config,
           on_progress: Callable[[int, int], None] | None = None) -> dict[str, Screened]:
    """Screen `nodes` in chunks of [variants] screen_chunk; `on_progress(done, total)` after each.

    Every variant gets a greedy answer; only those whose greedy answer is verified also get
    screen_samples samples at the rollout temperature, which tell a variant at the edge from one
    the model always solves. Samples of the others would nearly all fail (a small model's sampled
    answers are right far less often than its greedy ones) and cost as many tokens as the greedy pass."""
    v = cfg.variants
    result: dict[str, Screened] = {}
    chunk = max(v.screen_chunk, 1)
    for start in range(0, len(nodes), chunk):
        part = list(nodes[start:start + chunk])
        greedy = [answers[0] for answers in sample_many([n.to_dict() for n in part], 1, 0.0, v.screen_max_tokens)]
        solved = judge([(n.integrand, g) for n, g in zip(part, greedy)])
        again = [n for n, ok in zip(part, solved) if ok] if v.screen_samples > 0 else []
        samples = sample_many([n.to_dict() for n in again], v.screen_samples, cfg.sample.temperature,
                              v.screen_max_tokens) if again else []
        verdicts = iter(judge([(n.integrand, text) for n, texts in zip(again, samples) for text in texts]))
        counts = {n.id: (len(texts), sum(next(verdicts) for _ in texts)) for n, texts in zip(again, samples)}
        for n, ok in zip(part, solved):
            tried, right = counts.get(n.id, (0, 0))
            result[n.id] = Screened(greedy=ok, samples=tried, solved=right)
        if on_progress is not None:
            on_progress(len(result), len(nodes))
    return result


def roots(nodes: Sequence[Node]) -> dict[str, str]:
    """The root (training problem) of every node's tree, by node id."""
    parent = {n.id: n.parent for n in nodes}

    def root_of(i: str) -> str:
        while parent.get(i) is not None and parent[i] in parent:
            i = parent[i]
        return i

    return {n.id: root_of(n.id) for n in nodes}


def tree_reports(nodes: Sequence[Node], screened: dict[str, Screened], grown: set[str] = frozenset()) -> list[TreeReport]:
    """One report per tree (root node), over its screened variants (the root included); `grown`:
    the ids of variants added during training."""
    by_id = {n.id: n for n in nodes}
    root = roots(nodes)
    reports: dict[str, TreeReport] = {}
    for n in nodes:
        s = screened.get(n.id)
        if s is None:
            continue
        r = reports.setdefault(root[n.id], TreeReport(root[n.id], by_id[root[n.id]].integrand, 0, 0, 0))
        r.variants += 1
        r.solvable += s.successes > 0
        r.edge += 0 < s.successes < s.tries
        r.grown += n.id in grown
    return list(reports.values())


class Screener:
    """Screens a pool's variants a chunk at a time, as training needs them.

    Screening all of a big pool up front costs more than a short run can spare (915 variants of the
    15 training problems took about 11 minutes on 2 cores), and a run only needs a reserve of
    promising variants to draw from. So `top_up` screens the next chunk only while the pool
    promises fewer than [variants] screen_reserve groups with signal (each variant solved at least
    once counts by its chance of a mixed group, so one the model now always solves stops counting),
    in an order that visits every tree early (round robin over the
    trees, the easier, deeper variants of each first). A reserve is not enough once the model
    solves the variants drawn nearly always: most groups then come back all verified (the 1.5B's
    share of groups with signal fell from 69 % to 30 % within 30 minutes). So while the draws are
    expected to hold fewer than [variants] screen_signal_share groups with signal, one more chunk,
    harder variants, is screened before each step, as long as screening has taken under
    screen_time_share of the time since it started. While screening is on, the pool draws the
    variants not screened yet only rarely (engine/train/pool.py)."""

    def __init__(self, pool: Any, sample_many: SampleFn, judge: JudgeFn, cfg: Config, grow: GrowFn | None = None):
        self.pool, self.sample_many, self.judge, self.cfg, self.grow_fn = pool, sample_many, judge, cfg, grow
        pool.screening = True
        self.barren: set[str] = set()  # trees whose deepest variants had nothing easier to give
        self.seconds = 0.0  # spent screening
        self.started = time.perf_counter()
        self._order()

    def trees(self) -> dict[str, list[Node]]:
        """The pool's variants by tree (root id)."""
        by_tree: dict[str, list[Node]] = {}
        for i, root in roots(list(self.pool.nodes.values())).items():
            by_tree.setdefault(root, []).append(self.pool.nodes[i])
        return by_tree

    def _order(self) -> None:
        queues = [sorted(q, key=lambda n: -n.depth) for q in self.trees().values()]
        self.order = [q[k] for k in range(max(map(len, queues), default=0)) for q in queues if k < len(q)]

    def _waiting(self, variant_id: str) -> bool:
        """Neither screened nor tried enough by rollouts."""
        s = self.pool.stats[variant_id]
        return s.greedy is None and s.attempts < self.cfg.variants.pool_min_attempts

    def pending(self) -> list[Node]:
        """Variants waiting for screening, in screening order."""
        return [n for n in self.order if self._waiting(n.id)]

    def needed(self) -> bool:
        """Whether to screen more: the pool promises fewer than screen_reserve groups with signal
        (VariantPool.promising), and some variants are left."""
        return self.promising() < self.cfg.variants.screen_reserve and bool(self.pending())

    def promising(self) -> float:
        """Groups with signal the pool can be expected to give, at the trainer's group size."""
        return self.pool.promising(self.cfg.grpo.group_size)

    def starved(self) -> bool:
        """Whether the draws hold fewer than screen_signal_share groups with signal
        (VariantPool.signal_share: observed over the last groups, predicted before there are
        enough) while screening has taken under screen_time_share of the time since it started,
        and some variants are left."""
        v = self.cfg.variants
        elapsed = time.perf_counter() - self.started
        return (self.seconds <= v.screen_time_share * elapsed and bool(self.pending())
                and self.pool.signal_share(self.cfg.grpo.group_size) < v.screen_signal_share)

    def unsolved_trees(self) -> dict[str, list[Node]]:
        """The deepest variants of each tree that may still grow: every variant screened (or tried
        enough by rollouts), none ever verified, and fewer than [variants] grow_levels levels
        grown below the tree's depth."""
        v = self.cfg.variants
        out: dict[str, list[Node]] = {}
        for root, nodes in self.trees().items():
            stats = [self.pool.stats[n.id] for n in nodes]
            if root in self.barren or any(s.greedy or s.successes for s in stats):
                continue
            if any(self._waiting(n.id) for n in nodes):
                continue  # not screened through yet
            deepest = max(n.depth for n in nodes)
            if deepest < v.depth + v.grow_levels:
                out[root] = [n for n in nodes if n.depth == deepest]
        return out

    def grow(self) -> list[Node]:
        """Grow every unsolved tree by one level; returns the variants added to the pool."""
        if self.grow_fn is None:
            return []
        added: list[Node] = []
        for root, leaves in self.unsolved_trees().items():
            new = self.pool.add(self.grow_fn(leaves))
            if not new:
                self.barren.add(root)
            added += new
        if added:
            self._order()
        return added

    def top_up(self, on_chunk: Callable[[dict[str, Screened], int, int], None] | None = None,
               on_grow: Callable[[list[Node]], None] | None = None,
               on_start: Callable[[], None] | None = None) -> int:
        """Grow the trees nothing was solved in, and screen chunks while `needed()`, or one
        chunk if `starved()`; `on_grow(variants)` after a growth, `on_start()` before the first
        chunk and `on_chunk(screened, done, total)` after each. Returns how many were screened."""
        v = self.cfg.variants
        done = 0
        while True:
            grown = self.grow()
            if grown and on_grow is not None:
                on_grow(grown)
            if not (self.needed() or (done == 0 and self.starved())):
                break
            if done == 0 and on_start is not None:
                on_start()
            todo = self.pending()
            part = todo[:max(v.screen_chunk, 1)]
            t = time.perf_counter()
            result = screen(part, self.sample_many, self.judge, self.cfg)
            self.seconds += time.perf_counter() - t
            for i, r in result.items():
                self.pool.record_screen(i, r.greedy, r.samples, r.solved)
            done += len(part)
            if on_chunk is not None:
                on_chunk(result, len(self.order) - len(todo) + len(part), len(self.order))
        return done

    def known(self) -> dict[str, Screened]:
        """Every screened variant's record so far: its greedy verdict, and the samples of
        screening and of the rollouts since, verified of drawn."""
        return {i: Screened(bool(s.greedy), s.attempts, s.successes)
                for i, s in self.pool.stats.items() if s.greedy is not None}
