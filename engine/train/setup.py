"""What every training run does before its first step, for both trainers (ours and TRL's).

A run directory holds what it was asked to do in `train.json` (`TrainPlan`), so `--resume` needs
nothing else; `open_run` creates or reopens it, `ensure_pool` writes its variant trees once
(tree.jsonl) and `summary` is the record both trainers end with.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.problems import Problem, load_problems
from engine.runs.config import Config
from engine.runs.events import Control, EventSink, Phase, VariantAdded
from engine.runs.files import atomic_write_json
from engine.runs.rundir import RunDir

TRAIN_FILE = "train.json"


@dataclass
class TrainPlan:
    """What a training run was asked to do (train.json)."""

    problems: str  # absolute path of the training problems
    steps: int
    eval_problems: str | None = None
    variants: bool = True  # False: RL on the problems themselves (the paper's ablation)
    backend: str = "hf"

    def training_problems(self) -> list[Problem]:
        return load_problems(self.problems)

    def held_out(self) -> list[Problem]:
        return load_problems(self.eval_problems) if self.eval_problems else []


def open_run(*, resume: str | None, out: str | Path | None, cfg: Config | None, plan: TrainPlan | None,
             steps: int | None = None, create: bool = True, lock: bool = True) -> tuple[RunDir, Config, TrainPlan]:
    """Reopen `resume` (its config and plan; `steps` changes the total) or create `out` with
    `cfg` and `plan`. `create=False` opens `out` made by another process (TRL's other ranks).
    The run's lock is taken (`lock=False`: TRL's other ranks, whose main process holds it), so a
    second engine on the same run is refused."""
    if resume:
        run = RunDir.open(resume, write=lock)
        path = run.path / TRAIN_FILE
        if not path.exists():
            raise LadderError(f"{run.path} was not made by `ladder train` (no {TRAIN_FILE})")
        plan = TrainPlan(**json.loads(path.read_text()))
        if steps is not None:
            plan.steps = steps
            atomic_write_json(path, dataclasses.asdict(plan))
        return run, run.config(), plan
    assert cfg is not None and plan is not None and out is not None
    if not create:
        return RunDir.open(out), cfg, plan
    run = RunDir.create(out, cfg, lock=lock)
    atomic_write_json(run.path / TRAIN_FILE, dataclasses.asdict(plan))
    return run, cfg, plan


def root_node(p: Problem) -> dict[str, Any]:
    """A problem as a pool node of its own (no variants)."""
    return {"id": p.id, "parent": None, "depth": 0, "kind": "root", "source": "user", "integrand": p.integrand}


def build_pool_nodes(
    problems: list[Problem], cfg: Config, *, variants: bool, exclude: set[str], sink: EventSink,
    control: Control | None = None, depth: int | None = None, max_variants: int | None = None,
) -> list[dict[str, Any]]:
    """The variant trees of `problems` (or the problems themselves), as tree.jsonl rows."""
    indefinite = [p for p in problems if not p.definite]
    if not indefinite:
        raise LadderError("no indefinite integrals among the training problems")
    if not variants:
        nodes = [root_node(p) for p in indefinite]
        for n in nodes:
            sink.emit(VariantAdded(**n))
        return nodes
    from engine.variants.tree import build_tree

    vcfg = dataclasses.replace(
        cfg.variants, depth=depth if depth is not None else cfg.variants.depth,
        max_variants=max_variants if max_variants is not None else cfg.variants.max_variants,
    )
    backend = None
    if vcfg.source != "symbolic":
        from engine.inference.models import load_backend

        backend = load_backend(cfg.model, device=cfg.device)
    nodes: list[dict[str, Any]] = []
    try:
        for i, p in enumerate(indefinite):
            sink.emit(Phase(phase="tree", done=i, total=len(indefinite), detail=f"{len(nodes)} variants so far"))
            tree = build_tree(p.integrand, backend=backend, cfg=vcfg, exclude=exclude, sink=sink,
                              seed=cfg.grpo.seed + i, root_id=p.id, control=control)
            nodes.extend(n.to_dict() for n in tree)
            if control is not None and control.stopped:
                break
    finally:
        del backend  # free the generator's memory before the trainer loads its own copy
    return nodes


def ensure_pool(run: RunDir, cfg: Config, plan: TrainPlan, *, sink: EventSink, control: Control) -> None:
    """Write the run's tree.jsonl from its training problems unless it is already there."""
    if run.tree_path.exists():
        return
    exclude = {p.integrand for p in plan.held_out()}
    run.write_tree(build_pool_nodes(plan.training_problems(), cfg, variants=plan.variants, exclude=exclude,
                                    sink=sink, control=control))


def summary(run: RunDir, status: str, steps: int, last: dict[str, Any]) -> dict[str, Any]:
    """The record a training run ends with (the run_finished event and `--json` output)."""
    return {"status": status, "steps": steps, "checkpoint": str(run.latest_checkpoint()),
            "reward_mean": last.get("reward_mean"), "accuracy": last.get("accuracy")}
