"""`ladder train`: LADDER training (GRPO on variant trees), with our trainer or TRL's.

    ladder train --problems FILE.jsonl --model NAME --steps N --out runs/NAME
    ladder train --resume runs/NAME [--steps M]
    accelerate launch -m engine.commands train --backend trl …   (several GPUs or processes)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.commands.common import control_for, event_stream, json_arg, model_args
from engine.errors import LadderError

if TYPE_CHECKING:
    from engine.runs.config import Config
    from engine.train.grpo import StepStats


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="LADDER training: GRPO on variant trees of training problems")
    p.add_argument("--problems", default=None, metavar="FILE.jsonl")
    model_args(p)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", default=None, metavar="RUN_DIR")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run at its last checkpoint")
    p.add_argument("--config", default=None, metavar="FILE.toml")
    p.add_argument("--backend", choices=["hf", "trl"], default="hf")
    p.add_argument("--group-size", type=int, default=None)
    p.add_argument("--depth", type=int, default=None, help="variant tree depth")
    p.add_argument("--max-variants", type=int, default=None)
    p.add_argument("--no-variants", action="store_true", help="RL on the problems themselves (ablation)")
    p.add_argument("--eval-problems", default=None, metavar="FILE.jsonl", help="held-out set evaluated during training")
    p.add_argument("--use-vllm", action="store_true", help="--backend trl: rollouts by vLLM (GPU, `pip install vllm`)")
    p.add_argument("--vllm-mode", choices=["colocate", "server"], default=None, help="--backend trl with --use-vllm (default colocate)")
    json_arg(p)
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Config:
    """The run's Config: defaults, then --config FILE.toml, then the command-line overrides."""
    from engine.runs.config import Config

    cfg = Config.load(args.config) if getattr(args, "config", None) else Config()
    if args.model:
        cfg.model = args.model
    cfg.device = args.device
    cfg.grpo.seed = args.seed
    if getattr(args, "group_size", None) is not None:
        cfg.grpo.group_size = args.group_size
    if getattr(args, "depth", None) is not None:
        cfg.variants.depth = args.depth
    if getattr(args, "max_variants", None) is not None:
        cfg.variants.max_variants = args.max_variants
    return cfg


class Progress:
    """A rich progress bar on stderr: step, reward, accuracy, tokens/s, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("reward {task.fields[reward]}  acc {task.fields[acc]}  {task.fields[tps]} tok/s"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
        self.task: Any = None

    def __call__(self, step: int, total: int, stats: StepStats) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("train", total=total, completed=step - 1, reward="-", acc="-", tps="-")
        self.bar.update(self.task, completed=step, reward=f"{stats.reward_mean:.3f}", acc=f"{stats.accuracy:.2f}",
                        tps=f"{stats.tokens_per_s:.0f}")

    def close(self) -> None:
        self.bar.stop()


def _log_line(step: int, total: int, stats: StepStats) -> None:
    print(f"step {step}/{total} reward {stats.reward_mean:.3f} acc {stats.accuracy:.2f} "
          f"gen {stats.gen_s:.1f}s verify {stats.verify_s:.1f}s train {stats.train_s:.1f}s "
          f"opt {stats.opt_s:.2f}s", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Create (or resume) the run, build its variant pool once, then train with the chosen backend."""
    from engine.train.setup import ensure_pool, open_run

    if args.backend == "trl":
        return _run_trl(args)
    control = control_for(args)
    if args.resume:
        run_dir, cfg, plan = open_run(resume=args.resume, out=None, cfg=None, plan=None, steps=args.steps)
        if plan.backend != "hf":
            raise LadderError(f"{run_dir.path} was trained with --backend {plan.backend}; resume it with that backend")
    else:
        plan = _new_plan(args, backend="hf")
        run_dir, cfg, plan = open_run(resume=None, out=args.out or f"runs/{Path(args.problems).stem}",
                                      cfg=config_from_args(args), plan=plan)
    from engine.train.ladder import train_run

    sink = run_dir.sink(event_stream(args))
    bar = Progress() if sys.stderr.isatty() and not args.engine_mode else None
    try:
        with sink.running():
            ensure_pool(run_dir, cfg, plan, sink=sink, control=control)
            summary = train_run(run_dir, cfg, plan, sink=sink, control=control, resume=bool(args.resume),
                                on_step=bar or _log_line)
    finally:
        if bar is not None:
            bar.close()
        run_dir.release()
    _print_summary(args, summary)
    return 0


def _new_plan(args: argparse.Namespace, backend: str) -> Any:
    from engine.problems import load_problems
    from engine.train.setup import TrainPlan

    if not args.problems:
        raise LadderError("ladder train needs --problems FILE.jsonl (or --resume RUN_DIR)")
    if args.steps is None or args.steps < 1:
        raise LadderError("ladder train needs --steps N (N >= 1)")
    load_problems(args.problems)  # a bad file fails before the run directory is made
    if args.eval_problems:
        load_problems(args.eval_problems)
    return TrainPlan(problems=str(Path(args.problems).resolve()), steps=args.steps,
                     eval_problems=str(Path(args.eval_problems).resolve()) if args.eval_problems else None,
                     variants=not args.no_variants, backend=backend)


def _run_trl(args: argparse.Namespace) -> int:
    """`--backend trl`, on every process of an `accelerate launch`: the main process creates (or
    reopens) the run and builds its pool exactly as `--backend hf` does; the others wait for it."""
    from accelerate import PartialState

    from engine.inference.device import pick_device
    from engine.runs.events import null_sink
    from engine.train.setup import ensure_pool, open_run
    from engine.train.trl_backend import train

    # The first PartialState fixes the process group; on CPU it must be told so (gloo).
    state = PartialState(cpu=pick_device(args.device) == "cpu")
    with state.main_process_first():
        if args.resume:
            run_dir, cfg, plan = open_run(resume=args.resume, out=None, cfg=None, plan=None, steps=args.steps,
                                          lock=state.is_main_process)
        else:
            plan = _new_plan(args, backend="trl")
            run_dir, cfg, plan = open_run(resume=None, out=args.out or f"runs/{Path(args.problems).stem}-trl",
                                          cfg=config_from_args(args), plan=plan, create=state.is_main_process)
    cfg.trl.use_vllm = cfg.trl.use_vllm or args.use_vllm
    cfg.trl.vllm_mode = args.vllm_mode or cfg.trl.vllm_mode
    control = control_for(args)
    sink = run_dir.sink(event_stream(args)) if state.is_main_process else null_sink()
    with sink.running():
        if state.is_main_process:
            ensure_pool(run_dir, cfg, plan, sink=sink, control=control)
        state.wait_for_everyone()
        if plan.eval_problems:
            sink.log("--backend trl does not evaluate during training; run `ladder eval --adapter RUN_DIR`",
                     level="warning")
        summary = train(run_dir, cfg, run_dir.read_tree(), steps=plan.steps, sink=sink, control=control,
                        resume=bool(args.resume))
    run_dir.release()
    if state.is_main_process:
        _print_summary(args, summary)
    return 0


def _print_summary(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    if getattr(args, "json", False) and not args.engine_mode:
        print(json.dumps(summary))
    else:
        print(f"{summary['status']}: {summary['steps']} steps, checkpoint {summary['checkpoint']}", file=sys.stderr)
