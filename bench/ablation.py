"""Ablation: does training on variant trees (LADDER) beat plain RL and a format-only control, and
does TTRL add to it? Built to run for real in the background, for hours or days, and to resume.

Arms, all with the same model, seed, training problems (engine/data/undergrad_train.jsonl),
hyper-parameters and wall-clock training budget (`--minutes`, default 60):
  base            the model as shipped (evaluation only)
  rl_no_variants  GRPO on the 15 training problems themselves (`ladder train --no-variants`)
  ladder          GRPO on variant trees of the same problems (`ladder train`)
  format_only     the control: LADDER's procedure, but the reward is the format reward alone
                  (0.05 for a tagged parseable answer, no verifier: [sample] reward = "format_only")
  ladder_ttrl     LADDER's final adapter + TTRL (`ladder ttrl`) on `--ttrl-limit` (default 20)
                  held-out problems LADDER still fails, each with the same budget (`--ttrl-minutes`);
                  reports the any-time solved share (the paper's figure) and greedy after TTRL
  ladder_symbolic (optional, not in the default list) LADDER with symbolic variants only

Held-out sets (`--eval-sets`, default the whole undergraduate test set, 215 problems, and the 39 MIT
Integration Bee 2023-2024 qualifiers): each arm's final adapter gets greedy accuracy and mean@K
(K = `--samples` 4 samples at temperature 1) per set, per difficulty, per technique (and per year
for the Bee), with Wilson 95 % intervals (a problem-level bootstrap interval for mean@K); every
pair of finished arms gets an exact McNemar test on greedy correctness and a paired bootstrap on
mean@K, pooled over the sets and per set. The headline numbers (`arms.<arm>.greedy_accuracy`,
`paired.<a>_vs_<b>.p_value`) pool every evaluated problem (`eval_set.n`).

Budget. The clock of a training arm runs while its engine process runs (loading the model and
building the variant tree included: the tree is part of LADDER's cost). Past the budget the
driver sends the engine `{"cmd": "stop"}` on stdin; the engine finishes its step, writes a
checkpoint and exits. Time spent is saved in `state/<arm>.progress.json` every few seconds, so an
arm interrupted (kill, reboot) resumes from its last checkpoint with the minutes it has left.
TTRL's clock per problem starts at the engine's `run_started` event (after the model is loaded).
Rerun with a larger `--minutes` and every trained arm trains on from its checkpoint to the new
budget, is evaluated again, and LADDER + TTRL is redone from the new LADDER adapter.

Outputs, rewritten after every finished arm (never a half-finished arm as done: an arm is `done`
only when it trained for its whole budget and every evaluation finished; the others say `not run`,
`partly trained` with the minutes spent, `waiting for the ladder arm`; `last_error` says why a
session left an arm unfinished):
  bench/results/ablation-<date>.json and .png (bench/plot_ablation.py)
  bench/results/adapters/ladder/ the LADDER arm's final adapter as bf16 safetensors (<= 40 MB),
                                 replaced, not accumulated
  bench/results/ablation-<date>/ each finished arm's record and evaluation reports, and each finished
                                 TTRL problem's record: a driver started on another machine (empty runs/)
                                 restores them and goes on with the rest
With `--commit` each finished arm's files, and each finished TTRL problem's, are committed at once
(only those paths).

Work folder `runs/ablation-<date>/` (give the same `--date` to resume):
  settings.json      what must stay equal across arms and sessions (checked on every start)
  sets/              the evaluated problems, the training problems, the curve subset
  config/*.toml      the one hyper-parameter file (+ the format-only and symbolic overrides)
  <arm>/             the engine's run directory (checkpoints: the driver keeps the newest two)
  <arm>.log          the engine's output
  state/<arm>.json   a finished arm; state/<arm>.progress.json its clock
  evals/             `ladder eval` reports, one per arm, step and set (cached)
  final/<arm>-step-N the final adapter (exact copy), used by the evaluations and by TTRL
  curves/<arm>/      adapter snapshots every `--curve-minutes` of training, evaluated greedily
                     on a fixed subset of the undergraduate set after training (the held-out curve)

Each training, TTRL problem and evaluation is its own `python -m engine.commands ...` process that
dies with the driver (PR_SET_PDEATHSIG). Stop the driver with `kill <pid>` (SIGTERM): it asks the
running engine to checkpoint first. Rerun the same command to go on.

    mkdir -p runs && nohup nice -n 10 .venv/bin/python bench/ablation.py --date 2026-12-01 --minutes 60 \
        --commit >> runs/ablation-2026-12-01.log 2>&1 &

(the same command again resumes; `--model qwen2.5-coder-1.5b` with another --date for the 1.5B model)
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, machine_info

from engine.inference.device import cpu_has_native_bf16
from engine.runs.events import read_events
from engine.runs.files import atomic_write, atomic_write_json

DATA = ROOT / "engine" / "data"
ARMS = ("base", "rl_no_variants", "ladder", "format_only", "ladder_ttrl")
OPTIONAL_ARMS = ("ladder_symbolic",)
ALL_ARMS = ARMS + OPTIONAL_ARMS
TRAINED = ("rl_no_variants", "ladder", "format_only", "ladder_symbolic")
DEFAULT_SETS = ("undergrad_test", "mit_bee_2023_2024")
ADAPTER_LIMIT_MB = 40.0
KEEP_CHECKPOINTS = 2
PYTHON = sys.executable
BOOTSTRAP_ITERATIONS = 10000
# Settings every arm and every session must share; --minutes may grow (an arm then trains on).
FIXED = ("model", "seed", "samples", "temperature", "max_tokens", "group_size", "prompts_per_step", "depth",
         "max_variants",
         "variant_source", "rollout_backend", "eval_sets", "eval_limit", "eval_backend", "ttrl_limit",
         "ttrl_minutes", "ttrl_steps", "curve_size", "max_steps")
# What decides the base arm's answers: an earlier ablation's base reports may stand in when these match.
BASE_KEYS = ("model", "seed", "samples", "temperature", "max_tokens", "eval_sets", "eval_limit", "eval_backend")


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%Y-%m-%d %H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Problem sets and the overlap check (pure)
# ---------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def spread(rows: Sequence[Any], limit: int | None) -> list[Any]:
    """`limit` items evenly spaced over `rows` (by position, so every technique and difficulty of a
    file sorted by them appears); all of them when `limit` is None or not smaller."""
    if limit is None or limit >= len(rows):
        return list(rows)
    if limit <= 0:
        return []
    return [rows[(i * len(rows)) // limit] for i in range(limit)]


def _canonical_key(text: str) -> Any | None:
    """The tree builder's canonical key of an integrand (None: it cannot be read, so cannot match)."""
    from engine.runs.config import VariantConfig
    from engine.variants import symbolic
    from engine.verify.parse import ParseError, parse_integrand

    try:
        return symbolic.key(symbolic.canonical(parse_integrand(text), VariantConfig().max_exponent))
    except (ParseError, symbolic.TooBig, ValueError, TypeError, RecursionError):
        return None


