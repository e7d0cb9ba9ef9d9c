"""Write a run or a solve session as Markdown, JSON and LaTeX (`ladder export`, the app's export).

Everything comes from the run's events.jsonl (plus config.json), so any run can be exported: a
solve session recorded by the app, a TTRL run, a LADDER training run, finished or not.
Answers are model output: they reach LaTeX only through `engine.verify.parse.parse` (the safe parser),
and otherwise as escaped verbatim text.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.runs.events import read_events
from engine.runs.files import atomic_write

FORMATS = ("md", "json", "tex")
CHART_HEIGHT = 8
CHART_WIDTH = 60
MAX_TABLE_STEPS = 40  # longer runs list every k-th step (the JSON keeps them all)


@dataclass
class Report:
    """The exportable content of one run."""

    name: str
    kind: str = ""
    model: str = ""
    device: str = ""
    status: str = "unfinished"
    seconds: float | None = None
    integrands: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    variants: int = 0
    variants_by_depth: dict[str, int] = field(default_factory=dict)
    rollouts: int = 0
    rollouts_ok: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    solved: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


STEP_FIELDS = ("step", "reward_mean", "reward_std", "accuracy", "kl", "loss", "tokens_per_s", "seconds")
SAMPLE_FIELDS = ("integrand", "index", "answer", "ok", "reason", "seconds", "tokens", "completion")


def load_report(run_dir: str | Path) -> Report:
    """Read a run directory's events into a Report."""
    run_dir = Path(run_dir)
    events_path = run_dir / "events.jsonl"
    if not events_path.is_file():
        raise LadderError(f"{run_dir} has no events.jsonl: is it a run directory?")
    report = Report(name=run_dir.name)
    config = run_dir / "config.json"
    if config.is_file():
        try:
            report.model = str(json.loads(config.read_text()).get("model") or "")
        except (json.JSONDecodeError, AttributeError):
            pass
    first_t = last_t = None
    started_at = None  # the first run_started: where a session or run began
    for e in read_events(events_path):
        kind = e.get("type")
        t = e.get("t")
        if isinstance(t, (int, float)):
            first_t = t if first_t is None else first_t
            last_t = t
        if kind == "run_started":
            started_at = t if started_at is None and isinstance(t, (int, float)) else started_at
            report.kind = str(e.get("kind") or report.kind)
            report.model = str(e.get("model") or report.model)
            report.device = str(e.get("device") or report.device)
            if e.get("integrand"):
                _add_integrand(report, str(e["integrand"]))
        elif kind == "sample":
            report.samples.append({k: e.get(k) for k in SAMPLE_FIELDS})
            if e.get("integrand"):
                _add_integrand(report, str(e["integrand"]))
        elif kind == "variant":
            report.variants += 1
            depth = str(e.get("depth", 0))
            report.variants_by_depth[depth] = report.variants_by_depth.get(depth, 0) + 1
            if e.get("parent") is None:
                _add_integrand(report, str(e.get("integrand")))
        elif kind == "rollout":
            report.rollouts += 1
            report.rollouts_ok += bool(e.get("ok"))
        elif kind == "step":
            report.steps.append({k: e.get(k) for k in STEP_FIELDS})
        elif kind == "eval":
            report.evals.append({k: v for k, v in e.items() if k not in ("type", "run")})
        elif kind == "solved":
            report.solved.append({k: e.get(k) for k in ("problem", "answer", "step")})
        elif kind == "checkpoint":
            report.checkpoints.append(str(e.get("path")))
        elif kind == "error":
            report.errors.append(str(e.get("message")))
        elif kind == "run_finished":
            report.status = str(e.get("status") or "done")
    if not report.kind:
        report.kind = "solve" if report.samples else "run"
    if first_t is not None and last_t is not None:
        if started_at is None and config.is_file():
            # A session recorded without run_started (the app wrote only the answers, all at the
            # end): it began when its folder was made, which is when config.json was written.
            first_t = min(first_t, config.stat().st_mtime)
        report.seconds = round(last_t - first_t, 3)
    return report


def _add_integrand(report: Report, integrand: str) -> None:
    if integrand not in report.integrands:
        report.integrands.append(integrand)


# ---- text chart ---------------------------------------------------------------------------

