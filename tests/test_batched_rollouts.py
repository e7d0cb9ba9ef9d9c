"""GRPO rollouts on llama.cpp (engine/train/rollouts.py, engine/inference/batched.py): importance
weights, the run-time choice of backend, the HF path still training, and, on smollm2-135m (slow),
batched decoding equal to one-at-a-time decoding and the adapter following the optimizer."""

from __future__ import annotations

import pytest
import torch

from engine.errors import LadderError
from engine.inference.base import GenerationParams
from engine.inference.prompts import solve_chat
from engine.runs.config import Config
from engine.train.loss import grpo_loss
from engine.train.reward import RewardResult
from engine.train.rollouts import choose_backend, importance_weights

PROMPT = {"id": "p", "integrand": "x**2"}


def by_length(items):
    """A reward that differs between completions of random text (so groups are not flat)."""
    return [RewardResult(float(len(text)), False, None, "") for _, text in items]


# ------------------------------------------------------------------------------------ fast


def test_importance_weights_are_one_when_policies_agree_and_capped_otherwise():
    lp = torch.log(torch.tensor([[0.5, 0.25, 0.1], [0.9, 0.01, 0.3]]))
    assert torch.allclose(importance_weights(lp, lp.clone(), 2.0), torch.ones_like(lp))
    rollout = lp.clone()
    rollout[0, 0] = lp[0, 0] - 3.0  # rollout policy under-sampled this token: weight e^3, capped
    rollout[1, 1] = lp[1, 1] + 0.5  # over-sampled: weight e^-0.5 < 1, not capped
    w = importance_weights(lp, rollout, 2.0)
    assert w[0, 0] == pytest.approx(2.0)
    assert w[1, 1] == pytest.approx(float(torch.exp(torch.tensor(-0.5))))
    assert float(w.max()) <= 2.0
    assert torch.equal(importance_weights(lp, rollout, 0.0), torch.ones_like(lp))  # cap 0 = off
    grad_lp = lp.clone().requires_grad_(True)
    assert not importance_weights(grad_lp, rollout, 2.0).requires_grad  # a constant in the loss


def test_loss_with_unit_weights_equals_the_plain_loss_and_weights_scale_the_policy_term():
    torch.manual_seed(0)
    logp = torch.randn(3, 4).requires_grad_(True)
    ref, adv, mask = torch.randn(3, 4), torch.tensor([1.0, -0.5, -0.5]), torch.ones(3, 4)
    kw = {"clip_eps": 0.2, "kl_coef": 0.0}
    plain = grpo_loss(logp, logp.detach(), ref, adv, mask, **kw)
    ones = grpo_loss(logp, logp.detach(), ref, adv, mask, is_weights=torch.ones(3, 4), **kw)
    assert float(plain.loss) == pytest.approx(float(ones.loss))
    halves = grpo_loss(logp, logp.detach(), ref, adv, mask, is_weights=torch.full((3, 4), 0.5), **kw)
    assert float(halves.loss) == pytest.approx(0.5 * float(plain.loss))


def test_backend_is_chosen_at_run_time(monkeypatch, tmp_path):
    from engine.inference.device import pick_device

    gguf = tmp_path / "m.gguf"
    assert choose_backend("auto", "cpu", gguf) == "llamacpp"
    assert choose_backend("auto", "cpu", None) == "hf"
    assert choose_backend("hf", "cpu", gguf) == "hf"
    assert choose_backend("llamacpp", "cpu", gguf) == "llamacpp"
    with pytest.raises(LadderError):
        choose_backend("llamacpp", "cpu", None)
    with pytest.raises(LadderError):
        choose_backend("vllm", "cpu", gguf)
    # a CUDA machine: the device is picked at run time and auto rolls out on the GPU with HF
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_backend("auto", pick_device("auto"), gguf) == "hf"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_backend("auto", pick_device("auto"), gguf) == "llamacpp"


