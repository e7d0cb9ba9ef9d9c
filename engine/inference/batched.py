"""Many sequences decoded together by llama.cpp, through llama-cpp-python's low-level API.

`BatchedLlama` owns one llama.cpp context (unified KV cache, up to 255 sequences and the kept head)
on the model a `LlamaCppBackend` has loaded, so the base weights stay resident while LoRA adapters
are swapped in and out (`set_adapter`). One `generate` call samples n completions for each of P
prompts:

  1. prefill   every prompt is evaluated once, under the first sequence id of its group, in as few
               `llama_decode` calls as the batch size allows (several prompts share a call);
               `llama_memory_seq_cp` then gives its KV cells to the other n - 1 sequences of the
               group (a unified cache shares the cells, it does not copy them)
     head      the prompts' common head (the solve prompt's instructions and worked examples) stays
               in the cache after the call, under a sequence id of its own, and the next call that
               starts with it copies its cells instead of evaluating it again. Under the same
               adapter that is exact (up to the float noise of other batch shapes). After an
               adapter swap the head is evaluated again, unless `generate`'s head_age allows it to
               be that many swaps old: GRPO rollouts then sample from a policy whose head is a few
               updates stale, which the importance weights see and correct like any other
               rollout-policy gap (PipelineRL's in-flight weight updates, Piche et al. 2025, keep
               stale caches the same way)
  2. decode    one `llama_batch` per step holds the last token of every unfinished sequence (P x n
               rows at the start), each with its own sequence id and position, so the weights are
               read once per step for all of them
  3. sampling  inside llama.cpp: one `llama_sampler` chain per sequence (temperature, top-k, top-p,
               min-p, then `dist` with the sequence's own seed; `greedy` at temperature 0)

Every sampled token also gets its log-probability under the raw logits (temperature 1, no
truncation): the rollout policy's log-prob that GRPO's importance weights compare with the trained
policy's (engine/train/rollouts.py). `score` gives the same per-token log-probs for given
completions (teacher forcing, one batch), which tests and benchmarks use to look at the rollout
policy directly.

Token ids in and out are llama.cpp's vocabulary; for the GGUF models of the registry this is the
Hugging Face tokenizer's vocabulary too (the HF folder is converted from the same file), so the
trainer passes its own prompt ids and trains on the returned ids as they are.
"""

from __future__ import annotations

import codecs
import ctypes
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import LadderError
from engine.inference.base import GenerationParams

N_BATCH = 512  # tokens per llama_decode call while prefilling


@dataclass
class Completion:
    """One sampled sequence: its tokens (the end token included when the model wrote one)."""

    token_ids: list[int]
    text: str  # llama.cpp's detokenisation, cut after a stop string
    logprobs: list[float] = field(default_factory=list)  # per token, raw logits (temperature 1)
    finish: str = "length"  # "end" (end-of-generation token), "stop" (stop string) or "length"


@dataclass
class _Head:
    """The prompt head kept in the cache: its tokens, and the adapter swap count when its oldest
    cell was evaluated."""

    tokens: list[int]
    adapter_tag: int


@dataclass
class _Seq:
    prompt: int
    seq_id: int
    pos: int
    sampler: object
    decoder: codecs.IncrementalDecoder
    out: Completion = field(default_factory=lambda: Completion([], ""))
    done: bool = False


