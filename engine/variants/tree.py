"""Variant trees: a hard integral becomes a tree of easier (and some equivalent) variants.

LADDER's first half (Simonds & Yoshiyama, arXiv 2503.00735). `build_tree` grows the tree level by
level, breadth first, from two generators:

- the LLM, with the paper's recipe: each prompt names 3-5 transformations sampled from the easier
  or the equivalent library (70% / 30%), a rotating persona, asks for a batch of 10 variants, and
  the temperature cycles over 0.8-1.4 (prompts in engine/inference/prompts.py);
- the symbolic generator (engine/variants/symbolic.py): operators on the sympy tree that are easier or
  equivalent by construction and always reach trivial leaves such as x**2, sin(x) or exp(x).

Every proposal goes through `engine.verify.parse` (the only door for model text) after `salvage` has cut
it out of prose, numbering, LaTeX, `integrate(...)` wrappers or `∫ … dx`. Unparsable proposals,
constants, expressions without x, duplicates (up to canonical form and a constant factor) and
anything equal to an evaluation problem (`exclude`) are dropped and counted in `TreeStats`.

During training `engine.train.pool.VariantPool` tracks each variant's solve rate and samples those
at the edge of the model's ability.

    tree = build_tree("x**2*exp(x)*sin(x)", backend=backend, cfg=Config().variants)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from engine.errors import LadderError
from engine.inference.base import Backend
from engine.runs.config import VariantConfig
from engine.runs.events import Control, EventSink, VariantAdded
from engine.variants import symbolic
from engine.variants.filters import Registry, integrand_text, round_trips
from engine.variants.llm import LLMGenerator, parse_proposal
from engine.variants.nodes import Node, Tree, TreeStats
from engine.variants.references import attach_references
from engine.verify.parse import ParseError, parse_integrand


@dataclass
class _Proposal:
    expr: sp.Expr
    kind: str
    source: str
    via: str


def _screen(lines: list[tuple[str, str, str]], registry: Registry, stats: TreeStats,
            source: str) -> list[_Proposal]:
    """Parse and check proposals, count their outcomes, keep the new valid ones (in order)."""
    kept: list[_Proposal] = []
    batch: set[sp.Expr] = set()
    for text_or_expr, kind, via in lines:
        stats.sources[source].proposals += 1
        expr = parse_proposal(text_or_expr) if isinstance(text_or_expr, str) else text_or_expr
        outcome, expr = registry.screen(expr)
        if outcome == "accepted" and symbolic.key(expr) in batch:
            outcome = "duplicate"
        if outcome != "accepted":
            stats.count(source, outcome)
            continue
        batch.add(symbolic.key(expr))
        kept.append(_Proposal(expr, kind, source, via))
    return kept


def _interleave(a: list[_Proposal], b: list[_Proposal]) -> list[_Proposal]:
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


def _root_id(integrand: str) -> str:
    return "p" + hashlib.sha1(integrand.encode()).hexdigest()[:6]


def parse_root(integrand: str, cfg: VariantConfig) -> sp.Expr:
    """The canonical expression of a user's integrand; LadderError (one line) if unusable."""
    try:
        expr = symbolic.canonical(parse_integrand(integrand), cfg.max_exponent)
    except (ParseError, symbolic.TooBig) as e:
        raise LadderError(f"integrand {integrand!r}: {e}") from None
    if symbolic.the_x(expr) is None or expr.is_constant():
        raise LadderError(f"integrand {integrand!r} does not depend on x")
    return expr


