"""The training pool: variants with their solve rates, drawn at the edge of the model's ability.

The paper lists adaptive sampling as future work; here every verified or failed completion
updates its variant's solve rate, and draws favour variants solved sometimes but not always.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import LadderError
from engine.runs.config import VariantConfig
from engine.variants.nodes import Node


@dataclass
class SolveStats:
    """A variant's record during training: completions tried, completions verified (screening's
    samples included; both scaled down past [variants] pool_memory answers, so fractional), the
    draw counter of the last time it was sampled (-1: never) and whether screening's greedy
    answer was verified."""

    attempts: float = 0
    successes: float = 0
    last_draw: int = -1
    greedy: bool | None = None  # screening's greedy answer verified (None: not screened)

    @property
    def rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None


class VariantPool:
    """The training pool: variants with their solve rates, sampled at the edge of ability.

    API for the RL loop:
      pool.sample(k, rng) -> list[Node]  k variants to roll out (distinct while the pool has k)
      pool.record(variant_id, ok)        after verifying each completion of a variant
      pool.record_groups(groups)         the same for each scored group, and its signal counted
      pool.rate(variant_id)              its solve rate so far, None if never tried
      pool.state_dict() / pool.load_state_dict(d)   for checkpoints (resume draws the same)

    Weight of a variant (cfg.pool_* fields):
      unknown rate (fewer than pool_min_attempts attempts)  pool_unseen_weight (pool_saturated_weight
                                                            while a Screener is on: the variant waits
                                                            for its turn); once screened,
                                                            pool_solvable_weight if an answer was
                                                            verified, pool_saturated_weight if none
      rate p strictly between 0 and 1                        pool_saturated_weight + pool_edge_weight * 4p(1-p)
      rate 0 or 1                                            pool_saturated_weight
    times pool_depth_weight ** depth (deeper variants are easier: a weak model finds reward there
    first) times min(1, (draws since last sampled + 1) / pool_recency_window), so a variant just
    drawn steps aside for a few draws.
    """

    def __init__(self, nodes: Iterable[Node | Mapping[str, Any]], cfg: VariantConfig):
        self.cfg = cfg
        self.nodes: dict[str, Node] = {}
        for n in nodes:
            node = n if isinstance(n, Node) else Node.from_dict(n)
            self.nodes[node.id] = node
        if not self.nodes:
            raise LadderError("the variant pool is empty")
        self.stats: dict[str, SolveStats] = {i: SolveStats() for i in self.nodes}
        self.grown: list[Node] = []  # added during training (Screener.grow), kept in checkpoints
        self.draws = 0
        self.recent: deque[bool] = deque(maxlen=max(cfg.pool_signal_window, 1))  # last groups: with signal?
        self.screening = False  # set by engine.train.screen.Screener: variants not screened yet wait

    def __len__(self) -> int:
        return len(self.nodes)

    def add(self, nodes: Iterable[Node]) -> list[Node]:
        """Add variants grown during training; returns those that were new (by id)."""
        new = []
        for n in nodes:
            if n.id not in self.nodes:
                self.nodes[n.id] = n
                self.stats.setdefault(n.id, SolveStats())
                self.grown.append(n)
                new.append(n)
        return new

    def record(self, variant_id: str, ok: bool) -> None:
        """Count one verified (ok) or failed completion of `variant_id`; past pool_memory answers
        the older ones fade, so the rate follows the model as it learns."""
        s = self.stats.setdefault(variant_id, SolveStats())
        s.attempts += 1
        s.successes += bool(ok)
        self._fade(s)

    def _fade(self, s: SolveStats) -> None:
        """Scale a record down to pool_memory answers, keeping its rate (0: remember everything)."""
        memory = self.cfg.pool_memory
        if memory > 0 and s.attempts > memory:
            s.successes *= memory / s.attempts
            s.attempts = memory

    def record_groups(self, groups: Sequence[Sequence[Any]]) -> None:
        """Count every scored completion (anything with `.variant` and `.ok`) of each group, and
        whether the group held a verified and a failed one; GRPOTrainer.step's `on_scored` after
        each round of draws."""
        for group in groups:
            for r in group:
                self.record(r.variant, r.ok)
            oks = {bool(r.ok) for r in group}
            self.recent.append(len(oks) == 2)

    def record_screen(self, variant_id: str, greedy: bool, samples: int, solved: int) -> None:
        """Count screening's answers (engine/train/screen.py): the samples as attempts, the
        greedy answer as a sign of solvability."""
        s = self.stats.setdefault(variant_id, SolveStats())
        s.greedy = greedy
        s.attempts += samples
        s.successes += solved
        self._fade(s)

    def rate(self, variant_id: str) -> float | None:
        return self.stats[variant_id].rate

    def weight(self, variant_id: str) -> float:
        cfg, s, node = self.cfg, self.stats[variant_id], self.nodes[variant_id]
        if s.attempts < cfg.pool_min_attempts:
            if s.greedy is None:
                w = cfg.pool_saturated_weight if self.screening else cfg.pool_unseen_weight
            elif s.greedy or s.successes:
                w = cfg.pool_solvable_weight
            else:
                w = cfg.pool_saturated_weight
        elif 0 < s.successes < s.attempts:
            p = s.successes / s.attempts
            w = cfg.pool_saturated_weight + cfg.pool_edge_weight * 4 * p * (1 - p)
        else:
            w = cfg.pool_saturated_weight
        w *= cfg.pool_depth_weight ** node.depth
        if s.last_draw >= 0 and cfg.pool_recency_window > 0:
            w *= min(1.0, (self.draws - s.last_draw + 1) / cfg.pool_recency_window)
        return max(w, 1e-9)

    def sample(self, k: int, rng: random.Random) -> list[Node]:
        """k variants drawn by weight without replacement (with replacement once the pool is
        smaller than k). Each call is one draw for the recency weighting."""
        ids = list(self.nodes)
        # Efraimidis-Spirakis: the k largest u**(1/w) are a weighted sample without replacement.
        keyed = sorted(ids, key=lambda i: rng.random() ** (1.0 / self.weight(i)), reverse=True)
        chosen = [keyed[j % len(keyed)] for j in range(k)]
        self.draws += 1
        for i in chosen:
            self.stats[i].last_draw = self.draws
        return [self.nodes[i] for i in chosen]

    def promising(self, group: int) -> float:
        """How many groups of `group` completions with signal (a verified and a failed answer)
        the pool can be expected to give, one draw of each variant: the sum, over the variants
        solved at least once (screening's greedy answer included), of each one's predicted chance
        of a mixed group (`mixed_chance`). At G = 8 a variant solved 39 times in 40 counts 0.24,
        one solved 20 times in 40 0.99, so variants the model has learnt to solve stop holding
        back screening."""
        return sum(mixed_chance(s, group, self.cfg.pool_prior) for s in self.stats.values())

    def signal_share(self, group: int) -> float:
        """The share of groups with signal the next draw is expected to hold: the observed share of
        the last pool_signal_window groups once that many were drawn; before, each variant's
        predicted chance of a mixed group (as in `promising`) averaged with the weights `sample`
        draws by. The prediction runs high on the variants drawn (they were chosen for it, and
        the model improves on them), so the draws themselves decide as soon as there are enough."""
        if self.cfg.pool_signal_window > 0 and len(self.recent) >= self.cfg.pool_signal_window:
            return sum(self.recent) / len(self.recent)
        return self.predicted_share(group)

    def predicted_share(self, group: int) -> float:
        """Each variant's predicted chance of a mixed group, averaged with the draw weights."""
        weights = {i: self.weight(i) for i in self.nodes}
        prior = self.cfg.pool_prior
        return sum(w * mixed_chance(self.stats[i], group, prior) for i, w in weights.items()) / sum(weights.values())

    def edge(self) -> list[str]:
        """Ids of the variants whose solve rate is strictly between 0 and 1."""
        return [i for i, s in self.stats.items() if 0 < s.successes < s.attempts]

    def state_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "stats": {i: dataclasses.asdict(s) for i, s in self.stats.items()},
                "grown": [n.to_dict() for n in self.grown], "recent": list(self.recent)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.add(Node.from_dict(row) for row in state.get("grown", []))
        self.draws = int(state["draws"])
        self.recent.clear()
        self.recent.extend(bool(x) for x in state.get("recent", []))  # absent in older checkpoints
        for i, s in state["stats"].items():
            self.stats[i] = SolveStats(**s)


def mixed_chance(s: SolveStats, group: int, prior: float) -> float:
    """The predicted chance that a group of `group` completions of a variant holds a verified and
    a failed answer: 1 - E[p^G] - E[(1 - p)^G] with the solve rate p ~ Beta(prior + verified,
    prior + failed) (screening's greedy answer counted as a try), the Beta-binomial predictive.
    Averaging over p, rather than plugging in one estimate, is what keeps a variant solved on its
    3 screening answers from counting as a near-certain mixed group. 0 for a variant never solved."""
    verified = s.successes + bool(s.greedy)
    if verified == 0:
        return 0.0
    a, b = prior + verified, prior + s.attempts + (s.greedy is not None) - verified
    # E[p^G] for p ~ Beta(a, b) is the product of (a + k) / (a + b + k) over k < G
    all_verified = math.prod((a + k) / (a + b + k) for k in range(group))
    all_failed = math.prod((b + k) / (a + b + k) for k in range(group))
    return 1 - all_verified - all_failed