def text_chart(series: dict[str, list[float]], height: int = CHART_HEIGHT, width: int = CHART_WIDTH) -> str:
    """A plain-text line chart of one or more series over steps (one marker character each)."""
    markers = "*o+x#"
    values = [v for vs in series.values() for v in vs]
    if not values:
        return "(no steps yet)"
    lo, hi = min(0.0, min(values)), max(values)
    hi = hi if hi > lo else lo + 1.0
    n = max(len(vs) for vs in series.values())
    cols = min(width, n)
    grid = [[" "] * cols for _ in range(height)]
    for (name, vs), marker in zip(series.items(), markers):
        for c in range(cols):
            i = round(c * (len(vs) - 1) / max(cols - 1, 1)) if len(vs) > 1 else 0
            if i < len(vs):
                r = round((vs[i] - lo) / (hi - lo) * (height - 1))
                grid[height - 1 - r][c] = marker
    lines = []
    for r, row in enumerate(grid):
        label = f"{hi:6.2f} |" if r == 0 else (f"{lo:6.2f} |" if r == height - 1 else "       |")
        lines.append(label + "".join(row))
    lines.append("       +" + "-" * cols)
    lines.append(f"        step 1 … {n}   " + "   ".join(f"{m} {name}" for name, m in zip(series, markers)))
    return "\n".join(lines)


def _curves(report: Report) -> dict[str, list[float]]:
    return {
        "reward": [float(s.get("reward_mean") or 0) for s in report.steps],
        "accuracy": [float(s.get("accuracy") or 0) for s in report.steps],
    }


def _table_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(steps) <= MAX_TABLE_STEPS:
        return steps
    k = -(-len(steps) // MAX_TABLE_STEPS)
    picked = steps[::k]
    return picked if picked[-1] is steps[-1] else [*picked, steps[-1]]


def _fmt(value: Any, spec: str = ".3f") -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


# ---- Markdown ----------------------------------------------------------------------------

def _md_cell(text: Any) -> str:
    return " ".join(str(text if text is not None else "–").split()).replace("|", "\\|").replace("`", "'")


def _md_text(text: Any) -> str:
    """A table cell outside a code span: `<answer>` must not be read as an HTML tag."""
    return _md_cell(text).replace("<", "\\<").replace(">", "\\>")


def to_markdown(r: Report) -> str:
    """The report as Markdown: facts, answers with verdicts, curves as a text chart, tables."""
    out = [f"# ladder {r.kind}: {r.name}", ""]
    facts = [("kind", r.kind), ("model", r.model), ("device", r.device), ("status", r.status),
             ("wall time", f"{r.seconds:.1f} s" if r.seconds is not None else None)]
    out += ["| | |", "|---|---|"] + [f"| {k} | {_md_text(v)} |" for k, v in facts if v] + [""]
    if r.integrands and r.kind == "solve":
        for integrand in r.integrands:
            samples = [s for s in r.samples if s.get("integrand") in (integrand, None)]
            ok = sum(bool(s.get("ok")) for s in samples)
            out += [f"## ∫ `{_md_cell(integrand)}` dx", "", f"{ok} of {len(samples)} answers verified.", ""]
            out += ["| # | answer | verdict | reason | seconds |", "|---|---|---|---|---|"]
            for i, s in enumerate(samples):
                verdict = "✓ verified" if s.get("ok") else "✗ rejected"
                out.append(f"| {i + 1} | `{_md_cell(s.get('answer'))}` | {verdict} | {_md_text(s.get('reason'))} "
                           f"| {_fmt(s.get('seconds'), '.1f')} |")
            out.append("")
    elif r.integrands:
        out += ["## Problems", ""] + [f"- `{_md_cell(i)}`" for i in r.integrands] + [""]
    if r.variants:
        depths = ", ".join(f"depth {d}: {n}" for d, n in sorted(r.variants_by_depth.items()))
        out += ["## Variant tree", "", f"{r.variants} variants ({depths}); {r.rollouts} rollouts, "
                f"{r.rollouts_ok} verified.", ""]
    if r.steps:
        out += ["## Curves", "", "```", text_chart(_curves(r)), "```", ""]
        out += ["| step | reward | ± | accuracy | KL | loss | tokens/s |", "|---|---|---|---|---|---|---|"]
        for s in _table_steps(r.steps):
            out.append(f"| {s.get('step')} | {_fmt(s.get('reward_mean'))} | {_fmt(s.get('reward_std'))} "
                       f"| {_fmt(s.get('accuracy'), '.2f')} | {_fmt(s.get('kl'), '.4f')} | {_fmt(s.get('loss'), '.4f')} "
                       f"| {_fmt(s.get('tokens_per_s'), '.1f')} |")
        out.append("")
    if r.evals:
        out += ["## Evaluations", "", "| step | set | greedy | pass@1 | pass@k |", "|---|---|---|---|---|"]
        for e in r.evals:
            out.append(f"| {_fmt(e.get('step'), 'd')} | {_md_cell(e.get('set'))} | {_fmt(e.get('greedy_accuracy'))} "
                       f"| {_fmt(e.get('pass_at_1'))} | {_fmt(e.get('pass_at_k'))} |")
        out.append("")
    if r.solved:
        out += ["## Solved", ""] + [f"- step {s.get('step')}: ∫ `{_md_cell(s.get('problem'))}` dx = "
                                    f"`{_md_cell(s.get('answer'))}`" for s in r.solved] + [""]
    if r.errors:
        out += ["## Errors", ""] + ["```\n" + e + "\n```" for e in r.errors] + [""]
    return "\n".join(out)


# ---- LaTeX -------------------------------------------------------------------------------

# `<`, `>` and `|` too: in text mode with the default font encoding they print as ¡ ¿ and —.
_TEX_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}",
                "|": r"\textbar{}"}