def build_tree_stats(
    integrand: str,
    *,
    backend: Backend | None = None,
    cfg: VariantConfig,
    n: int | None = None,
    source: str | None = None,
    exclude: Iterable[str] = (),
    sink: EventSink | None = None,
    seed: int = 0,
    root_id: str | None = None,
    control: Control | None = None,
) -> Tree:
    """`build_tree` returning the statistics too."""
    t0 = time.perf_counter()
    n = cfg.max_variants if n is None else n
    source = source or cfg.source
    if source not in ("llm", "symbolic", "both"):
        raise LadderError(f"unknown variant source {source!r} (llm, symbolic or both)")
    if source == "llm" and backend is None:
        raise LadderError("--source llm needs a model")
    use_llm = backend is not None and source in ("llm", "both")
    use_symbolic = source in ("symbolic", "both")
    rng = random.Random(seed)
    registry = Registry(cfg, exclude)
    stats = TreeStats()

    root_expr = parse_root(integrand, cfg)
    x = symbolic.the_x(root_expr)
    registry.add(root_expr)
    text = integrand_text(root_expr)
    root = Node(root_id or _root_id(text), None, 0, "root", "user", text)
    nodes, exprs = [root], {root.id: root_expr}
    if sink is not None:
        sink.emit(VariantAdded(**root.event_fields()))
    llm = LLMGenerator(backend, cfg, rng, control) if use_llm else None
    children: dict[str, int] = {}

    level, left = [root], n
    for depth in range(1, cfg.depth + 1):
        if control is not None and control.checkpoint() or left <= 0:
            break
        # The remaining budget shared evenly over the remaining levels, so a small n still
        # reaches the requested depth and a level that falls short leaves more for the next.
        quota = math.ceil(left / (cfg.depth - depth + 1))
        parents = [p for p in level if not symbolic.is_trivial(exprs[p.id], x)] or level
        rng.shuffle(parents)
        # No more prompts than the quota needs (a batch gives up to per_node variants).
        # No more prompts than the quota needs (a batch gives up to per_node variants; alone, the
        # LLM gets twice that for the proposals it wastes).
        prompts_needed = math.ceil((2 if source == "llm" else 1) * quota / max(1, cfg.per_node))
        prompted = parents[: max(1, prompts_needed)]
        ts = time.perf_counter()
        sym_cands: dict[str, list[symbolic.Candidate]] = {}
        for parent in parents:
            if not symbolic.is_trivial(exprs[parent.id], x):
                cands = symbolic.candidates(exprs[parent.id], x, cfg.max_nodes, cfg.max_exponent)
                last = depth == cfg.depth
                cands = symbolic.pick(cands, len(cands), cfg.easier_share, rng, leaf_first=last)
                if not last:  # trivial variants have no children: keep them for later in the queue
                    cands.sort(key=lambda c: symbolic.is_trivial(c.expr, x))
                sym_cands[parent.id] = cands
        sym_seconds = time.perf_counter() - ts
        llm_lines = {}
        if llm is not None and llm.out_of_time:
            stats.llm_out_of_time = True
            llm = None
        if llm is not None and llm.unproductive(stats):
            stats.llm_dropped = True
            llm = None
        if llm is not None and quota > 0:
            examples = {pid: {kind: [integrand_text(c.expr) for c in cands if c.kind == kind]
                              for kind in ("easier", "equivalent")} for pid, cands in sym_cands.items()}
            llm_lines = llm.propose(prompted, stats, examples)
        queues: dict[str, list[_Proposal]] = {}
        for parent in parents:
            from_llm = _screen(llm_lines.get(parent.id, []), registry, stats, "llm")
            from_sym: list[_Proposal] = []
            if use_symbolic and parent.id in sym_cands:
                ts = time.perf_counter()
                from_sym = _screen([(c.expr, c.kind, c.op) for c in sym_cands[parent.id]], registry, stats,
                                   "symbolic")
                sym_seconds += time.perf_counter() - ts
            queues[parent.id] = _interleave(from_llm, from_sym)
        if use_symbolic:
            stats.sources["symbolic"].seconds += sym_seconds

        new_level: list[Node] = []
        # Parents take turns, so the quota spreads over the level instead of its first parent.
        while len(new_level) < quota and any(queues.values()):
            for parent in parents:
                if len(new_level) >= quota or not queues[parent.id]:
                    continue
                prop = queues[parent.id].pop(0)
                if not round_trips(prop.expr, cfg.max_exponent):
                    stats.count(prop.source, "unparsable")
                    continue
                if not registry.add(prop.expr):  # taken meanwhile by another parent's proposal
                    stats.count(prop.source, "duplicate")
                    continue
                stats.count(prop.source, "accepted")
                i = children.get(parent.id, 0)
                children[parent.id] = i + 1
                node = Node(f"{parent.id}.{i}", parent.id, depth, prop.kind, prop.source,
                            integrand_text(prop.expr), via=prop.via)
                exprs[node.id] = prop.expr
                new_level.append(node)
                if sink is not None:
                    sink.emit(VariantAdded(**node.event_fields()))
        for queue in queues.values():
            for prop in queue:
                stats.count(prop.source, "unused")
        if not new_level:
            break
        stats.per_level[depth] = len(new_level)
        left -= len(new_level)
        nodes += new_level
        level = new_level

    if cfg.references:
        attach_references(nodes, cfg.reference_timeout_s)
    stats.per_level = {0: 1, **stats.per_level}
    stats.seconds = time.perf_counter() - t0
    return Tree(nodes, stats)


