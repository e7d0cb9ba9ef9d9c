"""Quick inference on a GGUF file with llama.cpp (llama-cpp-python), on as many threads as cores.

Every sampling parameter is passed explicitly (top-k, top-p, min-p, typical-p, repeat/frequency/
presence penalties, mirostat off, seed), so llama-cpp-python's own defaults (top_k=40, top_p=0.95,
min_p=0.05, temp=0.8) never apply silently. The chat is rendered with the template stored in the
GGUF. Samples of one chat share the evaluated prompt (llama.cpp keeps the longest common prefix
of its KV cache), so n samples cost one prompt evaluation. A LoRA adapter in GGUF form
(engine/inference/lora_gguf.py) can be given at load time or swapped in later with `set_adapter`, without
reloading the base model, which is how RL rollouts follow the adapter being trained.
"""

from __future__ import annotations

import codecs
import ctypes
import dataclasses
import hashlib
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import LadderError
from engine.inference.base import Chat, GenerationParams, Sample, TokenCallback
from engine.paths import cache_dir

if TYPE_CHECKING:
    import numpy as np

N_CTX = 4096  # prompt (system + examples + integrand) plus up to a few hundred answer tokens
# Sequences per batched decode: decoding is compute-bound on a CPU past a few dozen sequences, so
# larger batches only grow the KV cache.
BATCH_SEQUENCES = 64


