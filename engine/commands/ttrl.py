"""`ladder ttrl INTEGRAND | --problems FILE`: test-time RL on each problem, then roll back.

With `--out RUN_DIR` the run records what it was asked (ttrl_plan.json) and the record of each
problem as it finishes (ttrl.json), so `ladder ttrl --resume RUN_DIR` after a stop or a kill goes
on with the problems not yet done (the interrupted one starts over: TTRL rolls its weights back
after every problem, so nothing else carries over)."""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands.common import control_for, event_stream, json_arg, model_args
from engine.errors import LadderError
from engine.runs.events import Phase, RunFinished, RunStarted


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ttrl", help="test-time RL on one integral or a file of problems")
    p.add_argument("integrand", nargs="?")
    p.add_argument("--problems", default=None, metavar="FILE.jsonl")
    model_args(p)
    p.add_argument("--adapter", default=None, metavar="RUN_DIR")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", default=None, metavar="RUN_DIR")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="go on with a stopped TTRL run's remaining problems")
    p.add_argument("--config", default=None, metavar="FILE.toml")
    json_arg(p)
    p.set_defaults(handler=run)


PLAN_FILE = "ttrl_plan.json"
RECORDS_FILE = "ttrl.json"


def _resume_args(args: argparse.Namespace) -> None:
    """Fill `args` from the run's plan (`--resume`): the same problems, steps and adapter."""
    from pathlib import Path

    path = Path(args.resume) / PLAN_FILE
    if not path.is_file():
        raise LadderError(f"{args.resume} was not made by `ladder ttrl --out` (no {PLAN_FILE})")
    plan = json.loads(path.read_text())
    args.integrand, args.problems = plan.get("integrand"), plan.get("problems")
    args.adapter = plan.get("adapter")
    args.steps = plan["steps"] if args.steps is None else args.steps


def run(args: argparse.Namespace) -> int:
    """`ladder ttrl INTEGRAND | --problems FILE` (see the module docstring)."""
    from pathlib import Path

    from engine.inference.device import dtype_name
    from engine.inference.models import hf_model_dir
    from engine.problems import Problem, load_problems
    from engine.runs.config import Config
    from engine.runs.events import EventSink
    from engine.runs.files import atomic_write_json
    from engine.runs.rundir import RunDir
    from engine.train.grpo import GRPOTrainer
    from engine.train.ttrl import ttrl_problem

    if args.resume:
        if args.out or args.integrand or args.problems:
            raise LadderError("ladder ttrl --resume RUN_DIR takes no INTEGRAND, --problems or --out")
        _resume_args(args)
    if bool(args.integrand) == bool(args.problems):
        raise LadderError("ladder ttrl needs an INTEGRAND or --problems FILE.jsonl (not both)")
    problems = load_problems(args.problems) if args.problems else [Problem(id="problem", integrand=args.integrand)]
    problems = [p for p in problems if not p.definite]
    if not problems:
        raise LadderError("ladder ttrl works on indefinite integrals; the file holds none")
    run = RunDir.open(args.resume, write=True) if args.resume else None
    cfg = run.config() if run is not None else Config.load(args.config) if args.config else Config()
    if args.model:
        cfg.model = args.model
    if run is None:
        cfg.device, cfg.grpo.seed = args.device, args.seed
    steps = args.steps if args.steps is not None else cfg.ttrl.steps
    if steps < 0:
        raise LadderError("--steps must be 0 or more")
    control = control_for(args)
    records: list = []
    if run is not None:
        done_path = run.path / RECORDS_FILE
        records = json.loads(done_path.read_text()) if done_path.is_file() else []
        records = [r for r in records if not r.get("stopped")]  # a problem cut short starts over
        done = {r.get("id") for r in records}
        problems = [p for p in problems if p.id not in done]
    elif args.out:
        run = RunDir.create(args.out, cfg, lock=True)
        atomic_write_json(run.path / PLAN_FILE, {
            "integrand": args.integrand, "problems": str(Path(args.problems).resolve()) if args.problems else None,
            "steps": steps, "adapter": args.adapter})
    sink = run.sink(event_stream(args)) if run else EventSink(run="ttrl", stream=event_stream(args))
    with sink.running():
        sink.emit(Phase(phase="load", detail=cfg.model))
        trainer = GRPOTrainer(hf_model_dir(cfg.model), cfg, adapter=args.adapter)
        sink.emit(RunStarted(kind="ttrl", config=cfg.to_dict(), model=cfg.model, device=trainer.device,
                  dtype=dtype_name(trainer.dtype), total_steps=steps, problems=len(problems), adapter=args.adapter))
        for p in problems:
            if control.checkpoint():
                break
            rec = ttrl_problem(trainer, p, cfg, steps, sink=sink, control=control)
            if control.stopped and not rec["solved"]:
                rec["stopped"] = True
            records.append(rec)
            if run is not None:
                atomic_write_json(run.path / RECORDS_FILE, records)
            if not args.json:
                where = f"solved at step {rec['step']}: {rec['answer']}" if rec["solved"] else "not solved"
                print(f"{p.id}: {where}; greedy after TTRL {rec['greedy_answer']} "
                      f"({'ok' if rec['greedy_ok'] else 'wrong'})", file=sys.stderr)
        solved = sum(r["solved"] for r in records)
        sink.emit(RunFinished(status="stopped" if control.stopped else "done", solved=solved,
                  problems=len(records)))
    if run is not None:
        atomic_write_json(run.path / RECORDS_FILE, records)
        run.release()
    if args.json and not args.engine_mode:
        print(json.dumps({"problems": records, "solved": sum(r["solved"] for r in records), "steps": steps}))
    return 0