def build_tree(
    integrand: str,
    *,
    backend: Backend | None = None,
    cfg: VariantConfig,
    n: int | None = None,
    source: str | None = None,
    exclude: Iterable[str] = (),
    sink: EventSink | None = None,
    seed: int = 0,
    root_id: str | None = None,
    control: Control | None = None,
) -> list[Node]:
    """The variant tree of `integrand`, root first, at most `n` variants (default
    cfg.max_variants) below it, `cfg.depth` levels deep.

    backend: the model writing LLM variants (None: symbolic only). source: llm | symbolic |
    both (default cfg.source; "both" interleaves the two per parent). exclude: evaluation
    problems, never emitted (also when equal up to form or a constant factor). sink: gets one
    `variant` event per node as it is added. root_id: the root's id (default: a hash of the
    integrand, so the trees of several problems can share one pool); children are "<parent>.<i>".
    Raises LadderError for an integrand that does not parse or does not involve x.
    """
    return build_tree_stats(integrand, backend=backend, cfg=cfg, n=n, source=source, exclude=exclude,
                            sink=sink, seed=seed, root_id=root_id, control=control).nodes


def write_tree_jsonl(path: str | Path, nodes: Sequence[Node]) -> None:
    """tree.jsonl (one node a line), written atomically."""
    from engine.runs.files import atomic_write

    atomic_write(Path(path), "".join(json.dumps(n.to_dict(), ensure_ascii=False) + "\n" for n in nodes))


def registry_of(integrands: Iterable[str], cfg: VariantConfig, exclude: Iterable[str] = ()) -> Registry:
    """A Registry holding `integrands` (a pool's) and keeping `exclude` (evaluation problems) out."""
    registry = Registry(cfg, exclude)
    for text in integrands:
        try:
            registry.add(symbolic.canonical(parse_integrand(text), cfg.max_exponent))
        except (ParseError, symbolic.TooBig):
            continue
    return registry


def grow_level(parents: Sequence[Node], registry: Registry, cfg: VariantConfig, n: int, seed: int = 0) -> list[Node]:
    """Up to `n` easier symbolic variants one level below `parents`, the parents taking turns.

    The paper recurses until the model solves something: training calls this for the deepest
    variants of a tree in which screening verified no answer at all (engine/train/screen.py).
    Leaves first (x**2, sin(x), ...), since they are what a model that solved nothing in the tree
    is likeliest to solve. New integrands are checked against `registry` (`registry_of` the pool
    and the evaluation problems) like any tree's, and added to it. Ids are `<parent>.g<k>`: the
    parents are leaves."""
    rng = random.Random(seed)
    queues: dict[str, list[symbolic.Candidate]] = {}
    for parent in parents:
        expr = parse_root(parent.integrand, cfg)
        x = symbolic.the_x(expr)
        if symbolic.is_trivial(expr, x):
            continue  # nothing easier below x**2 or sin(x)
        easier = [c for c in symbolic.candidates(expr, x, cfg.max_nodes, cfg.max_exponent) if c.kind == "easier"]
        queues[parent.id] = symbolic.pick(easier, len(easier), 1.0, rng, leaf_first=True)
    made: list[Node] = []
    children = {p.id: 0 for p in parents}
    while len(made) < n and any(queues.values()):
        for parent in parents:
            queue = queues.get(parent.id)
            if len(made) >= n or not queue:
                continue
            cand = queue.pop(0)
            outcome, expr = registry.screen(cand.expr)
            if outcome != "accepted" or not round_trips(expr, cfg.max_exponent) or not registry.add(expr):
                continue
            made.append(Node(f"{parent.id}.g{children[parent.id]}", parent.id, parent.depth + 1, "easier",
                             "symbolic", integrand_text(expr), via=cand.op))
            children[parent.id] += 1
    return made

