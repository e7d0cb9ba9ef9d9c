"""A made-up but well-formed training run, for demos, snapshot tests and the event benchmark.

Deterministic for a given seed (timestamps included), so screenshots of it never change.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from engine.runs.events import (
    Checkpoint,
    Event,
    Rollout,
    RunFinished,
    RunStarted,
    Solved,
    Step,
    VariantAdded,
)

T0 = 1_750_000_000.0
ROOTS = ("x*exp(x)", "x**2*sin(x)", "log(x)/x", "1/(1+x**2)")
EASIER = ("exp(x)", "x**2", "sin(x)", "x", "cos(x)", "sqrt(x)", "x**3", "exp(2*x)")


def synthetic_events(n_events: int = 400, seed: int = 0, steps: int = 20, group: int = 8,
                     finished: bool = True) -> list[dict[str, Any]]:
    """About `n_events` events of a LADDER run: a variant tree, rollouts, steps, checkpoints."""
    rng = random.Random(seed)
    t = T0
    run = f"synthetic-{seed}"
    events: list[dict[str, Any]] = []

    def emit(event: Event) -> None:
        nonlocal t
        t += 0.05
        event.t, event.run = round(t, 3), run
        events.append(event.to_dict())

    emit(RunStarted(kind="train", model="tiny", device="cpu", total_steps=steps,
         config={"grpo": {"group_size": group}}))
    variants: list[dict[str, Any]] = []
    for i, root in enumerate(ROOTS):
        variants.append({"id": f"p{i}", "parent": None, "depth": 0, "kind": "root", "source": "user", "integrand": root})
    n_variants = max(8, n_events // 40)
    while len(variants) < n_variants:
        parent = rng.choice([v for v in variants if v["depth"] < 2])
        kind = "easier" if rng.random() < 0.7 else "equivalent"
        variants.append({
            "id": f"{parent['id']}.{sum(v['parent'] == parent['id'] for v in variants)}",
            "parent": parent["id"], "depth": parent["depth"] + 1, "kind": kind,
            "source": rng.choice(("llm", "symbolic")),
            "integrand": f"{rng.randint(2, 9)}*{rng.choice(EASIER)}",
        })
    for v in variants:
        emit(VariantAdded(**v))
    per_step = max(group, (n_events - len(events) - 2) // steps - 2)
    for step in range(1, steps + 1):
        skill = step / steps
        rewards, oks = [], []
        for _ in range(per_step):
            v = rng.choice(variants)
            ok = rng.random() < skill * (0.9 if v["depth"] else 0.4)
            reward = 1.05 if ok else (0.05 if rng.random() < 0.5 else 0.0)
            rewards.append(reward)
            oks.append(ok)
            answer = f"{rng.randint(1, 9)}*x**{rng.randint(1, 4)}"
            emit(Rollout(variant=v["id"], step=step, completion=f"<answer>{answer}</answer>", answer=answer,
                 reward=reward, ok=ok, reason="verified at 5 points" if ok else "differs at x=1.3 (rel err 0.41)"))
        groups = [oks[i:i + group] for i in range(0, len(oks), group)]
        tokens_per_s = round(40 + rng.random() * 5, 1)
        mean = sum(rewards) / len(rewards)
        std = (sum((r - mean) ** 2 for r in rewards) / len(rewards)) ** 0.5
        emit(Step(step=step, reward_mean=round(mean, 4), reward_std=round(std, 4),
             accuracy=round(sum(r > 1 for r in rewards) / len(rewards), 4), kl=round(0.0004 * step, 5),
             loss=round(0.3 / step, 4), tokens_per_s=tokens_per_s, seconds=2.5,
             gen_s=1.5, verify_s=0.5, train_s=0.5, verified=sum(oks), drawn=len(groups),
             signal_groups=sum(any(g) and not all(g) for g in groups), rollout_tokens_per_s=tokens_per_s))
        if step % 5 == 0:
            emit(Checkpoint(step=step, path=f"runs/{run}/checkpoints/step-{step}"))
        if step == steps // 2:
            emit(Solved(problem=ROOTS[0], answer="(x - 1)*exp(x)", step=step))
    if finished:
        emit(RunFinished(status="done", steps=steps))
    return events


def write_synthetic_run(run_dir: Path, **kwargs: Any) -> Path:
    """A run directory holding a synthetic events.jsonl (and the config.json a run has)."""
    from engine.runs.config import Config
    from engine.runs.files import atomic_write
    from engine.runs.rundir import RunDir

    run = RunDir.create(run_dir, Config(model="tiny"))
    events = synthetic_events(**kwargs)
    atomic_write(run.events_path, "".join(json.dumps(e) + "\n" for e in events))
    return run.path