def tex_escape(text: Any) -> str:
    return "".join(_TEX_ESCAPES.get(c, c) for c in str(text))


def tex_math(text: Any) -> str:
    """`$…$` for text the safe parser accepts; escaped monospace text for anything else."""
    if text is None or text == "":
        return r"\textit{none}"
    try:
        import sympy

        from engine.verify.parse import parse

        return "$" + sympy.latex(parse(str(text))) + "$"
    except Exception:  # ImportError or any refusal by the parser: show it verbatim, escaped
        return r"\texttt{" + tex_escape(text) + "}"


def to_latex(r: Report) -> str:
    """A standalone LaTeX document (amsmath, booktabs, pgfplots for the curves)."""
    out = [
        r"\documentclass{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath,booktabs,pgfplots}",
        r"\pgfplotsset{compat=1.17}",
        r"\begin{document}",
        r"\section*{ladder " + tex_escape(r.kind) + ": " + tex_escape(r.name) + "}",
        r"Model " + tex_escape(r.model or "?") + (", device " + tex_escape(r.device) if r.device else "")
        + ", status " + tex_escape(r.status) + ".",
        "",
    ]
    if r.kind == "solve":
        for integrand in r.integrands:
            body = tex_math(integrand).strip("$")
            out.append(r"\subsection*{$\displaystyle\int " + body + r"\,dx$}" if tex_math(integrand).startswith("$")
                       else r"\subsection*{" + tex_math(integrand) + "}")
            out.append(r"\begin{enumerate}")
            for s in r.samples:
                if s.get("integrand") not in (integrand, None):
                    continue
                verdict = r"verified" if s.get("ok") else r"rejected: " + tex_escape(s.get("reason") or "")
                out.append(r"  \item " + tex_math(s.get("answer")) + r" \quad (" + verdict + ")")
            out.append(r"\end{enumerate}")
    elif r.integrands:
        out.append(r"\subsection*{Problems}")
        out += [r"\begin{itemize}"] + [r"  \item " + tex_math(i) for i in r.integrands] + [r"\end{itemize}"]
    if r.steps:
        out += [r"\subsection*{Training curves}", r"\begin{tikzpicture}",
                r"\begin{axis}[xlabel=step, width=12cm, height=6cm, legend pos=north west]"]
        for name, values in _curves(r).items():
            coords = " ".join(f"({s.get('step')},{v:.4f})" for s, v in zip(r.steps, values))
            out += [r"\addplot coordinates {" + coords + "};", r"\addlegendentry{" + name + "}"]
        out += [r"\end{axis}", r"\end{tikzpicture}", "",
                r"\begin{tabular}{rrrrrr}", r"\toprule", r"step & reward & accuracy & KL & loss & tokens/s \\",
                r"\midrule"]
        for s in _table_steps(r.steps):
            out.append(f"{s.get('step')} & {_fmt(s.get('reward_mean'))} & {_fmt(s.get('accuracy'), '.2f')} & "
                       f"{_fmt(s.get('kl'), '.4f')} & {_fmt(s.get('loss'), '.4f')} & {_fmt(s.get('tokens_per_s'), '.1f')} \\\\")
        out += [r"\bottomrule", r"\end{tabular}"]
    if r.solved:
        out += [r"\subsection*{Solved}", r"\begin{itemize}"]
        out += [r"  \item step " + tex_escape(s.get("step")) + ": " + tex_math(s.get("problem")) + r" $\to$ "
                + tex_math(s.get("answer")) for s in r.solved]
        out.append(r"\end{itemize}")
    out += [r"\end{document}", ""]
    return "\n".join(out)


# ---- writing -----------------------------------------------------------------------------

def to_json(r: Report) -> str:
    return json.dumps(dataclasses.asdict(r), indent=2, ensure_ascii=False, default=str) + "\n"


WRITERS = {"md": to_markdown, "json": to_json, "tex": to_latex}


def export_run(run_dir: str | Path, formats: list[str] | tuple[str, ...] = FORMATS,
               out_dir: str | Path | None = None) -> list[Path]:
    """Write `<run name>.<fmt>` for each format into `out_dir` (default RUN_DIR/export)."""
    run_dir = Path(run_dir)
    report = load_report(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "export"
    paths = []
    for fmt in formats:
        if fmt not in WRITERS:
            raise LadderError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
        path = out / f"{report.name}.{fmt}"
        atomic_write(path, WRITERS[fmt](report))
        paths.append(path)
    return paths
