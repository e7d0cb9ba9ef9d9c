"""Statistics for accuracy claims: confidence intervals, paired tests and per-group breakdowns.

Small pure functions over plain Python sequences; they depend only on the standard library and
numpy (scipy is used for the exact binomial test when it is installed, with an exact stdlib
fallback giving the same numbers).

- `wilson_interval`: the Wilson score interval for a binomial proportion (k correct of n). Unlike
  the normal ("Wald") interval it stays inside [0, 1] and is not degenerate at 0/n or n/n.
- `mcnemar`: exact McNemar test for two arms scored on the same problems (one bool per problem
  and arm): a two-sided binomial test with p = 1/2 on the discordant pairs.
- `paired_bootstrap`: the mean paired difference of two arms on the same items (scores in [0, 1]
  such as mean@k, or any float), a 95 % percentile interval and a two-sided p-value.
- `breakdown`: accuracy with a Wilson interval per group (difficulty, technique, year, ...).
- `bootstrap_mean_interval`: a percentile bootstrap interval for the mean of per-item scores
  (mean@k, where the k samples of one problem are not independent, so no binomial interval fits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "BootstrapResult",
    "GroupStats",
    "McNemarResult",
    "bootstrap_mean_interval",
    "breakdown",
    "mcnemar",
    "paired_bootstrap",
    "wilson_interval",
]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (low, high) for `successes` out of `n` trials.

    z = 1.96 gives the usual 95 % interval. With n = 0 there is no information and the interval is
    (0.0, 1.0). Raises ValueError when successes is outside 0..n, n < 0 or z <= 0.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n (successes={successes}, n={n})")
    if z <= 0:
        raise ValueError(f"wilson_interval needs z > 0 (z={z})")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    # At 0/n and n/n one end is exactly 0 or 1; clamp away floating-point dust there.
    return (max(0.0, centre - half), min(1.0, centre + half))


def _binom_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n trials against p = 1/2."""
    if n == 0:
        return 1.0
    try:
        from scipy.stats import binomtest
    except ImportError:  # exact and symmetric at p = 1/2: double the smaller tail
        tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
        return min(1.0, 2.0 * tail / 2**n)
    return float(min(1.0, binomtest(k, n, 0.5, alternative="two-sided").pvalue))


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of two arms scored on the same items.

    b01: items arm A got wrong and arm B got right; b10: A right, B wrong. p_value is the exact
    two-sided binomial test of b10 successes in b01 + b10 trials with p = 1/2 (1.0 when there are
    no discordant pairs).
    """

    b01: int
    b10: int
    p_value: float

    @property
    def discordant(self) -> int:
        return self.b01 + self.b10


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test for per-item correctness of arm `a` vs arm `b` (same items, same order)."""
    if len(a) != len(b):
        raise ValueError(f"mcnemar needs paired outcomes of equal length ({len(a)} vs {len(b)})")
    b01 = sum(1 for x, y in zip(a, b) if not x and y)
    b10 = sum(1 for x, y in zip(a, b) if x and not y)
    return McNemarResult(b01=b01, b10=b10, p_value=_binom_two_sided_half(b10, b01 + b10))