@pytest.mark.parametrize("backend", ["auto", "hf"])
def test_hf_rollout_path_still_trains_and_reports_signal(tiny_dir, backend):
    from engine.train.grpo import GRPOTrainer

    cfg = Config()
    cfg.device = "cpu"
    cfg.sample.max_tokens = 6
    cfg.grpo.group_size, cfg.grpo.lr, cfg.grpo.rollout_backend = 4, 1e-2, backend

    def half_right(items):  # two verified, two not: every group carries correctness signal
        return [RewardResult(1.0 if i % 2 == 0 else 0.0, i % 2 == 0, "x", "") for i, _ in enumerate(items)]

    trainer = GRPOTrainer(tiny_dir, cfg, reward_fn=half_right)
    assert trainer.rollout_backend == "hf" and trainer.rollouts is None  # tiny has no GGUF file
    before = trainer.lora_state()
    stats = trainer.step(lambda: PROMPT)
    assert stats.updated
    assert any(not torch.equal(v, before[k]) for k, v in trainer.lora_state().items())
    ev = stats.event_fields()
    assert (ev["verified"], ev["signal_groups"], ev["drawn"]) == (2, 1, 1)
    assert ev["rollout_tokens_per_s"] > 0 and ev["is_weight"] == 1.0 and ev["logp_gap"] == 0.0


# ------------------------------------------------------------------------------------ slow: smollm2


@pytest.fixture(scope="module")
def smollm2():
    from engine.inference.models import hf_model_dir, resolve

    return resolve("smollm2-135m").path, hf_model_dir("smollm2-135m")


def _adapter(base_dir, out_dir, std: float, seed: int = 0):
    """A random r=8 LoRA adapter on every projection of smollm2, as GGUF."""
    from peft import LoraConfig, get_peft_model

    from engine.inference.hf import load_hf_model
    from engine.inference.lora_gguf import convert_lora

    model, _ = load_hf_model(base_dir, "cpu")
    torch.manual_seed(seed)  # lora_A's initialisation too
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=std)
    peft.save_pretrained(out_dir)
    return convert_lora(out_dir, out_dir / "adapter.gguf", base_dir)


@pytest.mark.slow
def test_batched_greedy_with_adapter_equals_one_at_a_time(smollm2, tmp_path):
    from engine.inference.batched import BatchedLlama
    from engine.inference.llamacpp import LlamaCppBackend

    gguf, base_dir = smollm2
    backend = LlamaCppBackend(gguf, n_ctx=512)
    engine = BatchedLlama(backend)
    try:
        engine.set_adapter(_adapter(base_dir, tmp_path / "ad", std=0.01))
        prompts = [backend.prompt_tokens(solve_chat(f)) for f in ("x**2", "cos(x)", "x*exp(x)")]
        greedy = GenerationParams(n=1, temperature=0, max_tokens=40)
        alone = [engine.generate([p], greedy)[0][0] for p in prompts]
        together = engine.generate(prompts, GenerationParams(n=3, temperature=0, max_tokens=40))
        same = 0
        for prompt, one, group in zip(prompts, alone, together):
            assert one.token_ids
            for c in group:
                if c.token_ids != one.token_ids:
                    _assert_near_tie(engine, prompt, one.token_ids, c.token_ids)
                else:
                    assert c.text == one.text
                    same += 1
        assert same >= 6  # of 9 (this adapter: all 9)
        # sampled rows are different sequences, reproducible by seed, with log-probs of what they sampled
        sampled = GenerationParams(n=4, temperature=1.0, max_tokens=24, seed=3)
        a, b = engine.generate(prompts[:2], sampled), engine.generate(prompts[:2], sampled)
        assert [[c.token_ids for c in g] for g in a] == [[c.token_ids for c in g] for g in b]
        assert len({tuple(c.token_ids) for c in a[0]}) > 1
        scored = engine.score(prompts[0], [c.token_ids for c in a[0]])
        for c, lp in zip(a[0], scored):
            # teacher forcing runs other batch shapes than sampling did: the same noise as above
            diffs = [abs(x - y) for x, y in zip(lp, c.logprobs)]
            assert len(lp) == len(c.logprobs) and sum(diffs) / len(diffs) < 0.2 and max(diffs) < 1.0
    finally:
        engine.close()
        backend.close()


