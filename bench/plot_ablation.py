"""The ablation's figure, from its result JSON (bench/ablation.py writes both after every arm).

    .venv/bin/python bench/plot_ablation.py bench/results/ablation-DATE.json [OUT.png]

Four panels: final held-out greedy accuracy per arm and set with Wilson 95 % intervals (mean@K as
a dot); greedy accuracy on the curve subset against training minutes; and, per GRPO step against
training minutes, the mean reward and the share of verified answers (rolling means over 10 steps).
Arms that are not finished are named in the first panel's legend with their status.
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


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms: dict[str, Any] = result["arms"]
    k = result.get("settings", {}).get("samples", 4)
    sets = list(result["eval_set"]["sets"])
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    ax = axes[0][0]
    groups = ["all", *sets] if len(sets) > 1 else sets
    names = list(arms)
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        arm = arms[name]
        color = COLORS.get(name, None)
        if arm.get("status") != "done":
            ax.bar([], [], color=color, label=f"{name} ({arm.get('status')})")
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
    ax.legend(fontsize=8)
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
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)

    for ax, key, label in ((axes[1][0], "reward_mean", "mean reward per step"),
                           (axes[1][1], "accuracy", "verified share of the step's answers")):
        for name, arm in arms.items():
            steps = (arm.get("training") or {}).get("per_step") or []
            pts = [(p["minute"], p.get(key)) for p in steps if p.get("minute") is not None]
            if pts:
                ax.plot([m for m, _ in pts], _rolling([v for _, v in pts]), color=COLORS.get(name), label=name)
        ax.set_xlabel("training minutes")
        ax.set_ylabel(f"{label} (rolling mean of 10)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
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
