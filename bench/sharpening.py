"""Where a trained arm's mean@4 gain comes from: sharper sampling, or problems newly solved.

    .venv/bin/python bench/sharpening.py --ablation ablation-2026-12-01 [--ablation …] [--cool 0.6]

The ablations found LADDER's greedy accuracy nearly flat while its mean@4 (four samples at
temperature 1) rose by about 6 points. Two stories fit that. Sharpening: training made sampling
more like greedy decoding on problems the base model already solves greedily, which a lower
sampling temperature gives for free. Learning: the arm solves problems the base model could not.
This script tells them apart on the held-out reports the ablations archived: it splits each set's
problems by the base model's greedy answer (right / wrong) and gives, per arm and part, greedy and
mean@4 with their intervals, and the paired tests against the base on the same problems (the
paired bootstrap on mean@4 is the test; within a part greedy flips can go one way only, so its
McNemar counts are flips, not evidence). The split does not bias mean@4: the greedy answer is a
fixed function of the model, and the samples are drawn apart from it. With --cool T it also
evaluates the base model sampled at temperature T on the first set (`ladder eval`, otherwise as
the ablation evaluated; cached under bench/results/sharpening/, so a rerun only summarises) and
adds it as an arm: gain on the greedy-right part that the cooler base matches is sharpening, not
learning.

Writes bench/results/sharpening.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import DATA, paired_arms, run_plain, score_rows
from common import RESULTS, write_result

PARTS = {"base_greedy_right": True, "base_greedy_wrong": False}


def archived_reports(ablation: str) -> tuple[dict[str, Any], dict[str, dict[str, Path]]]:
    """An archived ablation's settings and, per finished arm, its report file per set."""
    root = RESULTS / ablation
    settings = json.loads((root / "settings.json").read_text())
    arms = {}
    for state in sorted((root / "state").glob("*.json")):
        rec = json.loads(state.read_text())
        if rec.get("status") == "done" and rec.get("reports"):
            arms[state.stem] = {s: root / p for s, p in rec["reports"].items()}
    return settings, arms


def cool_base(settings: dict[str, Any], temperature: float, sets: list[str]) -> dict[str, Path]:
    """The base model sampled at `temperature`, evaluated as the ablation did otherwise (cached)."""
    out_dir = RESULTS / "sharpening"
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = {}
    for name in sets:
        out = out_dir / f"base-t{temperature:g}.{name}.json"
        if not out.exists():
            run_plain(["eval", "--model", settings["model"], "--backend", settings["eval_backend"],
                       "--problems", str(DATA / f"{name}.jsonl"),
                       "--samples", str(settings["samples"]), "--temperature", f"{temperature:g}",
                       "--max-tokens", str(settings["max_tokens"]), "--seed", str(settings["seed"]),
                       "--json", "--out", str(out)], out.with_suffix(".log"))
        reports[name] = out
    return reports


def decompose(base_rows: list[dict[str, Any]], arm_rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Greedy and mean@k of an arm (and of the base) on the problems the base got right and wrong
    greedily, with the paired tests arm vs base on each part."""
    by_id = {r["id"]: r for r in arm_rows}
    out = {}
    for part, right in PARTS.items():
        base_part = [r for r in base_rows if bool(r["greedy_ok"]) == right]
        arm_part = [by_id[r["id"]] for r in base_part]
        out[part] = {"n": len(base_part), "base": score_rows(base_part, k), "arm": score_rows(arm_part, k),
                     "arm_vs_base": paired_arms(arm_part, base_part, k)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ablation", action="append", required=True,
                   help="an archived ablation under bench/results (the first one's base arm is the reference)")
    p.add_argument("--cool", type=float, default=None, metavar="T",
                   help="also evaluate the base model sampled at temperature T")
    a = p.parse_args(argv)

    settings, first = archived_reports(a.ablation[0])
    k = settings["samples"]
    base = first["base"]
    arms = {f"{arm} ({name.removeprefix('ablation-')})": reports
            for name in a.ablation for arm, reports in archived_reports(name)[1].items() if arm != "base"}
    if a.cool is not None:
        arms[f"base at temperature {a.cool:g}"] = cool_base(settings, a.cool, list(base)[:1])

    result: dict[str, Any] = {"reference": f"base ({a.ablation[0].removeprefix('ablation-')})", "k": k,
                              "sampling_temperature": settings["temperature"], "sets": {}}
    for set_name, path in base.items():
        base_rows = json.loads(path.read_text())["problems"]
        table = {}
        for arm, reports in arms.items():
            if set_name in reports:
                table[arm] = decompose(base_rows, json.loads(reports[set_name].read_text())["problems"], k)
        result["sets"][set_name] = {"n": len(base_rows), "arms": table}
        for arm, parts in table.items():
            cells = []
            for part, d in parts.items():
                cell = f"{part} (n={d['n']}): greedy {d['base']['greedy_correct']}→{d['arm']['greedy_correct']}"
                if (m := d["arm_vs_base"][f"mean@{k}"]) is not None:
                    before, after = d["base"][f"mean@{k}"], d["arm"][f"mean@{k}"]
                    cell += f", mean@{k} {before:.3f}→{after:.3f} (p={m['p_value']:.4f})"
                cells.append(cell)
            print(f"{set_name:18s} {arm:28s} " + "; ".join(cells))
    print(f"wrote {write_result('sharpening', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
