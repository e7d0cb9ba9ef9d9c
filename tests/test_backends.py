"""Both backends, for real: tiny through transformers; smollm2-135m through llama.cpp (slow)."""

from __future__ import annotations

import pytest

from engine.inference.base import GenerationParams
from engine.inference.prompts import solve_chat


@pytest.fixture(scope="module")
def tiny_backend(tiny_dir):
    from engine.inference.hf import HFBackend

    return HFBackend(tiny_dir, model_name="tiny", device="cpu")


def test_hf_batched_sampling_shapes_and_streaming(tiny_backend):
    chats = [solve_chat("x"), solve_chat("cos(x)")]
    streamed: dict[tuple[int, int], str] = {}

    def on_token(i, j, text):
        streamed[(i, j)] = streamed.get((i, j), "") + text

    out = tiny_backend.generate(chats, GenerationParams(n=3, temperature=1.0, max_tokens=12, seed=0), on_token)
    assert [len(r) for r in out] == [3, 3]
    for i, row in enumerate(out):
        for j, s in enumerate(row):
            assert 0 < s.tokens <= 12 and len(s.token_ids) == s.tokens
            assert streamed.get((i, j), "") == s.text


def test_hf_seed_reproducible_and_greedy_identical(tiny_backend):
    p = GenerationParams(n=2, temperature=1.0, max_tokens=10, seed=7)
    a = tiny_backend.generate([solve_chat("x")], p)
    b = tiny_backend.generate([solve_chat("x")], p)
    assert [s.text for s in a[0]] == [s.text for s in b[0]]
    g = tiny_backend.generate([solve_chat("x")], GenerationParams(n=3, temperature=0, max_tokens=10))
    assert len({s.text for s in g[0]}) == 1 and len(g[0]) == 3


def test_cut_at_stop_keeps_the_tag():
    from engine.inference.hf import cut_at_stop

    assert cut_at_stop("<answer>x</answer> more", ("</answer>",)) == ("<answer>x</answer>", True)
    assert cut_at_stop("no tag", ("</answer>",)) == ("no tag", False)


def test_hf_loads_a_peft_adapter_from_a_run_dir(tiny_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.inference.hf import HFBackend, find_adapter, load_hf_model

    model, _ = load_hf_model(tiny_dir, "cpu")
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=1.0)
    from engine.runs.config import Config
    from engine.runs.rundir import RunDir

    run = RunDir.create(tmp_path / "run", Config())
    with run.new_checkpoint(3) as folder:
        peft.save_pretrained(folder / "adapter")
    ckpt = tmp_path / "run" / "checkpoints" / "step-3" / "adapter"
    assert find_adapter(tmp_path / "run") == ckpt
    p = GenerationParams(n=1, temperature=0, max_tokens=8)
    base = HFBackend(tiny_dir, device="cpu").generate([solve_chat("x")], p)[0][0].token_ids
    tuned = HFBackend(tiny_dir, device="cpu", adapter=tmp_path / "run").generate([solve_chat("x")], p)[0][0].token_ids
    assert base != tuned


@pytest.mark.slow
def test_llamacpp_smollm2_samples_stream_and_stop():
    from engine.inference.models import load_backend

    backend = load_backend("smollm2-135m")
    streamed: dict[tuple[int, int], str] = {}

    def on_token(i, j, text):
        streamed[(i, j)] = streamed.get((i, j), "") + text

    try:
        out = backend.generate([solve_chat("x**2")], GenerationParams(n=2, temperature=0.8, max_tokens=48, seed=1), on_token)
        assert len(out[0]) == 2
        for j, s in enumerate(out[0]):
            assert streamed[(0, j)] == s.text and 0 < s.tokens <= 48
            if "</answer>" in s.text:
                assert s.text.endswith("</answer>")
        g = backend.generate([solve_chat("x")], GenerationParams(n=2, temperature=0, max_tokens=32))
        again = backend.generate([solve_chat("x")], GenerationParams(n=1, temperature=0, max_tokens=32))
        assert g[0][0].text == g[0][1].text == again[0][0].text
    finally:
        backend.close()


@pytest.mark.slow
def test_llamacpp_batched_generate_matches_streaming_and_follows_the_adapter(tmp_path):
    """Several chats without a token callback are decoded together (engine/inference/batched.py):
    greedy text equals the one-at-a-time streaming path, seeded sampling repeats, and swapping the
    adapter afterwards is seen by the batched path too."""
    from engine.inference.models import load_backend

    backend = load_backend("smollm2-135m")
    chats = [solve_chat(f) for f in ("x**2", "cos(x)", "exp(3*x)")]
    try:
        greedy = GenerationParams(n=2, temperature=0, max_tokens=24)
        together = backend.generate(chats, greedy)
        alone = [backend.generate([c], greedy, on_token=lambda i, j, t: None)[0][0] for c in chats]
        assert [len(g) for g in together] == [2, 2, 2]
        assert sum(g[0].text == a.text == g[1].text for g, a in zip(together, alone)) >= 2  # near ties may differ
        sampled = GenerationParams(n=3, temperature=1.0, max_tokens=16, seed=5)
        a, b = backend.generate(chats[:2], sampled), backend.generate(chats[:2], sampled)
        assert [[s.token_ids for s in g] for g in a] == [[s.token_ids for s in g] for g in b]
        assert all(0 < s.tokens <= 16 for g in a for s in g)
        backend.set_adapter(_random_adapter(tmp_path))
        assert [g[0].token_ids for g in backend.generate(chats, greedy)] != [g[0].token_ids for g in together]
    finally:
        backend.close()


