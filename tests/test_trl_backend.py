"""`ladder train --backend trl`: TRL's GRPOTrainer with our verifier as the reward, our events and
run directory, resume, stop, and the multi-process path (two CPU processes over gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runs.config import Config
from engine.errors import LadderError
from engine.runs.events import Control, read_events
from engine.runs.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
POOL = [{"id": "p1", "integrand": "x"}, {"id": "p2", "integrand": "cos(x)"}, {"id": "p3", "integrand": "exp(2*x)"}]


def tiny_config() -> Config:
    cfg = Config(model="tiny", device="cpu")
    cfg.grpo.group_size = 4
    cfg.sample.max_tokens = 12
    return cfg


def write_toml(path: Path) -> Path:
    path.write_text("[sample]\nmax_tokens = 12\n")
    return path


def engine_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "engine.commands", *argv]


def check_rewards_come_from_our_verifier(events: list[dict], cfg: Config) -> None:
    from engine.train.reward import score

    rollouts = [e for e in events if e["type"] == "rollout"]
    assert rollouts
    for e in rollouts:
        expected = score(e["integrand"], e["completion"], cfg)
        assert (e["reward"], e["ok"], e["answer"], e["reason"]) == (
            expected.reward, expected.ok, expected.answer, expected.reason,
        )


def test_recipe_maps_onto_grpo_config(tmp_path: Path) -> None:
    from trl import GRPOConfig

    from engine.train.trl_backend import grpo_kwargs, lora_config

    cfg = Config()
    kwargs = grpo_kwargs(cfg, RunDir(tmp_path), 7, "cpu", num_processes=1)
    args = GRPOConfig(**kwargs)
    assert args.num_generations == cfg.grpo.group_size
    assert args.per_device_train_batch_size == cfg.grpo.prompts_per_step * cfg.grpo.group_size
    assert (args.beta, args.epsilon, args.learning_rate) == (cfg.grpo.kl_coef, cfg.grpo.clip_eps, cfg.grpo.lr)
    assert args.max_completion_length == cfg.sample.max_tokens and args.max_steps == 7
    assert args.scale_rewards == "group" and args.loss_type == cfg.trl.loss_type
    assert args.remove_unused_columns is False  # the reward reads the `integrand` column
    lora = lora_config(cfg)
    assert (lora.r, lora.lora_alpha) == (cfg.grpo.lora_r, cfg.grpo.lora_alpha)
    assert set(lora.target_modules) == set(cfg.grpo.lora_targets)
    cfg.grpo.group_size = 5  # 5 completions cannot be split over 2 GPUs
    with pytest.raises(LadderError, match="cannot be split"):
        grpo_kwargs(cfg, RunDir(tmp_path), 7, "cpu", num_processes=2)


def test_processes_on_one_node_share_the_verifier_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.train.trl_backend import _share_cores

    cfg = Config()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert _share_cores(cfg).verify.workers == max(1, len(os.sched_getaffinity(0)) // 2)
    assert cfg.verify.workers == 0  # the run's own config is left alone
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert _share_cores(cfg).verify.workers == 0  # one process: one worker per core, as usual


def test_reward_function_scores_with_our_verifier() -> None:
    from engine.train.reward import score
    from engine.train.rewards_trl import compute_score, integration_reward
    from engine.verify.verifier import verify

    cfg = Config()
    completions = [
        [{"role": "assistant", "content": "<answer>sin(x)**2/2</answer>"}],  # correct, other form
        [{"role": "assistant", "content": "<answer>x**3</answer>"}],  # wrong, parseable
        "no tags at all",
    ]
    metrics: dict[str, float] = {}
    rewards = integration_reward(
        prompts=[[]] * 3, completions=completions, integrand=["sin(x)*cos(x)"] * 3,
        log_metric=metrics.__setitem__,
    )
    assert verify("sin(x)*cos(x)", "sin(x)**2/2").ok and not verify("sin(x)*cos(x)", "x**3").ok
    assert rewards[0] == score("sin(x)*cos(x)", "<answer>sin(x)**2/2</answer>", cfg).reward >= 1.0
    assert rewards[1] == pytest.approx(cfg.sample.format_reward)
    assert rewards[2] == 0.0
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert compute_score("ladder/integration", "<answer>-cos(2*x)/4</answer>", "sin(x)*cos(x)") == rewards[0]


def test_train_writes_run_dir_events_and_checkpoint_and_stops_on_request(tmp_path: Path, tiny_dir: Path) -> None:
    from engine.train.trl_backend import train

    cfg = tiny_config()
    run = RunDir.create(tmp_path / "run", cfg)
    control = Control()
    control.stop()  # honoured after the first step, with a checkpoint
    summary = train(run, cfg, POOL, steps=5, sink=run.sink(), control=control)
    assert summary["status"] == "stopped" and summary["steps"] == 1
    events = list(read_events(run.events_path))
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert [e["step"] for e in events if e["type"] == "step"] == [1]
    step = next(e for e in events if e["type"] == "step")
    assert {"reward_mean", "reward_std", "kl", "loss", "accuracy", "seconds"} <= step.keys()
    assert (run.checkpoints / "step-1" / "adapter_model.safetensors").exists()
    assert not (run.path / "trl-work").exists()  # TRL's scratch folder is gone, nothing half-written
    check_rewards_come_from_our_verifier(events, cfg)
    assert {e["variant"] for e in events if e["type"] == "rollout"} <= {"p1", "p2", "p3"}
    # `ladder solve --adapter RUN_DIR` finds and loads the adapter TRL wrote
    from engine.inference.hf import find_adapter
    from engine.inference.models import load_backend

    assert find_adapter(run.path) == run.checkpoints / "step-1"
    assert load_backend("tiny", "hf", device="cpu", adapter=str(run.path)) is not None


def test_resume_refuses_a_checkpoint_of_the_hf_backend(tmp_path: Path) -> None:
    from engine.train.trl_backend import train

    cfg = tiny_config()
    run = RunDir.create(tmp_path / "run", cfg)
    (run.checkpoints / "step-3").mkdir(parents=True)
    (run.checkpoints / "step-3" / "state.json").write_text("{}")  # what the hf trainer's checkpoints hold
    with pytest.raises(LadderError, match="--backend hf"):
        train(run, cfg, POOL, steps=5, sink=run.sink(), resume=True)


def test_ladder_train_backend_trl_in_engine_mode_then_resume(tmp_path: Path, tiny_dir: Path, problems_file: Path) -> None:
    out = tmp_path / "run"
    toml = write_toml(tmp_path / "c.toml")
    common = ["--backend", "trl", "--device", "cpu", "--config", str(toml)]
    first = subprocess.run(
        engine_cmd("engine", "train", "--model", "tiny", "--steps", "2", "--problems", str(problems_file),
                   "--no-variants", "--group-size", "4", "--out", str(out), *common),
        capture_output=True, text=True, cwd=ROOT, timeout=240, stdin=subprocess.DEVNULL,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    streamed = [json.loads(line) for line in first.stdout.splitlines()]  # stdout holds only events
    on_disk = list(read_events(out / "events.jsonl"))
    assert streamed == on_disk
    assert [e["step"] for e in on_disk if e["type"] == "step"] == [1, 2]
    assert [e["step"] for e in on_disk if e["type"] == "checkpoint"] == [1, 2]
    assert RunDir.open(out).latest_checkpoint() == out / "checkpoints" / "step-2"
    check_rewards_come_from_our_verifier(on_disk, RunDir.open(out).config())

    second = subprocess.run(
        engine_cmd("train", "--resume", str(out), "--steps", "3", *common),
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    events = list(read_events(out / "events.jsonl"))
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3]
    assert events[-1]["type"] == "run_finished" and events[-1]["steps"] == 3
    assert (out / "checkpoints" / "step-3" / "trainer_state.json").exists()


def test_use_vllm_without_a_gpu_is_refused_before_loading(tmp_path: Path) -> None:
    from engine.train.trl_backend import train

    cfg = tiny_config()
    cfg.trl.use_vllm = True
    run = RunDir.create(tmp_path / "run", cfg)
    with pytest.raises(LadderError, match="--use-vllm needs a CUDA GPU"):
        train(run, cfg, POOL, steps=1, sink=run.sink())


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        engine_cmd("train", "--backend", "trl", "--model", "tiny", "--problems", str(tmp_path / "missing.jsonl"),
                   "--steps", "1", "--out", str(tmp_path / "run")),
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("ladder: error:")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_two_processes_share_one_run(tmp_path: Path, tiny_dir: Path, problems_file: Path) -> None:
    """What `accelerate launch` does on a GPU node, with two CPU processes (torchrun, gloo)."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
         "-m", "engine.commands", "train", "--backend", "trl", "--model", "tiny", "--device", "cpu",
         "--steps", "2", "--problems", str(problems_file), "--no-variants", "--group-size", "4",
         "--config", str(write_toml(tmp_path / "c.toml")), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=280, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = list(read_events(out / "events.jsonl"))
    started = [e for e in events if e["type"] == "run_started"]
    assert len(started) == 1 and started[0]["processes"] == 2  # one writer, two trainers
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2]
    assert (out / "checkpoints" / "step-2" / "adapter_model.safetensors").exists()
