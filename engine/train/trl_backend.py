"""LADDER's GRPO recipe on TRL's GRPOTrainer: `ladder train --backend trl`, multi-GPU via accelerate.

The hand-written trainer (engine/train/grpo.py) is the readable reference and the fastest on one CPU;
this backend hands the same recipe to TRL so that `accelerate launch` can spread it over GPUs and
nodes (DDP, FSDP, DeepSpeed ZeRO) and, optionally, generate rollouts with vLLM:

    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m engine.commands \\
        train --backend trl --model PATH --problems FILE.jsonl --steps 250 --out runs/NAME

Entry point (`ladder train --backend trl` calls it once the run directory and its variant pool are
set up by engine.train.setup, on the main process, exactly as for `--backend hf`):

    train(run, cfg, pool, *, steps, sink, control=None, resume=False) -> dict

    run      the RunDir, already created (config.json written) and holding tree.jsonl if any
    cfg      the run's Config: model and device, [grpo] (group, lr, ε, KL, LoRA, seed,
             checkpoint_every), [sample] (temperature, max_tokens, format_reward), [trl]
    pool     the prompts: dicts with `integrand` and optionally `id`, `depth`, `kind`, `source`
             (tree.jsonl nodes or Problem.to_dict()); see engine/train/datasets.py for the rows
    steps    total optimizer steps of the run (a resumed run continues up to it)
    sink     the run's EventSink; only the main process writes to it
    control  stop/pause between steps (engine mode); a stop saves a checkpoint first
    returns  {"status", "steps", "checkpoint", "reward_mean", "accuracy"} (engine.train.setup.summary)

It writes what engine/train/grpo.py writes, so the TUI watches either the same way: `run_started`,
one `rollout` per scored completion (the main process's share, up to [trl] rollout_events per
step), one `step` per optimizer step, `checkpoint` and `run_finished`. TRL's own checkpoint
folders (adapter, optimizer, scheduler, RNG, trainer state) are moved atomically to
`checkpoints/step-N/`, which is what `resume=True` continues from, same step counter and data order.

How the recipe maps onto GRPOConfig: group_size → num_generations; prompts_per_step × group_size
completions per step, split over the processes (per_device_train_batch_size) and [trl] grad_accum
micro-batches; kl_coef → beta (reference = the model with the adapter disabled); clip_eps →
epsilon; lr, max_grad_norm, seed; [sample] max_tokens → max_completion_length and the sampling
settings; group-normalised advantages (scale_rewards="group"); [trl] loss_type "dapo" averages the
token losses over the batch as our trainer does. LoRA settings become a peft LoraConfig. Not mapped:
dynamic resampling of equal-reward groups (TRL gives them zero advantage instead), and the stop at
</answer> (TRL's generation ends at EOS or the token budget).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from engine.errors import LadderError
from engine.inference.device import dtype_name, pick_device, pick_dtype
from engine.runs.config import Config
from engine.runs.events import (
    Checkpoint,
    Control,
    Error,
    EventSink,
    RunFinished,
    RunStarted,
    Step,
    null_sink,
)
from engine.runs.rundir import RunDir
from engine.train.setup import summary

WORK_DIR = "trl-work"  # TRL's scratch output_dir inside the run; checkpoints leave it at once


def grpo_args(cfg: Config, run: RunDir, steps: int, device: str, num_processes: int) -> "Any":
    """The GRPOConfig (TRL training arguments) equivalent to our Config."""
    from trl import GRPOConfig

    return GRPOConfig(**grpo_kwargs(cfg, run, steps, device, num_processes))


def grpo_kwargs(cfg: Config, run: RunDir, steps: int, device: str, num_processes: int) -> dict[str, Any]:
    """The GRPOConfig fields for our Config (a dict, so the CUDA mapping is testable on a CPU box)."""
    import torch

    g, s, t = cfg.grpo, cfg.sample, cfg.trl
    completions = g.prompts_per_step * g.group_size
    per_step = num_processes * t.grad_accum
    if completions % per_step:
        raise LadderError(
            f"prompts_per_step x group_size = {completions} completions per step cannot be split over "
            f"{num_processes} process(es) x grad_accum {t.grad_accum}; change [grpo] prompts_per_step"
        )
    dtype = pick_dtype(device)
    return dict(
        output_dir=str(run.path / WORK_DIR),
        max_steps=steps,
        per_device_train_batch_size=completions // per_step,
        gradient_accumulation_steps=t.grad_accum,
        num_generations=g.group_size,
        max_completion_length=s.max_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,
        min_p=s.min_p or None,
        learning_rate=g.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=g.max_grad_norm,
        beta=g.kl_coef,
        epsilon=g.clip_eps,
        loss_type=t.loss_type,
        scale_rewards="group",
        activation_checkpointing=g.gradient_checkpointing,  # TRL's own default is on
        seed=g.seed,
        data_seed=g.seed,
        use_cpu=device == "cpu",
        bf16=dtype == torch.bfloat16,
        model_init_kwargs={"dtype": dtype},
        use_vllm=t.use_vllm,
        vllm_mode=t.vllm_mode,
        vllm_gpu_memory_utilization=t.vllm_gpu_memory_utilization,
        remove_unused_columns=False,  # the reward needs the `integrand` column
        disable_dropout=True,
        logging_steps=1,
        save_strategy="steps",
        save_steps=g.checkpoint_every,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def lora_config(cfg: Config) -> "Any":
    """The peft LoraConfig of [grpo] (the same adapter shape as the hand-written trainer)."""
    from peft import LoraConfig

    g = cfg.grpo
    return LoraConfig(
        r=g.lora_r, lora_alpha=g.lora_alpha, lora_dropout=g.lora_dropout,
        target_modules=list(g.lora_targets), task_type="CAUSAL_LM",
    )


def train(
    run: RunDir,
    cfg: Config,
    pool: Sequence[Mapping[str, Any]],
    *,
    steps: int,
    sink: EventSink,
    control: Control | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a LoRA adapter on `pool` with TRL's GRPOTrainer (contract in the module docstring)."""
    from accelerate import PartialState
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import GRPOTrainer

    from engine.inference.models import hf_model_dir
    from engine.train.datasets import records
    from engine.train.rewards_trl import VerifierReward

    device = pick_device(cfg.device)
    state = PartialState(cpu=device == "cpu")  # one process unless started by accelerate/torchrun
    main = state.is_main_process
    events = sink if main else null_sink()
    control = control or Control()
    rows = records(pool)
    if len(rows) < cfg.grpo.prompts_per_step:  # TRL's sampler would yield no batch at all
        raise LadderError(f"the variant pool has {len(rows)} prompts, fewer than one step's "
                          f"{cfg.grpo.prompts_per_step} ([grpo] prompts_per_step)")

    if cfg.trl.use_vllm:
        _check_vllm(device)
    checkpoint = run.latest_checkpoint() if resume else None
    if checkpoint is not None and not (checkpoint / "trainer_state.json").exists():
        raise LadderError(f"{checkpoint} was written by the hf backend; resume it with --backend hf")
    start_step = _checkpoint_step(checkpoint)

    events.emit(RunStarted(kind="train", backend="trl", config=cfg.to_dict(), model=cfg.model,
        device=device, dtype=dtype_name(pick_dtype(device)), total_steps=steps, processes=state.num_processes, pool=len(rows),
        resumed_from=start_step,))
    if start_step >= steps:
        result = summary(run, "done", start_step, {})
        events.emit(RunFinished(**result))
        return result

    reward = VerifierReward(_share_cores(cfg), sink=events, max_events=cfg.trl.rollout_events)
    watcher = _EventCallback(run, events, control, reward, state, cfg)
    with state.main_process_first():  # a GGUF model is converted once, by the main process
        model_dir = hf_model_dir(cfg.model)
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=reward,
        args=grpo_args(cfg, run, steps, device, state.num_processes),
        train_dataset=Dataset.from_list(rows),
        peft_config=lora_config(cfg),
        callbacks=[watcher],
    )
    # Trainer prints its logs to stdout, which in engine mode carries only events.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except LadderError:
        raise
    except Exception as e:
        events.emit(Error(message=f"{type(e).__name__}: {e}"))
        events.emit(RunFinished(status="error", steps=trainer.state.global_step))
        raise
    result = summary(run, "stopped" if control.stopped else "done", trainer.state.global_step,
                     {"reward_mean": watcher.last_reward, "accuracy": watcher.last_accuracy})
    if main:
        shutil.rmtree(run.path / WORK_DIR, ignore_errors=True)
    events.emit(RunFinished(**result))
    return result


