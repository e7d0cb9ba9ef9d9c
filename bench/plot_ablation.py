"""The ablation's figure, from its result JSON (bench/ablation.py writes both after every arm).

    .venv/bin/python bench/plot_ablation.py bench/results/ablation-DATE.json [OUT.png]

Eight panels. Top: final held-out greedy accuracy per arm and set with Wilson 95 % intervals
(mean@K as a dot); greedy accuracy on the curve subset against training minutes, on its own scale
so that a few problems show; the change since the untrained snapshot per difficulty, in problems
(a gain at one level can hide in the total); greedy accuracy per difficulty on the first set.
Bottom, per GRPO step against training minutes, what the training learned from: the share of
verified answers (rolling mean over 10 steps), the verified completions trained on, summed (its
slope is the learning signal per hour), and the share of drawn groups that held a verified and a
failed answer (rolling over 10 steps); last, what TTRL did with each problem it was given. Arms
that are not finished are named in the first panel's legend with their status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLORS = {"base": "#777777", "rl_no_variants": "#1f77b4", "ladder": "#d62728", "format_only": "#2ca02c",
          "ladder_ttrl": "#9467bd", "ladder_symbolic": "#ff7f0e"}


def _rolling(values: list[float | None], window: int = 10) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(values)):
        chunk = [v for v in values[max(0, i - window + 1):i + 1] if v is not None]
        out.append(sum(chunk) / len(chunk) if chunk else None)
    return out


def difficulty_gains(curve: list[dict[str, Any]]) -> dict[str, list[tuple[float, int]]]:
    """Per difficulty, (minute, greedy right minus greedy right at the first snapshot) along a
    held-out curve; difficulties missing from the first snapshot are left out (no baseline)."""
    if not curve:
        return {}
    first = curve[0].get("by_difficulty") or {}
    return {d: [(p["minute"], p["by_difficulty"][d][0] - right0) for p in curve if d in (p.get("by_difficulty") or {})]
            for d, (right0, _n) in sorted(first.items())}


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    arms: dict[str, Any] = result["arms"]
    k = result.get("settings", {}).get("samples", 4)
    sets = list(result["eval_set"]["sets"])
    fig, axes = plt.subplots(2, 4, figsize=(24, 9))
    ax = axes[0][0]
    groups = ["all", *sets] if len(sets) > 1 else sets
    names = list(arms)
    width = 0.8 / max(1, len(names))
    unfinished = []  # legend entries only: an empty bar would take the next default colour, not the arm's
    for j, name in enumerate(names):
        arm = arms[name]
        color = COLORS.get(name, None)
        if arm.get("status") != "done":
            unfinished.append(Patch(facecolor=color, alpha=0.3, label=f"{name} ({arm.get('status')})"))
            continue
        xs, ys, lo, hi, mk = [], [], [], [], []
        for i, g in enumerate(groups):
            s = arm if g == "all" else arm["by_set"].get(g)
            if not s or s.get("greedy_accuracy") is None:
                continue
            xs.append(i + (j - (len(names) - 1) / 2) * width)
            ys.append(s["greedy_accuracy"])
            lo.append(s["greedy_accuracy"] - s["greedy_interval"][0])
            hi.append(s["greedy_interval"][1] - s["greedy_accuracy"])
            mk.append(s.get(f"mean@{k}"))
        label = name
        if arm.get("ttrl"):
            t = arm["ttrl"]
            label += f" (TTRL any-time solved {t['solved_anytime']}/{t['attempted']})"
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=color, alpha=0.85, label=label)
        ax.scatter([x for x, m in zip(xs, mk) if m is not None], [m for m in mk if m is not None],
                   color="black", s=12, zorder=3)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g if g == "all" else f"{g}\n(n={result['eval_set']['sets'][g]['n']})" for g in groups])
    ax.set_ylabel(f"greedy accuracy (Wilson 95 %); dots: mean@{k}")
    ax.set_title(f"held-out accuracy ({result.get('model')}, n={result['eval_set']['n']})")
    ax.set_ylim(0, 1)
    ax.legend(handles=ax.get_legend_handles_labels()[0] + unfinished, fontsize=8)
    ax.grid(alpha=0.3, axis="y")

    ax = axes[0][1]
    for name, arm in arms.items():
        pts = [p for p in arm.get("held_out_curve") or [] if p.get("greedy_accuracy") is not None]
        if pts:
            ax.plot([p["minute"] for p in pts], [p["greedy_accuracy"] for p in pts], marker="o",
                    color=COLORS.get(name), label=name)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("greedy accuracy, curve subset")
    ax.set_title(f"held-out curve ({len(result['eval_set'].get('curve_subset', []))} problems)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)

    ax = axes[0][2]
    styles = {"1": ":", "2": "-", "3": "--", "4": "-."}
    for name, arm in arms.items():
        for d, cells in difficulty_gains(arm.get("held_out_curve") or []).items():
            ax.plot([m for m, _ in cells], [g for _, g in cells], linestyle=styles.get(d, "-"), marker=".",
                    color=COLORS.get(name), label=f"{name}, difficulty {d}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("greedy right minus at minute 0 (problems)")
    ax.set_title("held-out curve per difficulty")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)

    ax = axes[0][3]
    first = sets[0]
    done = [name for name, arm in arms.items() if arm.get("status") == "done" and arm["by_set"].get(first)]
    levels = sorted({d for name in done for d in arms[name]["by_set"][first].get("by_difficulty", {})}, key=str)
    width = 0.8 / max(1, len(done))
    for j, name in enumerate(done):
        table = arms[name]["by_set"][first].get("by_difficulty", {})
        xs = [i + (j - (len(done) - 1) / 2) * width for i, d in enumerate(levels) if d in table]
        cells = [table[d] for d in levels if d in table]
        ys = [c["greedy_accuracy"] for c in cells]
        err = [[y - c["greedy_interval"][0] for y, c in zip(ys, cells)], [c["greedy_interval"][1] - y for y, c in zip(ys, cells)]]
        ax.bar(xs, ys, width, yerr=err, capsize=2, color=COLORS.get(name), alpha=0.85, label=name)
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([f"{d}\n(n={arms[done[0]]['by_set'][first]['by_difficulty'][d]['n']})" for d in levels]
                       if done else [])
    ax.set_xlabel(f"difficulty ({first})")
    ax.set_ylabel("greedy accuracy (Wilson 95 %)")
    ax.set_title("held-out accuracy per difficulty")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    if done:
        ax.legend(fontsize=8)

    def per_step(arm: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for p in (arm.get("training") or {}).get("per_step") or [] if p.get("minute") is not None]

    def cumulative(points: list[dict[str, Any]]) -> list[float]:
        total, out = 0.0, []
        for p in points:
            total += p.get("verified_trained") or 0
            out.append(total)
        return out

    def signal_share(points: list[dict[str, Any]], window: int = 10) -> list[float | None]:
        out: list[float | None] = []
        for i in range(len(points)):
            chunk = points[max(0, i - window + 1):i + 1]
            drawn = sum(p.get("drawn") or 0 for p in chunk)
            out.append(sum(p.get("signal_groups") or 0 for p in chunk) / drawn if drawn else None)
        return out

    panels = ((axes[1][0], lambda pts: _rolling([p.get("accuracy") for p in pts]),
               "verified share of the step's answers (rolling mean of 10)"),
              (axes[1][1], cumulative, "verified completions trained on, summed"),
              (axes[1][2], signal_share, "drawn groups with a verified and a failed answer (rolling 10)"))
    for ax, values, label in panels:
        for name, arm in arms.items():
            pts = per_step(arm)
            if pts:
                ax.plot([p["minute"] for p in pts], values(pts), color=COLORS.get(name), label=name)
        ax.set_xlabel("training minutes")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    ax = axes[1][3]
    ttrl = (arms.get("ladder_ttrl") or {}).get("ttrl")
    if ttrl:
        rows = ttrl["problems"]
        by_sampling = [i for i, r in enumerate(rows) if r["solved"] and r["step"] == 0]
        colors = ["#2ca02c" if i in by_sampling else "#9467bd" if r["solved"] else "#bbbbbb" for i, r in enumerate(rows)]
        # A problem solved by the samples before any update took 0 steps: a dot marks it, a bar could not.
        ax.barh(range(len(rows)), [r["step"] if r["solved"] else r["steps_run"] for r in rows], color=colors)
        ax.scatter([0] * len(by_sampling), by_sampling, color="#2ca02c", marker="o", zorder=3)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{r['integrand'][:24]}{' *' if r.get('greedy_ok') else ''}" for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.legend(handles=[Patch(color="#2ca02c", label="solved by the samples before any update"),
                           Patch(color="#9467bd", label="solved after N updates"),
                           Patch(color="#bbbbbb", label="not solved in N steps")], fontsize=7)
        ax.set_title(f"TTRL: {ttrl['solved_anytime']}/{ttrl['attempted']} solved at some point, "
                     f"greedy right after on {ttrl['greedy_right_after']} (*)")
    else:
        ax.text(0.5, 0.5, "LADDER + TTRL not finished", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("TTRL")
    ax.set_xlabel("TTRL steps")

    fig.suptitle(f"LADDER ablation {result.get('benchmark', '')}: "
                 f"{result.get('settings', {}).get('minutes_per_arm', '?')} min of training per arm")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else src.with_suffix(".png")
    print(plot(json.loads(src.read_text()), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
