"""Every default of the engine in one place, grouped by the part of the system it steers.

Defaults follow the LADDER paper (Simonds & Yoshiyama, arXiv 2503.00735) where it gives a value,
scaled down where a 2-core CPU needs it (marked "CPU"). A TOML file given with `--config` overrides
any field: section names are the attribute names below, e.g.

    [grpo]
    group_size = 4
    [variants]
    depth = 2
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import LadderError


@dataclass
class VerifyConfig:
    """The numerical verifier (engine/verify/verifier.py; its docstring states the decision rule)."""

    timeout_s: float = 2.0  # paper: 2 s per check
    retries: int = 3  # paper: 3 retries; here: extra sampling rounds when too few points are usable
    points: int = 5  # paper: 5 random points; here: the paper's interval checks run on 5 intervals
    domain: float = 10.0  # paper: points in [-10, 10]
    interval_width: float = 0.1  # paper: intervals of width 0.1
    rel_tol: float = 1e-2  # paper's tolerance (accepts x1.009); kept for comparison only
    round_points: int = 40  # points drawn per sampling round for the derivative check
    min_points: int = 8  # agreeing points needed to accept
    float_rtol: float = 1e-9  # float64 first pass: |F' - f| <= float_rtol * max(|F'|, |f|)
    mp_dps: int = 30  # mpmath digits used to confirm any point the float pass does not settle
    mp_rtol: float = 1e-20  # relative tolerance at mp_dps (and at 2 * mp_dps for cancellation)
    max_confirm: int = 8  # points per sampling round that mpmath re-checks (largest float error first)
    interval_rtol: float = 1e-7  # |F(b) - F(a) - quad| relative to the quadrature's size
    definite_rtol: float = 1e-8  # definite integrals: |answer - quad| <= definite_rtol * max(1, |quad|)
    workers: int = 0  # 0 = one per core
    boxed_fallback: bool = False  # answer.extract: fall back to the last \boxed{...} when no <answer> tag


@dataclass
class SampleConfig:
    """Sampling answers from a model (solve, eval, rollouts)."""

    # 0.6 / 1.0: on the variants training draws, the same share of groups with signal as 1.0 / 1.0
    # and twice the verified answers per sample, in half the decoding time (rambling answers are
    # rarer); bench/results/rollout_sweep.json
    temperature: float = 0.6
    top_p: float = 1.0
    top_k: int = 0  # 0 = off; llama.cpp's own defaults must never apply silently
    min_p: float = 0.0
    max_tokens: int = 128  # CPU; paper scale uses 512
    format_reward: float = 0.05  # paper: small reward for a parseable tagged answer
    # "verified": 1.0 for a verified answer + format_reward; "format_only": format_reward alone,
    # the ablation's control arm (small models gain from format rewards alone, arXiv 2506.10947)
    reward: str = "verified"


@dataclass
class VariantConfig:
    """Variant trees (engine/variants/tree.py)."""

    depth: int = 3  # paper: <= 3 (2 for benchmark-level problems)
    per_node: int = 10  # paper: batches of 10 variants per prompt
    max_variants: int = 100  # CPU; paper scale ~800 per TTRL problem, ~5,000 for LADDER
    easier_share: float = 0.7  # paper: 70% easier / 30% equivalent
    transforms_min: int = 3  # paper: 3-5 transformations sampled per prompt
    transforms_max: int = 5
    temperatures: tuple[float, ...] = (0.8, 1.0, 1.2, 1.4)  # paper: cycled over 0.8-1.4
    source: str = "both"  # llm | symbolic | both
    reference_timeout_s: float = 5.0  # sympy reference antiderivative, statistics only
    references: bool = False  # compute those references while building (costs up to the timeout each)
    max_tokens: int = 200  # one batch of variants per prompt (10 short lines)
    prompt_examples: int = 3  # symbolic variants of the same integrand shown as the worked turn
    # CPU: the LLM writes variants for at most this long per tree (checked between generate calls),
    # then the symbolic generator fills the rest, so a 100-variant tree stays under 10 minutes.
    llm_budget_s: float = 420.0  # 0 = no limit
    # A model that wrote no parseable variant in its first this-many prompts (too small to follow
    # the prompt, like `tiny`) is dropped from the tree; the symbolic generator fills the rest.
    llm_probe_prompts: int = 8
    max_nodes: int = 80  # proposals with more sympy tree nodes than this are dropped as garbage
    max_exponent: int = 50  # and so are numeric exponents beyond this (x**10000)
    # Adaptive sampling of the pool during training (VariantPool): prefer solve rates in (0, 1).
    pool_min_attempts: int = 4  # fewer attempts than this: the rate is unknown, keep exploring
    pool_unseen_weight: float = 1.0  # unknown rate, not screened
    pool_solvable_weight: float = 2.0  # unknown rate, but screening verified an answer (greedy or sampled)
    pool_edge_weight: float = 4.0  # added at rate 0.5, scaled by 4*p*(1-p)
    # rate 0 or 1 after enough attempts: rarely revisited. Small, because there are many: with 0.1,
    # the ~900 unsolved variants of the 15 training problems outweighed the ~30 solvable ones 2:1;
    # with 0.02, 59 of 151 groups of a 30-minute run still came back all wrong (signal_run.json)
    pool_saturated_weight: float = 0.005
    pool_depth_weight: float = 1.25  # per level deeper (deeper = easier), so leaves get drawn early
    pool_recency_window: int = 4  # a variant drawn d draws ago weighs min(1, (d+1)/window)
    # Prior Beta(pool_prior, pool_prior) on a variant's solve rate when the pool predicts its chance of
    # a group with signal (VariantPool.promising, signal_share). 0.5 (Jeffreys) leans to rates near 0
    # or 1, as the models' rates are. Before it, a single rate by Laplace's rule made a variant
    # solved on all 3 screening answers count 0.83 at G = 8, and the pool predicted 81 % groups with
    # signal where the 1.5B's run had 46 % (signal_run_1.5b_share.json); now it counts 0.46.
    pool_prior: float = 0.5
    # The model a solve rate measures keeps changing: in the 2026-12-01 ablation a variant went from
    # 3 of 8 to 8 of 8 six times in a row while its whole-run rate (77 of 96) still drew it as one at
    # the edge. So a variant's counts are scaled down past pool_memory answers (an exponential
    # window: each answer then weighs memory / (memory + 1) of the one after it); 0 keeps them all.
    # Replayed on that run's first 137 groups (bench/pool_replay.py), 8 cut the log-loss of the
    # predicted chance of signal from 0.83 (all kept) to 0.65; 16 gave 0.68, 4 gave 0.67.
    pool_memory: float = 8.0
    # The draws' share of groups with signal, for the screening share rule: the observed share of
    # the last pool_signal_window groups once that many were drawn (the predicted one said 48 %,
    # even with the memory, in the second half of that run, which delivered 29 %), the predicted
    # share before.
    pool_signal_window: int = 16  # 0: the prediction only
    # Screening during training (engine/train/screen.py): before a step, while the pool promises
    # fewer than screen_reserve groups with signal (VariantPool.promising), the next screen_chunk
    # variants get a greedy answer each, and those it solved screen_samples samples at the
    # rollout temperature; answers are cut
    # at screen_max_tokens (a correct answer to a variant is rarely longer; decoding is
    # compute-bound on a CPU, so every token of a rambling answer costs)
    screen: bool = True
    screen_reserve: float = 8.0
    # and, the reserve held, one more chunk before a step while the draws are expected to hold
    # fewer than screen_signal_share groups with signal (VariantPool.signal_share: the variants
    # drawn are solved nearly always) and screening has taken under screen_time_share of the time
    # since it started, so that it moves on to harder variants without eating the run
    screen_signal_share: float = 0.5
    screen_time_share: float = 0.25
    screen_samples: int = 2
    screen_chunk: int = 64
    screen_max_tokens: int = 48
    # A tree in which screening verified nothing grows a level of easier symbolic variants below
    # its deepest ones (the paper recurses until the model solves something), at most grow_levels
    # levels below [variants] depth, grow_per_level variants a level; 0 = never
    grow_levels: int = 2
    grow_per_level: int = 12


@dataclass
class GRPOConfig:
    """The hand-written GRPO trainer (engine/train/grpo.py)."""

    group_size: int = 8  # paper: 5-8
    prompts_per_step: int = 1  # CPU; paper scale: batch 128
    lr: float = 1e-5
    clip_eps: float = 0.2  # paper: clipped ratio, epsilon 0.2
    kl_coef: float = 0.001  # paper: KL to the reference, k3 estimator
    max_grad_norm: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = (
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    )
    max_resample: int = 3  # dynamic sampling: redraw a prompt whose group rewards are all equal
    gradient_checkpointing: bool = False
    # frozen base weights while training: auto = bf16 on CUDA and on CPUs with native bf16
    # (avx512_bf16 / amx_bf16), else fp32 | float32 | bfloat16 (engine/inference/device.py)
    dtype: str = "auto"
    checkpoint_every: int = 1
    eval_every: int = 0  # 0 = only at the end
    # Who samples the completions (engine/train/rollouts.py): "llamacpp" (batched, adapter as GGUF,
    # measured 2-3x the HF backend's tokens/s on CPU: bench/results/rollouts.json), "hf" (the
    # trained model itself), "auto" = llamacpp for a GGUF model on CPU, hf on CUDA.
    rollout_backend: str = "auto"  # auto | hf | llamacpp
    rollout_gguf: str = "model"  # llamacpp rollout file: model (its own quantisation) | q8_0 | f16 copy
    is_cap: float = 2.0  # truncated importance weight min(pi_train/pi_rollout, cap) on llamacpp rollouts; 0 = off
    # optimizer steps llama.cpp's cached solve-prompt head may be older than the adapter it samples
    # with (0: evaluated again after every step); the importance weights correct the stale head
    rollout_head_reuse: int = 4
    seed: int = 0


@dataclass
class TRLConfig:
    """TRL's GRPOTrainer backend (engine/train/trl_backend.py); GRPO hyperparameters come from [grpo]."""

    loss_type: str = "dapo"  # token-level loss averaged over the batch, as engine/train/grpo.py does
    grad_accum: int = 1  # micro-batches per optimizer step (GPU memory); completions/step unchanged
    use_vllm: bool = False  # TRL's vLLM rollouts (GPU only, `pip install vllm`)
    vllm_mode: str = "colocate"  # colocate (shares the training GPUs) | server (`trl vllm-serve`)
    vllm_gpu_memory_utilization: float = 0.3  # colocate only
    rollout_events: int = 64  # rollout events per step written by the main process (all are scored)


