"""The shape of the house: imports only go down the layers, and every event type round-trips.

Layers, top to bottom: commands -> train -> evaluation -> variants -> inference -> verify -> runs,
with the base modules (errors, paths, problems) under all of them. A module may import its own
package and anything below it, never above; the engine never imports the app or textual.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from engine.runs.events import EVENT_TYPES, Event, parse_event
from ladder_tui.state import RunState

ENGINE = Path(__file__).resolve().parents[1] / "engine"
LAYERS = ["base", "runs", "verify", "inference", "variants", "evaluation", "train", "commands"]
BASE = {"errors", "paths", "problems", "__init__"}
PUBLIC_ALIASES = {"expr", "answer"}  # old import paths kept for users: engine.expr.parse, engine.answer.extract


def _layer(module: str) -> str | None:
    """The layer of a dotted engine module name ('engine.train.grpo' -> 'train')."""
    parts = module.split(".")
    if parts[0] != "engine":
        return None
    if len(parts) == 1 or parts[1] in BASE or parts[1] == "data":
        return "base"
    return parts[1] if parts[1] in LAYERS else parts[1]


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, at any depth (function-level imports included)."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
    return found


def _engine_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ENGINE.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__") if rel.name == "__init__" else ".".join(rel.parts)
        out.append((name, path))
    return out


def test_engine_imports_only_go_down_the_layers():
    upward = []
    for name, path in _engine_modules():
        own = _layer(name)
        if name.split(".")[-1] in PUBLIC_ALIASES and own == "base":
            continue
        for target in _imports(path):
            if target.split(".")[0] in ("textual", "ladder_tui"):
                upward.append(f"{name} imports {target} (the engine never imports the app)")
                continue
            other = _layer(target)
            if other is None or other not in LAYERS or own not in LAYERS:
                continue
            if LAYERS.index(other) > LAYERS.index(own):
                upward.append(f"{name} ({own}) imports {target} ({other})")
    assert not upward, "\n".join(upward)


def test_no_import_cycles_between_engine_modules():
    names = {name for name, _ in _engine_modules()}
    graph = {name: {t for t in _imports(path) if t in names and t != name} for name, path in _engine_modules()}
    # a package's __init__ re-exporting its own modules is not a cycle of ideas
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".") and not t.startswith(name + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(n: str, stack: list[str]) -> bool:
        state[n] = 1
        for m in graph[n]:
            if state.get(m) == 1:
                cycle.extend(stack[stack.index(m):] + [n, m] if m in stack else [n, m])
                return True
            if state.get(m) is None and visit(m, stack + [n]):
                return True
        state[n] = 2
        return False

    assert not any(visit(n, []) for n in sorted(graph) if state.get(n) is None), " -> ".join(cycle)


def test_the_import_checker_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from engine.train.grpo import GRPOTrainer\n")
    assert "engine.train.grpo" in _imports(bad) and _layer("engine.train.grpo") == "train"
    assert LAYERS.index(_layer("engine.train.grpo")) > LAYERS.index(_layer("engine.verify.parse"))


def _example(cls: type[Event]) -> Event:
    """An instance of `cls` with every field set to a value that is not its default."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in ("t", "run"):
            continue
        kind = str(f.type)
        if "dict" in kind:
            values[f.name] = {"k": 1}
        elif kind.startswith("bool"):
            values[f.name] = True
        elif kind.startswith("int"):
            values[f.name] = 7
        elif kind.startswith("float"):
            values[f.name] = 0.25
        else:
            values[f.name] = f"{f.name}-value"
    return cls(t=123.5, run="r1", **values)


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_event_type_round_trips_through_json(type_name):
    event = _example(EVENT_TYPES[type_name])
    line = json.dumps(event.to_dict())
    assert parse_event(json.loads(line)) == event


# What the dashboard's state must hold after each event type (token and sample events are the
# solve screen's, which renders them directly).
SEEN_BY_STATE = {
    "run_started": lambda s, e: s.kind == e.kind and s.total_steps == e.total_steps and s.status == "running",
    "phase": lambda s, e: s.phase == e,
    "variant": lambda s, e: s.variants[e.id].integrand == e.integrand and s.variants[e.id].parent == e.parent,
    "rollout": lambda s, e: s.recent[-1] == e and s.rollout_count == 1,
    "step": lambda s, e: s.steps[-1] == e and s.step == e.step,
    "eval": lambda s, e: s.evals[-1] == e,
    "solved": lambda s, e: s.solved[-1] == e,
    "checkpoint": lambda s, e: s.checkpoints[-1] == e.path,
    "log": lambda s, e: s.logs[-1] == e,
    "error": lambda s, e: s.errors[-1] == e.message,
    "run_finished": lambda s, e: s.status == e.status,
    "token": lambda s, e: s.last_t == e.t,
    "sample": lambda s, e: s.last_t == e.t,
}


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_event_type_is_read_by_the_app_state(type_name):
    event = _example(EVENT_TYPES[type_name])
    state = RunState()
    state.apply_all([json.loads(json.dumps(event.to_dict()))])
    assert SEEN_BY_STATE[type_name](state, event), f"the app's state does not show {type_name} events"


def test_unknown_event_types_and_fields_are_ignored_by_readers():
    assert parse_event({"type": "from_the_future", "t": 1}) is None
    step = parse_event({"type": "step", "t": 1.0, "run": "r", "step": 3, "new_field": 1})
    assert step is not None and step.step == 3
