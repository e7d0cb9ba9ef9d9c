"""Variant trees: symbolic operators, limits, dedup, exclusion, salvage of model output, the LLM
path (tiny model and a scripted backend), the solve-rate pool, references and the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp

from engine.errors import LadderError
from engine.inference.base import GenerationParams, Sample
from engine.runs.config import VariantConfig
from engine.runs.events import EventSink, read_events
from engine.train.pool import VariantPool
from engine.variants import prompts, symbolic
from engine.variants.filters import Registry
from engine.variants.llm import parse_proposal, salvage
from engine.variants.nodes import Node
from engine.variants.references import references
from engine.variants.tree import build_tree, build_tree_stats
from engine.verify.parse import parse_integrand

ROOT = Path(__file__).resolve().parents[1]
X = sp.Symbol("x")

# An input on which each operator applies.
OPERATOR_INPUTS = {
    "drop_summand": "x**2 + sin(x) + 3",
    "drop_factor": "x**2*exp(x)*sin(x)",
    "take_factor": "x*cos(x)",
    "lower_exponent": "x**3*exp(x)",
    "remove_root": "x*sqrt(x**2 + 1)",
    "inner_to_x": "sin(3*x + 1)*(x**2 + 1)**2",
    "coeff_to_one": "exp(5*x) + 7*x**2",
    "leaf": "x**2*exp(3*x)",
    "linear_substitution": "x*exp(2*x + 1)",
    "reflect": "x*exp(x)",
    "rescale": "x*sin(x)",
    "shift": "x**2*log(x)",
    "expand": "(x + 1)**3",
    "expand_trig": "sin(2*x)*x",
    "apart": "1/(x**2 + 3*x + 2)",
    "together": "1/x + 1/(x + 1)",
}


def tree_keys(nodes: list[Node]) -> list[str]:
    return [symbolic.key(parse_integrand(n.integrand)) for n in nodes]


def test_every_operator_has_a_test_input():
    assert set(OPERATOR_INPUTS) == set(symbolic.OPERATORS)


@pytest.mark.parametrize("op", sorted(symbolic.OPERATORS))
def test_symbolic_operator_makes_valid_different_expressions(op):
    expr = symbolic.canonical(parse_integrand(OPERATOR_INPUTS[op]))
    made = symbolic.candidates(expr, X, ops=(op,))
    assert made, f"{op} made nothing from {expr}"
    for cand in made:
        assert cand.op == op and cand.kind == symbolic.OPERATORS[op][0]
        text = sp.sstr(cand.expr)
        back = symbolic.canonical(parse_integrand(text))  # the string round-trips through the safe parser
        assert symbolic.key(back) == symbolic.key(cand.expr)
        assert symbolic.key(back) != symbolic.key(expr), f"{op}: {text} is the input again"
        assert back.has(X) and not back.is_constant()


def test_equivalent_operators_preserve_the_integral_up_to_substitution():
    # x -> a*x + b changes the integrand but the integral only by a constant factor, so the
    # derivative of (F composed with the inverse substitution) matches: check numerically.
    f = symbolic.canonical(parse_integrand("x*exp(2*x + 1)"))
    (sub,) = [c.expr for c in symbolic.candidates(f, X, ops=("linear_substitution",))]
    F = sp.integrate(f, X)
    G = sp.integrate(sub, X)
    # G(x) should equal c * F((x - 1)/2) + const for some constant c.
    ratio = sp.simplify(sp.diff(G, X) / sp.diff(F.subs(X, (X - 1) / 2), X))
    assert ratio.is_constant()


def test_trivial_leaves_are_reached():
    tree = build_tree("x**3*exp(2*x)*cos(x) + log(x)", cfg=VariantConfig(depth=2), n=20, source="symbolic")
    assert any(symbolic.is_trivial(parse_integrand(n.integrand), X) for n in tree[1:])


def test_depth_and_count_limits_and_parent_links():
    for depth, n in ((1, 5), (2, 20), (3, 30), (3, 2)):
        tree = build_tree("x**2*exp(x)*sin(x)", cfg=VariantConfig(depth=depth), n=n, source="symbolic")
        root, variants = tree[0], tree[1:]
        assert root.kind == "root" and root.parent is None and root.depth == 0
        assert len(variants) == n
        by_id = {node.id: node for node in tree}
        assert len(by_id) == len(tree)
        for node in variants:
            assert 1 <= node.depth <= depth
            assert by_id[node.parent].depth == node.depth - 1
            assert node.source == "symbolic" and node.kind in ("easier", "equivalent")
    deep = build_tree("x**2*exp(x)*sin(x)", cfg=VariantConfig(depth=3), n=30, source="symbolic")
    assert max(node.depth for node in deep) == 3


def test_no_duplicates_even_up_to_canonical_form():
    tree = build_tree("(x + 1)**2*exp(x) + sin(2*x)", cfg=VariantConfig(depth=3), n=40, source="symbolic")
    keys = tree_keys(tree)
    assert len(keys) == len(set(keys))


def test_registry_dedup_catches_reordering_constant_factors_and_floats():
    reg = Registry(VariantConfig())
    outcome, expr = reg.screen(parse_proposal("x + 1"))
    assert outcome == "accepted" and reg.add(expr)
    for same in ("1 + x", "(1 + x)", "2*x + 2", "-x - 1", "0.5*x + 0.5"):
        assert reg.screen(parse_proposal(same))[0] == "duplicate", same
    assert reg.screen(parse_proposal("x + 2"))[0] == "accepted"


def test_constants_and_expressions_without_x_are_dropped():
    reg = Registry(VariantConfig())
    for text in ("3", "pi**2", "sin(1) + E"):
        assert reg.screen(parse_proposal(text))[0] == "no_x", text
    assert reg.screen(parse_proposal("x**100000"))[0] == "too_big"


def test_evaluation_problems_are_never_emitted():
    root = "x**2*exp(x)*sin(x)"
    plain = build_tree(root, cfg=VariantConfig(depth=2), n=30, source="symbolic")
    exclude = [n.integrand for n in plain[1:8]] + ["2*exp(x)*sin(x)", "sin(x)*x**2"]
    tree = build_tree(root, cfg=VariantConfig(depth=2), n=30, source="symbolic", exclude=exclude)
    excluded = {symbolic.key(symbolic.canonical(parse_integrand(e))) for e in exclude}
    assert not excluded & set(tree_keys(tree[1:]))
    assert len(tree) == 31  # the generator found others instead


def test_rewritten_forms_of_an_evaluation_problem_are_excluded():
    reg = Registry(VariantConfig(), exclude=["sin(2*x)", "x**2 + 2*x + 1"])
    assert reg.screen(parse_proposal("2*sin(x)*cos(x)"))[0] == "excluded"
    assert reg.screen(parse_proposal("3*(x + 1)**2"))[0] == "excluded"
    assert reg.screen(parse_proposal("sin(x)*cos(x)**2"))[0] == "accepted"


GARBAGE = [
    ("1. x**2*exp(x)", "x**2*exp(x)"),
    ("2) x*sin(x)", "x*sin(x)"),
    ("- cos(3*x)", "cos(3*x)"),
    ("Variant 3: $x^2 e^x$", "x**2*exp(x)"),
    ("integrate(x*sin(x), x)", "x*sin(x)"),
    ("Integral(exp(2*x), (x, 0, 1))", "exp(2*x)"),
    ("∫ x*cos(x) dx", "x*cos(x)"),
    (r"\int x^{2} \sin(x) \, dx", "x**2*sin(x)"),
    (r"4. $\frac{1}{x^2+1}$", "1/(x**2 + 1)"),
    ("`x**3`", "x**3"),
    ("5. x**2*exp(x) +", "x**2*exp(x)"),
    ("x*exp(2*x", "x*exp(2*x)"),
    ("x*exp(x)  (we removed the square)", "x*exp(x)"),
    ("<answer>sin(x)**2</answer>", "sin(x)**2"),
    ("3. t**2*exp(t)", "x**2*exp(x)"),
    ("u*sin(2*u) du", "x*sin(2*x)"),
]


@pytest.mark.parametrize("text,expected", GARBAGE)
def test_salvageable_model_output_is_parsed(text, expected):
    pieces = salvage(text)
    assert len(pieces) == 1, pieces
    got = parse_proposal(pieces[0])
    assert got is not None, pieces[0]
    assert sp.simplify(got - parse_integrand(expected)) == 0


@pytest.mark.parametrize("text", [
    "Here are some easier variants:", "", "import os; os.system('x')", "__import__('os')",
    "(lambda y: y)(2)", "integrate", "Sure! I can help.", "x.__class__",
])
def test_garbage_is_dropped(text):
    assert all(parse_proposal(piece) is None for piece in salvage(text))


def test_salvage_splits_a_numbered_list():
    text = "Here are 3 easier variants:\n1. x*exp(x)\n2. exp(x)\n3. x**2\nThese are easier because..."
    assert [sp.sstr(parse_proposal(p)) for p in salvage(text)] == ["x*exp(x)", "exp(x)", "x**2"]


class ScriptedBackend:
    """A Backend returning fixed text and recording what it was asked (prompt shape checks)."""

    name = "scripted"
    model_name = "scripted"

    def __init__(self, text: str):
        self.text = text
        self.calls: list[tuple[list, GenerationParams]] = []

    def generate(self, prompts_, params, on_token=None):
        self.calls.append((prompts_, params))
        return [[Sample(self.text, 10, 0.01)] for _ in prompts_]


def test_llm_recipe_prompts_and_nodes():
    backend = ScriptedBackend("1. x*exp(x)\n2. exp(x)\n3. x*exp(x)\n4. ∫ x**2 dx\n5. banana split x\n6. 7")
    cfg = VariantConfig(depth=2)
    tree = build_tree_stats("x**2*exp(x)", backend=backend, cfg=cfg, n=6, source="llm", seed=3)
    llm = tree.stats.sources["llm"]
    assert llm.proposals >= 6
    assert llm.outcomes["unparsable"] >= 1 and llm.outcomes["no_x"] >= 1 and llm.outcomes["duplicate"] >= 1
    assert all(n.source == "llm" for n in tree.nodes[1:])
    assert {n.integrand for n in tree.nodes[1:3]} <= {"x*exp(x)", "exp(x)", "x**2"}
    temps = [params.temperature for _, params in backend.calls]
    assert all(0.8 <= t <= 1.4 for t in temps)
    for chats, params in backend.calls:
        for chat in chats:
            user = chat[-1]["content"]
            listed = [line[2:] for line in user.splitlines() if line.startswith("- ")]
            assert 3 <= len(listed) <= 5
            library = set(prompts.EASIER_TRANSFORMS) | set(prompts.EQUIVALENT_TRANSFORMS)
            assert set(listed) <= library
            assert any(p in user for p in prompts.PERSONAS)
            assert f"Write {cfg.per_node} " in user
            # The worked turn shows symbolic variants of this very parent, not a fixed example.
            shown = [line.split(". ", 1)[1] for line in chat[2]["content"].splitlines()]
            assert 1 <= len(shown) <= cfg.prompt_examples
            parent = chat[1]["content"].splitlines()[0].removeprefix("Integrand: ")
            assert parent in user
            assert all(parse_proposal(e) is not None and e != parent for e in shown)


def test_prompt_libraries_are_large_enough():
    assert len(prompts.EASIER_TRANSFORMS) >= 15 and len(prompts.EQUIVALENT_TRANSFORMS) >= 15
    assert len(set(prompts.PERSONAS)) >= 4


def test_stop_request_ends_the_tree_between_generate_calls():
    from engine.runs.events import Control

    control = Control()

    class StoppingBackend(ScriptedBackend):
        def generate(self, prompts_, params, on_token=None):
            if len(self.calls) == 1:
                control.stop()  # the stop arrives while the second batch is being written
            return super().generate(prompts_, params, on_token)

    backend = StoppingBackend("1. x*exp(x)\n2. exp(x)\n3. x**2*exp(x)\n4. x*sin(x)\n5. x**2*sin(x)")
    tree = build_tree_stats("x**2*exp(x)*sin(x)", backend=backend, cfg=VariantConfig(depth=3), n=60,
                            source="llm", control=control)
    # Level 2 has several parents at different temperatures (several generate calls): the stop
    # ends it after the call in flight.
    assert len(backend.calls) == 2
    assert tree.stats.sources["llm"].prompts == sum(len(chats) for chats, _ in backend.calls)
    assert {n.depth for n in tree.nodes} <= {0, 1, 2}


def test_llm_time_budget_hands_over_to_symbolic():
    class SlowBackend(ScriptedBackend):
        def generate(self, prompts_, params, on_token=None):
            time.sleep(0.4)
            return super().generate(prompts_, params, on_token)

    backend = SlowBackend("1. x*exp(x)\n2. exp(x)*sin(x)\n3. x**2*sin(x)")
    cfg = VariantConfig(depth=3, llm_budget_s=0.3)
    tree = build_tree_stats("x**2*exp(x)*sin(x)", backend=backend, cfg=cfg, n=40, source="both")
    assert len(backend.calls) == 1 and tree.stats.llm_out_of_time
    assert len(tree.nodes) == 41 and max(n.depth for n in tree.nodes) == 3
    assert {n.source for n in tree.nodes[1:]} == {"llm", "symbolic"}


def test_unusable_llm_output_falls_back_to_symbolic():
    backend = ScriptedBackend("I cannot do that.\nSorry!")
    tree = build_tree_stats("x**2*exp(x)", backend=backend, cfg=VariantConfig(depth=2), n=10, source="both")
    assert len(tree.nodes) == 11
    assert all(n.source == "symbolic" for n in tree.nodes[1:])


def test_a_model_writing_only_garbage_is_dropped_after_its_probe_prompts():
    garbage = ScriptedBackend("I cannot do that.\nSorry!")
    cfg = VariantConfig(depth=3, llm_probe_prompts=1)
    tree = build_tree_stats("x**2*exp(x)*sin(x)", backend=garbage, cfg=cfg, n=40, source="both")
    assert len(garbage.calls) == 1 and tree.stats.llm_dropped  # level 1 only, then symbolic alone
    assert len(tree.nodes) == 41 and max(n.depth for n in tree.nodes) == 3
    useful = ScriptedBackend("1. x*exp(x)\n2. exp(x)*sin(x)\n3. x**2*sin(x)")
    tree = build_tree_stats("x**2*exp(x)*sin(x)", backend=useful, cfg=cfg, n=40, source="both")
    assert len(useful.calls) > 1 and not tree.stats.llm_dropped


def test_llm_path_with_tiny_model(tiny_dir):
    from engine.inference.models import load_backend

    backend = load_backend("tiny")
    cfg = VariantConfig(depth=2, max_tokens=24)
    tree = build_tree_stats("x*cos(x)", backend=backend, cfg=cfg, n=6, source="both", seed=1)
    assert tree.stats.sources["llm"].prompts >= 1
    assert len(tree.nodes) == 7
    keys = tree_keys(tree.nodes)
    assert len(keys) == len(set(keys))


def test_variant_events_follow_the_tree(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = EventSink(run="t", path=path)
    tree = build_tree("x*sin(x)", cfg=VariantConfig(depth=2), n=8, source="symbolic", sink=sink, root_id="r")
    sink.close()
    events = [e for e in read_events(path) if e["type"] == "variant"]
    assert [e["id"] for e in events] == [n.id for n in tree]
    assert events[0] == {**events[0], "parent": None, "depth": 0, "kind": "root", "source": "user", "id": "r"}
    assert all(e["id"].startswith(e["parent"] + ".") for e in events[1:])


def test_bad_integrand_raises_ladder_error():
    with pytest.raises(LadderError):
        build_tree("__import__('os')", cfg=VariantConfig())
    with pytest.raises(LadderError):
        build_tree("sin(2)", cfg=VariantConfig())


def make_pool(cfg: VariantConfig) -> VariantPool:
    nodes = [Node(i, None, 1, "easier", "symbolic", f"x**{k + 1}") for k, i in enumerate("abcd")]
    pool = VariantPool(nodes, cfg)
    for vid, ok in (("a", 0), ("b", 8), ("c", 4)):  # a never solved, b always, c at the edge, d unseen
        for j in range(8):
            pool.record(vid, j < ok)
    return pool


def test_pool_prefers_the_edge_of_ability_and_unseen_variants():
    cfg = VariantConfig(pool_recency_window=0)
    pool = make_pool(cfg)
    assert pool.rate("c") == 0.5 and pool.rate("d") is None and pool.edge() == ["c"]
    rng = random.Random(0)
    counts = {i: 0 for i in "abcd"}
    for _ in range(2000):
        counts[pool.sample(1, rng)[0].id] += 1
    assert counts["c"] > counts["d"] > 5 * max(counts["a"], counts["b"])


def test_pool_sample_is_distinct_recency_aware_and_resumable():
    cfg = VariantConfig()
    pool = make_pool(cfg)
    rng = random.Random(1)
    assert len({n.id for n in pool.sample(4, rng)}) == 4
    assert len(pool.sample(6, rng)) == 6  # more than the pool: repeats allowed
    first = pool.sample(1, rng)[0].id
    assert pool.weight(first) < make_pool(cfg).weight(first)  # just drawn: steps aside
    state = json.loads(json.dumps(pool.state_dict()))
    other = make_pool(cfg)
    other.load_state_dict(state)
    a, b = random.Random(5), random.Random(5)
    assert [n.id for n in pool.sample(2, a)] == [n.id for n in other.sample(2, b)]


def test_pool_accepts_tree_dicts():
    tree = build_tree("x*exp(x)", cfg=VariantConfig(depth=1), n=3, source="symbolic")
    pool = VariantPool([n.to_dict() for n in tree], VariantConfig())
    assert len(pool) == 4 and pool.nodes[tree[1].id] == tree[1]
    problems = VariantPool([{"id": "p1", "integrand": "x"}, {"id": "p2", "integrand": "cos(x)"}], VariantConfig())
    assert {n.kind for n in problems.nodes.values()} == {"root"}


def test_references_with_timeout():
    t0 = time.monotonic()
    # 8 s: enough for x*exp(x) on a loaded machine (1.5 s was not, with 4 jobs on 2 cores)
    refs = references(["x*exp(x)", "exp(x)*sin(x)**7*tan(x)**3/(x**5 + x + 1)"], timeout_s=8.0)
    assert refs[0] is not None and sp.simplify(sp.diff(parse_integrand(refs[0]), X) - X * sp.exp(X)) == 0
    assert refs[1] is None
    assert time.monotonic() - t0 < 60  # loose: a loaded CI machine; without the timeout it hangs far longer


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.commands", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_symbolic_json_and_out(tmp_path):
    out = tmp_path / "tree.jsonl"
    t0 = time.monotonic()
    proc = run_cli("variants", "x**2*exp(x)", "--depth", "2", "-n", "20", "--source", "symbolic", "--json",
                   "--out", str(out), "--references")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 90
    data = json.loads(proc.stdout)
    nodes = data["nodes"]
    assert len(nodes) == 21 and len({n["integrand"] for n in nodes}) == 21
    ids = {n["id"] for n in nodes}
    assert all(n["parent"] in ids for n in nodes[1:])
    assert data["stats"]["per_level"] == {"0": 1, "1": 10, "2": 10}
    assert [json.loads(line) for line in out.read_text().splitlines()] == nodes
    root = nodes[0]  # references are statistics: sympy's antiderivative of x**2*exp(x)
    F = parse_integrand(root["reference"])
    assert sp.simplify(sp.diff(F, X) - parse_integrand(root["integrand"])) == 0
    assert sum(n["reference"] is not None for n in nodes) >= 18


def test_cli_tree_output_and_bad_integrand():
    proc = run_cli("variants", "x*sin(x)", "--depth", "1", "-n", "3", "--source", "symbolic")
    assert proc.returncode == 0 and "x*sin(x)" in proc.stdout and "symbolic" in proc.stdout
    bad = run_cli("variants", "x +* (", "--source", "symbolic")
    assert bad.returncode == 2
    assert bad.stderr.startswith("ladder: error:") and len(bad.stderr.strip().splitlines()) == 1