def _random_adapter(tmp_path):
    """A GGUF LoRA adapter of smollm2 with random B (so it changes the model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from engine.inference.lora_gguf import convert_lora
    from engine.inference.models import hf_model_dir

    base_dir = hf_model_dir("smollm2-135m")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    model.save_pretrained(tmp_path / "ad")
    return convert_lora(tmp_path / "ad", tmp_path / "ad.gguf", base_dir)


@pytest.mark.slow
def test_gguf_lora_zero_b_is_identity_and_nonzero_changes_logits(tmp_path):
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.inference.hf import load_hf_model
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.lora_gguf import convert_lora
    from engine.inference.models import hf_model_dir, resolve

    base_dir = hf_model_dir("smollm2-135m")
    model, _ = load_hf_model(base_dir, "cpu")
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "down_proj"]))
    peft.save_pretrained(tmp_path / "zero")  # peft initialises B to zero
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    peft.save_pretrained(tmp_path / "rand")
    zero = convert_lora(tmp_path / "zero", tmp_path / "zero.gguf", base_dir)
    rand = convert_lora(tmp_path / "rand", tmp_path / "rand.gguf", base_dir)
    # Short prompt: on prompts over ~32 tokens llama.cpp's batched kernels differ once any adapter is set.
    chat = [{"role": "user", "content": "Integrate x"}]
    backend = LlamaCppBackend(resolve("smollm2-135m").path)
    try:
        plain = backend.next_token_logits(chat)
        backend.set_adapter(zero)
        assert np.abs(backend.next_token_logits(chat) - plain).max() < 1e-4
        backend.set_adapter(rand)
        assert np.abs(backend.next_token_logits(chat) - plain).max() > 1e-2
        backend.set_adapter(None)
        assert np.abs(backend.next_token_logits(chat) - plain).max() < 1e-4
    finally:
        backend.close()


def _f32_copy_of_gguf(src, dst):
    """`src` with every tensor dequantised to f32 (same metadata), so llama.cpp runs the exact
    weights transformers sees, without quantising activations for its Q4/Q8 matmuls."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(src))
    writer = gguf.GGUFWriter(str(dst), reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for t in reader.tensors:
        writer.add_tensor(t.name, np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


@pytest.mark.slow
def test_gguf_lora_shifts_logits_like_peft(tmp_path):
    """The converted adapter moves llama.cpp's logits as peft moves transformers'.

    Compared on an f32 copy of the GGUF: with the Q4_1 original, llama.cpp quantises activations
    to 8 bits per block for its matmuls, and any perturbation re-draws that rounding noise (norm
    ~25 on the logits), which swamps the shift of a small adapter.
    """
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model

    from engine.inference.hf import load_hf_model
    from engine.inference.llamacpp import LlamaCppBackend
    from engine.inference.lora_gguf import convert_lora
    from engine.inference.models import hf_model_dir, resolve

    base_dir = hf_model_dir("smollm2-135m")
    f32 = _f32_copy_of_gguf(resolve("smollm2-135m").path, tmp_path / "smollm2-f32.gguf")
    model, _ = load_hf_model(base_dir, "cpu")
    chat = [{"role": "user", "content": "Integrate x"}]
    backend = LlamaCppBackend(f32, n_threads=1)  # one thread: quick for a 33-token prompt, and never spins on a busy machine
    try:
        tokens = torch.tensor([backend.prompt_tokens(chat)])

        def hf_logits(m):
            with torch.no_grad():
                return m(tokens).logits[0, -1].numpy()

        hf_base, cpp_base = hf_logits(model), backend.next_token_logits(chat)
        assert np.abs(hf_base - cpp_base).max() < 0.05  # same weights, same tokens
        gen = torch.Generator().manual_seed(0)
        for targets in (["q_proj", "k_proj"], ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"]):
            peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets))
            with torch.no_grad():
                for name, p in peft.named_parameters():
                    if "lora_B" in name:
                        p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            folder = tmp_path / "_".join(targets)
            peft.save_pretrained(folder)
            hf_shift = hf_logits(peft) - hf_base
            model = peft.unload()  # the bare base model again, for the next adapter
            backend.set_adapter(convert_lora(folder, folder / "adapter.gguf", base_dir))
            cpp_shift = backend.next_token_logits(chat) - cpp_base
            corr = np.corrcoef(hf_shift, cpp_shift)[0, 1]
            rel = np.linalg.norm(cpp_shift - hf_shift) / np.linalg.norm(hf_shift)
            assert corr > 0.98 and rel < 0.2, (targets, corr, rel)
    finally:
        backend.close()
