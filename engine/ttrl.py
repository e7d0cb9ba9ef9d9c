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

import argparse
import json
import random
import sys
import time
from typing import Any

from engine.config import Config
from engine.errors import LadderError
from engine.events import Control, EventSink
from engine.problems import Problem, load_problems
from engine.reward import score_many


def ttrl_problem(trainer: Any, problem: Problem, cfg: Config, steps: int, *, sink: EventSink,
                 control: Control | None = None) -> dict[str, Any]:
    """TTRL on one problem with `trainer` (engine.rl.grpo.GRPOTrainer); its weights are rolled
    back before returning. Returns the JSON record described in the module docstring."""
    from engine.ladder import build_pool_nodes
    from engine.variants import VariantPool

    t0 = time.perf_counter()
    start = trainer.lora_state()
    test = {"id": problem.id, "integrand": problem.integrand}
    record: dict[str, Any] = {"id": problem.id, "integrand": problem.integrand, "solved": False,
                              "step": None, "answer": None, "steps_run": 0}
    try:
        nodes = build_pool_nodes([problem], cfg, variants=True, exclude=set(), sink=sink, control=control,
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
            stats = trainer.step(lambda: pool.sample(1, rng)[0].to_dict())
            step += 1
            for r in stats.rollouts:
                pool.record(r.variant, r.ok)
                sink.emit("rollout", variant=r.variant, integrand=r.integrand, step=step, completion=r.text,
                          answer=r.answer, reward=r.reward, ok=r.ok, reason=r.reason)
                if r.ok and r.variant == root and answer is None:
                    answer = r.answer
            sink.emit("step", step=step, problem=problem.id, **stats.event_fields())
            if answer is None:
                answer = solved_by(trainer.sample(test, cfg.ttrl.test_samples, cfg.sample.temperature))
        record["steps_run"] = step
        if answer is not None:
            record.update(solved=True, step=step, answer=answer)
            sink.emit("solved", problem=problem.id, integrand=problem.integrand, answer=answer, step=step)
        greedy = trainer.sample(test, 1, 0.0)[0]
        g = score_many([(problem.integrand, greedy)], cfg)[0]
        record.update(greedy_answer=g.answer, greedy_ok=g.ok)
    finally:
        trainer.load_lora_state(start)
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


def cli_ttrl(args: argparse.Namespace) -> int:
    """`ladder ttrl INTEGRAND | --problems FILE` (see the module docstring)."""
    from engine.cli import control_for, event_stream
    from engine.models import hf_model_dir
    from engine.rl.grpo import GRPOTrainer
    from engine.runs import RunDir, atomic_write_json

    if bool(args.integrand) == bool(args.problems):
        raise LadderError("ladder ttrl needs an INTEGRAND or --problems FILE.jsonl (not both)")
    problems = load_problems(args.problems) if args.problems else [Problem(id="problem", integrand=args.integrand)]
    problems = [p for p in problems if not p.definite]
    if not problems:
        raise LadderError("ladder ttrl works on indefinite integrals; the file holds none")
    cfg = Config.load(args.config) if args.config else Config()
    if args.model:
        cfg.model = args.model
    cfg.device, cfg.grpo.seed = args.device, args.seed
    steps = args.steps if args.steps is not None else cfg.ttrl.steps
    if steps < 0:
        raise LadderError("--steps must be 0 or more")
    control = control_for(args)
    run = RunDir.create(args.out, cfg) if args.out else None
    sink = run.sink(event_stream(args)) if run else EventSink(run="ttrl", stream=event_stream(args))
    records = []
    with sink.running():
        trainer = GRPOTrainer(hf_model_dir(cfg.model), cfg, adapter=args.adapter)
        sink.emit("run_started", kind="ttrl", config=cfg.to_dict(), model=cfg.model, device=trainer.device,
                  total_steps=steps, problems=len(problems), adapter=args.adapter)
        for p in problems:
            if control.checkpoint():
                break
            rec = ttrl_problem(trainer, p, cfg, steps, sink=sink, control=control)
            records.append(rec)
            if not args.json:
                where = f"solved at step {rec['step']}: {rec['answer']}" if rec["solved"] else "not solved"
                print(f"{p.id}: {where}; greedy after TTRL {rec['greedy_answer']} "
                      f"({'ok' if rec['greedy_ok'] else 'wrong'})", file=sys.stderr)
        solved = sum(r["solved"] for r in records)
        sink.emit("run_finished", status="stopped" if control.stopped else "done", solved=solved,
                  problems=len(records))
    if run is not None:
        atomic_write_json(run.path / "ttrl.json", records)
    if args.json and not args.engine_mode:
        print(json.dumps({"problems": records, "solved": sum(r["solved"] for r in records), "steps": steps}))
    return 0
