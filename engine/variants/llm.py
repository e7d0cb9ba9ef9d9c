"""Model-written variants: the paper's prompting recipe, and salvaging proposals out of model prose.

Every proposal goes through `engine.verify.parse` (the only door for model text) after `salvage`
has cut it out of prose, numbering, LaTeX, `integrate(...)` wrappers or `∫ … dx`.
"""

from __future__ import annotations

import math
import random
import re
import time

import sympy as sp

from engine.inference.base import Backend, GenerationParams
from engine.runs.config import VariantConfig
from engine.runs.events import Control
from engine.variants import prompts
from engine.variants.nodes import Node, TreeStats
from engine.verify.parse import ParseError, parse_integrand

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



class LLMGenerator:
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
