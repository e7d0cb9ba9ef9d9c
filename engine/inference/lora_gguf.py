"""Convert a peft LoRA adapter (safetensors) into a GGUF LoRA adapter that llama.cpp loads.

This is what lets llama.cpp roll out (and `ladder solve --adapter` answer) with the adapter GRPO is
training, without merging or re-quantising the base model. The file follows llama.cpp's
convert_lora_to_gguf.py:

- metadata: general.architecture = the base model's (llama, qwen2, …), general.type = "adapter",
  adapter.type = "lora", adapter.lora.alpha. llama.cpp scales by alpha / r as peft does
  (rsLoRA's alpha / sqrt(r) is folded into the alpha written).
- tensors: for a base weight `blk.N.attn_q.weight`, `blk.N.attn_q.weight.lora_a` with peft's
  lora_A shape (r, in) and `…lora_b` with lora_B's (out, r); the GGUF writer reverses dimensions,
  which gives llama.cpp's expected ne = [in, r] and [r, out].
- Llama-architecture GGUFs store q/k projections with their rows permuted for llama.cpp's rotary
  layout (convert_hf_to_gguf's LlamaModel.permute), so lora_B of q_proj/k_proj gets the same row
  permutation; Qwen2 stores them unpermuted.

Status (measured on smollm2-135m, 33-token chat prompt, r=4, alpha=8, lora_B ~ N(0, 0.05)): the
conversion is exact. On an f32 copy of the GGUF (every tensor dequantised, so llama.cpp and
transformers run the same weights; base logits agree to 0.009 max), the logit shift the adapter
causes in llama.cpp matches peft's: correlation 0.9997 / relative error 0.03 for q_proj+k_proj
in every layer (in one layer without the row permutation above: correlation -0.77), 0.9996 / 0.03
for v_proj in one layer,
1.0000 / 0.006 for q,k,v,o,up,down in every layer (tests/test_backends.py checks this).
An earlier "correlation ~0" came from comparing on the Q4_1 file itself: llama.cpp quantises
activations to 8 bits per block for Q4/Q8 matmuls, and any perturbation, however small, re-draws that
rounding (llama.cpp vs transformers base logits differ by norm ~27, max 0.58; even llama.cpp
batched vs token-by-token differs by norm 24). A small adapter's shift (norm 5-20) drowns in it;
at set_adapter scale 1e-5 the shift is still norm ~23, at 1e-6 exactly 0. On Q4_1 a larger adapter
(all projections, shift norm 76) gives correlation 0.90. So llama.cpp rollouts with an adapter apply
the adapter correctly; they differ from the HF backend only as the quantised base model does.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from engine.errors import LadderError

# HF module path inside a decoder layer -> llama.cpp tensor name.
_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
# HF model_type -> llama.cpp architecture, for the families the registry carries.
_ARCH = {"llama": "llama", "qwen2": "qwen2", "mistral": "llama"}
_KEY = re.compile(r"(?:.*\.)?layers\.(\d+)\.(" + "|".join(re.escape(m) for m in _MODULES) + r")\.lora_([AB])(?:\.default)?\.weight$")


def _permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf's LlamaModel.permute applied to the output rows of `w`."""
    out = w.shape[0]
    return w.reshape(n_head, 2, out // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _base_config(adapter_cfg: dict, base_dir: str | Path | None) -> dict:
    path = Path(base_dir) if base_dir else Path(adapter_cfg.get("base_model_name_or_path") or "")
    if not (path / "config.json").exists():
        raise LadderError(
            f"cannot find the base model's config.json (looked in {path!s}); pass base_dir to convert_lora"
        )
    return json.loads((path / "config.json").read_text())


def convert_lora(adapter_dir: str | Path, out: str | Path, base_dir: str | Path | None = None) -> Path:
    """Write the peft adapter in `adapter_dir` as a GGUF LoRA file at `out` (atomically).

    `base_dir` is the Hugging Face folder of the base model (default: the adapter's
    base_model_name_or_path); its config gives the architecture and head counts.
    """
    from safetensors.numpy import load_file

    adapter_dir, out = Path(adapter_dir), Path(out)
    cfg_path, weights_path = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_path.exists() or not weights_path.exists():
        raise LadderError(f"{adapter_dir} is not a peft LoRA adapter (adapter_config.json + adapter_model.safetensors)")
    adapter_cfg = json.loads(cfg_path.read_text())
    base = _base_config(adapter_cfg, base_dir)
    return write_lora_gguf(load_file(str(weights_path)), adapter_cfg, base, out)


def convert_peft_model(model, out: str | Path, base_dir: str | Path, adapter_name: str = "default") -> Path:
    """Write the live LoRA weights of a peft model as a GGUF LoRA file, straight from memory
    (what GRPO rollouts on llama.cpp do after every optimizer step)."""
    from peft import get_peft_model_state_dict

    cfg = model.peft_config[adapter_name].to_dict()
    state = get_peft_model_state_dict(model, adapter_name=adapter_name)
    tensors = {k: v.detach().float().cpu().numpy() for k, v in state.items()}
    base = json.loads((Path(base_dir) / "config.json").read_text())
    return write_lora_gguf(tensors, cfg, base, out)


def write_lora_gguf(tensors: dict[str, np.ndarray], adapter_cfg: dict, base: dict, out: str | Path) -> Path:
    """The GGUF LoRA file for peft tensors (names as in adapter_model.safetensors), peft's adapter
    config and the base model's config.json, written atomically at `out`."""
    import gguf

    out = Path(out)
    if adapter_cfg.get("peft_type", "LORA") not in ("LORA", "PeftType.LORA"):
        raise LadderError(f"adapter type {adapter_cfg.get('peft_type')} is not LoRA")
    arch = _ARCH.get(base.get("model_type", ""))
    if arch is None:
        raise LadderError(f"no GGUF LoRA mapping for model type {base.get('model_type')!r} (known: {', '.join(_ARCH)})")
    r, alpha = adapter_cfg["r"], float(adapter_cfg["lora_alpha"])
    if adapter_cfg.get("rank_pattern") or adapter_cfg.get("alpha_pattern"):
        raise LadderError("per-module rank/alpha patterns are not supported for GGUF export")
    if adapter_cfg.get("use_rslora"):
        alpha *= math.sqrt(r)  # peft scales by alpha/sqrt(r); llama.cpp by alpha/r
    n_head = base["num_attention_heads"]
    n_kv = base.get("num_key_value_heads") or n_head

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        m = _KEY.match(key)
        if m is None:
            raise LadderError(f"adapter tensor {key} has no GGUF mapping (only attention/MLP projections are)")
        name = f"blk.{m.group(1)}.{_MODULES[m.group(2)]}.weight"
        pairs.setdefault(name, {})[m.group(3)] = value.astype(np.float32)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        for name in sorted(pairs):
            ab = pairs[name]
            if set(ab) != {"A", "B"}:
                raise LadderError(f"adapter tensor {name} lacks lora_A or lora_B")
            a, b = ab["A"], ab["B"]
            if arch == "llama" and ".attn_q." in name:
                b = _permute_rows(b, n_head)
            elif arch == "llama" and ".attn_k." in name:
                b = _permute_rows(b, n_kv)
            writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a))
            writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except OSError as e:
        raise LadderError(f"could not write {out}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return out
