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

import cmath
import dataclasses
import hashlib
import json
import math
import random
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from engine.errors import LadderError
from engine.inference import prompts
from engine.inference.base import Backend, GenerationParams
from engine.runs.config import VariantConfig
from engine.runs.events import Control, EventSink, VariantAdded
from engine.variants import symbolic
from engine.verify.parse import ParseError, parse_integrand


@dataclass
class Node:
    """One variant. `integrand` is a canonical string `engine.verify.parse.parse` reads back to the same
    expression; `reference` is a sympy antiderivative for statistics only, never the reward."""

    id: str
    parent: str | None
    depth: int
    kind: str  # root | easier | equivalent
    source: str  # user | llm | symbolic
    integrand: str
    reference: str | None = None
    via: str = ""  # the symbolic operator, or "llm:<temperature>"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Node":
        """A node from a tree.jsonl line, or a root from a problem line (id and integrand only)."""
        depth = int(row.get("depth") or 0)
        return cls(id=str(row["id"]), parent=row.get("parent"), depth=depth,
                   kind=str(row.get("kind") or ("root" if depth == 0 else "easier")),
                   source=str(row.get("source") or "user"), integrand=str(row["integrand"]),
                   reference=row.get("reference"), via=str(row.get("via") or ""))

    def event_fields(self) -> dict[str, Any]:
        """The fields of the `variant` event (engine/runs/events.py)."""
        return {k: getattr(self, k) for k in ("id", "parent", "depth", "kind", "source", "integrand")}


# Why a proposal was not added, in the order the checks run.
OUTCOMES = ("accepted", "unparsable", "too_big", "no_x", "excluded", "duplicate", "unused")


@dataclass
class SourceStats:
    """What happened to one generator's proposals. `unused` ones were valid and new but the
    count limit was reached first."""

    proposals: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {o: 0 for o in OUTCOMES})
    seconds: float = 0.0
    prompts: int = 0

    def share(self, *outcomes: str) -> float:
        return sum(self.outcomes[o] for o in outcomes) / self.proposals if self.proposals else 0.0


@dataclass
class TreeStats:
    """Per-level counts and the fate of the proposals of each source."""

    per_level: dict[int, int] = field(default_factory=dict)
    sources: dict[str, SourceStats] = field(default_factory=lambda: {"llm": SourceStats(), "symbolic": SourceStats()})
    seconds: float = 0.0
    llm_out_of_time: bool = False  # the LLM budget (cfg.llm_budget_s) ran out; symbolic filled the rest
    llm_dropped: bool = False  # no parseable variant in the first cfg.llm_probe_prompts prompts

    def count(self, source: str, outcome: str, delta: int = 1) -> None:
        self.sources[source].outcomes[outcome] += delta

    def summary(self) -> dict[str, Any]:
        """Flat numbers for JSON output and benchmarks: shares are over all proposals of a source."""
        out: dict[str, Any] = {"per_level": {str(k): v for k, v in sorted(self.per_level.items())},
                               "seconds": round(self.seconds, 3), "llm_out_of_time": self.llm_out_of_time,
                               "llm_dropped": self.llm_dropped}
        for name, s in self.sources.items():
            if not s.proposals:
                continue
            out[name] = {
                "proposals": s.proposals,
                "parsed": round(1 - s.share("unparsable"), 4),
                "valid": round(s.share("accepted", "unused"), 4),
                "duplicate": round(s.share("duplicate"), 4),
                "dropped": round(s.share("unparsable", "too_big", "no_x", "excluded"), 4),
                "outcomes": dict(s.outcomes),
                "prompts": s.prompts,
                "seconds": round(s.seconds, 3),
            }
        return out


@dataclass
class Tree:
    """`build_tree_stats`'s result: the nodes, root first, and the statistics."""

    nodes: list[Node]
    stats: TreeStats


# --- salvaging model output ----------------------------------------------------------------------