class BatchedLlama:
    """Batched sampling and scoring on the model of `backend`; see the module docstring."""

    def __init__(self, backend: Any, n_threads: int = 0):
        """`backend`: the engine.inference.llamacpp.LlamaCppBackend whose model to share (not
        imported here: that backend decodes its own batches with this class)."""
        import llama_cpp

        self.backend = backend
        self.llm = backend.llm
        self.n_vocab = self.llm.n_vocab()
        self.n_threads = n_threads  # 0 = decided per call from the load (free_cores)
        self.last_threads = 0
        self._ctx = None  # llama_cpp._internals.LlamaContext
        self._n_ctx = self._n_seq = 0
        self._head: _Head | None = None  # kept under sequence id self._n_seq - 1
        self._adapter_tag = 0  # adapter swaps so far
        self._vocab = self.llm._model.vocab
        self._is_end = lambda t: bool(llama_cpp.llama_vocab_is_eog(self._vocab, t))
        self.last_stats: dict[str, float] = {}

    # ------------------------------------------------------------------------------ context

    def _ensure(self, n_seq: int, n_cells: int) -> None:
        """A context with room for n_seq sequences and n_cells KV cells (recreated when too small)."""
        import llama_cpp
        from llama_cpp import _internals

        n_seq += 1  # the last sequence id keeps the prompt head between calls
        if n_seq > llama_cpp.llama_max_parallel_sequences():
            raise LadderError(f"{n_seq - 1} sequences at once exceed llama.cpp's limit "
                              f"({llama_cpp.llama_max_parallel_sequences() - 1})")
        n_train = self.llm._model.n_ctx_train()
        if n_cells > n_train * 4:
            raise LadderError(f"{n_cells} KV cells needed; too many sequences or tokens for one batch")
        if self._ctx is not None and n_seq <= self._n_seq and n_cells <= self._n_ctx:
            return
        self.close()
        p = llama_cpp.llama_context_default_params()
        self._n_ctx = max(1024, -(-n_cells // 1024) * 1024)
        self._n_seq = max(n_seq, self._n_seq)
        p.n_ctx = self._n_ctx
        p.n_batch = p.n_ubatch = max(N_BATCH, self._n_seq)
        p.n_seq_max = self._n_seq
        p.kv_unified = True  # one cache: a prompt's cells are shared by its group, not copied
        p.n_threads = p.n_threads_batch = self.n_threads or os.cpu_count() or 1
        p.no_perf = True
        try:
            self._ctx = _internals.LlamaContext(model=self.llm._model, params=p, verbose=False)
        except ValueError as e:
            raise LadderError(f"llama.cpp could not create a context of {self._n_ctx} cells: {e}") from e
        self._apply_adapter()

    def _set_threads(self) -> int:
        """llama.cpp's threads wait for each other at every operation by spinning, so a thread the OS
        takes away stalls the others: on a 2-core machine under load 8, 2 threads decoded 5-8x slower
        than 1 (measured). Unless fixed, use only the cores the load average leaves free."""
        import llama_cpp

        n = self.n_threads or free_cores()
        llama_cpp.llama_set_n_threads(self._ctx.ctx, n, n)
        self.last_threads = n
        return n

    def _apply_adapter(self) -> None:
        import llama_cpp

        if self._ctx is None:
            return
        handle = self.backend._adapter
        if handle is None:
            llama_cpp.llama_set_adapters_lora(self._ctx.ctx, None, 0, None)
            return
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
        scales = (ctypes.c_float * 1)(self.backend.adapter_scale)
        if llama_cpp.llama_set_adapters_lora(self._ctx.ctx, adapters, 1, scales):
            raise LadderError("llama.cpp could not apply the LoRA adapter to the batched context")

    def set_adapter(self, adapter: str | Path | None, scale: float = 1.0) -> None:
        """Swap the LoRA adapter (GGUF file, run dir, or None) without reloading the base model."""
        import llama_cpp

        if self._ctx is not None:  # detach first: the backend frees the old adapter
            llama_cpp.llama_set_adapters_lora(self._ctx.ctx, None, 0, None)
        self.backend.set_adapter(adapter, scale)
        self._adapter_tag += 1
        self._apply_adapter()

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
        self._head = None

    # ------------------------------------------------------------------------------ helpers

    def _decode(self, batch, n: int) -> None:
        import llama_cpp

        batch.n_tokens = n
        rc = llama_cpp.llama_decode(self._ctx.ctx, batch)
        if rc != 0:
            raise LadderError(f"llama_decode failed ({rc}) on a batch of {n} tokens")

    @staticmethod
    def _put(batch, k: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        batch.token[k] = token
        batch.pos[k] = pos
        batch.n_seq_id[k] = 1
        batch.seq_id[k][0] = seq_id
        batch.logits[k] = logits

    def _row_logprobs(self, idx: int) -> np.ndarray:
        """log-softmax of the logits at batch position idx (a fresh array)."""
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self._ctx.ctx, idx)
        row = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        m = row.max()
        return row - (m + math.log(np.exp(row - m).sum()))

    def _prefill(self, batch, prompts: list[list[int]], first_seq: list[int], max_age: int = 0) -> list[np.ndarray]:
        """Evaluate each prompt under first_seq[i]; returns the log-probs after each prompt's last
        token (read right after the decode call that held it, before the batch is reused).

        The prompts' common prefix (the solve prompt's instructions and worked examples; only the
        integrand differs) is evaluated once under the first prompt's sequence and its cells shared
        with the others (`llama_memory_seq_cp`), so only the differing tails are decoded per
        prompt. The part of it the kept head covers is not evaluated at all, when that head is at
        most `max_age` adapter swaps old. The prefix is then kept as the next call's head."""
        import llama_cpp

        mem = llama_cpp.llama_get_memory(self._ctx.ctx)
        head_seq = self._n_seq - 1
        reused = self._reusable_head(prompts, max_age)
        if reused:
            llama_cpp.llama_memory_seq_keep(mem, head_seq)
            llama_cpp.llama_memory_seq_rm(mem, head_seq, reused, -1)
            llama_cpp.llama_memory_seq_cp(mem, head_seq, first_seq[0], -1, -1)
        else:
            llama_cpp.llama_memory_clear(mem, True)
        # every prompt keeps at least its last token to itself: its logits start the completion
        shared = min(_common_prefix(prompts), min(len(p) for p in prompts) - 1)
        last: dict[int, np.ndarray] = {}
        self._feed(batch, [(0, pos, prompts[0][pos]) for pos in range(reused, shared)], prompts, first_seq, last)
        for i in range(1, len(prompts)):
            llama_cpp.llama_memory_seq_cp(mem, first_seq[0], first_seq[i], -1, -1)
        tails = [(i, pos, p[pos]) for i, p in enumerate(prompts) for pos in range(shared, len(p))]
        self._feed(batch, tails, prompts, first_seq, last)
        if shared > reused:
            llama_cpp.llama_memory_seq_rm(mem, head_seq, -1, -1)
            llama_cpp.llama_memory_seq_cp(mem, first_seq[0], head_seq, 0, shared)
        # the head's age is its oldest cell's
        tag = self._head.adapter_tag if reused else self._adapter_tag
        self._head = _Head(prompts[0][:shared], tag) if shared else None
        self.last_stats = {"prefill_tokens": sum(len(p) for p in prompts) - reused - (len(prompts) - 1) * shared,
                           "head_reused": reused}
        return [last[i] for i in range(len(prompts))]

    def _reusable_head(self, prompts: list[list[int]], max_age: int) -> int:
        """How many leading tokens of the kept head all `prompts` start with (each keeping its last
        token to itself), or 0 when there is no head or it is more than max_age adapter swaps old."""
        head = self._head
        if head is None or self._adapter_tag - head.adapter_tag > max_age:
            return 0
        return min(min(_common_prefix([head.tokens, p]), len(p) - 1) for p in prompts)

    def _feed(self, batch, items: list[tuple[int, int, int]], prompts: list[list[int]], first_seq: list[int],
              last: dict[int, np.ndarray]) -> None:
        """Decode (prompt index, position, token) items in calls of N_BATCH; the log-probs after a
        prompt's last token go to last[prompt index]."""
        for start in range(0, len(items), N_BATCH):
            chunk = items[start:start + N_BATCH]
            ends = []
            for k, (i, pos, tok) in enumerate(chunk):
                is_last = pos == len(prompts[i]) - 1
                self._put(batch, k, tok, pos, first_seq[i], is_last)
                if is_last:
                    ends.append((i, k))
            self._decode(batch, len(chunk))
            for i, k in ends:
                last[i] = self._row_logprobs(k)

    def _sampler(self, params: GenerationParams, seed: int):
        import llama_cpp

        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if params.temperature <= 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
            return chain
        # temperature first, as transformers applies it, then the truncations
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        if params.top_k > 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    # ------------------------------------------------------------------------------ sampling

    def generate(self, prompts: list[list[int]], params: GenerationParams, head_age: int = 0) -> list[list[Completion]]:
        """params.n completions of each prompt (token ids), all decoded together; result[i][j] is
        completion j of prompt i. Sequence (i, j) samples with seed params.seed + 1000 i + j.
        `head_age`: adapter swaps the kept prompt head may be older than the current adapter (0:
        exact, the policy of the current adapter)."""
        import llama_cpp

        n = max(params.n, 1)
        seed = params.seed if params.seed is not None else int(time.time_ns() % 2**31)
        n_seq = len(prompts) * n
        self._ensure(n_seq, sum(len(p) for p in prompts) + n_seq * (params.max_tokens + 1))
        self._set_threads()
        batch = llama_cpp.llama_batch_init(max(N_BATCH, n_seq), 0, 1)
        seqs: list[_Seq] = []
        t0 = time.perf_counter()
        try:
            first = [i * n for i in range(len(prompts))]
            last = self._prefill(batch, prompts, first, head_age)
            t_prefill = time.perf_counter() - t0
            mem = llama_cpp.llama_get_memory(self._ctx.ctx)
            for i, p in enumerate(prompts):
                for j in range(1, n):
                    llama_cpp.llama_memory_seq_cp(mem, first[i], first[i] + j, -1, -1)
            for i, p in enumerate(prompts):
                for j in range(n):
                    seqs.append(_Seq(i, i * n + j, len(p), self._sampler(params, seed + 1000 * i + j),
                                     codecs.getincrementaldecoder("utf-8")(errors="replace")))
            # first token of every sequence: from its prompt's last logits (read before the batch
            # is reused), sampled by its own chain through a one-row logits array
            for s in seqs:
                self._take(s, self._sample_from(s.sampler, last[s.prompt]), last[s.prompt], params)
            steps = 0
            while True:
                active = [s for s in seqs if not s.done]
                if not active:
                    break
                for k, s in enumerate(active):
                    self._put(batch, k, s.out.token_ids[-1], s.pos, s.seq_id, True)
                    s.pos += 1
                self._decode(batch, len(active))
                steps += 1
                for k, s in enumerate(active):
                    lp = self._row_logprobs(k)
                    token = llama_cpp.llama_sampler_sample(s.sampler, self._ctx.ctx, k)
                    self._take(s, token, lp, params)
        finally:
            llama_cpp.llama_batch_free(batch)
            for s in seqs:
                llama_cpp.llama_sampler_free(s.sampler)
        total = time.perf_counter() - t0
        tokens = sum(len(s.out.token_ids) for s in seqs)
        self.last_stats = {**self.last_stats, "prefill_s": t_prefill, "seconds": total, "tokens": tokens, "decode_calls": steps,
                           "threads": self.last_threads,
                           "tokens_per_s": tokens / total if total > 0 else 0.0}
        out: list[list[Completion]] = [[] for _ in prompts]
        for s in seqs:
            out[s.prompt].append(s.out)
        return out

    def _sample_from(self, sampler, logprobs: np.ndarray) -> int:
        """Run a sampler chain on logits held in Python (the prompt's last position, shared by the
        group); log-probs differ from logits by a constant, which no sampler step depends on."""
        import llama_cpp

        data = (llama_cpp.llama_token_data * self.n_vocab)()
        arr = np.ctypeslib.as_array(data)
        arr["id"] = np.arange(self.n_vocab, dtype=np.int32)
        arr["logit"] = logprobs.astype(np.float32)
        arr["p"] = 0.0
        cur = llama_cpp.llama_token_data_array(data=data, size=self.n_vocab, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(cur))
        if not 0 <= cur.selected < cur.size:
            raise LadderError("llama.cpp's sampler selected no token")
        token = int(cur.data[cur.selected].id)
        llama_cpp.llama_sampler_accept(sampler, token)
        return token

    def _take(self, s: _Seq, token: int, logprobs: np.ndarray, params: GenerationParams) -> None:
        """Append a sampled token to sequence s and decide whether s is finished."""
        out = s.out
        out.token_ids.append(token)
        out.logprobs.append(float(logprobs[token]))
        if self._is_end(token) and not params.ignore_eos:
            out.finish, s.done = "end", True
            return
        out.text += s.decoder.decode(self.llm.detokenize([token], special=False))
        ends = [out.text.find(x) + len(x) for x in params.stop if x in out.text]
        if ends and not params.ignore_eos:
            out.text = out.text[:min(ends)]
            out.finish, s.done = "stop", True
        elif len(out.token_ids) >= params.max_tokens:
            s.done = True

    # ------------------------------------------------------------------------------ scoring

    def score(self, prompt: list[int], completions: list[list[int]]) -> list[list[float]]:
        """Per-token log-probs (raw logits) of each completion after `prompt`, under the current
        adapter: the prompt is evaluated once, the completions together (teacher forcing)."""
        import llama_cpp

        n = max(len(completions), 1)
        self._ensure(n, len(prompt) + sum(len(c) for c in completions) + n)
        self._set_threads()
        batch = llama_cpp.llama_batch_init(max(N_BATCH, n), 0, 1)
        try:
            first = self._prefill(batch, [prompt], [0])[0]
            mem = llama_cpp.llama_get_memory(self._ctx.ctx)
            for j in range(1, n):
                llama_cpp.llama_memory_seq_cp(mem, 0, j, -1, -1)
            out = [[float(first[c[0]])] if c else [] for c in completions]
            # token t of completion j predicts token t + 1
            flat = [(j, t, c[t]) for j, c in enumerate(completions) for t in range(len(c) - 1)]
            for start in range(0, len(flat), N_BATCH):
                chunk = flat[start:start + N_BATCH]
                for k, (j, t, tok) in enumerate(chunk):
                    self._put(batch, k, tok, len(prompt) + t, j, True)
                self._decode(batch, len(chunk))
                for k, (j, t, _) in enumerate(chunk):
                    out[j].append(float(self._row_logprobs(k)[completions[j][t + 1]]))
        finally:
            llama_cpp.llama_batch_free(batch)
        return out


def _common_prefix(prompts: list[list[int]]) -> int:
    """Length of the longest token prefix all `prompts` share."""
    n = 0
    for column in zip(*prompts):
        if any(t != column[0] for t in column):
            break
        n += 1
    return n


def free_cores() -> int:
    """Cores not taken by other work: cores - (1-minute load average - our own ~1), at least 1."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return cores
    return max(1, min(cores, round(cores - max(load - 1.0, 0.0))))


def rollout_file(source: str | Path, kind: str = "model") -> Path:
    """The GGUF to roll out from: `source` itself ("model"), or a copy of it with every weight
    matrix dequantised and stored as "q8_0" or "f16" (made once, cached beside the HF conversion).
    The trainer's weights are the dequantised file, so the copy is the trained policy's base up to
    8- or 16-bit rounding, instead of 4-bit."""
    import gguf

    from engine.paths import cache_dir

    source = Path(source)
    if kind == "model":
        return source
    types = {"q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
             "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16)}
    if kind not in types:
        raise LadderError(f"unknown rollout file kind {kind!r} (model, q8_0, f16)")
    stat = source.stat()
    out = cache_dir() / "rollout" / f"{source.stem}-{stat.st_size}-{kind}.gguf"
    if out.exists():
        return out
    qtype, ftype = types[kind]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    reader = gguf.GGUFReader(str(source))
    writer = gguf.GGUFWriter(str(tmp), reader.fields["general.architecture"].contents())
    for f in reader.fields.values():
        if f.name.startswith("GGUF.") or f.name in ("general.architecture", "general.file_type"):
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(f.name, f.contents(), vtype, sub_type=sub)
    writer.add_file_type(ftype)
    for t in reader.tensors:
        w = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        if w.ndim >= 2 and w.shape[-1] % 32 == 0:
            writer.add_tensor(t.name, gguf.quants.quantize(w, qtype), raw_dtype=qtype)
        else:  # norms and biases stay f32
            writer.add_tensor(t.name, np.ascontiguousarray(w))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
