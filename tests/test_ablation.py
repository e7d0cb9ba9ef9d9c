"""bench/ablation.py: the result JSON built from hand-made eval reports, the overlap check, the
TTRL arm's rows and the adapter export (fast; no model is run)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import bench_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ablation():
    return bench_module("ablation")


def _problems(prefix: str, n: int, technique: str = "table") -> list[dict]:
    return [{"id": f"{prefix}{i}", "integrand": f"x**{i + 1}", "technique": technique if i % 2 else "parts",
             "difficulty": 1 + i % 3} for i in range(n)]


def _report(problems: list[dict], greedy: str, samples: list[int], k: int = 4) -> dict:
    """An eval report: greedy outcomes as a 0/1 string, samples right per problem (of k)."""
    return {"n_problems": len(problems), "k": k, "problems": [
        {"id": p["id"], "greedy_ok": g == "1", "sample_ok": [j < s for j in range(k)], "correct": s, "n": k}
        for p, g, s in zip(problems, greedy, samples)]}


def test_result_json_two_arms_mcnemar_by_hand(ablation):
    sets = {"undergrad_test": _problems("u", 6), "mit": [{"id": f"m{i}", "integrand": "x", "year": 2023 + i % 2}
                                                         for i in range(4)]}
    # base vs ladder over the 10 pooled problems:
    #   undergrad: base 100000, ladder 011110 -> base right/ladder wrong 1 (u0), base wrong/ladder right 4
    #   mit:       base 0000,   ladder 1100   -> base wrong/ladder right 2
    # discordant pairs: 1 vs 6, n = 7 -> exact two-sided p = 2 * (C(7,0) + C(7,1)) / 2**7 = 16/128
    base = {"status": "done", "reports": {
        "undergrad_test": _report(sets["undergrad_test"], "100000", [1, 0, 0, 0, 0, 0]),
        "mit": _report(sets["mit"], "0000", [0, 0, 0, 0])}}
    ladder = {"status": "done", "train_minutes": 60.0, "reports": {
        "undergrad_test": _report(sets["undergrad_test"], "011110", [0, 4, 2, 2, 1, 0]),
        "mit": _report(sets["mit"], "1100", [4, 1, 0, 0])}}
    arms = {"ladder": ladder, "base": base, "ladder_ttrl": {"status": "not run"},
            "format_only": {"status": "training", "train_minutes": 12.5}}
    out = ablation.build_result(arms, sets, k=4)

    assert out["eval_set"]["n"] == 10
    assert out["eval_set"]["sets"]["mit"]["ids"] == ["m0", "m1", "m2", "m3"]
    assert out["arms"]["base"]["greedy_accuracy"] == pytest.approx(0.1)
    assert out["arms"]["ladder"]["greedy_accuracy"] == pytest.approx(0.6)
    assert out["arms"]["ladder"]["train_minutes"] == 60.0  # extra keys are kept
    lo, hi = out["arms"]["ladder"]["greedy_interval"]
    assert lo < 0.6 < hi and 0 <= lo and hi <= 1
    assert out["arms"]["ladder"]["mean@4"] == pytest.approx((0 + 4 + 2 + 2 + 1 + 0 + 4 + 1 + 0 + 0) / 40)
    assert out["arms"]["ladder"]["mean@4_interval"][0] <= out["arms"]["ladder"]["mean@4"]

    pair = out["paired"]["base_vs_ladder"]
    assert (pair["greedy"]["a_right_b_wrong"], pair["greedy"]["a_wrong_b_right"]) == (1, 6)
    assert pair["p_value"] == pytest.approx(16 / 128)
    assert pair["p_value"] == pytest.approx(2 * (math.comb(7, 0) + math.comb(7, 1)) / 2**7)
    assert pair["n"] == 10
    assert pair["mean@4"]["diff"] == pytest.approx(0.025 - 0.35)
    assert 0 < pair["mean@4"]["p_value"] <= 1
    # per set: undergrad alone has discordant 1 vs 4 -> p = 2 * (1 + 5) / 32
    assert pair["by_set"]["undergrad_test"]["p_value"] == pytest.approx(12 / 32)
    assert pair["by_set"]["mit"]["p_value"] == pytest.approx(0.5)  # 0 vs 2: 2 * 1/4

    by_set = out["arms"]["ladder"]["by_set"]
    assert by_set["undergrad_test"]["greedy_accuracy"] == pytest.approx(4 / 6)
    assert set(by_set["undergrad_test"]["by_technique"]) == {"parts", "table"}
    assert set(by_set["undergrad_test"]["by_difficulty"]) == {"1", "2", "3"}
    assert by_set["undergrad_test"]["by_difficulty"]["1"]["n"] == 2
    assert "greedy_interval" in by_set["undergrad_test"]["by_technique"]["parts"]
    assert set(by_set["mit"]["by_year"]) == {"2023", "2024"} and "by_technique" not in by_set["mit"]
    assert by_set["mit"]["outcomes"] == {"ids": ["m0", "m1", "m2", "m3"], "greedy": "1100", "samples_right": [4, 1, 0, 0]}

    # unfinished arms are marked, never scored, and their pairs carry no p-value
    assert out["arms"]["ladder_ttrl"] == {"status": "not run", "greedy_accuracy": None, "mean@4": None}
    assert out["arms"]["format_only"]["status"] == "training"
    assert out["arms"]["format_only"]["greedy_accuracy"] is None
    assert out["paired"]["base_vs_ladder_ttrl"]["p_value"] is None
    assert "not run" in out["paired"]["ladder_vs_ladder_ttrl"]["status"]
    # pairs are named in arm order whatever order the arms came in
    assert set(out["paired"]) == {"base_vs_ladder", "base_vs_format_only", "base_vs_ladder_ttrl",
                                  "ladder_vs_format_only", "ladder_vs_ladder_ttrl", "format_only_vs_ladder_ttrl"}
    json.dumps(out)  # JSON-ready


def test_identical_arms_and_arm_without_samples(ablation):
    sets = {"s": _problems("p", 4)}
    rep = _report(sets["s"], "1010", [2, 2, 0, 0])
    ttrl = {"status": "done", "reports": {"s": {"problems": ablation.ttrl_rows(rep, [{"id": "p1", "greedy_ok": True}])}}}
    out = ablation.build_result({"ladder": {"status": "done", "reports": {"s": rep}}, "ladder_ttrl": ttrl}, sets, k=4)
    assert out["arms"]["ladder_ttrl"]["greedy_accuracy"] == pytest.approx(0.75)
    assert out["arms"]["ladder_ttrl"]["mean@4"] is None
    pair = out["paired"]["ladder_vs_ladder_ttrl"]
    assert pair["p_value"] == pytest.approx(1.0)  # one discordant pair
    assert pair["mean@4"] is None


def test_ttrl_rows_replace_only_attempted(ablation):
    rep = {"problems": [{"id": "a", "greedy_ok": True, "sample_ok": [True]},
                        {"id": "b", "greedy_ok": False, "sample_ok": [False]},
                        {"id": "c", "greedy_ok": False, "sample_ok": [False]}]}
    rows = ablation.ttrl_rows(rep, [{"id": "b", "greedy_ok": True}, {"id": "c", "greedy_ok": False}])
    assert [r["greedy_ok"] for r in rows] == [True, True, False]
    assert all(r["sample_ok"] == [] for r in rows)


def test_overlap_check(ablation):
    problems = [{"id": "t1", "integrand": "x**2 + 1"}, {"id": "t2", "integrand": "sin(2*x)"},
                {"id": "t3", "integrand": "exp(3*x)"}]
    tree = ["1 + x**2", "2*sin(x)*cos(x)", "x*exp(x)", "not a formula ((", "cos(x)"]
    got = ablation.overlap(tree, problems)
    assert got["tree_size"] == 5
    assert got["exact"] == ["t1"] and got["exact_count"] == 1  # the same integral written otherwise
    assert got["near_nodes"] >= 2  # 1 + x**2 itself, and 2*sin(x)*cos(x) = sin(2*x)
    clean = ablation.overlap(["x*exp(x)", "cos(x)"], problems)
    assert clean["exact"] == [] and clean["near_nodes"] == 0


def test_shipped_train_and_test_sets_do_not_overlap(ablation):
    data = ROOT / "engine" / "data"
    train = ablation.read_jsonl(data / "undergrad_train.jsonl")
    held_out = ablation.read_jsonl(data / "undergrad_test.jsonl") + ablation.read_jsonl(data / "mit_bee_2023_2024.jsonl")
    got = ablation.overlap([r["integrand"] for r in train], held_out)
    assert got["exact"] == [] and got["near_nodes"] == 0


def test_spread(ablation):
    assert ablation.spread(list(range(10)), 3) == [0, 3, 6]
    assert ablation.spread(list(range(4)), None) == [0, 1, 2, 3]
    assert ablation.spread(list(range(4)), 9) == [0, 1, 2, 3]


def test_export_adapter_bf16_and_replaced(ablation, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    src = tmp_path / "adapter"
    src.mkdir()
    save_file({"a.lora_A.weight": torch.randn(4, 8), "a.lora_B.weight": torch.zeros(8, 4)},
              str(src / "adapter_model.safetensors"))
    (src / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "/tmp/x"}))
    dest = tmp_path / "out" / "ladder"
    dest.mkdir(parents=True)
    (dest / "stale.bin").write_text("old adapter")
    info = ablation.export_adapter(src, dest, {"model": "tiny", "step": 3})
    assert info["exported"]
    assert not (dest / "stale.bin").exists()  # replaced, not accumulated
    weights = load_file(str(dest / "adapter_model.safetensors"))
    assert all(v.dtype == torch.bfloat16 for v in weights.values())
    assert json.loads((dest / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny"
    assert json.loads((dest / "meta.json").read_text())["step"] == 3
    refused = ablation.export_adapter(src, dest, {"model": "tiny"}, limit_mb=1e-6)
    assert not refused["exported"] and (dest / "meta.json").exists()  # the previous export stays


def test_training_record_minutes_and_redone_steps(ablation, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = [{"type": "variant", "t": 100.0}, {"type": "run_started", "t": 110.0, "dtype": "float32"},
              {"type": "step", "t": 160.0, "step": 1, "reward_mean": 0.05, "accuracy": 0.0},
              {"type": "step", "t": 220.0, "step": 2, "reward_mean": 0.3, "accuracy": 0.25},
              # killed, resumed on a machine with bf16: step 2 is redone in the second session
              {"type": "run_started", "t": 1010.0, "dtype": "bfloat16"},
              {"type": "step", "t": 1060.0, "step": 2, "reward_mean": 0.5, "accuracy": 0.5}]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    sessions = [{"started": 90.0, "clock_start": 90.0, "spent_before": 0.0},
                {"started": 1000.0, "clock_start": 1000.0, "spent_before": 150.0}]
    rec = ablation.training_record(run, sessions)
    assert rec["steps_done"] == 2
    assert [p["minute"] for p in rec["per_step"]] == [pytest.approx(70 / 60, abs=1e-3), pytest.approx(210 / 60, abs=1e-3)]
    assert rec["per_step"][1]["reward_mean"] == 0.5
    assert rec["steps_with_verified_answer"] == 1
    assert rec["train_dtypes"] == ["bfloat16", "float32"]


def test_bootstrap_mean_interval():
    from engine.evaluation.stats import bootstrap_mean_interval

    assert bootstrap_mean_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    lo, hi = bootstrap_mean_interval([0, 0.25, 1, 0.75, 0.5, 0, 1], iterations=2000, seed=1)
    assert 0 <= lo < 3.5 / 7 < hi <= 1
    assert bootstrap_mean_interval([]) == (0.0, 1.0)


def test_git_commit_only_its_paths(ablation, tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (repo / "other.txt").write_text("someone else's work\n")
    git("add", "other.txt")  # staged by another engineer: must stay out of the ablation's commit
    results = repo / "bench" / "results"
    (results / "adapters" / "ladder").mkdir(parents=True)
    (results / "ablation-x.json").write_text("{}")
    (results / "adapters" / "ladder" / "w.bin").write_text("w")
    assert ablation.repo_root(results) == repo.resolve()
    assert ablation.git_commit([results / "ablation-x.json", results / "adapters" / "ladder"], "arm finished", repo)
    assert set(git("show", "--name-only", "--format=", "HEAD").split()) == {
        "bench/results/ablation-x.json", "bench/results/adapters/ladder/w.bin"}
    assert "other.txt" in git("diff", "--cached", "--name-only")
    # the adapter replaced: the old file's deletion is committed too
    (results / "adapters" / "ladder" / "w.bin").unlink()
    (results / "adapters" / "ladder" / "v.bin").write_text("v")
    assert ablation.git_commit([results / "adapters" / "ladder"], "adapter replaced", repo)
    assert git("ls-files", "bench/results/adapters").split() == ["bench/results/adapters/ladder/v.bin"]


def test_finished_arms_survive_a_new_machine(ablation, tmp_path):
    """A finished arm's record and reports are archived under the results; a driver on an empty work
    folder restores them (so the arm is not redone), the LADDER arm's final adapter comes back from its
    exported copy, and local state is never overwritten by the archive."""
    def make(work: str):
        return ablation.Ablation(ablation.parse_args(["--date", "x", "--work", str(tmp_path / work),
                                                      "--results", str(tmp_path / "results")]))

    old = make("old")
    for d in (old.state, old.evals):
        d.mkdir(parents=True)
    (old.work / "settings.json").write_text('{"model": "tiny"}')
    report = {"n_problems": 1, "k": 0, "problems": [{"id": "u0", "greedy_ok": True}]}
    (old.evals / "ladder@step-7.undergrad_test.json").write_text(json.dumps(report))
    rec = {"status": "done", "reports": {"undergrad_test": "evals/ladder@step-7.undergrad_test.json"},
           "final_step": 7, "final_adapter": "final/ladder-step-7", "budget_minutes": 60.0}
    (old.state / "ladder.json").write_text(json.dumps(rec))
    exported = tmp_path / "results" / "adapters" / "ladder"
    exported.mkdir(parents=True)
    (exported / "adapter_model.safetensors").write_text("weights")
    archive = old.archive_arm("ladder")
    assert archive == tmp_path / "results" / "ablation-x"

    new = make("new")
    new.state.mkdir(parents=True)
    assert new.done("ladder") is None
    new.restore()
    assert new.done("ladder")["final_step"] == 7
    assert json.loads((new.work / rec["reports"]["undergrad_test"]).read_text()) == report
    assert (new.work / "final" / "ladder-step-7" / "adapter_model.safetensors").read_text() == "weights"
    assert json.loads((new.work / "settings.json").read_text()) == {"model": "tiny"}

    (new.state / "ladder.json").write_text(json.dumps({**rec, "final_step": 9}))
    new.restore()
    assert new.done("ladder")["final_step"] == 9  # the local record wins


def test_finished_ttrl_problems_survive_a_new_machine(ablation, tmp_path):
    """Each TTRL problem that finished is archived on its own; a driver on an empty work folder gets
    its record and budget back (so only the problem cut short is redone), and never overwrites a
    local record."""
    def make(work: str):
        return ablation.Ablation(ablation.parse_args(["--date", "x", "--work", str(tmp_path / work),
                                                      "--results", str(tmp_path / "results")]))

    old = make("old")
    root = old.work / "ladder_ttrl" / "from-step-7"
    (root / "u3").mkdir(parents=True)
    record = [{"id": "u3", "solved": True, "step": 2, "greedy_ok": False, "steps_run": 2}]
    (root / "u3" / "ttrl.json").write_text(json.dumps(record))
    (root / "u3.budget.json").write_text('{"spent_s": 300.2, "stopped_by_budget": true}')
    saved = [old.archive_file(f) for f in (root / "u3" / "ttrl.json", root / "u3.budget.json")]
    assert saved[0] == tmp_path / "results" / "ablation-x" / "ladder_ttrl" / "from-step-7" / "u3" / "ttrl.json"

    new = make("new")
    new.state.mkdir(parents=True)
    new.restore()
    back = new.work / "ladder_ttrl" / "from-step-7"
    assert json.loads((back / "u3" / "ttrl.json").read_text()) == record
    assert json.loads((back / "u3.budget.json").read_text())["spent_s"] == 300.2

    (back / "u3" / "ttrl.json").write_text("[]")
    new.restore()
    assert (back / "u3" / "ttrl.json").read_text() == "[]"  # the local record wins


def test_settings_pin_the_code(ablation, tmp_path, monkeypatch):
    """Every arm must be trained by the same code: the first start records the commit, a settings file
    from before that key adopts it, and a start from other code is refused with the worktree hint."""
    make = lambda: ablation.Ablation(ablation.parse_args(["--date", "x", "--work", str(tmp_path / "work"),
                                                          "--results", str(tmp_path / "results")]))
    monkeypatch.setattr(ablation, "code_version", lambda: "abc123")
    first = make()
    first.work.mkdir(parents=True)
    first.check_settings()
    settings = json.loads((first.work / "settings.json").read_text())
    assert settings["code"] == "abc123" and settings["train_problems"] == "engine/data/undergrad_train.jsonl"
    del settings["code"]
    (first.work / "settings.json").write_text(json.dumps(settings))
    make().check_settings()  # written before the key existed: adopted, not a change
    assert json.loads((first.work / "settings.json").read_text())["code"] == "abc123"
    monkeypatch.setattr(ablation, "code_version", lambda: "def456+dirty")
    with pytest.raises(SystemExit, match="git worktree add ../ablation-code abc123"):
        make().check_settings()


def test_plot_draws_a_trained_arm_beside_unfinished_ones(ablation, tmp_path):
    """The driver only logs a failed plot (a finished arm must keep its JSON), so a result shape the
    plot cannot draw would silently leave no figure: draw the committed result with a trained arm
    added (steps, curve, per-difficulty table) and the other arms unfinished."""
    pytest.importorskip("matplotlib")
    import copy

    from plot_ablation import plot

    result = json.loads((ROOT / "bench" / "results" / "ablation-2026-11-30.json").read_text())
    arm = copy.deepcopy(result["arms"]["base"])
    arm["training"] = {"per_step": [{"minute": 3.0 + i, "accuracy": 0.5, "verified_trained": 4, "signal_groups": 1,
                                     "drawn": 2, "reward_mean": 0.5} for i in range(12)]}
    arm["held_out_curve"] = [{"minute": 0.0, "greedy_accuracy": 0.2}, {"minute": 15.0, "greedy_accuracy": 0.25}]
    result["arms"]["ladder"] = arm
    out = plot(result, tmp_path / "ablation.png")
    assert out.stat().st_size > 20_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_a_finished_ttrl_arm(tmp_path):
    """The TTRL panel reads each problem's record (solved at step 0, after updates, or not): the
    committed 2026-12-01 result has all three kinds."""
    pytest.importorskip("matplotlib")
    from plot_ablation import plot

    result = json.loads((ROOT / "bench" / "results" / "ablation-2026-12-01.json").read_text())
    kinds = {(r["solved"], r["step"] == 0) for r in result["arms"]["ladder_ttrl"]["ttrl"]["problems"]}
    assert kinds == {(True, True), (True, False), (False, False)}
    out = plot(result, tmp_path / "ablation.png")
    assert out.stat().st_size > 20_000


def test_difficulty_gains_counts_from_the_first_snapshot():
    """The per-difficulty curve is the change in greedy right answers since minute 0, per level; a
    level the first snapshot lacks has no baseline and is left out."""
    from plot_ablation import difficulty_gains

    curve = [{"minute": 0.0, "by_difficulty": {"1": [16, 20], "2": [24, 55]}},
             {"minute": 15.0, "by_difficulty": {"1": [15, 20], "2": [27, 55], "3": [9, 78]}},
             {"minute": 30.0, "by_difficulty": {"2": [31, 55]}}]
    assert difficulty_gains(curve) == {"1": [(0.0, 0), (15.0, -1)], "2": [(0.0, 0), (15.0, 3), (30.0, 7)]}
    assert difficulty_gains([]) == {}
    assert difficulty_gains([{"minute": 0.0, "greedy_accuracy": 0.2}]) == {}


def test_curve_point_counts_per_difficulty(ablation):
    """The held-out curve counts greedy answers on the curve subset only, in all and per difficulty."""
    problems = _problems("u", 6)  # difficulties 1, 2, 3, 1, 2, 3
    rows = _report(problems, "110101", [0] * 6)["problems"]
    for r, p in zip(rows, problems):
        r["difficulty"] = p["difficulty"]
    point = ablation.curve_point(rows, ["u0", "u1", "u2", "u3", "u5", "missing"])
    assert point == {"greedy_correct": 4, "n": 5, "by_difficulty": {"1": [2, 2], "2": [1, 1], "3": [1, 2]}}


def test_base_from_an_earlier_ablation(ablation, tmp_path):
    """--base-from copies an earlier ablation's base reports when it evaluated the same way (the arm
    then needs no model run and says where its answers came from), and refuses one that did not."""
    def make(date: str, *extra: str):
        return ablation.Ablation(ablation.parse_args(["--date", date, "--work", str(tmp_path / date),
                                                      "--results", str(tmp_path / "results"), *extra]))

    old = make("old")
    for d in (old.state, old.evals):
        d.mkdir(parents=True)
    settings = {key: getattr(old.args, key) for key in ablation.BASE_KEYS} | {"code": "abc123"}
    (old.work / "settings.json").write_text(json.dumps(settings))
    problems = _problems("u", 3)
    report = _report(problems, "101", [4, 0, 2])
    (old.evals / "base.u.json").write_text(json.dumps(report))
    (old.state / "base.json").write_text(json.dumps({"status": "done", "reports": {"u": "evals/base.u.json"},
                                                     "finished_at": "2026-12-01T10:00:00"}))
    old.archive_arm("base")

    new = make("new", "--base-from", "ablation-old")
    new.evals.mkdir(parents=True)
    new.sets = {"u": problems}
    (new.work / "sets").mkdir()
    rec = new.run_base()  # would start `ladder eval` (and fail: no such model run here) if the copy were missed
    assert rec["reused_from"] == {"ablation": "ablation-old", "code": "abc123", "finished_at": "2026-12-01T10:00:00"}
    assert json.loads((new.work / rec["reports"]["u"]).read_text()) == report

    other = make("other", "--base-from", "ablation-old", "--temperature", "0.6")
    with pytest.raises(SystemExit, match="temperature: 1.0 there, 0.6 here"):
        other.run_base()


def test_sharpening_splits_by_the_base_greedy_answer(ablation):
    """bench/sharpening.py's split: base greedy right on u0, u1; the arm keeps u0, loses u1, gains u3.
    mean@4 on the right part: base (4+2)/8 = 0.75, arm (4+0)/8 = 0.5; on the wrong part (u2, u3):
    base (0+1)/8, arm (0+3)/8. McNemar on the wrong part: 1 discordant pair (arm right) -> p = 1."""
    sharpening = bench_module("sharpening")
    problems = _problems("u", 4)
    base = _report(problems, "1100", [4, 2, 0, 1])["problems"]
    arm = _report(problems, "1001", [4, 0, 0, 3])["problems"][::-1]  # order must not matter
    parts = sharpening.decompose(base, arm, 4)
    right, wrong = parts["base_greedy_right"], parts["base_greedy_wrong"]
    assert (right["n"], right["base"]["greedy_correct"], right["arm"]["greedy_correct"]) == (2, 2, 1)
    assert (right["base"]["mean@4"], right["arm"]["mean@4"]) == (0.75, 0.5)
    assert (wrong["n"], wrong["arm"]["greedy_correct"], wrong["arm"]["mean@4"]) == (2, 1, 0.375)
    assert wrong["arm_vs_base"]["greedy"]["a_right_b_wrong"] == 1 and wrong["arm_vs_base"]["p_value"] == 1.0
    assert wrong["arm_vs_base"]["mean@4"]["diff"] == 0.25


def test_ttrl_budget_reruns_ttrl_with_the_ablations_own_config(ablation, tmp_path):
    """bench/ttrl_budget.py rebuilds the training config from an ablation's settings.json; it must be
    the file the driver wrote for those settings, or the longer TTRL runs compare unlike with like."""
    ttrl_budget = bench_module("ttrl_budget")
    settings = json.loads((ROOT / "bench" / "results" / "ablation-2026-12-02" / "settings.json").read_text())
    driver = ablation.Ablation(ablation.parse_args([
        "--date", "x", "--work", str(tmp_path / "work"), "--model", settings["model"],
        "--variant-source", settings["variant_source"], "--group-size", str(settings["group_size"]),
        "--prompts-per-step", str(settings["prompts_per_step"]), "--max-tokens", str(settings["max_tokens"]),
        "--depth", str(settings["depth"]), "--max-variants", str(settings["max_variants"])]))
    written = driver.write_configs()["shared"].read_text()
    assert ttrl_budget.tomli_w.dumps(ttrl_budget.config_tables(settings)["shared"]) == written
    assert 'source = "symbolic"' in written and "group_size = 8" in written