def _assert_near_tie(engine, prompt, a, b):
    """Greedy decodes a and b of the same prompt part at a token the model nearly ties on.

    On the Q4 file llama.cpp's CPU matmuls take other kernels for a batch of rows than for one
    row (and a batch puts a sequence's KV cells elsewhere in the cache), and it rounds activations
    to 8 bits per block: the same token's log-prob moves by ~0.1 nats on average (up to ~0.3) between the two
    (measured on smollm2 with random adapters). Greedy text is the same except where the top two
    tokens are that close."""
    t = next(k for k in range(min(len(a), len(b))) if a[k] != b[k])
    lp_a, lp_b = engine.score(prompt, [a[:t + 1], a[:t] + [b[t]]])
    assert abs(lp_a[-1] - lp_b[-1]) < 0.25, (t, lp_a[-1], lp_b[-1])


@pytest.mark.slow
def test_llamacpp_prompt_tokens_equal_the_trainer_tokenizer(smollm2):
    from transformers import AutoTokenizer

    from engine.inference.hf import chat_text
    from engine.inference.llamacpp import LlamaCppBackend

    gguf, base_dir = smollm2
    tok = AutoTokenizer.from_pretrained(base_dir)
    backend = LlamaCppBackend(gguf, n_ctx=512)
    try:
        for f in ("x**2*exp(x)", "1/(x**2+4)", "sin(2*x)**3"):
            chat = solve_chat(f)
            assert backend.prompt_tokens(chat) == tok(chat_text(tok, chat), add_special_tokens=False)["input_ids"]
    finally:
        backend.close()


@pytest.mark.slow
def test_adapter_swapped_in_after_an_update_raises_the_rewarded_completion(smollm2):
    from engine.train.grpo import GRPOTrainer

    _, base_dir = smollm2
    cfg = Config()
    cfg.model, cfg.device = "smollm2-135m", "cpu"
    cfg.sample.max_tokens = 24
    cfg.grpo.group_size, cfg.grpo.lr, cfg.grpo.rollout_backend = 4, 3e-3, "llamacpp"
    trainer = GRPOTrainer(base_dir, cfg, reward_fn=by_length)
    assert trainer.rollout_backend == "llamacpp"
    stats = trainer.step(lambda: PROMPT)
    assert stats.updated and stats.drawn >= 1 and stats.logp_gap > 0
    best = max(stats.rollouts, key=lambda r: r.advantage)
    assert best.advantage > 0
    prompt = trainer._prompt_ids(PROMPT)[0].tolist()
    engine = trainer.rollouts.engine
    old = sum(engine.score(prompt, [best.token_ids])[0])  # the adapter that sampled it
    assert trainer.rollouts.sync(trainer.model)  # the optimizer step changed the LoRA weights
    assert not trainer.rollouts.sync(trainer.model)  # and nothing since
    new = sum(engine.score(prompt, [best.token_ids])[0])
    torch_new = trainer.completion_logprob(PROMPT, best.text)
    assert new > old + 0.5, (old, new)
    assert abs(new - torch_new) < 0.2 * abs(torch_new) + 2.0  # the rollout policy follows the trained one
    # the next step rolls out with the new adapter (a group whose completions all hit the token
    # limit has equal length rewards and is drawn again, so more than one draw is fine)
    nxt = trainer.step(lambda: PROMPT)
    assert nxt.drawn >= 1 and len(nxt.rollouts) >= cfg.grpo.group_size
    assert trainer.rollouts.engine.last_stats["head_reused"] > 0  # the prompt head stayed in the cache
    assert nxt.updated
    trainer.sample(PROMPT, 2, 0.0)  # after the update: answers that are checked never take a stale head
    assert trainer.rollouts.engine.last_stats["head_reused"] == 0