_TAGS = re.compile(r"</?\s*(?:answer|variants?|think)\s*>", re.I)
_BULLET = re.compile(r"^\s*(?:\(?\d{1,3}\s*[.):\]]|[-*•]\s+|#+\s*)\s*")
_WRAPPER = re.compile(r"\b(?:integrate|Integral|int)\s*\(", re.I)
_INTEGRAL_SIGN = re.compile(r"\\int(?:_\{?[^\s{}]*\}?\^?\{?[^\s{}]*\}?)?|∫")
_DX = re.compile(r"(?:(?:\\[,;! ]|\s)*\\?(?:mathrm\{d\}|d)\s*x|(?:\\[,;! ]|\s)+d[a-wyz])\s*[.,;]?\s*$")
_HALF_TAIL = re.compile(r"[\s+\-*/^,(]+$")


def _unwrap_call(text: str) -> str:
    """integrate(f, x) / Integral(f, (x, 0, 1)) -> f: the first argument at depth 0."""
    m = _WRAPPER.search(text)
    if not m:
        return text
    depth, start = 0, m.end()
    for i in range(start, len(text)):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return text[start:i]
            depth -= 1
        elif ch == "," and depth == 0:
            return text[start:i]
    return text[start:]


def _close_half(text: str) -> str:
    """A half-written expression: drop a dangling operator, close open parentheses."""
    text = _HALF_TAIL.sub("", text)
    opened = text.count("(") - text.count(")")
    return text + ")" * opened if opened > 0 else text


def salvage(text: str) -> list[str]:
    """Cut candidate expressions out of one model completion: one per line (or `;`), with
    numbering, labels, backticks, `∫ … dx`, `integrate(…)` wrappers and dangling tails removed.
    The pieces are still untrusted text: they go to `engine.verify.parse` next."""
    out = []
    for line in re.split(r"[\n;]+", _TAGS.sub("\n", text)):
        line = _BULLET.sub("", line.strip().strip("`"))
        # "Variant 2: …", "**Easier:** …": the expression follows the last colon; a line ending
        # in a colon is a heading.
        line = line.rsplit(":", 1)[-1].lstrip("* ").strip().strip("`").strip()
        if not line or not re.search(r"[x\d(]", line):
            continue  # headings and chatter, not proposals
        line = _unwrap_call(line)
        line = _INTEGRAL_SIGN.sub("", line)
        line = _DX.sub("", line.strip().rstrip("$").rstrip()).strip()
        line = _close_half(line.strip().strip("$").strip())
        if line:
            out.append(line)
    return out


# A lone one-letter variable other than x (and the constants e, E, I): "t**2*exp(t)", "u*sin(u)".
_OTHER_VARIABLE = re.compile(r"(?<![A-Za-z_])([a-df-hj-wyzA-DF-HJ-Z])(?![A-Za-z_(])")


def parse_proposal(text: str) -> sp.Expr | None:
    """The expression in `text`, or None. Tries the whole text, the text with a lone other
    variable renamed to x ("t**2*exp(t)"), then its longest prefix that parses (prose after the
    expression: "x*exp(x)  (drop the square)")."""
    try:
        return parse_integrand(text)
    except ParseError:
        pass
    if len(set(_OTHER_VARIABLE.findall(text))) == 1 and not re.search(r"(?<![A-Za-z_])x(?![A-Za-z_])", text):
        try:
            return parse_integrand(_OTHER_VARIABLE.sub("x", text))
        except ParseError:
            pass
    words = text.split()
    for end in range(len(words) - 1, 0, -1):
        try:
            return parse_integrand(_close_half(" ".join(words[:end])))
        except ParseError:
            continue
    return None


# --- filtering ----------------------------------------------------------------------------------

