"""The shipped problem sets: counts, fields, verified answers, and a train/test split that holds."""

from __future__ import annotations

import json
from pathlib import Path

import sympy as sp

from engine.problems import load_problems

DATA = Path(__file__).resolve().parents[1] / "engine" / "data"
TECHNIQUES = {"table", "power_sum", "linear_sub", "substitution", "parts", "exp_trig", "partial_fractions",
              "trig_powers", "trig_substitution", "hyperbolic", "exponential", "radicals"}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def test_counts_and_fields():
    train, test = rows("undergrad_train.jsonl"), rows("undergrad_test.jsonl")
    assert 10 <= len(train) <= 20
    assert len(test) >= 100
    assert len(train) + len(test) >= 150
    for r in train + test:
        assert r["technique"] in TECHNIQUES and r["difficulty"] in (1, 2, 3, 4)
        assert r["answer"] and r["source"] and r["id"]
    assert {r["technique"] for r in test} == TECHNIQUES
    # the loader reads every set the project ships, ids are unique across the split
    ids = [p.id for name in ("undergrad_train", "undergrad_test") for p in load_problems(DATA / f"{name}.jsonl")]
    assert len(ids) == len(set(ids))
    assert len(load_problems(DATA / "mit_bee_2023_2024.jsonl")) == 39


def test_every_answer_verifies():
    from engine.verify.verifier import verify_many

    problems = rows("undergrad_train.jsonl") + rows("undergrad_test.jsonl")
    verdicts = verify_many([(r["integrand"], r["answer"]) for r in problems])
    failed = [(r["integrand"], r["answer"], v.reason) for r, v in zip(problems, verdicts) if not v.ok]
    assert not failed


def test_answers_are_not_accepted_for_the_wrong_problem():
    """The verifier check above means something: a neighbour's answer is rejected."""
    from engine.verify.verifier import verify_many

    test = rows("undergrad_test.jsonl")
    pairs = [(a["integrand"], b["answer"]) for a, b in zip(test, test[1:])]
    assert not any(v.ok for v in verify_many(pairs))


def canonical(text: str) -> sp.Expr:
    from engine.verify.parse import parse

    return sp.simplify(sp.expand(parse(text).doit()))


def test_train_and_test_are_disjoint_up_to_canonical_form():
    test = {canonical(r["integrand"]) for r in rows("undergrad_test.jsonl")}
    train = {canonical(r["integrand"]) for r in rows("undergrad_train.jsonl")}
    assert not train & test
    assert len(test) == len(rows("undergrad_test.jsonl"))  # no duplicates inside the test set
    # the solve prompt's worked examples are in neither set
    from engine.inference.prompts import SOLVE_EXAMPLES

    everything = test | train
    assert not {canonical(q) for q, _ in SOLVE_EXAMPLES} & everything