class LlamaCppBackend:
    """llama.cpp generation on CPU threads; see the module docstring."""

    name = "llamacpp"

    def __init__(
        self,
        gguf_path: str | Path,
        model_name: str | None = None,
        adapter: str | Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = N_CTX,
    ):
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.path = Path(gguf_path)
        self.model_name = model_name or self.path.name
        if not self.path.is_file():
            raise LadderError(f"model file {self.path} does not exist")
        try:
            self.llm = Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count() or 1,
                n_threads_batch=n_threads or os.cpu_count() or 1,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise LadderError(f"llama.cpp could not load {self.path}: {e}") from e
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LadderError(f"{self.path.name} has no chat template in its metadata")
        vocab = self.llm._model.vocab
        self._is_end = lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._piece(self.llm.token_eos()),
            bos_token=self._piece(self.llm.token_bos()),
        )
        self._adapter = None
        self._batched = None  # engine.inference.batched.BatchedLlama, made on first batched generate
        self.adapter_path: Path | None = None
        self.adapter_scale = 1.0
        if adapter is not None:
            self.set_adapter(adapter)

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def set_adapter(self, adapter: str | Path | None, scale: float = 1.0) -> None:
        """Apply a GGUF LoRA adapter (a file, or a run dir holding adapter.gguf / a peft
        checkpoint, converted on the fly), or remove it with None. The base model stays loaded."""
        import llama_cpp

        path = resolve_gguf_adapter(adapter) if adapter is not None else None
        if self._batched is not None:  # its context holds the adapter about to be freed
            self._batched.close()
            self._batched = None
        ctx = self.llm._ctx.ctx
        if path is None:
            llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handle = llama_cpp.llama_adapter_lora_init(self.llm._model.model, str(path).encode())
            if not handle:
                raise LadderError(f"llama.cpp could not load the LoRA adapter {path} for {self.path.name}")
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(scale)
            if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales):
                raise LadderError(f"llama.cpp could not apply the LoRA adapter {path}")
        if self._adapter is not None:
            llama_cpp.llama_adapter_lora_free(self._adapter)
        self._adapter = handle if path is not None else None
        self.adapter_path = path
        self.adapter_scale = scale
        self.llm.reset()  # cached prompt states were computed with the old weights

    def prompt_tokens(self, chat: Chat) -> list[int]:
        """The chat rendered by the GGUF's template and tokenized (BOS as the model wants it)."""
        text = self.formatter(messages=chat).prompt
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        bos = self.llm.token_bos()
        if len(tokens) > 1 and tokens[0] == tokens[1] == bos:  # template wrote BOS too
            tokens = tokens[1:]
        return tokens

    def next_token_logits(self, chat: Chat) -> np.ndarray:
        """Logits of the first answer token (checks that an adapter is applied as intended)."""
        import numpy as np

        tokens = self.prompt_tokens(chat)
        self.llm.reset()
        self.llm.eval(tokens)
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
        return logits.copy()

    def close(self) -> None:
        """Free the model now (llama-cpp-python's own finaliser can fail at interpreter exit)."""
        if self._batched is not None:
            self._batched.close()
            self._batched = None
        self.llm.close()

    def generate(
        self, prompts: list[Chat], params: GenerationParams, on_token: TokenCallback | None = None
    ) -> list[list[Sample]]:
        """Sample `params.n` completions per chat; greedy decoding runs once per chat and is
        repeated. Several sequences and no token callback: all decoded together in batches
        (engine/inference/batched.py), which on a CPU gives 1.5-2x the tokens/s of one after
        another; otherwise one sequence at a time, streaming each token to `on_token`."""
        greedy = params.temperature <= 0
        if on_token is None and len(prompts) * (1 if greedy else params.n) > 1:
            return self._generate_batched(prompts, params)
        base_seed = params.seed if params.seed is not None else random.getrandbits(31)
        results: list[list[Sample]] = []
        for i, chat in enumerate(prompts):
            tokens = self.prompt_tokens(chat)
            if len(tokens) + params.max_tokens > self.llm.n_ctx():
                raise LadderError(f"prompt of {len(tokens)} tokens plus {params.max_tokens} new ones exceed the context ({self.llm.n_ctx()})")
            samples: list[Sample] = []
            for j in range(1 if greedy else params.n):
                samples.append(self._one(tokens, params, base_seed + 1000 * i + j, greedy, i, j, on_token))
            if greedy:
                samples = [Sample(s.text, s.tokens, s.seconds, list(s.token_ids)) for s in samples * params.n]
            results.append(samples)
        return results

    def _generate_batched(self, prompts: list[Chat], params: GenerationParams) -> list[list[Sample]]:
        from engine.inference.batched import BatchedLlama

        if self._batched is None:
            self._batched = BatchedLlama(self)
        greedy = params.temperature <= 0
        n = 1 if greedy else params.n
        seed = params.seed if params.seed is not None else random.getrandbits(31)
        per_call = max(1, BATCH_SEQUENCES // n)
        results: list[list[Sample]] = []
        for start in range(0, len(prompts), per_call):
            part = [self.prompt_tokens(chat) for chat in prompts[start:start + per_call]]
            call = dataclasses.replace(params, n=n, seed=seed + 1000 * start)
            t = time.perf_counter()
            outs = self._batched.generate(part, call)
            each = (time.perf_counter() - t) / (len(part) * n)
            for group in outs:  # greedy: the one completion stands for all n, each with its own list
                results.append([Sample(c.text, len(c.token_ids), each, list(c.token_ids))
                                for c in (group * params.n if greedy else group)])
        return results

    def _one(
        self, tokens: list[int], params: GenerationParams, seed: int, greedy: bool,
        i: int, j: int, on_token: TokenCallback | None,
    ) -> Sample:
        self.llm.set_seed(seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, ids = "", []
        start = time.perf_counter()
        stream = self.llm.generate(
            tokens,
            temp=0.0 if greedy else params.temperature,
            top_k=params.top_k,  # 0 = off in llama.cpp too
            top_p=params.top_p,
            min_p=params.min_p,
            typical_p=1.0,
            repeat_penalty=1.0,
            frequency_penalty=0.0,
            presence_penalty=0.0,
            tfs_z=1.0,
            mirostat_mode=0,
        )
        for token in stream:
            if self._is_end(token) and not params.ignore_eos:
                ids.append(token)
                break
            ids.append(token)
            piece = decoder.decode(self.llm.detokenize([token], special=False))
            new_text = text + piece
            stop_at = _first_stop(new_text, params.stop)
            if stop_at is not None:
                new_text = new_text[:stop_at]
            if on_token is not None and len(new_text) > len(text):
                on_token(i, j, new_text[len(text):])
            text = new_text
            if stop_at is not None or len(ids) >= params.max_tokens:
                break
        stream.close()
        return Sample(text=text, tokens=len(ids), seconds=time.perf_counter() - start, token_ids=ids)


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    """Index just after the earliest stop string in `text` (the stop string is kept), or None."""
    ends = [text.find(s) + len(s) for s in stops if s in text]
    return min(ends) if ends else None


def resolve_gguf_adapter(adapter: str | Path) -> Path:
    """A GGUF LoRA file for `adapter`: the file itself, or the peft adapter of a run directory's
    latest checkpoint (or of a checkpoint/adapter folder) converted once into the user cache;
    RUN_DIR/adapter.gguf when the run has no peft checkpoint."""
    from engine.inference.hf import find_adapter
    from engine.inference.lora_gguf import convert_lora

    path = Path(adapter)
    if path.is_file():
        return path
    try:
        peft_dir = find_adapter(path)
    except LadderError:
        if (path / "adapter.gguf").is_file():
            return path / "adapter.gguf"
        raise
    # Checkpoints never change once written, so folder + mtime names the conversion.
    stamp = (peft_dir / "adapter_config.json").stat().st_mtime_ns
    key = hashlib.sha256(f"{peft_dir.resolve()}:{stamp}".encode()).hexdigest()[:16]
    out = cache_dir() / "adapters" / f"{key}.gguf"
    if not out.exists():
        convert_lora(peft_dir, out)
    return out
