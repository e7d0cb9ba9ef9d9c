"""TTRL on the tiny model: the record it reports and the exact rollback of the weights."""

from __future__ import annotations

import json

import torch

from engine.commands import run as cli_run
from engine.runs.config import Config
from engine.runs.events import EventSink
from engine.problems import Problem
from engine.train.grpo import GRPOTrainer
from engine.train.ttrl import ttrl_problem


def small_config() -> Config:
    cfg = Config()
    cfg.device = "cpu"
    cfg.variants.source = "symbolic"
    cfg.ttrl.max_variants, cfg.ttrl.test_samples = 3, 2
    cfg.sample.max_tokens = 4
    cfg.grpo.group_size, cfg.grpo.max_resample, cfg.grpo.lr = 2, 0, 1e-2
    return cfg


def test_ttrl_rolls_back_to_the_exact_starting_weights(tiny_dir):
    cfg = small_config()
    trainer = GRPOTrainer(tiny_dir, cfg)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    # The reference answer is deliberately wrong: TTRL must never look at it.
    record = ttrl_problem(trainer, Problem(id="p", integrand="x*exp(x)", answer="WRONG"), cfg, 2, sink=EventSink())
    assert record["steps_run"] == 2 and record["solved"] is False and record["step"] is None
    assert {"greedy_answer", "greedy_ok", "answer", "seconds"} <= set(record)
    after = dict(trainer.model.named_parameters())
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_ttrl_cli_json(tmp_path, tiny_dir, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text('[variants]\nsource = "symbolic"\n[ttrl]\nmax_variants = 3\ntest_samples = 2\n'
                    '[sample]\nmax_tokens = 4\n[grpo]\ngroup_size = 2\nmax_resample = 0\n')
    out = tmp_path / "run"
    assert cli_run(["ttrl", "cos(x)", "--model", "tiny", "--steps", "1", "--config", str(toml), "--json",
                    "--out", str(out), "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["solved"] == 0 and report["problems"][0]["integrand"] == "cos(x)"
    assert json.loads((out / "ttrl.json").read_text())[0]["steps_run"] == 1
