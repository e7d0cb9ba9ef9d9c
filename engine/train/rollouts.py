"""GRPO rollouts on llama.cpp, and the importance weights that make them safe to train on.

`[grpo] rollout_backend` picks who samples the completions GRPO trains on:

- "hf": the trainer's own transformers model (`GRPOTrainer.generate`), the policy itself.
- "llamacpp": one resident llama.cpp model of the base weights (engine/inference/batched.py).
  Whenever the LoRA weights have changed (optimizer step, checkpoint load, TTRL roll-back), they
  are written from memory as a GGUF adapter (engine/inference/lora_gguf.py, exact) and swapped in
  without reloading the base. The P prompts x G completions of a step are decoded together in one
  llama_batch per token; each prompt is evaluated once and its KV cells shared by its group.
- "auto" (the default): llama.cpp when the model is a GGUF file and training runs on the CPU;
  on CUDA, transformers' batched generation on the GPU (llama-cpp-python here is a CPU build).

Token ids. The trainer gives llama.cpp its own tokenisation of the prompt (the HF tokenizer's), and
trains on the token ids llama.cpp sampled, as they are: the HF folder is converted from the same
GGUF, so the two vocabularies are the same (checked when the rollouts start: llama.cpp's own
tokenisation of a chat prompt must equal the HF tokenizer's, or training refuses to start).
Re-tokenising the completion text was the alternative; it would train on token sequences the
rollout policy never sampled, whose log-probs the importance weights could not correct.

Rollout policy vs trained policy. The rollout file is quantised (Q4) and llama.cpp also rounds
activations to 8 bits, while the trained policy is the dequantised model in fp32/bf16: the
completions come from a slightly different policy than the one the loss assumes. Every sampled
token carries its llama.cpp log-prob (raw logits, temperature 1), and the policy-gradient term of
each token is multiplied by a truncated importance weight min(pi_train / pi_rollout, cap)
(`importance_weights`, [grpo] is_cap; "truncated importance sampling", Yao et al. 2025), a
constant that corrects the sampling distribution and cannot blow up on a token the quantised
model liked much more than the trained one. `[grpo] rollout_gguf` can instead (or as well) roll out
from a higher-precision copy of the trainer's weights (q8_0 or f16, made once and cached).

Stale prompt head. Most of what llama.cpp evaluates before sampling is the head every solve prompt
starts with (instructions and worked examples). It stays in llama.cpp's cache between calls
(engine/inference/batched.py); with `[grpo] rollout_head_reuse = k` it is evaluated again only every
k + 1 optimizer steps, so the steps between sample after a head evaluated under an adapter up to k
updates old. The log-probs llama.cpp reports are those of the policy that really sampled, stale
head included, so the importance weights correct this gap as they correct the quantisation's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.errors import LadderError

if TYPE_CHECKING:
    from engine.inference.batched import Completion
    from engine.runs.config import Config

BACKENDS = ("auto", "hf", "llamacpp")
ROLLOUT_FILES = ("model", "q8_0", "f16")


def importance_weights(train_logp: torch.Tensor, rollout_logp: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance weights min(exp(train_logp - rollout_logp), cap), per token, detached.

    `train_logp`: log-probs of the sampled tokens under the policy being trained; `rollout_logp`:
    under the policy that sampled them (same shape). Where the two agree the weight is 1; a token
    the rollout policy over-sampled weighs less, one it under-sampled more, up to `cap`.
    cap <= 0 turns the correction off (all ones)."""
    if cap <= 0:
        return torch.ones_like(train_logp).detach()
    return torch.exp(train_logp.detach() - rollout_logp.to(train_logp)).clamp(max=cap)


def choose_backend(requested: str, device: str, gguf: Path | None) -> str:
    """"hf" or "llamacpp" for a [grpo] rollout_backend request, decided at run time from the
    training device and `gguf`, the GGUF file the trained weights come from (None: no such file)."""
    if requested not in BACKENDS:
        raise LadderError(f"[grpo] rollout_backend must be one of {', '.join(BACKENDS)}, not {requested!r}")
    if requested == "auto":
        return "llamacpp" if gguf is not None and device == "cpu" else "hf"
    if requested == "llamacpp" and gguf is None:
        raise LadderError("[grpo] rollout_backend = \"llamacpp\" needs a GGUF model whose weights the "
                          "trainer loaded (this model is a Hugging Face folder)")
    return requested