def overlap(tree_integrands: Iterable[str], problems: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Which evaluated `problems` appear in a training tree.

    `exact`: ids of problems whose canonical form (the tree builder's own) equals a tree node's;
    `near_nodes`: tree nodes the builder's filter calls equal to some problem up to a constant
    factor or a rewriting (2*sin(x)*cos(x) for sin(2*x)), which it would have refused. Both must be
    0 for the ablation to be clean."""
    from engine.runs.config import VariantConfig
    from engine.variants.filters import Registry
    from engine.verify.parse import ParseError, parse_integrand

    tree = [t for t in tree_integrands]
    node_keys = {k for k in map(_canonical_key, tree) if k is not None}
    exact = [p["id"] for p in problems if (k := _canonical_key(p["integrand"])) is not None and k in node_keys]
    registry = Registry(VariantConfig(), exclude=[p["integrand"] for p in problems])
    near = 0
    for text in tree:
        try:
            outcome, _ = registry.screen(parse_integrand(text))
        except (ParseError, ValueError, TypeError, RecursionError):
            continue
        near += outcome == "excluded"
    return {"tree_size": len(tree), "exact": exact, "exact_count": len(exact), "near_nodes": near}


# ---------------------------------------------------------------------------------------------
# Statistics and the result JSON (pure; tests/test_ablation.py)
# ---------------------------------------------------------------------------------------------


def _mean_k(row: dict[str, Any]) -> float | None:
    oks = row.get("sample_ok") or []
    return sum(bool(o) for o in oks) / len(oks) if oks else None


def _interval(lo_hi: tuple[float, float]) -> list[float]:
    return [round(lo_hi[0], 4), round(lo_hi[1], 4)]


def score_rows(rows: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """Greedy accuracy with its Wilson interval, and mean@k with a problem-level bootstrap interval
    (None when the rows carry no samples), for per-problem eval rows."""
    from engine.evaluation.stats import bootstrap_mean_interval, wilson_interval

    n = len(rows)
    right = sum(bool(r["greedy_ok"]) for r in rows)
    out: dict[str, Any] = {"n": n, "greedy_correct": right, "greedy_accuracy": right / n if n else None,
                           "greedy_interval": _interval(wilson_interval(right, n))}
    means = [_mean_k(r) for r in rows]
    if n and all(m is not None for m in means):
        out[f"mean@{k}"] = sum(means) / n
        out[f"mean@{k}_interval"] = _interval(bootstrap_mean_interval(means, iterations=BOOTSTRAP_ITERATIONS))
    else:
        out[f"mean@{k}"] = None
        out[f"mean@{k}_interval"] = None
    return out


GROUP_KEYS = ("difficulty", "technique", "year")


def score_set(report_rows: Sequence[dict[str, Any]], problems: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """One arm on one set: the totals, per difficulty / technique / year (whichever the problem file
    has), and the per-problem outcomes in the set's order (greedy as a 0/1 string, samples right)."""
    by_id = {r["id"]: r for r in report_rows}
    rows = []
    for p in problems:
        r = by_id.get(p["id"])
        if r is not None:
            rows.append({**{g: p.get(g) for g in GROUP_KEYS}, **r})
    out = score_rows(rows, k)
    for g in GROUP_KEYS:
        if not any(p.get(g) is not None for p in problems):
            continue
        values = sorted({r[g] for r in rows}, key=lambda v: (v is None, isinstance(v, str), v if v is not None else 0))
        out[f"by_{g}"] = {str(v): score_rows([r for r in rows if r[g] == v], k) for v in values}
    out["outcomes"] = {
        "ids": [r["id"] for r in rows],
        "greedy": "".join("1" if r["greedy_ok"] else "0" for r in rows),
        "samples_right": [sum(bool(o) for o in (r.get("sample_ok") or [])) for r in rows],
    }
    return out


def paired_arms(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """McNemar on greedy and the paired bootstrap on mean@k for rows of the same problems in order."""
    from engine.evaluation.stats import mcnemar, paired_bootstrap

    n = len(a)
    if n == 0:
        return {"n": 0, "p_value": None, "greedy": None, f"mean@{k}": None}
    ga, gb = [bool(r["greedy_ok"]) for r in a], [bool(r["greedy_ok"]) for r in b]
    m = mcnemar(ga, gb)
    out: dict[str, Any] = {
        "n": n, "p_value": m.p_value,
        "greedy": {"a_right_b_wrong": m.b10, "a_wrong_b_right": m.b01, "diff": (sum(ga) - sum(gb)) / n,
                   "p_value": m.p_value, "test": "exact McNemar (two-sided binomial on the discordant pairs)"},
        f"mean@{k}": None,
    }
    ma, mb = [_mean_k(r) for r in a], [_mean_k(r) for r in b]
    if all(v is not None for v in ma + mb):
        bs = paired_bootstrap(ma, mb, iterations=BOOTSTRAP_ITERATIONS)
        out[f"mean@{k}"] = {"diff": bs.diff, "interval": [round(bs.low, 4), round(bs.high, 4)],
                            "p_value": bs.p_value, "test": f"paired bootstrap over problems ({bs.iterations} resamples)"}
    return out


def build_result(
    arms: dict[str, dict[str, Any]],
    sets: dict[str, list[dict[str, Any]]],
    *,
    k: int,
    order: Sequence[str] = ALL_ARMS,
) -> dict[str, Any]:
    """The ablation's result (everything but the run's metadata) from per-arm eval reports.

    `arms[name]`: `status` ("done", or why not), for a done arm `reports` {set name: a `ladder
    eval` report, or any dict with per-problem `problems` rows holding `id`, `greedy_ok` and
    `sample_ok`}, and any other keys, which are copied into the arm's entry. `sets`: the evaluated
    problems of each set, in order. Every arm in `arms` gets an entry (unfinished ones with their
    status and null scores) and every pair of them a `paired.<a>_vs_<b>` entry (in `order`)."""
    names = sorted(arms, key=lambda a: (order.index(a) if a in order else len(order), a))
    out_arms: dict[str, Any] = {}
    pooled_rows: dict[str, list[dict[str, Any]]] = {}
    keyed: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for name in names:
        arm = arms[name]
        extras = {key: v for key, v in arm.items() if key not in ("status", "reports")}
        if arm.get("status") != "done":
            out_arms[name] = {"status": arm.get("status") or "not run", "greedy_accuracy": None,
                              f"mean@{k}": None, **extras}
            continue
        by_set, rows_all, index = {}, [], {}
        for set_name, problems in sets.items():
            report = arm["reports"].get(set_name)
            if report is None:
                continue
            by_set[set_name] = score_set(report["problems"], problems, k)
            by_id = {r["id"]: r for r in report["problems"]}
            for p in problems:
                if p["id"] in by_id:
                    rows_all.append(by_id[p["id"]])
                    index[(set_name, p["id"])] = by_id[p["id"]]
        pooled_rows[name], keyed[name] = rows_all, index
        out_arms[name] = {"status": "done", **score_rows(rows_all, k), "by_set": by_set, **extras}

    paired: dict[str, Any] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            key = f"{a}_vs_{b}"
            if a not in keyed or b not in keyed:
                missing = [x for x in (a, b) if x not in keyed]
                paired[key] = {"status": f"not run ({', '.join(missing)} unfinished)", "p_value": None}
                continue
            common = [key_ for key_ in keyed[a] if key_ in keyed[b]]
            entry = {"status": "done", **paired_arms([keyed[a][c] for c in common], [keyed[b][c] for c in common], k)}
            entry["by_set"] = {}
            for set_name in sets:
                c_set = [c for c in common if c[0] == set_name]
                if c_set:
                    entry["by_set"][set_name] = paired_arms([keyed[a][c] for c in c_set], [keyed[b][c] for c in c_set], k)
            paired[key] = entry

    return {
        "eval_set": {
            "n": sum(len(p) for p in sets.values()),
            "headline": "arms.<arm>.greedy_accuracy and paired.<a>_vs_<b>.p_value pool every problem of every set; "
                        "by_set has each set alone",
            "sets": {s: {"n": len(p), "ids": [r["id"] for r in p]} for s, p in sets.items()},
        },
        "arms": out_arms,
        "paired": paired,
    }


def ttrl_rows(ladder_report: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """LADDER + TTRL as eval rows: LADDER's greedy outcome, replaced by the greedy outcome after TTRL
    on the problems TTRL worked on (problems LADDER failed and TTRL did not try stay failed, so the
    arm's accuracy is a lower bound). No samples: mean@k is not measured for this arm."""
    after = {r["id"]: bool(r.get("greedy_ok")) for r in records}
    return [{"id": r["id"], "greedy_ok": after.get(r["id"], bool(r["greedy_ok"])), "sample_ok": []}
            for r in ladder_report["problems"]]


def curve_point(rows: Sequence[dict[str, Any]], curve_ids: Sequence[str]) -> dict[str, Any]:
    """Greedy answers right on the curve subset, in all and per difficulty ({difficulty: [right, n]})."""
    by_id = {r["id"]: r for r in rows}
    got = [by_id[i] for i in curve_ids if i in by_id]
    by_difficulty: dict[str, list[int]] = {}
    for r in got:
        cell = by_difficulty.setdefault(str(r.get("difficulty")), [0, 0])
        cell[0] += bool(r["greedy_ok"])
        cell[1] += 1
    return {"greedy_correct": sum(bool(r["greedy_ok"]) for r in got), "n": len(got),
            "by_difficulty": dict(sorted(by_difficulty.items()))}


def held_out_curve(arm: dict[str, Any], base: dict[str, Any] | None, curve_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Greedy accuracy on the curve subset against training minutes: the base model at minute 0
    (from its full evaluation, when the base arm is done), the snapshots taken during training, and
    the final adapter (from its full evaluation)."""
    def rows(reports: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for rep in reports.values() for r in rep["problems"]]

    points = []
    if base is not None and base.get("status") == "done":
        points.append({"step": 0, "minute": 0.0, **curve_point(rows(base["reports"]), curve_ids)})
    points += arm.get("curve_snapshots", [])
    points.append({"step": arm.get("final_step"), "minute": arm.get("train_minutes"),
                   **curve_point(rows(arm["reports"]), curve_ids)})
    for p in points:
        p["greedy_accuracy"] = p["greedy_correct"] / p["n"] if p["n"] else None
    return points


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# ---------------------------------------------------------------------------------------------
# Training records (what a run's events say)
# ---------------------------------------------------------------------------------------------


def _bin(points: list[dict[str, Any]], limit: int = 400) -> list[dict[str, Any]]:
    """At most `limit` points: consecutive steps averaged (a days-long GPU run has thousands)."""
    if len(points) <= limit:
        return points
    size = -(-len(points) // limit)
    out = []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        avg = {"step": chunk[-1]["step"]}
        for key in chunk[0]:
            if key == "step":
                continue
            vals = [c[key] for c in chunk if isinstance(c.get(key), (int, float))]
            avg[key] = round(sum(vals) / len(vals), 5) if vals else None
        out.append(avg)
    return out


def training_record(run_dir: Path, sessions: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Per step (the last occurrence of a step redone after a kill wins): training minutes on the
    budget clock, reward mean, share of verified answers, seconds, groups skipped; how long the
    tree took, how many variants it has."""
    path = run_dir / "events.jsonl"
    if not path.exists():
        return {"steps_done": 0}
    events = list(read_events(path))

    def minutes(t: float) -> float | None:
        session = None
        for s in sessions:
            if s["started"] <= t:
                session = s
        if session is None:
            return None
        return round((session["spent_before"] + t - session["clock_start"]) / 60, 3)

    steps: dict[int, dict[str, Any]] = {}
    for e in events:
        if e.get("type") == "step" and e.get("problem") is None:
            steps[int(e["step"])] = {"step": int(e["step"]), "minute": minutes(e["t"]),
                                     "reward_mean": e.get("reward_mean"), "accuracy": e.get("accuracy"),
                                     "seconds": e.get("seconds"), "skipped": e.get("skipped"),
                                     "verified_trained": e.get("verified_trained"),
                                     "signal_groups": e.get("signal_groups"), "drawn": e.get("drawn")}
    ordered = [steps[s] for s in sorted(steps)]
    dtypes = sorted({e["dtype"] for e in events if e.get("type") == "run_started" and e.get("dtype")})
    first_step_t = min((e["t"] for e in events if e.get("type") == "step"), default=None)
    variant_t = [e["t"] for e in events if e.get("type") == "variant" and (first_step_t is None or e["t"] < first_step_t)]
    tree_s = round(variant_t[-1] - events[0]["t"], 1) if variant_t and events else 0.0
    tree = run_dir / "tree.jsonl"
    acc = [p["accuracy"] for p in ordered if isinstance(p["accuracy"], (int, float))]
    drawn = sum(p["drawn"] or 0 for p in ordered)
    return {
        "verified_trained": sum(p["verified_trained"] or 0 for p in ordered),
        "correctness_signal_share": round(sum(p["signal_groups"] or 0 for p in ordered) / drawn, 4) if drawn else None,
        "steps_done": len(ordered), "tree_size": len(read_jsonl(tree)) if tree.exists() else 0,
        "train_dtypes": dtypes,
        "tree_seconds": tree_s,
        "steps_with_verified_answer": sum(a > 0 for a in acc),
        "reward_mean": round(sum(p["reward_mean"] or 0 for p in ordered) / len(ordered), 4) if ordered else None,
        "per_step": _bin(ordered),
    }


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


class Interrupted(Exception):
    """The driver got SIGTERM/SIGINT: it stopped the running engine cleanly and exits."""


class ArmFailed(Exception):
    pass


STOP_REQUESTED = False


def _on_signal(signum: int, frame: Any) -> None:
    global STOP_REQUESTED
    STOP_REQUESTED = True
    log(f"signal {signum}: stopping after the running engine has checkpointed")


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the driver dies, so no orphan trains on (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def ladder_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "engine.commands", *args]


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_engine(cmd: list[str], *, log_path: Path, events_path: Path, budget_s: float, progress: dict[str, Any],
               save: Callable[[], None], clock: str = "process", on_poll: Callable[[float], None] | None = None,
               poll_s: float = 5.0) -> tuple[int, bool]:
    """Run `ladder engine CMD…`, keeping `progress["spent_s"]` (the budget clock, across sessions)
    up to date; past `budget_s` ask it to stop (it checkpoints first). `clock`: "process" (from the
    process start) or "run_started" (from the engine's run_started event, i.e. after loading).
    Returns (exit code, whether the budget stopped it)."""
    spent_before = float(progress.get("spent_s", 0.0))
    started = time.time()
    session = {"started": started, "spent_before": spent_before, "clock_start": started if clock == "process" else None}
    progress.setdefault("sessions", []).append(session)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    capped = interrupted = False
    with open(log_path, "a") as out:
        out.write(f"\n=== {dt.datetime.now().isoformat(timespec='seconds')} {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(ladder_cmd("engine", *cmd), stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509 - the driver has no threads

        def stop() -> None:
            try:
                proc.stdin.write('{"cmd": "stop"}\n')
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

        while proc.poll() is None:
            time.sleep(poll_s)
            if session["clock_start"] is None and events_path.exists():
                session["clock_start"] = next((e["t"] for e in read_events(events_path)
                                               if e.get("type") == "run_started" and e["t"] >= started - 1), None)
            if session["clock_start"] is not None:
                progress["spent_s"] = spent_before + time.time() - session["clock_start"]
            save()
            if on_poll is not None:
                on_poll(progress["spent_s"] if session["clock_start"] is not None else spent_before)
            if not capped and progress.get("spent_s", 0.0) >= budget_s:
                log(f"  budget of {budget_s / 60:.1f} min reached: asking the engine to stop (it checkpoints first)")
                stop()
                capped = True
            if STOP_REQUESTED and not interrupted:
                stop()
                interrupted = True
        if session["clock_start"] is not None:
            progress["spent_s"] = spent_before + time.time() - session["clock_start"]
        save()
    if interrupted:
        raise Interrupted
    return proc.returncode, capped


def run_plain(cmd: list[str], log_path: Path) -> None:
    """A `ladder …` command that is not stopped by a budget (evaluations); killed on SIGTERM."""
    with open(log_path, "a") as out:
        out.write(f"\n=== {dt.datetime.now().isoformat(timespec='seconds')} {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(ladder_cmd(*cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                cwd=ROOT, preexec_fn=_die_with_parent)  # noqa: PLW1509 - the driver has no threads
        while proc.poll() is None:
            if STOP_REQUESTED:
                proc.terminate()
                proc.wait()
                raise Interrupted
            time.sleep(2)
    if proc.returncode != 0:
        raise ArmFailed(f"`ladder {' '.join(cmd[:1])}` failed (code {proc.returncode}); see {log_path}:\n{_tail(log_path)}")


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints (a manifest is written last, then the folder renamed), by step."""
    folder = run_dir / "checkpoints"
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith("step-") and p.name[5:].isdigit() and (p / "manifest.json").exists():
                found.append((int(p.name[5:]), p))
    return sorted(found)


def prune_checkpoints(run_dir: Path, keep: int = KEEP_CHECKPOINTS) -> None:
    """Delete all but the newest `keep` complete checkpoints (each is adapter + optimizer; a long
    run writes one per step). Resume only ever reads the newest."""
    for _step, path in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def copy_dir(src: Path, dst: Path) -> Path:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    return dst


def export_adapter(src: Path, dest: Path, meta: dict[str, Any], limit_mb: float = ADAPTER_LIMIT_MB) -> dict[str, Any]:
    """Write the peft adapter in `src` to `dest` as bf16 safetensors with its config and a meta.json,
    replacing what `dest` held. Refused (and `dest` left as it was) above `limit_mb`."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(src / "adapter_model.safetensors"))
    tensors = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = tmp / "adapter_model.safetensors"
    save_file(tensors, str(weights), metadata={"format": "pt"})
    size = weights.stat().st_size
    if size > limit_mb * 2**20:
        shutil.rmtree(tmp)
        return {"exported": False, "reason": f"{size / 2**20:.1f} MB in bf16 is over the {limit_mb:.0f} MB limit"}
    config = json.loads((src / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = meta.get("model", config.get("base_model_name_or_path"))
    atomic_write_json(tmp / "adapter_config.json", config)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    info = {**meta, "dtype": "bfloat16", "bytes": size, "sha256": digest, "tensors": len(tensors),
            "use": f"ladder eval --model {meta.get('model')} --adapter {_in_repo(dest)} "
                   "--problems FILE.jsonl"}
    atomic_write_json(tmp / "meta.json", info)
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return {"exported": True, "path": str(dest), "bytes": size, "sha256": digest}


def repo_root(path: Path) -> Path | None:
    """The git work tree holding `path`: the results may live in another checkout than the code."""
    folder = path if path.is_dir() else path.parent
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, check=False)
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 else None


def _in_repo(path: Path) -> Path:
    """`path` relative to the work tree holding it (for commands printed in committed files)."""
    repo = repo_root(path if path.exists() else path.parent)
    return path.resolve().relative_to(repo) if repo and path.resolve().is_relative_to(repo) else path


def config_tables(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The training configs every arm shares ("shared"), the control's ("format_only") and the
    symbolic-variants one, from the driver's settings (its arguments, or a settings.json)."""
    grpo: dict[str, Any] = {"group_size": settings["group_size"], "prompts_per_step": settings["prompts_per_step"],
                            "seed": settings["seed"], "eval_every": 0}
    if settings.get("rollout_backend"):
        grpo["rollout_backend"] = settings["rollout_backend"]
    variants: dict[str, Any] = {"depth": settings["depth"], "max_variants": settings["max_variants"]}
    if settings.get("variant_source"):
        variants["source"] = settings["variant_source"]
    shared = {"grpo": grpo, "sample": {"max_tokens": settings["max_tokens"]}, "variants": variants,
              "eval": {"samples": 0}}
    fmt = json.loads(json.dumps(shared))
    fmt["sample"]["reward"] = "format_only"
    sym = json.loads(json.dumps(shared))
    sym["variants"]["source"] = "symbolic"
    return {"shared": shared, "format_only": fmt, "symbolic": sym}


def code_version() -> str:
    """The commit of the code this driver (and every engine it starts) runs, '+dirty' when engine/ or
    bench/ablation.py differ from it: arms trained by different code are not one experiment."""
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "engine", "bench/ablation.py") else "")


def git_commit(paths: Sequence[Path], message: str, repo: Path = ROOT, tries: int = 30) -> bool:
    """`git add` then `git commit -- PATHS` in `repo` (only these paths, whatever else is staged),
    retried while another process holds index.lock."""
    rel = [str(p.resolve().relative_to(repo)) for p in paths if p.exists()]
    for attempt in range(tries):
        add = subprocess.run(["git", "add", "--", *rel], cwd=repo, capture_output=True, text=True, check=False)
        if add.returncode == 0:
            commit = subprocess.run(["git", "commit", "-m", message, "--", *rel], cwd=repo, capture_output=True, text=True,
                                    check=False)
            said = commit.stdout + commit.stderr
            if commit.returncode == 0:
                log(f"  committed: {message.splitlines()[0]}")
                return True
            if "nothing to commit" in said or "no changes added" in said:
                return True
        else:
            said = add.stdout + add.stderr
        if "index.lock" not in said:
            log(f"  git commit failed: {said.strip()[-400:]}")
            return False
        time.sleep(2 + attempt)
    log("  git commit gave up: index.lock stayed")
    return False


# ---------------------------------------------------------------------------------------------
# The ablation
# ---------------------------------------------------------------------------------------------


class Ablation:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work or ROOT / "runs" / f"ablation-{args.date}").resolve()
        self.results = Path(args.results).resolve()
        self.state = self.work / "state"
        self.evals = self.work / "evals"
        self.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        unknown = [a for a in self.arms if a not in ALL_ARMS]
        if unknown:
            raise SystemExit(f"unknown arm(s) {', '.join(unknown)}; arms: {', '.join(ALL_ARMS)}")
        self.arms = sorted(set(self.arms), key=ALL_ARMS.index)  # ladder_ttrl needs ladder first
        self.set_names = [s.strip() for s in args.eval_sets.split(",") if s.strip()]
        self.name = f"ablation-{args.date}"
        self.budget_s = 60.0 * args.minutes

    # -- setup ----------------------------------------------------------------------------------

    def set_file(self, name: str) -> Path:
        path = Path(name)
        return path if path.suffix == ".jsonl" else DATA / f"{name}.jsonl"

    def prepare(self) -> None:
        for d in (self.work, self.state, self.evals, self.work / "sets", self.work / "config"):
            d.mkdir(parents=True, exist_ok=True)
        self.restore()
        self.check_settings()
        self.full_sets = {Path(n).stem: read_jsonl(self.set_file(n)) for n in self.set_names}
        self.sets = {s: spread(rows, self.args.eval_limit) for s, rows in self.full_sets.items()}
        for s, rows in self.sets.items():
            write_jsonl(self.work / "sets" / f"{s}.jsonl", rows)
        # Every problem of every named set, limited or not, is kept out of the training trees.
        self.all_eval = write_jsonl(self.work / "sets" / "all_eval.jsonl",
                                    [r for rows in self.full_sets.values() for r in rows])
        self.train = write_jsonl(self.work / "sets" / "train.jsonl", read_jsonl(Path(self.args.train_problems)))
        first = next(iter(self.sets.values()))
        self.curve_rows = spread(first, self.args.curve_size)
        self.curve = write_jsonl(self.work / "sets" / "curve.jsonl", self.curve_rows)
        self.configs = self.write_configs()

    def check_settings(self) -> None:
        path = self.work / "settings.json"
        mine = {key: getattr(self.args, key) for key in FIXED}
        mine["train_problems"] = _shown(Path(self.args.train_problems))
        mine["code"] = code_version()
        old = json.loads(path.read_text()) if path.exists() else {}
        changed = {key: (old[key], v) for key, v in mine.items() if key in old and old[key] != v}
        if changed and not self.args.allow_changed_settings:
            lines = "; ".join(f"{key}: {a!r} before, {b!r} now" for key, (a, b) in changed.items())
            hint = (f" Run this driver from a checkout of that commit (git worktree add ../ablation-code "
                    f"{old['code'].split('+')[0]}) with --work {self.work} --results {self.results}."
                    if "code" in changed else "")
            raise SystemExit(f"{self.work} was started with other settings ({lines}); every arm must share them."
                             f"{hint} Or use another --date, or --allow-changed-settings if you mean it.")
        if any(key not in old for key in mine):  # a new file, or one written before a key existed
            atomic_write_json(path, {**mine, **old})

    def write_configs(self) -> dict[str, Path]:
        import tomli_w

        out = {}
        for name, table in config_tables(vars(self.args)).items():
            out[name] = self.work / "config" / f"{name}.toml"
            atomic_write(out[name], tomli_w.dumps(table))
        return out

    # -- across machines ------------------------------------------------------------------------
    # runs/ lives on one machine; the arms of one ablation may finish on several. Each finished arm's
    # record and evaluation reports are copied to bench/results/<name>/ and committed with the result,
    # and a driver started on an empty work folder brings them back, so no finished arm is redone.

    @property
    def archive(self) -> Path:
        return self.results / self.name

    def archive_file(self, src: Path) -> Path:
        """Copy one file of the work folder to the same place in the archive; returns the copy."""
        dest = self.archive / src.relative_to(self.work)
        atomic_write(dest, src.read_text())
        return dest

    def archive_arm(self, arm: str) -> Path:
        """Copy the finished arm's record, its reports and the shared settings into the archive."""
        rec = json.loads((self.state / f"{arm}.json").read_text())
        for src in (self.work / "settings.json", self.state / f"{arm}.json",
                    *(self.work / p for p in rec["reports"].values())):
            self.archive_file(src)
        return self.archive

    def restore(self) -> None:
        """Bring back the archived arms that this work folder lacks (local state always wins)."""
        settings = self.archive / "settings.json"
        if settings.exists() and not (self.work / "settings.json").exists():
            atomic_write(self.work / "settings.json", settings.read_text())
        for saved in sorted((self.archive / "state").glob("*.json")):
            local = self.state / saved.name
            if local.exists():
                continue
            rec = json.loads(saved.read_text())
            for p in rec["reports"].values():
                if not (self.work / p).exists():
                    atomic_write(self.work / p, (self.archive / p).read_text())
            exported = self.results / "adapters" / saved.stem
            if rec.get("final_adapter") and not (self.work / rec["final_adapter"]).exists() and exported.exists():
                # The exact final adapter stayed on the old machine; its committed bf16 copy stands in
                # (TTRL starts from it).
                copy_dir(exported, self.work / rec["final_adapter"])
            atomic_write(local, saved.read_text())
            log(f"{saved.stem}: finished on an earlier machine; restored from {_shown(self.archive)}")
        for saved in sorted((self.archive / "ladder_ttrl").rglob("*.json")):
            local = self.work / saved.relative_to(self.archive)
            if not local.exists():  # a TTRL problem finished on an earlier machine
                atomic_write(local, saved.read_text())

    # -- state ----------------------------------------------------------------------------------

    def progress_path(self, arm: str) -> Path:
        return self.state / f"{arm}.progress.json"

    def load_progress(self, arm: str) -> dict[str, Any]:
        path = self.progress_path(arm)
        return json.loads(path.read_text()) if path.exists() else {"spent_s": 0.0, "sessions": [], "snapshots": []}

    def done(self, arm: str) -> dict[str, Any] | None:
        """The arm's finished record if it is finished for the current budget."""
        path = self.state / f"{arm}.json"
        if not path.exists():
            return None
        rec = json.loads(path.read_text())
        if arm in TRAINED and rec.get("budget_minutes", 0) + 1e-9 < self.args.minutes:
            return None  # --minutes grew: it trains on from its checkpoint
        if arm == "ladder_ttrl":
            ladder = self.done("ladder")
            if ladder is None or ladder.get("final_step") != rec.get("ladder_step"):
                return None  # LADDER trained on since: TTRL starts from the new adapter
        return rec

    # -- evaluation -----------------------------------------------------------------------------

    def evaluate(self, tag: str, set_name: str, problems: Path, n: int, adapter: Path | None, samples: int,
                 log_path: Path) -> dict[str, Any]:
        """`ladder eval` in its own process, cached in evals/<tag>.<set>.json."""
        out = self.evals / f"{tag}.{set_name}.json"
        if out.exists():
            report = json.loads(out.read_text())
            if report.get("n_problems") == n and report.get("k") == samples:
                return report
        a = self.args
        cmd = ["eval", "--model", a.model, "--backend", a.eval_backend, "--problems", str(problems),
               "--samples", str(samples), "--temperature", str(a.temperature), "--max-tokens", str(a.max_tokens),
               "--seed", str(a.seed), "--device", a.device, "--json", "--out", str(out)]
        if adapter is not None:
            cmd += ["--adapter", str(adapter)]
        t0 = time.time()
        log(f"  eval {tag} on {set_name} ({n} problems, greedy + {samples} samples)")
        run_plain(cmd, log_path)
        report = json.loads(out.read_text())
        log(f"  eval {tag} on {set_name}: greedy {report['greedy_accuracy']:.3f} in {time.time() - t0:.0f} s")
        return report

    def evaluate_all(self, tag: str, adapter: Path | None, log_path: Path) -> dict[str, str]:
        paths = {}
        for s, rows in self.sets.items():
            self.evaluate(tag, s, self.work / "sets" / f"{s}.jsonl", len(rows), adapter, self.args.samples, log_path)
            paths[s] = str((self.evals / f"{tag}.{s}.json").relative_to(self.work))
        return paths

    # -- arms -----------------------------------------------------------------------------------

    def adopt_base(self, name: str) -> dict[str, Any]:
        """Copy the base arm's reports of the earlier ablation `name` (archived under --results) into
        this one's evals/, after checking that it evaluated the same way; returns where they came from.
        The base model does not change with our code and its llama.cpp answers are seeded (the base
        arms of 2026-11-30 and 2026-12-01 agreed problem by problem), so rerunning it buys nothing."""
        source = self.results / name
        settings_path = source / "settings.json"
        if not settings_path.exists():
            raise SystemExit(f"--base-from {name}: {_shown(settings_path)} does not exist")
        theirs = json.loads(settings_path.read_text())
        differ = [f"{key}: {theirs.get(key)!r} there, {getattr(self.args, key)!r} here"
                  for key in BASE_KEYS if theirs.get(key) != getattr(self.args, key)]
        if differ:
            raise SystemExit(f"--base-from {name} evaluated otherwise ({'; '.join(differ)})")
        rec = json.loads((source / "state" / "base.json").read_text())
        for path in rec["reports"].values():
            if not (self.work / path).exists():
                atomic_write(self.work / path, (source / path).read_text())
        return {"ablation": name, "code": theirs.get("code"), "finished_at": rec.get("finished_at")}

    def run_base(self) -> dict[str, Any]:
        reused = self.adopt_base(self.args.base_from) if self.args.base_from else None
        reports = self.evaluate_all("base", None, self.work / "base.log")
        rec = {"status": "done", "reports": reports, "settings": {"samples": self.args.samples}}
        return {**rec, "reused_from": reused} if reused else rec

    def train_command(self, arm: str, run_dir: Path) -> list[str]:
        if (run_dir / "train.json").exists():
            return ["train", "--resume", str(run_dir)]
        if run_dir.exists():
            shutil.rmtree(run_dir)  # made by a session killed before the run was set up
        config = {"format_only": "format_only", "ladder_symbolic": "symbolic"}.get(arm, "shared")
        a = self.args
        cmd = ["train", "--problems", str(self.train), "--model", a.model, "--steps", str(a.max_steps),
               "--out", str(run_dir), "--seed", str(a.seed), "--device", a.device,
               "--config", str(self.configs[config]), "--eval-problems", str(self.all_eval)]
        return cmd + (["--no-variants"] if arm == "rl_no_variants" else [])

    def run_trained(self, arm: str) -> dict[str, Any]:
        run_dir = self.work / arm
        progress = self.load_progress(arm)
        save = lambda: atomic_write_json(self.progress_path(arm), progress)
        curve_s = 60.0 * self.args.curve_minutes
        snapshots = progress.setdefault("snapshots", [])

        def on_poll(spent: float) -> None:
            # The machine is shared: the load the arm trained under is part of its record.
            load = progress.setdefault("load_1min", {"sum": 0.0, "n": 0})
            load["sum"] += os.getloadavg()[0]
            load["n"] += 1
            last = snapshots[-1]["spent_s"] if snapshots else 0.0
            cps = checkpoints(run_dir)
            if curve_s > 0 and cps and spent - last >= curve_s and spent < self.budget_s:
                step, folder = cps[-1]
                if not any(s["step"] == step for s in snapshots):
                    copy_dir(folder / "adapter", self.work / "curves" / arm / f"step-{step}")
                    snapshots.append({"step": step, "spent_s": round(spent, 1)})
                    save()
            prune_checkpoints(run_dir)

        left = self.budget_s - progress.get("spent_s", 0.0)
        if left > 30:
            cmd = self.train_command(arm, run_dir)
            log(f"{arm}: {progress.get('spent_s', 0) / 60:.1f} of {self.args.minutes:g} min spent; {' '.join(cmd[:3])}…")
            code, capped = run_engine(cmd, log_path=self.work / f"{arm}.log", events_path=run_dir / "events.jsonl",
                                      budget_s=self.budget_s, progress=progress, save=save, on_poll=on_poll)
            prune_checkpoints(run_dir)
            if code != 0:
                raise ArmFailed(f"`ladder train` exited with code {code}; see {self.work / f'{arm}.log'}:\n"
                                f"{_tail(self.work / f'{arm}.log')}")
            if not capped:
                finished = [e for e in read_events(run_dir / "events.jsonl") if e.get("type") == "run_finished"]
                status = finished[-1].get("status") if finished else None
                if status != "done":
                    raise ArmFailed(f"the engine stopped at {progress['spent_s'] / 60:.1f} min, before the budget "
                                    f"(status {status!r}); rerun to go on")
                log(f"{arm}: reached --max-steps {self.args.max_steps} before the budget")
        cps = checkpoints(run_dir)
        if not cps:
            raise ArmFailed(f"{run_dir} has no checkpoint: the budget ran out before the first GRPO step (building "
                            f"the variant tree took it?); raise --minutes, or use --variant-source symbolic")
        step, folder = cps[-1]
        final = self.work / "final" / f"{arm}-step-{step}"
        if not final.exists():
            copy_dir(folder / "adapter", final)
        log(f"{arm}: trained {progress['spent_s'] / 60:.1f} min, {step} steps; evaluating")
        reports = self.evaluate_all(f"{arm}@step-{step}", final, self.work / f"{arm}.log")
        curve = []
        for snap in snapshots:
            if snap["step"] >= step:
                continue
            adapter = self.work / "curves" / arm / f"step-{snap['step']}"
            rep = self.evaluate(f"curve-{arm}@step-{snap['step']}", "curve", self.curve, len(self.curve_rows),
                                adapter, 0, self.work / f"{arm}.log")
            curve.append({"step": snap["step"], "minute": round(snap["spent_s"] / 60, 2),
                          **curve_point(rep["problems"], [r["id"] for r in self.curve_rows])})
        sessions = [s for s in progress.get("sessions", []) if s.get("clock_start") is not None]
        tree = read_jsonl(run_dir / "tree.jsonl") if (run_dir / "tree.jsonl").exists() else []
        return {
            "status": "done", "reports": reports, "final_step": step, "final_adapter": str(final.relative_to(self.work)),
            "budget_minutes": self.args.minutes, "train_minutes": round(progress["spent_s"] / 60, 2),
            "sessions": len(progress.get("sessions", [])),
            "load_1min_mean": round(load["sum"] / load["n"], 2) if (load := progress.get("load_1min")) and load["n"] else None,
            "training": training_record(run_dir, sessions),
            "curve_snapshots": curve,
            "overlap": overlap([n["integrand"] for n in tree], [r for rows in self.full_sets.values() for r in rows]),
            "command": self.train_command(arm, run_dir) if (run_dir / "train.json").exists() else None,
            "config": (self.work / "config" / (
                {"format_only": "format_only", "ladder_symbolic": "symbolic"}.get(arm, "shared") + ".toml")).read_text(),
        }

    def run_ttrl(self) -> dict[str, Any]:
        ladder = self.done("ladder")
        if ladder is None:
            raise ArmFailed("waiting: the ladder arm has not finished")
        step = ladder["final_step"]
        adapter = self.work / ladder["final_adapter"]
        reports = {s: json.loads((self.work / p).read_text()) for s, p in ladder["reports"].items()}
        failed = [(s, r["id"]) for s in self.sets for r in reports[s]["problems"]
                  if not r["greedy_ok"] and r.get("lower") is None]  # TTRL works on indefinite integrals
        chosen = spread(failed, self.args.ttrl_limit)
        rows = {(s, r["id"]): r for s, rs in self.sets.items() for r in rs}
        root = self.work / "ladder_ttrl" / f"from-step-{step}"
        budget = 60.0 * self.args.ttrl_minutes
        log(f"ladder_ttrl: {len(chosen)} of the {len(failed)} indefinite problems LADDER fails, "
            f"{self.args.ttrl_minutes:g} min each, from the LADDER adapter at step {step}")
        records = []
        for i, key in enumerate(chosen, 1):
            set_name, pid = key
            pdir = root / pid
            done_file = pdir / "ttrl.json"
            if done_file.exists() and json.loads(done_file.read_text()):
                budget_file = root / f"{pid}.budget.json"
                extra = json.loads(budget_file.read_text()) if budget_file.exists() else {}
                records.append({**json.loads(done_file.read_text())[0], "set": set_name, **extra})
                continue
            shutil.rmtree(pdir, ignore_errors=True)  # a problem cut short starts over (TTRL rolls back anyway)
            problem_file = write_jsonl(root / f"{pid}.jsonl", [rows[key]])
            progress: dict[str, Any] = {"spent_s": 0.0, "sessions": []}
            cmd = ["ttrl", "--problems", str(problem_file), "--model", self.args.model, "--adapter", str(adapter),
                   "--steps", str(self.args.ttrl_steps), "--out", str(pdir), "--seed", str(self.args.seed),
                   "--device", self.args.device, "--config", str(self.configs["shared"]), "--json"]
            log(f"  ttrl {i}/{len(chosen)} {pid}: {rows[key]['integrand']}")
            code, capped = run_engine(cmd, log_path=self.work / "ladder_ttrl.log", events_path=pdir / "events.jsonl",
                                      budget_s=budget, progress=progress, save=lambda: None, clock="run_started")
            if code != 0 or not done_file.exists():
                raise ArmFailed(f"`ladder ttrl` on {pid} failed (code {code}); see {self.work / 'ladder_ttrl.log'}:\n"
                                f"{_tail(self.work / 'ladder_ttrl.log')}")
            extra = {"spent_s": round(progress["spent_s"], 1), "stopped_by_budget": capped}
            atomic_write_json(root / f"{pid}.budget.json", extra)
            rec = {**json.loads(done_file.read_text())[0], "set": set_name, **extra}
            records.append(rec)
            outcome = (f"{'solved at step ' + str(rec['step']) if rec['solved'] else 'not solved'} in "
                       f"{rec['steps_run']} steps; greedy after TTRL {'right' if rec['greedy_ok'] else 'wrong'}")
            log(f"  ttrl {pid}: {outcome}")
            # The arm takes about two hours: each finished problem is archived (and committed) so that
            # a new machine redoes only the problem that was cut short.
            saved = [self.archive_file(f) for f in (done_file, root / f"{pid}.budget.json")]
            self.commit_paths(saved, f"Ablation {self.args.date}, arm ladder_ttrl: problem {i}/{len(chosen)} "
                                     f"({pid}) {outcome}")
        attempted = len(records)
        anytime = sum(bool(r["solved"]) for r in records)
        # solved by the test samples taken before the first update: sampling, not test-time learning
        before = sum(bool(r["solved"]) and r["step"] == 0 for r in records)
        greedy_after = sum(bool(r["greedy_ok"]) for r in records)
        by_set = {s: [r for r in records if r["set"] == s] for s in self.sets}
        synthetic = {s: {"problems": ttrl_rows(reports[s], by_set[s]), "n_problems": reports[s]["n_problems"], "k": 0}
                     for s in self.sets}
        paths = {}
        for s, rep in synthetic.items():
            out = self.evals / f"ladder_ttrl@ladder-step-{step}.{s}.json"
            atomic_write_json(out, rep)
            paths[s] = str(out.relative_to(self.work))
        return {
            "status": "done", "reports": paths, "ladder_step": step,
            "ttrl": {
                "failed_by_ladder": len(failed), "attempted": attempted,
                "minutes_per_problem": self.args.ttrl_minutes, "max_steps_per_problem": self.args.ttrl_steps,
                "solved_anytime": anytime, "anytime_share": anytime / attempted if attempted else None,
                "solved_before_any_update": before,
                "greedy_right_after": greedy_after, "greedy_after_share": greedy_after / attempted if attempted else None,
                "problems": [{key: r.get(key) for key in ("id", "set", "integrand", "solved", "step", "answer",
                                                        "steps_run", "greedy_answer", "greedy_ok", "spent_s",
                                                        "stopped_by_budget")} for r in records],
                "note": "arms.ladder_ttrl.greedy_accuracy: LADDER's greedy outcomes with the greedy outcome after "
                        "TTRL on the attempted problems; failures TTRL did not try count as failed (a lower bound). "
                        "mean@K is not measured for this arm (TTRL rolls back after each problem).",
            },
        }

    # -- the result -----------------------------------------------------------------------------

    def status_of(self, arm: str) -> dict[str, Any]:
        rec = self.done(arm)
        if rec is not None:
            return {**rec, "reports": {s: json.loads((self.work / p).read_text()) for s, p in rec["reports"].items()}}
        failed = self.state / f"{arm}.failed.json"
        progress = self.load_progress(arm)
        out: dict[str, Any] = {"status": "not run"}
        if arm in TRAINED and progress.get("spent_s", 0) > 0:
            out = {"status": "partly trained", "train_minutes": round(progress["spent_s"] / 60, 2),
                   "budget_minutes": self.args.minutes}
        if arm == "ladder_ttrl" and self.done("ladder") is None:
            out = {"status": "waiting for the ladder arm"}
        if failed.exists():
            out["last_error"] = json.loads(failed.read_text())
        return out

    def write(self) -> Path:
        from plot_ablation import plot

        # Every arm of the design, whichever this session runs, and any other arm with a state file.
        shown = [a for a in ALL_ARMS if a in ARMS or a in self.arms or (self.state / f"{a}.json").exists()
                 or self.progress_path(a).exists()]
        arms = {a: self.status_of(a) for a in shown}
        result = build_result(arms, self.sets, k=self.args.samples)
        curve_ids = [r["id"] for r in self.curve_rows]
        for arm in shown:
            if arm in TRAINED and arms[arm]["status"] == "done":
                result["arms"][arm]["held_out_curve"] = held_out_curve(arms[arm], arms.get("base"), curve_ids)
        overlap_train = overlap([r["integrand"] for r in read_jsonl(self.train)],
                                [r for rows in self.full_sets.values() for r in rows])
        a = self.args
        data = {
            "benchmark": self.name,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "model": a.model, "seeds": [a.seed],
            "status": {arm: result["arms"][arm]["status"] for arm in shown},
            "settings": {**{key: getattr(a, key) for key in FIXED}, "minutes_per_arm": a.minutes,
                         "curve_minutes": a.curve_minutes, "work": str(self.work),
                         "hyper_parameters": (self.work / "config" / "shared.toml").read_text(),
                         "budget": "wall clock of each training arm's engine process(es), model loading and variant "
                                   "tree included; TTRL: per problem, from the engine's run_started event"},
            "eval_set": {**result["eval_set"],
                         "files": {s: _shown(self.set_file(n)) for s, n in zip(self.full_sets, self.set_names)},
                         "limit": a.eval_limit, "curve_subset": [r["id"] for r in self.curve_rows]},
            "train_set": {"file": _shown(Path(a.train_problems)), "ids": [r["id"] for r in read_jsonl(self.train)]},
            "overlap": {"train_problems_vs_eval_sets": overlap_train,
                        **{arm: result["arms"][arm].get("overlap") for arm in shown if result["arms"][arm].get("overlap")}},
            "arms": result["arms"],
            "paired": result["paired"],
        }
        self.results.mkdir(parents=True, exist_ok=True)
        path = self.results / f"{self.name}.json"
        atomic_write_json(path, data)
        try:
            plot(data, self.results / f"{self.name}.png")
        except Exception as e:  # noqa: BLE001 - a plot must never cost a finished arm its JSON
            log(f"  plot failed: {e!r}")
        return path

    def commit_paths(self, paths: Sequence[Path], message: str) -> None:
        """With --commit, git-commit `paths` (and nothing else) in the results' repository."""
        if not self.args.commit:
            return
        repo = repo_root(self.results)
        if repo is None or not all(p.resolve().is_relative_to(repo) for p in paths):
            log("  --commit: the results are not in a git work tree; not committing")
            return
        git_commit(paths, message, repo)

    def commit(self, arm: str, extra: Sequence[Path] = ()) -> None:
        if not self.args.commit:
            return
        rec = json.loads((self.results / f"{self.name}.json").read_text())["arms"][arm]
        acc = rec.get("greedy_accuracy")
        msg = (f"Ablation {self.args.date}, arm {arm} finished ({self.args.model}, {self.args.minutes:g} min per arm): "
               f"greedy {acc:.1%} on {rec.get('n')} held-out problems; results JSON and plot rewritten"
               if acc is not None else f"Ablation {self.args.date}: arm {arm} finished")
        self.commit_paths([self.results / f"{self.name}.json", self.results / f"{self.name}.png", self.archive, *extra],
                          msg)

    # -- main loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self.prepare()
        log(f"ablation {self.name}: model {self.args.model}, arms {', '.join(self.arms)}, {self.args.minutes:g} min "
            f"per arm, sets {', '.join(f'{s} ({len(r)})' for s, r in self.sets.items())}; work {self.work}")
        if self.args.report_only:
            log(f"wrote {self.write()}")
            return 0
        for arm in self.arms:
            if self.done(arm) is not None:
                log(f"{arm}: done earlier")
                self.archive_arm(arm)  # finished by a driver older than the archive
                continue
            t0 = time.time()
            try:
                if arm == "base":
                    rec = self.run_base()
                elif arm in TRAINED:
                    rec = self.run_trained(arm)
                else:
                    rec = self.run_ttrl()
            except Interrupted:
                log("stopped by a signal; rerun the same command to go on")
                self.write()
                return 130
            except (ArmFailed, OSError, KeyError, ValueError, json.JSONDecodeError) as e:
                log(f"{arm}: not finished: {e}")
                atomic_write_json(self.state / f"{arm}.failed.json",
                                  {"at": dt.datetime.now().isoformat(timespec="seconds"), "error": str(e)[:2000]})
                continue
            rec["wall_s_this_session"] = round(time.time() - t0, 1)
            # Sessions land on different machines, and the wall-clock budget buys more steps on a
            # CPU with bf16 in hardware: each arm says where it finished.
            rec["machine"] = {**{k: v for k, v in machine_info().items() if k in ("cpu", "cores", "gpu")},
                              "native_bf16": cpu_has_native_bf16()}
            rec["finished_at"] = dt.datetime.now().isoformat(timespec="seconds")
            atomic_write_json(self.state / f"{arm}.json", rec)
            (self.state / f"{arm}.failed.json").unlink(missing_ok=True)
            extra: list[Path] = []
            if arm == "ladder":
                dest = self.results / "adapters" / "ladder"
                info = export_adapter(self.work / rec["final_adapter"], dest, {
                    "model": self.args.model, "step": rec["final_step"], "train_minutes": rec["train_minutes"],
                    "ablation": self.name, "seed": self.args.seed})
                log(f"  adapter: {info}")
                rec["exported_adapter"] = {k: v for k, v in info.items() if k != "path"}
                atomic_write_json(self.state / f"{arm}.json", rec)
                if info["exported"]:
                    extra.append(dest)
            path = self.write()
            self.archive_arm(arm)
            log(f"{arm}: done; wrote {path}")
            self.commit(arm, extra)
            if STOP_REQUESTED:
                return 130
        self.write()
        unfinished = [a for a in self.arms if self.done(a) is None]
        log("all arms done" if not unfinished else f"unfinished: {', '.join(unfinished)} (rerun to go on)")
        return 0 if not unfinished else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="registry name (qwen2.5-coder-1.5b, tiny, ...)")
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ALL_ARMS)}")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget per trained arm")
    p.add_argument("--eval-sets", default=",".join(DEFAULT_SETS),
                   help="comma-separated names in engine/data (or .jsonl paths); the first also gives the curve subset")
    p.add_argument("--eval-limit", type=int, default=None, help="evaluate only N problems per set, evenly spaced (smoke runs)")
    p.add_argument("--samples", type=int, default=4, help="K samples at --temperature for mean@K")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=128, help="completion tokens in training and evaluation")
    p.add_argument("--eval-backend", choices=["hf", "llamacpp"], default="llamacpp",
                   help="llama.cpp decodes in batches with the adapter as GGUF: on a trained adapter it gave the "
                        "exact HF evaluation's verdict on 99.5 %% of 215 problems in a quarter of the time "
                        "(bench/results/adapter_eval.json); hf applies the adapter exactly")
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--prompts-per-step", type=int, default=2,
                   help="prompts per GRPO step (2 x 8 gave 56 %% of groups with signal: bench/results/signal_run.json)")
    p.add_argument("--depth", type=int, default=2, help="variant tree depth")
    p.add_argument("--max-variants", type=int, default=60, help="variants per training problem's tree")
    p.add_argument("--variant-source", choices=["llm", "symbolic", "both"], default=None,
                   help="LADDER's variants (default: the engine's, 'both')")
    p.add_argument("--rollout-backend", choices=["auto", "hf", "llamacpp"], default=None,
                   help="who samples the GRPO groups (default: the engine's)")
    p.add_argument("--max-steps", type=int, default=100000, help="step cap per arm (the budget normally stops it first)")
    p.add_argument("--ttrl-limit", type=int, default=20, help="problems LADDER fails given to TTRL")
    p.add_argument("--ttrl-minutes", type=float, default=5.0, help="TTRL budget per problem")
    p.add_argument("--ttrl-steps", type=int, default=100, help="TTRL step cap per problem (paper: 100)")
    p.add_argument("--curve-minutes", type=float, default=15.0,
                   help="snapshot the adapter every N training minutes for the held-out curve (0: none)")
    p.add_argument("--curve-size", type=int, default=30, help="problems of the first set in the curve subset")
    p.add_argument("--base-from", default=None, metavar="ABLATION",
                   help="take the base arm's reports from an earlier ablation under --results (e.g. "
                        "ablation-2026-12-01) when it evaluated with the same settings")
    p.add_argument("--train-problems", default=str(DATA / "undergrad_train.jsonl"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--date", default=dt.date.today().isoformat(), help="names the work folder and the result; "
                   "give the same one to resume")
    p.add_argument("--work", default=None, help="default: runs/ablation-<date>")
    p.add_argument("--results", default=str(RESULTS), help="where the JSON, plot and adapter go")
    p.add_argument("--commit", action="store_true", help="git-commit each finished arm's JSON, plot (and adapter)")
    p.add_argument("--report-only", action="store_true", help="rewrite the JSON and plot from the state files")
    p.add_argument("--allow-changed-settings", action="store_true")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ablation = Ablation(args)
    ablation.work.mkdir(parents=True, exist_ok=True)
    lock = open(ablation.work / "driver.lock", "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        raise SystemExit(f"another ablation driver is running on {ablation.work} ({lock.read().strip()})")
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n")
    lock.flush()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return ablation.run()


if __name__ == "__main__":
    sys.exit(main())
