"""Test-time RL (TTRL): train briefly on the variant tree of one test problem, answer it, roll back.

    ladder ttrl "x**2*exp(x)" --steps 10 [--adapter runs/NAME] [--json]
    ladder ttrl --problems FILE.jsonl --steps 10 --json

For each test problem, starting from the same weights (the base model or --adapter):
  1. build its depth-2 variant tree ([ttrl] depth, max_variants), the problem itself as the root;
  2. run up to S GRPO steps on that pool; after each step sample [ttrl] test_samples answers to the
     test problem: it is "solved" as soon as one of them, or a training rollout of the root itself,
     verifies (the paper's "solved at any point"). The reference answer is never looked at;
  3. report, separately, the greedy answer after TTRL and whether it verifies;
  4. put back the exact starting LoRA weights (and a fresh optimizer) for the next problem.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

from engine.problems import Problem
from engine.runs.config import Config
from engine.runs.events import Control, EventSink, Rollout, Solved, Step
from engine.train.reward import score_many


def ttrl_problem(trainer: Any, problem: Problem, cfg: Config, steps: int, *, sink: EventSink,
                 control: Control | None = None) -> dict[str, Any]:
    """TTRL on one problem with `trainer` (engine.train.grpo.GRPOTrainer); its weights are rolled
    back before returning. Returns the JSON record described in the module docstring."""
    from engine.train.pool import VariantPool
    from engine.train.setup import build_pool_nodes

    t0 = time.perf_counter()
    start = trainer.lora_state()
    test = {"id": problem.id, "integrand": problem.integrand}
    record: dict[str, Any] = {"id": problem.id, "integrand": problem.integrand, "solved": False,
                              "step": None, "answer": None, "steps_run": 0}
    try:
        tree_cfg = dataclasses.replace(cfg, variants=dataclasses.replace(cfg.variants, source=cfg.ttrl.source))
        nodes = build_pool_nodes([problem], tree_cfg, variants=True, exclude=set(), sink=sink, control=control,
                                 depth=cfg.ttrl.depth, max_variants=cfg.ttrl.max_variants)
        pool = VariantPool(nodes, cfg.variants)
        rng = random.Random(cfg.grpo.seed)
        root = nodes[0]["id"]

        def solved_by(texts: list[str]) -> str | None:
            results = score_many([(problem.integrand, t) for t in texts], cfg)
            return next((r.answer for r in results if r.ok), None)

        answer = solved_by(trainer.sample(test, cfg.ttrl.test_samples, cfg.sample.temperature))
        step = 0
        while answer is None and step < steps and not (control is not None and control.checkpoint()):
            stats = trainer.step(lambda: pool.sample(1, rng)[0].to_dict(), on_scored=pool.record_groups)
            step += 1
            for r in stats.rollouts:
                sink.emit(Rollout(variant=r.variant, integrand=r.integrand, step=step, completion=r.text,
                                  answer=r.answer, reward=r.reward, ok=r.ok, reason=r.reason,
                                  advantage=round(r.advantage, 4), problem=problem.id))
                if r.ok and r.variant == root and answer is None:
                    answer = r.answer
            sink.emit(Step(step=step, problem=problem.id, **stats.event_fields()))
            if answer is None:
                answer = solved_by(trainer.sample(test, cfg.ttrl.test_samples, cfg.sample.temperature))
        record["steps_run"] = step
        if answer is not None:
            record.update(solved=True, step=step, answer=answer)
            sink.emit(Solved(problem=problem.id, integrand=problem.integrand, answer=answer, step=step))
        greedy = trainer.sample(test, 1, 0.0)[0]
        g = score_many([(problem.integrand, greedy)], cfg)[0]
        record.update(greedy_answer=g.answer, greedy_ok=g.ok)
    finally:
        trainer.load_lora_state(start)
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record
