"""LADDER training: variant trees of the training problems, pooled, then GRPO on the pool.

    ladder train --problems FILE.jsonl --model NAME --steps N --out runs/NAME
    ladder train --resume runs/NAME [--steps M]

1. Trees. Each (indefinite) training problem becomes a variant tree (engine.variants.tree.build_tree:
   LLM variants by the paper's recipe and symbolic ones), evaluation problems excluded. The trees
   are written once to tree.jsonl; a resumed run reads them back. `--no-variants` trains on the
   problems themselves (the paper's "RL without variants" ablation).
2. Pool. engine.train.pool.VariantPool draws variants at the edge of the model's ability from their
   solve rates: screening (engine.train.screen) gives variants a greedy answer (and a few samples
   when it is right) a chunk at a time while the pool holds too few promising ones (report in
   screen.json), and every rollout updates the rates.
3. GRPO. engine.train.grpo.GRPOTrainer, one step at a time; every rollout and step is an event, a
   checkpoint (adapter, optimizer, RNG, pool state and draw RNG, step) is written every
   [grpo] checkpoint_every steps and on stop, and the held-out set (--eval-problems) is evaluated
   every [grpo] eval_every steps and at the end.
4. At the end the adapter is also written as adapter.gguf for llama.cpp (GGUF models).

Resume continues at the latest checkpoint with the same step counter, data order and sampling
RNG; a SIGKILL loses at most the step in progress.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import LadderError
from engine.inference.device import dtype_name
from engine.runs.config import Config
from engine.runs.events import (
    Checkpoint,
    Control,
    EventSink,
    Phase,
    Rollout,
    RunFinished,
    RunStarted,
    Step,
)
from engine.runs.rundir import RunDir
from engine.train.setup import TrainPlan, summary

if TYPE_CHECKING:
    from engine.train.grpo import GRPOTrainer, StepStats
    from engine.train.pool import VariantPool

SCREEN_FILE = "screen.json"  # screening's per-tree report, rewritten after every screened chunk


def _rng_from_json(state: list[Any]) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def train_run(run: RunDir, cfg: Config, plan: TrainPlan, *, sink: EventSink, control: Control,
              resume: bool, on_step: Callable[[int, int, StepStats], None] | None = None) -> dict[str, Any]:
    """Train (or continue) the run described by `plan`; `on_step(step, total, stats)` after each
    step (the command's progress display). Returns the summary."""
    from engine.inference.models import hf_model_dir
    from engine.train.grpo import GRPOTrainer
    from engine.train.pool import VariantPool

    total = plan.steps
    pool = VariantPool(run.read_tree(), cfg.variants)
    draw_rng = random.Random(cfg.grpo.seed)
    eval_problems = plan.held_out()
    sink.emit(Phase(phase="load", detail=cfg.model))
    model_dir = hf_model_dir(cfg.model)
    trainer = GRPOTrainer(model_dir, cfg)
    step = 0
    checkpoint = run.latest_checkpoint() if resume else None
    if checkpoint is not None:
        extra = trainer.load(checkpoint)
        step = int(extra["step"])
        pool.load_state_dict(extra["pool"])
        draw_rng.setstate(_rng_from_json(extra["draw_rng"]))
    sink.emit(RunStarted(kind="train", backend="hf", config=cfg.to_dict(), model=cfg.model,
              device=trainer.device, dtype=dtype_name(trainer.dtype), total_steps=total, pool=len(pool),
              resumed_from=step))
    # Trees grow only in LADDER runs: `--no-variants` trains on the problems themselves.
    exclude = [p.integrand for p in eval_problems] if plan.variants else None
    top_up = screening(run, pool, trainer, cfg, sink, grow_excluding=exclude) if cfg.variants.screen else None

    saved = step  # the step of the newest checkpoint on disk

    def save(at: int) -> None:
        nonlocal saved
        saved = at
        with run.new_checkpoint(at) as folder:
            trainer.save(folder, {"step": at, "pool": pool.state_dict(), "draw_rng": list(draw_rng.getstate())})
        sink.emit(Checkpoint(step=at, path=str(run.checkpoints / f"step-{at}")))

    def evaluate(at: int) -> None:
        if eval_problems:
            from engine.evaluation.evaluate import evaluate as run_eval

            sink.emit(Phase(phase="eval", detail=f"{len(eval_problems)} held-out problems"))

            run_eval(eval_problems, trainer.backend(), cfg=cfg, sink=sink, set_name="held-out", step=at,
                     seed=cfg.grpo.seed, keep_completions=False)

    def draw() -> dict[str, Any]:
        return pool.sample(1, draw_rng)[0].to_dict()

    status = "done"
    last: dict[str, Any] = {}
    while step < total:
        if control.checkpoint():
            status = "stopped"
            break
        if top_up is not None:
            top_up()
        stats = trainer.step(draw, on_scored=pool.record_groups)
        step += 1
        for r in stats.rollouts:
            sink.emit(Rollout(variant=r.variant, integrand=r.integrand, step=step, completion=r.text,
                      answer=r.answer, reward=r.reward, ok=r.ok, reason=r.reason, advantage=round(r.advantage, 4)))
        last = stats.event_fields()
        sink.emit(Step(step=step, **last))
        if on_step is not None:
            on_step(step, total, stats)
        if step % max(cfg.grpo.checkpoint_every, 1) == 0 or step == total or control.stopped:
            save(step)
        if cfg.grpo.eval_every and step % cfg.grpo.eval_every == 0 and step < total:
            evaluate(step)
    if status == "stopped" and step > saved:
        save(step)
    if status == "done":
        evaluate(step)
        _write_gguf(run, cfg, model_dir, sink)
    result = summary(run, status, step, last)
    sink.emit(RunFinished(**result))
    return result


def screening(run: RunDir, pool: VariantPool, trainer: GRPOTrainer, cfg: Config, sink: EventSink,
              grow_excluding: list[str] | None = None) -> Callable[[], None]:
    """The function run before every step: screen more of the pool while it holds too few
    promising variants (engine/train/screen.py), with phase events, a log line per chunk and the
    per-tree report rewritten to screen.json; with `grow_excluding` (the evaluation problems to
    keep out) a tree nothing was solved in grows a level of easier variants, each a `variant`
    event. The pool's checkpoint holds the screening counts and the grown variants, so a resumed
    run goes on where the checkpoint was (and screens and grows again what came after it, with
    the same RNG and seeds, hence the same answers)."""
    import dataclasses

    from engine.runs.events import VariantAdded
    from engine.runs.files import atomic_write_json
    from engine.train.screen import Screener, tree_reports
    from engine.variants.filters import Registry
    from engine.variants.nodes import Node
    from engine.variants.tree import grow_level, registry_of

    def judge(items: list[tuple[str, str]]) -> list[bool]:
        return [r.ok for r in trainer.reward_fn(items)]

    registry: Registry | None = None  # the pool's integrands and the evaluation problems, parsed once

    def grow(leaves: list[Node]) -> list[Node]:
        nonlocal registry
        if registry is None:  # at the first growth: most runs never grow
            registry = registry_of([n.integrand for n in pool.nodes.values()], cfg.variants, grow_excluding or ())
        return grow_level(leaves, registry, cfg.variants, cfg.variants.grow_per_level, seed=cfg.grpo.seed)

    can_grow = grow_excluding is not None and cfg.variants.grow_levels > 0
    screener = Screener(pool, trainer.sample_many, judge, cfg, grow=grow if can_grow else None)

    def report() -> None:
        known = screener.known()
        trees = tree_reports(list(pool.nodes.values()), known, {n.id for n in pool.grown})
        atomic_write_json(run.path / SCREEN_FILE, {
            "seconds": round(screener.seconds, 2), "screened": len(known), "variants": len(pool),
            "grown": len(pool.grown), "temperature": cfg.sample.temperature, "samples": cfg.variants.screen_samples,
            "trees": [{**dataclasses.asdict(r), "edge_share": round(r.edge_share, 4)} for r in trees]})

    def on_chunk(result: dict[str, Any], done: int, total: int) -> None:
        solved = sum(s.greedy for s in result.values())
        promising, share = screener.promising(), pool.signal_share(cfg.grpo.group_size)
        sink.emit(Phase(phase="screen", done=done, total=total,
                        detail=f"{promising:.1f} groups with signal in reserve, {share:.0%} of draws expected"))
        sink.log(f"screened {len(result)} variants ({done}/{total}): {solved} solved greedily, the pool promises "
                 f"{promising:.1f} groups with signal, {share:.0%} of the next draw's groups")
        report()

    def on_grow(nodes: list[Node]) -> None:
        for n in nodes:
            sink.emit(VariantAdded(**n.event_fields()))
        parents = sorted({n.parent for n in nodes})
        sink.log(f"grew {len(nodes)} easier variants below {len(parents)} variants of trees in which nothing "
                 f"was solved")
        report()

    def top_up() -> None:
        screener.top_up(on_chunk, on_grow,
                        on_start=lambda: sink.emit(Phase(phase="screen", detail="greedy answers to the next variants")))

    return top_up


def _write_gguf(run: RunDir, cfg: Config, model_dir: Path, sink: EventSink) -> None:
    """adapter.gguf beside the checkpoints, for llama.cpp (only for models that come as GGUF)."""
    from engine.inference.models import resolve

    checkpoint = run.latest_checkpoint()
    if checkpoint is None or resolve(cfg.model).format != "gguf":
        return
    try:
        from engine.inference.lora_gguf import convert_lora

        convert_lora(checkpoint / "adapter", run.path / "adapter.gguf", base_dir=model_dir)
    except (LadderError, OSError, ValueError, KeyError) as e:
        sink.log(f"could not write adapter.gguf: {e}", level="warning")