class Registry:
    """The keys already in the tree, the evaluation problems to keep out, and the checks."""

    def __init__(self, cfg: VariantConfig, exclude: Iterable[str] = ()):
        self.cfg = cfg
        self.seen: set[sp.Expr] = set()
        self.exclude_keys: set[sp.Expr] = set()
        self.exclude_values: list[list[complex]] = []
        for text in exclude:
            try:
                expr = symbolic.canonical(parse_integrand(text), cfg.max_exponent)
            except (ParseError, symbolic.TooBig):
                continue  # an evaluation problem we cannot read cannot be matched either
            self.exclude_keys.add(symbolic.key(expr))
            if (values := _values(expr)) is not None:
                self.exclude_values.append(values)

    def screen(self, expr: sp.Expr | None) -> tuple[str, sp.Expr | None]:
        """(outcome, canonical expression) for a parsed proposal (None: it did not parse).
        An "accepted" expression is new; it is not yet added (see `add`)."""
        if expr is None:
            return "unparsable", None
        try:
            expr = symbolic.canonical(expr, self.cfg.max_exponent)
        except symbolic.TooBig:
            return "too_big", None
        x = symbolic.the_x(expr)
        if x is None:
            return "no_x", None
        if not symbolic.valid_variant(expr, x, self.cfg.max_nodes):
            return "too_big", None
        k = symbolic.key(expr)
        if k in self.seen:
            return "duplicate", expr
        if k in self.exclude_keys or self._equals_excluded(expr):
            return "excluded", expr
        return "accepted", expr

    def add(self, expr: sp.Expr) -> bool:
        """Record `expr` as in the tree; False if its key is already there."""
        k = symbolic.key(expr)
        if k in self.seen:
            return False
        self.seen.add(k)
        return True

    def _equals_excluded(self, expr: sp.Expr) -> bool:
        """Numerically equal to an evaluation problem up to a constant factor (rewritten forms
        such as 2*sin(x)*cos(x) for sin(2*x) would leak the problem otherwise)."""
        if not self.exclude_values or (values := _values(expr)) is None:
            return False
        return any(_proportional(values, ex) for ex in self.exclude_values)


# Points where variants are compared numerically; irrational so that no simple pole lands on one.
_POINTS = (0.3183098861837907, 1.4142135623730951, 2.718281828459045, -0.6931471805599453)


def _values(expr: sp.Expr) -> list[complex] | None:
    x = symbolic.the_x(expr)
    if x is None:
        return None
    try:
        f = sp.lambdify(x, expr, modules="numpy")
        with np.errstate(all="ignore"):  # overflow and poles give inf/nan, rejected below
            return [complex(f(np.complex128(p))) for p in _POINTS]
    except (ArithmeticError, ValueError, TypeError, NameError, KeyError):
        return None


def _proportional(a: list[complex], b: list[complex]) -> bool:
    ratios = []
    for u, v in zip(a, b):
        if not (cmath.isfinite(u) and cmath.isfinite(v)):
            return False
        if abs(v) < 1e-12:
            if abs(u) > 1e-12:
                return False
            continue
        ratios.append(u / v)
    return bool(ratios) and all(abs(r - ratios[0]) <= 1e-9 * max(1.0, abs(ratios[0])) for r in ratios)


def _integrand_text(expr: sp.Expr) -> str:
    """sympy's string of a canonical expression, in the syntax engine.verify.parse reads."""
    return sp.sstr(expr)


def _round_trips(expr: sp.Expr, max_exponent: int) -> bool:
    """True if the node's string parses back (through engine.verify.parse) to the same key, so every
    consumer of tree.jsonl reads the variant that was generated."""
    try:
        back = symbolic.canonical(parse_integrand(_integrand_text(expr)), max_exponent)
    except (ParseError, symbolic.TooBig):
        return False
    return symbolic.key(back) == symbolic.key(expr)


# --- generation ---------------------------------------------------------------------------------

@dataclass
class _Proposal:
    expr: sp.Expr
    kind: str
    source: str
    via: str