@dataclass
class TTRLConfig:
    """Test-time RL (engine/train/ttrl.py)."""

    depth: int = 2  # paper: depth-2 tree per test problem
    max_variants: int = 40  # CPU; paper scale ~800
    steps: int = 10  # CPU; paper: up to 100 GRPO steps
    test_samples: int = 4  # answers to the test problem drawn after each step
    # symbolic: the tree is ready in about a second, so the first step comes within a minute of
    # Ctrl+T; "both" adds model-written variants first (minutes on a CPU)
    source: str = "symbolic"


@dataclass
class EvalConfig:
    """Evaluation on a problem set (engine/evaluation/evaluate.py)."""

    samples: int = 4  # K for pass@1 (mean over K samples) and pass@K
    batch_size: int = 16  # chats per Backend.generate call; bounds memory, keeps batching
    temperature: float = 1.0  # sampled answers; greedy accuracy always uses temperature 0


@dataclass
class Config:
    """All settings of one run; saved as config.json in the run directory."""

    # Training's default: the 0.5B, about twice the GRPO steps per hour of the 1.5B, which answers
    # when no model is named (models/registry.toml's default)
    model: str = "qwen2.5-coder-0.5b"
    device: str = "auto"
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    variants: VariantConfig = field(default_factory=VariantConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    ttrl: TTRLConfig = field(default_factory=TTRLConfig)
    trl: TRLConfig = field(default_factory=TRLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Build a Config from nested dicts, refusing unknown keys with a clear message."""
        return _fill(cls, data, "")

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Read a TOML override file (see the module docstring)."""
        from engine.runs.files import read_toml

        return cls.from_dict(read_toml(path, "config"))

    def save(self, path: str | Path) -> None:
        """Write the whole config as TOML that `Config.load` reads back to an equal Config."""
        import tomli_w

        from engine.runs.files import atomic_write

        atomic_write(Path(path), tomli_w.dumps(self.to_dict()))


def _check_type(value: Any, default: Any, where: str) -> Any:
    """`value` if it has the type of the field's default (ints are accepted for floats)."""
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is tuple and isinstance(value, (list, tuple)):
        items = [_check_type(v, default[0], where) for v in value] if default else list(value)
        return tuple(items)
    if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
        return value
    raise LadderError(f"config key {where}: expected {expected.__name__}, got {type(value).__name__} {value!r}")


def _fill(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise LadderError(f"config key {where.rstrip('.') or 'top level'}: expected a table, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for key, value in data.items():
        if key not in fields:
            raise LadderError(f"unknown config key {where}{key!r}")
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default):
            kwargs[key] = _fill(type(default), value, f"{where}{key}.")
        else:
            kwargs[key] = _check_type(value, default, f"{where}{key}")
    return cls(**kwargs)
