"""LADDER training: variant trees of the training problems, pooled, then GRPO on the pool.

    ladder train --problems FILE.jsonl --model NAME --steps N --out runs/NAME
    ladder train --resume runs/NAME [--steps M]

1. Trees. Each (indefinite) training problem becomes a variant tree (engine.variants.build_tree:
   LLM variants by the paper's recipe and symbolic ones), evaluation problems excluded. The trees
   are written once to tree.jsonl; a resumed run reads them back. `--no-variants` trains on the
   problems themselves (the paper's "RL without variants" ablation).
2. Pool. engine.variants.VariantPool draws variants at the edge of the model's ability from their
   solve rates, which every verified rollout updates.
3. GRPO. engine.rl.grpo.GRPOTrainer, one step at a time; every rollout and step is an event, a
   checkpoint (adapter, optimizer, RNG, pool state and draw RNG, step) is written every
   [grpo] checkpoint_every steps and on stop, and the held-out set (--eval-problems) is evaluated
   every [grpo] eval_every steps and at the end.
4. At the end the adapter is also written as adapter.gguf for llama.cpp (GGUF models).

Resume continues at the latest checkpoint with the same step counter, data order and sampling
RNG; a SIGKILL loses at most the step in progress.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from engine.config import Config
from engine.errors import LadderError
from engine.events import Control, EventSink
from engine.problems import Problem, load_problems
from engine.runs import RunDir, atomic_write_json

TRAIN_FILE = "train.json"  # what the run was asked to do, so --resume needs nothing else


def config_from_args(args: argparse.Namespace) -> Config:
    """The run's Config: defaults, then --config FILE.toml, then the command-line overrides."""
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


def root_node(p: Problem) -> dict[str, Any]:
    """A problem as a pool node of its own (no variants)."""
    return {"id": p.id, "parent": None, "depth": 0, "kind": "root", "source": "user", "integrand": p.integrand}


def build_pool_nodes(
    problems: list[Problem], cfg: Config, *, variants: bool, exclude: set[str], sink: EventSink,
    control: Control | None = None, depth: int | None = None, max_variants: int | None = None,
) -> list[dict[str, Any]]:
    """The variant trees of `problems` (or the problems themselves), as tree.jsonl rows."""
    import dataclasses

    indefinite = [p for p in problems if not p.definite]
    if not indefinite:
        raise LadderError("no indefinite integrals among the training problems")
    if not variants:
        nodes = [root_node(p) for p in indefinite]
        for n in nodes:
            sink.emit("variant", **n)
        return nodes
    from engine.variants import build_tree

    vcfg = dataclasses.replace(
        cfg.variants, depth=depth if depth is not None else cfg.variants.depth,
        max_variants=max_variants if max_variants is not None else cfg.variants.max_variants,
    )
    backend = None
    if vcfg.source != "symbolic":
        from engine.models import load_backend

        backend = load_backend(cfg.model, device=cfg.device)
    nodes: list[dict[str, Any]] = []
    try:
        for i, p in enumerate(indefinite):
            tree = build_tree(p.integrand, backend=backend, cfg=vcfg, exclude=exclude, sink=sink,
                              seed=cfg.grpo.seed + i, root_id=p.id, control=control)
            nodes.extend(n.to_dict() for n in tree)
            if control is not None and control.stopped:
                break
    finally:
        del backend  # free the generator's memory before the trainer loads its own copy
    return nodes


def _rng_from_json(state: list[Any]) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