class _LLMGenerator:
    """Batched LLM proposals for a level's parents, following the paper's recipe."""

    def __init__(self, backend: Backend, cfg: VariantConfig, rng: random.Random, control: Control | None = None):
        self.backend, self.cfg, self.rng, self.control = backend, cfg, rng, control
        self.deadline = time.perf_counter() + cfg.llm_budget_s if cfg.llm_budget_s > 0 else math.inf
        self.turn = 0  # rotates personas and temperatures over the whole tree

    @property
    def out_of_time(self) -> bool:
        return time.perf_counter() > self.deadline

    def unproductive(self, stats: TreeStats) -> bool:
        """Probed long enough and nothing it wrote even parsed as an integrand."""
        s = stats.sources["llm"]
        garbage = sum(s.outcomes[o] for o in ("unparsable", "too_big", "no_x"))
        return s.prompts >= self.cfg.llm_probe_prompts and garbage == s.proposals

    def propose(self, parents: list[Node], stats: TreeStats,
                examples: dict[str, dict[str, list[str]]]) -> dict[str, list[tuple[str, str, str]]]:
        """For each parent id: (text line, kind, via) for every line of its completion.
        `examples[parent id][kind]`: symbolic variants of that parent shown as the worked turn."""
        by_temp: dict[float, list[tuple[Node, str, list[dict[str, str]]]]] = {}
        for parent in parents:
            kind = "easier" if self.rng.random() < self.cfg.easier_share else "equivalent"
            shown = examples.get(parent.id, {}).get(kind, [])[: self.cfg.prompt_examples]
            library = prompts.EASIER_TRANSFORMS if kind == "easier" else prompts.EQUIVALENT_TRANSFORMS
            k = self.rng.randint(self.cfg.transforms_min, self.cfg.transforms_max)
            transforms = self.rng.sample(library, min(k, len(library)))
            persona = prompts.PERSONAS[self.turn % len(prompts.PERSONAS)]
            temp = self.cfg.temperatures[self.turn % len(self.cfg.temperatures)]
            self.turn += 1
            chat = prompts.variant_chat(parent.integrand, kind, transforms, persona, self.cfg.per_node, shown)
            by_temp.setdefault(temp, []).append((parent, kind, chat))
        out: dict[str, list[tuple[str, str, str]]] = {p.id: [] for p in parents}
        t0 = time.perf_counter()
        for temp, items in by_temp.items():
            if self.control is not None and self.control.checkpoint():
                break  # a stop request is obeyed between generate calls, not only between levels
            if self.out_of_time:
                stats.llm_out_of_time = True
                break
            params = GenerationParams(n=1, temperature=temp, max_tokens=self.cfg.max_tokens,
                                      stop=(), seed=self.rng.randrange(2**31))
            samples = self.backend.generate([chat for _, _, chat in items], params)
            stats.sources["llm"].prompts += len(items)
            for (parent, kind, _), group in zip(items, samples):
                for sample in group:
                    out[parent.id] += [(line, kind, f"llm:{temp:g}") for line in salvage(sample.text)]
        stats.sources["llm"].seconds += time.perf_counter() - t0
        return out


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
    text = _integrand_text(root_expr)
    root = Node(root_id or _root_id(text), None, 0, "root", "user", text)
    nodes, exprs = [root], {root.id: root_expr}
    if sink is not None:
        sink.emit(VariantAdded(**root.event_fields()))
    llm = _LLMGenerator(backend, cfg, rng, control) if use_llm else None
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
            examples = {pid: {kind: [_integrand_text(c.expr) for c in cands if c.kind == kind]
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
                if not _round_trips(prop.expr, cfg.max_exponent):
                    stats.count(prop.source, "unparsable")
                    continue
                if not registry.add(prop.expr):  # taken meanwhile by another parent's proposal
                    stats.count(prop.source, "duplicate")
                    continue
                stats.count(prop.source, "accepted")
                i = children.get(parent.id, 0)
                children[parent.id] = i + 1
                node = Node(f"{parent.id}.{i}", parent.id, depth, prop.kind, prop.source,
                            _integrand_text(prop.expr), via=prop.via)
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


# --- reference antiderivatives (statistics only) ----------------------------------------------

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


def write_tree_jsonl(path: str | Path, nodes: Sequence[Node]) -> None:
    """tree.jsonl (one node a line), written atomically."""
    from engine.runs.rundir import atomic_write

    atomic_write(Path(path), "".join(json.dumps(n.to_dict(), ensure_ascii=False) + "\n" for n in nodes))