def _share_cores(cfg: Config) -> Config:
    """A copy of cfg whose verifier pool takes this process's share of the node's cores.

    Every process scores its own completions; with "one worker per core" each of 8 processes
    would start a worker on every core of the node.
    """
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cfg = Config.from_dict(cfg.to_dict())
    if cfg.verify.workers == 0 and local > 1:
        cfg.verify.workers = max(1, len(os.sched_getaffinity(0)) // local)
    return cfg


def _check_vllm(device: str) -> None:
    """TRL's vLLM rollouts need a GPU and the vllm package; say so before loading anything."""
    import importlib.util

    if not device.startswith("cuda"):
        raise LadderError("--use-vllm needs a CUDA GPU (vLLM does not generate on CPU here)")
    if importlib.util.find_spec("vllm") is None:
        raise LadderError("--use-vllm needs the vllm package: pip install vllm")


def _checkpoint_step(checkpoint: Path | None) -> int:
    return int(checkpoint.name.split("-")[1]) if checkpoint is not None else 0


class _EventCallback(TrainerCallback):
    """Turns TRL's logs and saves into our events, moves checkpoints into the run, obeys Control."""

    def __init__(self, run: RunDir, sink: EventSink, control: Control, reward: Any, state: Any, cfg: Config):
        self.run = run
        self.sink = sink
        self.control = control
        self.reward = reward
        self.state = state
        self.completions_per_step = cfg.grpo.prompts_per_step * cfg.grpo.group_size
        self.step_start = time.perf_counter()
        self.last_verify = 0.0
        self.last_reward: float | None = None
        self.last_accuracy: float | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "reward" not in logs:  # the end-of-training summary log, not a step
            return
        seconds = time.perf_counter() - self.step_start
        verify_s = self.reward.verify_seconds - self.last_verify
        self.last_verify = self.reward.verify_seconds
        self.last_reward = logs.get("reward")
        self.last_accuracy = logs.get("accuracy")
        tokens = (logs.get("completions/mean_length") or 0.0) * self.completions_per_step
        self.sink.emit(Step(
            step=state.global_step, reward_mean=logs.get("reward"),
            reward_std=logs.get("reward_std"), accuracy=logs.get("accuracy"), kl=logs.get("kl"),
            loss=logs.get("loss"), grad_norm=logs.get("grad_norm"), entropy=logs.get("entropy"),
            tokens_per_s=round(tokens / seconds, 2) if seconds > 0 else None,
            seconds=round(seconds, 3), verify_s=round(verify_s, 3),
        ))
        if self.state.is_main_process:
            print(
                f"step {state.global_step}/{state.max_steps}  reward {_fmt(logs.get('reward'))}"
                f"  acc {_fmt(logs.get('accuracy'))}  kl {_fmt(logs.get('kl'))}  {seconds:.1f}s",
                file=sys.stderr,
            )

    def on_step_end(self, args, state, control, **kwargs):
        stop = self.control.checkpoint() if self.state.is_main_process else False
        if self.state.num_processes > 1:  # every rank must stop at the same step
            from accelerate.utils import broadcast_object_list

            stop = broadcast_object_list([stop])[0]
        if stop:
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args, state, control, **kwargs):
        self.state.wait_for_everyone()  # every rank has written its part of checkpoint-N
        source = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if self.state.is_main_process and source.is_dir():
            with self.run.new_checkpoint(state.global_step) as tmp:
                for item in source.iterdir():
                    shutil.move(str(item), tmp / item.name)
            shutil.rmtree(source, ignore_errors=True)
            self.sink.emit(Checkpoint(step=state.global_step,
                           path=str(self.run.checkpoints / f"step-{state.global_step}")))
        self.state.wait_for_everyone()


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
