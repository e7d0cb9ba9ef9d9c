"""Text generation with transformers/torch: the backend training uses (and a fallback for solve).

Batched sampling with left padding, `n` samples per chat, explicit sampling parameters (the
model's own generation_config is replaced so no hidden top-k/top-p/repetition penalty applies),
stop at "</answer>" (the tag is kept), optional streaming and an optional peft LoRA adapter.
`load_hf_model` is the one loading path shared with the GRPO trainer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.inference.base import Chat, GenerationParams, Sample, TokenCallback
from engine.inference.device import pick_device, pick_dtype

# End-of-turn markers of the chat formats we meet (Qwen/SmolLM ChatML, Llama 3); used as extra EOS.
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>")


def load_hf_model(model_ref: str | Path, device: str = "auto", dtype: Any = None) -> tuple[Any, Any]:
    """Load a Hugging Face model directory as (model, tokenizer) on `device`, in eval mode.

    fp32 on CPU, bf16 on CUDA unless `dtype` says otherwise. The tokenizer pads on the left (for
    batched generation) and the model's generation defaults are cleared: callers pass every
    sampling parameter explicitly.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keeps stderr readable; the engine reports its own progress
    path = Path(model_ref)
    if not (path / "config.json").exists():
        raise LadderError(f"{path} is not a Hugging Face model folder (no config.json)")
    device = pick_device(device)
    dtype = dtype or pick_dtype(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    model.eval()
    model.generation_config = GenerationConfig(
        eos_token_id=end_token_ids(tokenizer), pad_token_id=tokenizer.pad_token_id
    )
    return model, tokenizer


def end_token_ids(tokenizer: Any) -> list[int]:
    """The tokenizer's EOS plus the chat end-of-turn tokens it knows."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in _END_TOKENS if t in vocab and vocab[t] not in ids]
    return ids


def find_adapter(path: str | Path) -> Path:
    """The peft adapter folder for `path`: an adapter folder, a checkpoint, or a run directory
    (its latest checkpoint)."""
    path = Path(path)
    if (path / "adapter_config.json").exists():
        return path
    if (path / "checkpoints").is_dir():
        from engine.runs.rundir import RunDir

        checkpoint = RunDir.open(path).latest_checkpoint()
        if checkpoint is None:
            raise LadderError(f"run {path} has no checkpoint yet, so no adapter to load")
        path = checkpoint
    found = sorted(path.glob("**/adapter_config.json")) if path.is_dir() else []
    if not found:
        raise LadderError(f"no LoRA adapter (adapter_config.json) found in {path}")
    return found[0].parent


def chat_text(tokenizer: Any, chat: Chat) -> str:
    """The chat rendered with the model's own template, ready for the assistant's reply."""
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Cut `text` just after the first stop string (kept); return (text, stopped)."""
    hits = [(text.find(s), s) for s in stops if s in text]
    if not hits:
        return text, False
    pos, stop = min(hits)
    return text[: pos + len(stop)], True


class _BatchStreamer:
    """A transformers streamer for a whole batch: decodes each row incrementally and reports
    new text as (prompt index, sample index, text) until the row ends or hits a stop string."""

    def __init__(self, tokenizer: Any, n: int, on_token: TokenCallback, stops: tuple[str, ...], end_ids: list[int]):
        self.tokenizer, self.n, self.on_token, self.stops = tokenizer, n, on_token, stops
        self.end_ids = set(end_ids)
        self.prompt_seen = False
        self.ids: list[list[int]] = []
        self.sent: list[str] = []
        self.done: list[bool] = []

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # the first call carries the prompt ids
            self.prompt_seen = True
            return
        for row, token in enumerate(value.reshape(-1).tolist()):
            if row >= len(self.ids):
                self.ids.append([])
                self.sent.append("")
                self.done.append(False)
            if self.done[row]:
                continue
            if token in self.end_ids:
                self.done[row] = True
                continue
            self.ids[row].append(token)
            text, stopped = cut_at_stop(self.tokenizer.decode(self.ids[row], skip_special_tokens=True), self.stops)
            # Hold back a trailing U+FFFD: an incomplete multi-byte character finishes next token.
            if stopped or not text.endswith("\ufffd"):
                self._send(row, text)
            self.done[row] = stopped

    def _send(self, row: int, text: str) -> None:
        if len(text) > len(self.sent[row]) and text.startswith(self.sent[row]):
            self.on_token(row // self.n, row % self.n, text[len(self.sent[row]):])
            self.sent[row] = text

    def end(self) -> None:
        """Flush what was held back, so the streamed text equals the final text."""
        for row, ids in enumerate(self.ids):
            self._send(row, cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), self.stops)[0])


