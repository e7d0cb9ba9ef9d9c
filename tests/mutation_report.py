"""Write bench/results/mutation.json from a finished `mutmut run` (called by `make mutate`).

    python tests/mutation_report.py MUTATE_DIR JOBS > bench/results/mutation.json

Counts per area (verifier, loss, pool), the mutants no test killed split into `equivalent` (listed
in tests/mutation_equivalent.json by function and mutated line, with a one-line reason: the change
cannot be observed, or only at measure-zero inputs) and `open` (each with its diff line: a test is missing), and the run time.
An entry of mutation_equivalent.json that no longer survives is reported as `stale_equivalent`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path

AREAS = {"engine.verify.indefinite": "verifier", "engine.train.loss": "loss", "engine.train.pool": "pool"}
EQUIVALENT = Path(__file__).resolve().parent / "mutation_equivalent.json"


def area(name: str) -> str:
    return next((a for prefix, a in AREAS.items() if name.startswith(prefix + ".")), "other")


def mutated_line(mutmut: str, directory: Path, name: str) -> str:
    """The mutant's new line (whitespace collapsed), from `mutmut show`."""
    out = subprocess.run([mutmut, "show", name], cwd=directory, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line[:1] == "+" and line[:3] != "+++"]
    return " ".join(lines[0][1:].split()) if lines else ""


def main(directory: str, jobs: str) -> int:
    d = Path(directory)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    cfg = tomllib.loads((d / "pyproject.toml").read_text())["tool"]["mutmut"]
    rows = subprocess.run([mutmut, "results", "--all", "true"], cwd=d, capture_output=True, text=True, check=True).stdout
    status = dict(line.strip().rsplit(": ", 1) for line in rows.splitlines() if ": " in line)
    known = {(e["function"], e["mutant"]): e["why"] for e in json.loads(EQUIVALENT.read_text())["equivalent"]}
    per_area: dict[str, Counter] = defaultdict(Counter)
    equivalent, open_, matched = {}, {}, set()
    for name, s in sorted(status.items()):
        a = per_area[area(name)]
        a["total"] += 1
        a[s] += 1
        if s == "killed":
            continue
        line = mutated_line(mutmut, d, name)
        why = known.get((name.rsplit("__mutmut_", 1)[0], line))
        if why is not None and s == "survived":
            equivalent[name] = f"{line}  # {why}"
            matched.add((name.rsplit("__mutmut_", 1)[0], line))
            a["equivalent"] += 1
        else:
            open_[name] = f"{s}: {line}"
            a["open"] += 1
    stale = sorted(f"{f}: {m}" for f, m in known if (f, m) not in matched)
    report = {
        "tool": "mutmut " + version("mutmut"),
        "scope": cfg["only_mutate"],
        "not_mutated": "lines matching " + ", ".join(cfg.get("do_not_mutate_patterns", []))
                       + " (error-message text and its formatting)",
        "tests": cfg["pytest_add_cli_args_test_selection"],
        "cores": len(os.sched_getaffinity(0)),
        "jobs": int(jobs),
        "seconds": int((d / "seconds.txt").read_text()),
        "stats": json.loads((d / "mutants" / "mutmut-cicd-stats.json").read_text()),
        "by_area": {k: dict(sorted(v.items())) for k, v in sorted(per_area.items())},
        "open": open_,
        "equivalent": equivalent,
        "stale_equivalent": stale,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