@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of mean(a) - mean(b).

    diff: the observed mean difference; low/high: the percentile interval at `level`; p_value:
    two-sided, from the bootstrap distribution shifted to the null (mean difference 0):
    (1 + #{|d* - diff| >= |diff|}) / (1 + iterations), so it is never 0 and is 1 when every
    paired difference is the same (identical arms included).
    """

    diff: float
    low: float
    high: float
    p_value: float
    iterations: int
    level: float = 0.95


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    iterations: int = 10000,
    seed: int = 0,
    level: float = 0.95,
) -> BootstrapResult:
    """Resample items with replacement `iterations` times; report mean(a) - mean(b) with an interval.

    `a[i]` and `b[i]` are two arms' scores on item i (e.g. greedy 0/1 or mean@k per problem).
    Deterministic for a given `seed`.
    """
    if len(a) != len(b):
        raise ValueError(f"paired_bootstrap needs paired scores of equal length ({len(a)} vs {len(b)})")
    if len(a) == 0:
        raise ValueError("paired_bootstrap needs at least one item")
    if iterations < 1:
        raise ValueError(f"paired_bootstrap needs iterations >= 1 (iterations={iterations})")
    if not 0.0 < level < 1.0:
        raise ValueError(f"paired_bootstrap needs 0 < level < 1 (level={level})")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = d.size
    observed = float(d.mean())
    rng = np.random.default_rng(seed)
    boot = np.empty(iterations, dtype=float)
    chunk = max(1, min(iterations, 2_000_000 // n))  # bound memory to ~16 MB of indices per chunk
    for start in range(0, iterations, chunk):
        stop = min(iterations, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        boot[start:stop] = d[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    # Tolerance so that floating-point noise in equal resampled means does not count as "less".
    extreme = np.abs(boot - observed) >= abs(observed) - 1e-12
    p_value = (1.0 + float(extreme.sum())) / (1.0 + iterations)
    return BootstrapResult(diff=observed, low=float(low), high=float(high),
                           p_value=min(1.0, p_value), iterations=iterations, level=level)


@dataclass(frozen=True)
class GroupStats:
    """Accuracy of one group of items with its Wilson 95 % interval."""

    n: int
    correct: int
    accuracy: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _getter(field: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    if callable(field):
        return field

    def get(item: Any) -> Any:
        if isinstance(item, Mapping):
            return item[field]
        return getattr(item, field)

    return get


def breakdown(
    outcomes: Iterable[Any],
    key: str | Callable[[Any], Hashable],
    correct: str | Callable[[Any], bool] = "ok",
    *,
    z: float = 1.96,
) -> dict[Hashable, GroupStats]:
    """Group per-item outcomes by `key` and return n, correct, accuracy and Wilson interval per group.

    `key` and `correct` are either a field name (looked up as a mapping key, else an attribute) or
    a function of the item. Groups come back sorted by their key (numbers before strings, None
    last), so the output is stable for JSON.
    """
    get_key, get_ok = _getter(key), _getter(correct)
    counts: dict[Hashable, list[int]] = {}
    for item in outcomes:
        g = get_key(item)
        c = counts.setdefault(g, [0, 0])
        c[0] += 1
        c[1] += 1 if get_ok(item) else 0

    def order(g: Hashable) -> tuple[int, Any]:
        if g is None:
            return (2, "")
        if isinstance(g, (int, float)) and not isinstance(g, bool):
            return (0, g)
        return (1, str(g))

    out: dict[Hashable, GroupStats] = {}
    for g in sorted(counts, key=order):
        n, k = counts[g]
        low, high = wilson_interval(k, n, z)
        out[g] = GroupStats(n=n, correct=k, accuracy=k / n, low=low, high=high)
    return out


def bootstrap_mean_interval(
    values: Sequence[float],
    *,
    iterations: int = 10000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval (low, high) for the mean of `values`, resampling items.

    For per-problem scores such as mean@k (the fraction of a problem's k samples that are right):
    the samples of one problem are correlated, so the problem, not the sample, is the unit that is
    resampled. Deterministic for a given `seed`; (0.0, 1.0) for no values, like `wilson_interval`.
    """
    if iterations < 1:
        raise ValueError(f"bootstrap_mean_interval needs iterations >= 1 (iterations={iterations})")
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_mean_interval needs 0 < level < 1 (level={level})")
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return (0.0, 1.0)
    rng = np.random.default_rng(seed)
    means = np.empty(iterations, dtype=float)
    chunk = max(1, min(iterations, 2_000_000 // v.size))
    for start in range(0, iterations, chunk):
        stop = min(iterations, start + chunk)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(low), float(high))