def gguf_source(model: str, model_dir: str | Path) -> Path | None:
    """The GGUF file `model_dir` (the trainer's HF folder) was converted from, when `model` names
    it (engine.inference.models.hf_model_dir's cache folder <file stem>-<key>); else None."""
    from engine.inference.models import resolve
    from engine.paths import cache_dir

    try:
        resolved = resolve(model, pull_missing=False)
    except (LadderError, OSError):
        return None
    if resolved.format != "gguf":
        return None
    folder = Path(model_dir).resolve()
    if folder.parent != (cache_dir() / "hf").resolve() or not folder.name.startswith(resolved.path.stem + "-"):
        return None
    return resolved.path


def lora_version(model: torch.nn.Module) -> int:
    """A number that changes whenever any LoRA weight is modified in place (optimizer step,
    copy_, load_state_dict): the sum of the trainable tensors' version counters."""
    return sum(p._version for p in model.parameters() if p.requires_grad)


class LlamaCppRollouts:
    """The llama.cpp rollout engine of one GRPO trainer; see the module docstring."""

    def __init__(self, cfg: Config, source: Path, model_dir: str | Path, chat_ids: Any):
        from engine.inference.batched import BatchedLlama, rollout_file
        from engine.inference.llamacpp import LlamaCppBackend

        g = cfg.grpo
        if g.rollout_gguf not in ROLLOUT_FILES:
            raise LadderError(f"[grpo] rollout_gguf must be one of {', '.join(ROLLOUT_FILES)}, not {g.rollout_gguf!r}")
        self.cfg = cfg
        self.model_dir = Path(model_dir)
        self.path = rollout_file(source, g.rollout_gguf)
        self.backend = LlamaCppBackend(self.path, model_name=cfg.model, n_ctx=512)
        self.engine = BatchedLlama(self.backend)
        if g.rollout_head_reuse < 0:
            raise LadderError(f"[grpo] rollout_head_reuse must be 0 or more, not {g.rollout_head_reuse}")
        self._synced: int | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="ladder-rollout-")
        self.sync_s = 0.0  # time spent exporting and swapping adapters, cumulative
        self._check_tokens(chat_ids)

    def _check_tokens(self, chat_ids: Any) -> None:
        from engine.inference.prompts import solve_chat

        chat = solve_chat("x**2*exp(x)")
        ours = chat_ids(chat)[0].tolist()
        theirs = self.backend.prompt_tokens(chat)
        if ours != theirs:
            raise LadderError(
                f"llama.cpp's tokenisation of {self.path.name} differs from the training tokenizer's "
                f"({len(theirs)} vs {len(ours)} prompt tokens); use [grpo] rollout_backend = \"hf\"")

    def sync(self, model: torch.nn.Module) -> bool:
        """Give llama.cpp the current LoRA weights if they changed since the last call."""
        from engine.inference.lora_gguf import convert_peft_model

        version = lora_version(model)
        if version == self._synced:
            return False
        t = time.perf_counter()
        out = Path(self._tmp.name) / f"adapter-{version}.gguf"
        convert_peft_model(model, out, self.model_dir)
        self.engine.set_adapter(out)
        out.unlink(missing_ok=True)  # llama.cpp has read it
        self._synced = version
        self.sync_s += time.perf_counter() - t
        return True

    def generate(self, prompts: list[list[int]], n: int, temperature: float, max_tokens: int,
                 stop: tuple[str, ...], seed: int, training: bool = False) -> list[list[Completion]]:
        """n completions of each prompt (token ids), all P x n decoded together. `training`:
        rollouts GRPO trains on, which may start from a stale prompt head ([grpo]
        rollout_head_reuse); other answers (screening, TTRL's checks) come from the current policy."""
        from engine.inference.base import GenerationParams

        s = self.cfg.sample
        params = GenerationParams(n=n, temperature=temperature, max_tokens=max_tokens, top_p=s.top_p,
                                  top_k=s.top_k, min_p=s.min_p, seed=seed, stop=stop)
        return self.engine.generate(prompts, params, self.cfg.grpo.rollout_head_reuse if training else 0)

    def close(self) -> None:
        self.engine.close()
        self.backend.close()
        self._tmp.cleanup()