class HFBackend:
    """transformers generation on CPU (fp32) or CUDA (bf16); see the module docstring."""

    name = "hf"

    def __init__(
        self,
        model_dir: str | Path,
        model_name: str | None = None,
        device: str = "auto",
        adapter: str | Path | None = None,
        dtype: Any = None,
    ):
        self.model_dir = Path(model_dir)
        self.model_name = model_name or self.model_dir.name
        self.device = pick_device(device)
        self.model, self.tokenizer = load_hf_model(self.model_dir, self.device, dtype)
        self.adapter = None
        if adapter is not None:
            from peft import PeftModel

            self.adapter = find_adapter(adapter)
            self.model = PeftModel.from_pretrained(self.model, self.adapter).to(self.device)
            self.model.eval()
        self.end_ids = end_token_ids(self.tokenizer)

    def generate(
        self, prompts: list[Chat], params: GenerationParams, on_token: TokenCallback | None = None
    ) -> list[list[Sample]]:
        """Sample `params.n` completions per chat in one batched `generate` call."""
        import torch
        from transformers import GenerationConfig

        if not prompts:
            return []
        greedy = params.temperature <= 0
        # Greedy samples are identical: decode once per chat and repeat.
        rows_per_prompt = 1 if greedy else params.n
        config = GenerationConfig(
            max_new_tokens=params.max_tokens,
            min_new_tokens=params.max_tokens if params.ignore_eos else None,
            do_sample=not greedy,
            temperature=params.temperature if not greedy else None,
            top_p=params.top_p if not greedy else None,
            top_k=params.top_k if not greedy else None,
            min_p=(params.min_p or None) if not greedy else None,
            repetition_penalty=1.0,
            num_return_sequences=rows_per_prompt,
            eos_token_id=self.end_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(params.stop) or None,
        )
        if params.seed is not None:
            torch.manual_seed(params.seed)
        texts = [chat_text(self.tokenizer, chat) for chat in prompts]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        streamer = (
            _BatchStreamer(self.tokenizer, rows_per_prompt, on_token, params.stop, self.end_ids)
            if on_token is not None
            else None
        )
        start = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(
                **batch, generation_config=config, tokenizer=self.tokenizer, streamer=streamer
            )
        seconds = time.perf_counter() - start
        new = out[:, batch["input_ids"].shape[1]:].tolist()
        per_row = seconds / len(new)
        results: list[list[Sample]] = []
        for i in range(len(prompts)):
            samples = []
            for j in range(rows_per_prompt):
                ids = self._trim(new[i * rows_per_prompt + j])
                text, _ = cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), params.stop)
                samples.append(Sample(text=text, tokens=len(ids), seconds=per_row, token_ids=ids))
            if greedy:
                samples = [Sample(s.text, s.tokens, s.seconds, list(s.token_ids)) for s in samples * params.n]
            results.append(samples)
        return results

    def _trim(self, ids: list[int]) -> list[int]:
        """Completion ids up to and including the first end token; padding after it dropped."""
        for k, token in enumerate(ids):
            if token in self.end_ids:
                return ids[: k + 1]
        return [t for t in ids if t != self.tokenizer.pad_token_id]