class Progress:
    """A rich progress bar on stderr: step, reward, accuracy, tokens/s, ETA."""

    def __init__(self, total: int, start: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

        self.bar = Bar(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("reward {task.fields[reward]}  acc {task.fields[acc]}  {task.fields[tps]} tok/s"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
        self.task = self.bar.add_task("train", total=total, completed=start, reward="-", acc="-", tps="-")
        self.bar.start()

    def update(self, step: int, reward: float, acc: float, tps: float) -> None:
        self.bar.update(self.task, completed=step, reward=f"{reward:.3f}", acc=f"{acc:.2f}", tps=f"{tps:.0f}")

    def close(self) -> None:
        self.bar.stop()


def train_run(run: RunDir, cfg: Config, info: dict[str, Any], *, sink: EventSink, control: Control,
              resume: bool, progress: bool = True) -> dict[str, Any]:
    """Train (or continue) the run described by `info` (see cli_train); returns the summary."""
    from engine.models import hf_model_dir
    from engine.rl.grpo import GRPOTrainer
    from engine.variants import VariantPool

    total = int(info["steps"])
    pool = VariantPool(run.read_tree(), cfg.variants)
    draw_rng = random.Random(cfg.grpo.seed)
    eval_problems = load_problems(info["eval_problems"]) if info.get("eval_problems") else []
    model_dir = hf_model_dir(cfg.model)
    trainer = GRPOTrainer(model_dir, cfg)
    step = 0
    checkpoint = run.latest_checkpoint() if resume else None
    if checkpoint is not None:
        extra = trainer.load(checkpoint)
        step = int(extra["step"])
        pool.load_state_dict(extra["pool"])
        draw_rng.setstate(_rng_from_json(extra["draw_rng"]))
    sink.emit("run_started", kind="train", backend="hf", config=cfg.to_dict(), model=cfg.model,
              device=trainer.device, total_steps=total, pool=len(pool), resumed_from=step)

    saved = step  # the step of the newest checkpoint on disk

    def save(at: int) -> None:
        nonlocal saved
        saved = at
        with run.new_checkpoint(at) as folder:
            trainer.save(folder, {"step": at, "pool": pool.state_dict(), "draw_rng": list(draw_rng.getstate())})
        sink.emit("checkpoint", step=at, path=str(run.checkpoints / f"step-{at}"))

    def evaluate(at: int) -> None:
        if eval_problems:
            from engine.evaluate import evaluate as run_eval

            run_eval(eval_problems, trainer.backend(), cfg=cfg, sink=sink, set_name="held-out", step=at,
                     seed=cfg.grpo.seed, keep_completions=False)

    def draw() -> dict[str, Any]:
        return pool.sample(1, draw_rng)[0].to_dict()

    bar = Progress(total, step) if progress else None
    status = "done"
    last: dict[str, Any] = {}
    try:
        while step < total:
            if control.checkpoint():
                status = "stopped"
                break
            stats = trainer.step(draw)
            step += 1
            for r in stats.rollouts:
                pool.record(r.variant, r.ok)
                sink.emit("rollout", variant=r.variant, integrand=r.integrand, step=step, completion=r.text,
                          answer=r.answer, reward=r.reward, ok=r.ok, reason=r.reason, advantage=round(r.advantage, 4))
            last = stats.event_fields()
            sink.emit("step", step=step, **last)
            if bar is not None:
                bar.update(step, stats.reward_mean, stats.accuracy, stats.tokens_per_s)
            else:
                print(f"step {step}/{total} reward {stats.reward_mean:.3f} acc {stats.accuracy:.2f} "
                      f"gen {stats.gen_s:.1f}s verify {stats.verify_s:.1f}s train {stats.train_s:.1f}s "
                      f"opt {stats.opt_s:.2f}s", file=sys.stderr)
            if step % max(cfg.grpo.checkpoint_every, 1) == 0 or step == total or control.stopped:
                save(step)
            if cfg.grpo.eval_every and step % cfg.grpo.eval_every == 0 and step < total:
                evaluate(step)
        if status == "stopped" and step > saved:
            save(step)
    finally:
        if bar is not None:
            bar.close()
    if status == "done":
        evaluate(step)
        _write_gguf(run, cfg, model_dir, sink)
    summary = {"status": status, "steps": step, "checkpoint": str(run.latest_checkpoint()),
               "reward_mean": last.get("reward_mean"), "accuracy": last.get("accuracy")}
    sink.emit("run_finished", **summary)
    return summary


def _write_gguf(run: RunDir, cfg: Config, model_dir: Path, sink: EventSink) -> None:
    """adapter.gguf beside the checkpoints, for llama.cpp (only for models that come as GGUF)."""
    from engine.models import resolve

    checkpoint = run.latest_checkpoint()
    if checkpoint is None or resolve(cfg.model).format != "gguf":
        return
    try:
        from engine.lora_gguf import convert_lora

        convert_lora(checkpoint / "adapter", run.path / "adapter.gguf", base_dir=model_dir)
    except (LadderError, OSError, ValueError, KeyError) as e:
        sink.log(f"could not write adapter.gguf: {e}", level="warning")


def cli_train(args: argparse.Namespace) -> int:
    """`ladder train` (see the module docstring); `--backend trl` hands over to TRL's trainer."""
    if args.backend == "trl":
        from engine.rl.trl_backend import cli_train as trl_train

        return trl_train(args)
    from engine.cli import control_for, event_stream

    control = control_for(args)
    if args.resume:
        run = RunDir.open(args.resume)
        cfg = run.config()
        info_path = run.path / TRAIN_FILE
        if not info_path.exists():
            raise LadderError(f"{run.path} was not made by `ladder train --backend hf` (no {TRAIN_FILE})")
        info = json.loads(info_path.read_text())
        if args.steps is not None:
            info["steps"] = args.steps
            atomic_write_json(info_path, info)
    else:
        if not args.problems:
            raise LadderError("ladder train needs --problems FILE.jsonl (or --resume RUN_DIR)")
        if args.steps is None or args.steps < 1:
            raise LadderError("ladder train needs --steps N (N >= 1)")
        problems = load_problems(args.problems)
        eval_problems = load_problems(args.eval_problems) if args.eval_problems else []
        cfg = config_from_args(args)
        run = RunDir.create(args.out or f"runs/{Path(args.problems).stem}", cfg)
        info = {"problems": str(Path(args.problems).resolve()), "steps": args.steps,
                "eval_problems": str(Path(args.eval_problems).resolve()) if args.eval_problems else None,
                "variants": not args.no_variants}
        atomic_write_json(run.path / TRAIN_FILE, info)
    sink = run.sink(event_stream(args))
    with sink.running():
        if not run.tree_path.exists():
            if args.resume:
                problems = load_problems(info["problems"])
                eval_problems = load_problems(info["eval_problems"]) if info.get("eval_problems") else []
            nodes = build_pool_nodes(problems, cfg, variants=info["variants"],
                                     exclude={p.integrand for p in eval_problems}, sink=sink, control=control)
            run.write_tree(nodes)
        summary = train_run(run, cfg, info, sink=sink, control=control, resume=bool(args.resume),
                            progress=sys.stderr.isatty() or args.engine_mode)
    if getattr(args, "json", False) and not args.engine_mode:
        print(json.dumps(summary))
    else:
        print(f"{summary['status']}: {summary['steps']} steps, checkpoint {summary['checkpoint']}", file=sys.stderr)
    return 0
