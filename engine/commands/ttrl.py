"""`ladder ttrl INTEGRAND | --problems FILE`: test-time RL on each problem, then roll back."""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands.common import control_for, event_stream, json_arg, model_args
from engine.errors import LadderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ttrl", help="test-time RL on one integral or a file of problems")
    p.add_argument("integrand", nargs="?")
    p.add_argument("--problems", default=None, metavar="FILE.jsonl")
    model_args(p)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", default=None, metavar="RUN_DIR")
    p.add_argument("--config", default=None, metavar="FILE.toml")
    json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """`ladder ttrl INTEGRAND | --problems FILE` (see the module docstring)."""
    from engine.inference.models import hf_model_dir
    from engine.problems import Problem, load_problems
    from engine.runs.config import Config
    from engine.runs.events import EventSink
    from engine.runs.rundir import RunDir, atomic_write_json
    from engine.train.grpo import GRPOTrainer
    from engine.train.ttrl import ttrl_problem

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
