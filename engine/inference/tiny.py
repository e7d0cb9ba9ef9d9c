"""The `tiny` model: a randomly initialised 2-layer Llama with a tokenizer trained on the fly.

It knows nothing, but it is a real transformers model with a real chat template, so every pipeline
(solve, variants, GRPO, TTRL, eval, the TUI) runs end to end through it offline in seconds. It is
built once (well under a second), saved as a Hugging Face model directory in the cache and reused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.paths import cache_dir

VERSION = "v1"
SEED = 1234

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Enough math and prompt text for a byte-level BPE to learn useful merges.
_CORPUS = [
    "Find the antiderivative. Put the final answer between <answer> and </answer>.",
    "<answer>x**2/2</answer> <answer>sin(x)</answer> <answer>-cos(x)</answer> <answer>exp(x)</answer>",
    "<answer>log(x)</answer> <answer>x**3/3</answer> <answer>tan(x)</answer> <answer>atan(x)</answer>",
    "integrate x*exp(x) sin(x)**2 cos(3*x) sqrt(1 - x**2) 1/(1 + x**2) sinh(x) cosh(x) asin(x)",
    "Variant: easier equivalent integrand x**2*exp(x)*sin(x) log(x)/x (x + 1)**3 1/(x**2 - 1)",
    "user system assistant You are a careful mathematician. Integrate the following function.",
    "0 1 2 3 4 5 6 7 8 9 + - * / ** ( ) pi E",
]


def tiny_model_dir() -> Path:
    """Return the tiny model's folder, building it first if needed (safe under parallel tests)."""
    path = cache_dir() / "models" / f"tiny-{VERSION}"
    if (path / "config.json").exists() and (path / "tokenizer.json").exists():
        return path
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _build(tmp)
    try:
        os.replace(tmp, path)
    except OSError:  # another process finished first; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _build(path: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
    )
    hf_tok.chat_template = CHAT_TEMPLATE

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(hf_tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=hf_tok.eos_token_id,
        pad_token_id=hf_tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = hf_tok.eos_token_id
    model.generation_config.pad_token_id = hf_tok.pad_token_id
    path.mkdir(parents=True)
    model.save_pretrained(path, safe_serialization=True)
    hf_tok.save_pretrained(path)