@pytest.mark.slow
def test_ttrl_test_samples_come_from_llamacpp_with_the_current_adapter(smollm2):
    """TTRL's samples of the test problem use the resident llama.cpp model (no slow HF decode
    before the first step); at temperature 0 they equal the trainer's own greedy answer."""
    from engine.train.grpo import GRPOTrainer

    _, base_dir = smollm2
    cfg = Config()
    cfg.model, cfg.device = "smollm2-135m", "cpu"
    cfg.sample.max_tokens = 16
    cfg.grpo.rollout_backend = "llamacpp"
    trainer = GRPOTrainer(base_dir, cfg, reward_fn=by_length)

    def no_hf_decoding(*args, **kwargs):
        raise AssertionError("sampled with transformers although llama.cpp rollouts are on")

    trainer.generate = no_hf_decoding
    texts = trainer.sample(PROMPT, 3, 1.0)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    greedy = trainer.sample(PROMPT, 2, 0.0)
    assert greedy[0] == greedy[1] and greedy[0]


@pytest.mark.slow
def test_prompt_head_is_kept_between_calls_and_evaluated_again_when_too_old(smollm2, tmp_path):
    from engine.inference.batched import BatchedLlama, _common_prefix
    from engine.inference.llamacpp import LlamaCppBackend

    gguf, base_dir = smollm2
    # two models: a backend frees its adapter when another is set, under every context on it
    backend, other = LlamaCppBackend(gguf, n_ctx=512), LlamaCppBackend(gguf, n_ctx=512)
    engine, fresh = BatchedLlama(backend), BatchedLlama(other)
    a, b = _adapter(base_dir, tmp_path / "a", std=0.01), _adapter(base_dir, tmp_path / "b", std=0.01, seed=1)
    try:
        p1, p2 = (backend.prompt_tokens(solve_chat(f)) for f in ("x**2", "x*exp(x)"))
        head = _common_prefix([p1, p2])
        assert head > len(p2) // 2  # the instructions and worked examples
        greedy = GenerationParams(n=2, temperature=0, max_tokens=24)
        engine.set_adapter(a)
        engine.generate([p1], greedy)
        assert engine.last_stats["head_reused"] == 0 and engine.last_stats["prefill_tokens"] == len(p1)
        kept = engine.generate([p2], greedy)
        assert engine.last_stats["head_reused"] == head
        assert engine.last_stats["prefill_tokens"] == len(p2) - head
        fresh.set_adapter(a)
        alone = fresh.generate([p2], greedy)  # a context that never saw p1
        assert fresh.last_stats["head_reused"] == 0
        for x, y in zip(kept[0], alone[0]):
            if x.token_ids != y.token_ids:  # other cells, other batch shapes: only near ties may differ
                _assert_near_tie(fresh, p2, x.token_ids, y.token_ids)
        # scoring reuses the head too, and the log-probs are those of a fresh evaluation
        mine, theirs = engine.score(p2, [alone[0][0].token_ids]), fresh.score(p2, [alone[0][0].token_ids])
        assert engine.last_stats["head_reused"] > 0
        assert max(abs(x - y) for x, y in zip(mine[0], theirs[0])) < 0.3
        # an adapter swap makes the head stale: evaluated again unless head_reuse allows its age
        engine.set_adapter(b)
        engine.generate([p1], greedy)
        assert engine.last_stats["head_reused"] == 0
        engine.set_adapter(a)
        engine.generate([p2], greedy, head_age=1)
        assert engine.last_stats["head_reused"] == head  # one swap old: kept
        engine.set_adapter(b)
        engine.generate([p1], greedy, head_age=1)
        assert engine.last_stats["head_reused"] == 0  # two swaps old: evaluated again
        engine.set_adapter(a)
        engine.score(p2, [[1, 2]])
        assert engine.last_stats["head_reused"] == 0  # scoring never takes a stale head
    finally:
        engine.close()
        fresh.close()
        backend.close()
        other.close()
