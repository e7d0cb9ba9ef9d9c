"""The hand-written GRPO trainer on the tiny model: what it updates, when it skips, that it learns."""

from __future__ import annotations

import pytest
import torch
from helpers import by_length, trainer_config

from engine.train.grpo import GRPOTrainer
from engine.train.reward import RewardResult

PROMPT = {"id": "p", "integrand": "x**2"}






def test_step_changes_only_lora_weights(tiny_dir):
    trainer = GRPOTrainer(tiny_dir, trainer_config(lr=1e-2), reward_fn=by_length)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    stats = trainer.step(lambda: PROMPT)
    assert stats.updated and stats.groups == 1 and len(stats.rollouts) == 4
    assert 1 <= stats.distinct <= 4 and stats.event_fields()["distinct"] == stats.distinct
    changed = {k for k, v in trainer.model.named_parameters() if not torch.equal(v, before[k])}
    assert changed, "the step changed nothing"
    assert all("lora_" in k for k in changed), f"non-LoRA weights changed: {sorted(changed)[:3]}"
    # lora_B starts at zero, so a real update must have moved every lora_B matrix
    assert all(k in changed for k in before if "lora_B" in k)


def test_flat_group_is_skipped_and_resampled(tiny_dir):
    """A flat group is dropped and another drawn, and each round's verdicts reach `on_scored`
    before the next round is drawn (so a pool stops offering what just came back flat)."""
    seen = []

    def draw():
        seen.append("draw")
        return PROMPT

    trainer = GRPOTrainer(tiny_dir, trainer_config(max_resample=2),
                          reward_fn=lambda items: [RewardResult(0.05, False, "x", "") for _ in items])
    before = trainer.lora_state()
    stats = trainer.step(draw, on_scored=lambda groups: seen.append([[r.ok for r in g] for g in groups]))
    assert not stats.updated and stats.groups == 0 and stats.skipped == 3
    # the first draw and two resamples, each scored (one group of 4 failed completions) before the next draw
    assert seen == ["draw", [[False] * 4]] * 3
    assert all(torch.equal(v, before[k]) for k, v in trainer.lora_state().items())


def test_shared_prompt_logprobs_equal_full_sequence(tiny_dir):
    """The prompt-KV-sharing forward must give the same log-probs as the plain one."""
    cfg = trainer_config()
    trainer = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    ids = trainer._prompt_ids(PROMPT)
    completions = trainer.generate(ids, 3, 1.0, 5)
    from engine.train.grpo import _Group

    grp = _Group(PROMPT, ids, completions, torch.ones_like(completions, dtype=torch.float), [])
    with torch.no_grad():
        shared = trainer._logprobs(grp)
        full_ids = torch.cat([ids.expand(3, -1), completions], dim=1)
        logits = trainer.model(input_ids=full_ids).logits[:, ids.shape[1] - 1:-1]
        full = torch.log_softmax(logits.float(), -1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(shared, full, atol=1e-4)


def test_identical_completions_run_once_with_the_same_logprobs_and_gradient(tiny_dir):
    """A group whose completions repeat runs each distinct completion once; the log-probs and the
    gradient of a row-weighted sum equal those of running every row on its own."""
    from engine.train.grpo import _Group

    trainer = GRPOTrainer(tiny_dir, trainer_config(), reward_fn=by_length)
    with torch.no_grad():  # an adapter that is not the identity, so that LoRA gradients are not trivial
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    ids = trainer._prompt_ids(PROMPT)
    a = trainer.generate(ids, 1, 1.0, 5)[0]
    b = a.clone()
    b[-1] = (b[-1] + 1) % trainer.model.config.vocab_size
    completions = torch.stack([a, b, a, a])  # (4, Tc): two distinct rows
    weights = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def grads_of(groups: list[_Group], rows: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        trainer.model.zero_grad(set_to_none=True)
        logps = [trainer._logprobs(g) for g in groups]
        sum((lp * w).sum() for lp, w in zip(logps, rows)).backward()
        return torch.cat(logps).detach(), [p.grad.clone() for p in trainer.params]

    batch_sizes = []
    hook = trainer.model.get_input_embeddings().register_forward_hook(
        lambda _m, inp, _o: batch_sizes.append(inp[0].shape[0]))
    together, g_together = grads_of([_Group(PROMPT, ids, completions, torch.ones_like(completions, dtype=torch.float), [])],
                                    [weights])
    hook.remove()
    assert max(batch_sizes) == 2  # the prompt once, then the two distinct completions
    alone, g_alone = grads_of([_Group(PROMPT, ids, c[None], torch.ones(1, len(c)), []) for c in completions],
                              list(weights[:, None]))
    assert torch.allclose(together, alone, atol=1e-5)
    assert sum(float(g.abs().sum()) for g in g_together) > 0
    assert all(torch.allclose(x, y, rtol=1e-4, atol=1e-6) for x, y in zip(g_together, g_alone))


def test_reference_pass_reuses_the_head_the_prompts_share(tiny_dir):
    """The reference pass runs the solve prompt's shared head once per run and only each prompt's
    own tail after it; its log-probs equal the plain pass's for every prompt, and a prompt that does
    not start with the head runs whole."""
    from engine.train.grpo import _Group

    trainer = GRPOTrainer(tiny_dir, trainer_config(), reward_fn=by_length)
    with torch.no_grad():  # a reference that differs from the policy
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    trainer.model.eval()
    prompts = [{"id": "a", "integrand": "x**2"}, {"id": "b", "integrand": "sin(3*x)"}, {"id": "c", "integrand": "exp(x)*x"}]
    groups = []
    for p in prompts:
        prompt_ids = trainer._prompt_ids(p)
        completions = trainer.generate(prompt_ids, 3, 1.0, 5)
        groups.append(_Group(p, prompt_ids, completions, torch.ones_like(completions, dtype=torch.float), []))
    other = torch.tensor([[7] * 20])  # does not start with the head: runs whole
    groups.append(_Group({"id": "o"}, other, other[:, :4], torch.ones(1, 4), []))
    assert [trainer._starts_with_head(grp) for grp in groups] == [True, True, True, False]
    assert len(trainer._head_ids()) >= 16
    for grp in groups:
        with torch.no_grad(), trainer.model.disable_adapter():
            plain = trainer._logprobs(grp)
        assert torch.allclose(trainer._reference_logprobs(grp), plain, atol=1e-4)
    first = trainer._ref_head
    trainer._reference_logprobs(groups[0])
    assert trainer._ref_head is first and first[0][0].shape[-2] == len(trainer._head_ids())  # run once


def test_shared_head_update_equals_the_plain_one(tiny_dir, monkeypatch):
    """With two groups a step, the policy runs the head their prompts share once and sends both
    groups' gradients back through it; the update equals the one that runs every prompt whole."""
    cfg = trainer_config(lr=1e-2, prompts_per_step=2)
    prompts = iter([{"id": "a", "integrand": "x**2"}, {"id": "b", "integrand": "sin(3*x)"}] * 2)
    shared = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    plain = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    monkeypatch.setattr(plain, "_starts_with_head", lambda grp: False)
    runs, grads, head_runs = [], [], []
    run_head = shared._run_head
    shared._run_head = lambda: head_runs.append(shared.model.training) or run_head()
    for trainer in (shared, plain):
        step = trainer.optimizer.step  # the gradients as the optimizer gets them (Adam's first step
        trainer.optimizer.step = lambda step=step, t=trainer: (  # magnifies float noise near 0)
            grads.append([p.grad.clone() for p in t.params]), step())
        torch.manual_seed(0)  # both draw the same rollouts
        runs.append(trainer.step(lambda: next(prompts)))
    a, b = runs
    assert a.updated and b.updated and a.groups == b.groups == 2
    assert head_runs == [True]  # one head pass with gradients, for both groups
    assert [r.text for r in a.rollouts] == [r.text for r in b.rollouts]
    assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-7)
    assert sum(float(g.abs().sum()) for g in grads[0]) > 0
    assert all(torch.allclose(x, y, rtol=1e-4, atol=1e-7) for x, y in zip(*grads))


def test_identity_adapter_step_skips_the_reference_pass_and_updates_the_same(tiny_dir, monkeypatch):
    """While every lora_B is zero the policy is the reference: the first step computes no
    reference log-probs, and its update equals the one made with them (KL exactly 0)."""
    cfg = trainer_config(lr=1e-2, kl_coef=0.5)
    fast = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    slow = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    assert fast.adapter_is_identity() and slow.adapter_is_identity()
    monkeypatch.setattr(slow, "adapter_is_identity", lambda: False)
    calls = []
    logprobs = fast._logprobs
    fast._logprobs = lambda grp, *a: calls.append(fast.model.training) or logprobs(grp, *a)
    torch.manual_seed(0)  # both draw the same rollouts from the global RNG
    a = fast.step(lambda: PROMPT)
    torch.manual_seed(0)
    b = slow.step(lambda: PROMPT)
    assert calls == [True], "a reference pass (eval mode) ran although the adapter was the identity"
    assert a.updated and b.updated and a.kl == 0.0 and b.kl == pytest.approx(0.0, abs=1e-6)
    assert [r.text for r in a.rollouts] == [r.text for r in b.rollouts]
    assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-7)
    sa, sb = fast.lora_state(), slow.lora_state()
    assert all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)
    assert not fast.adapter_is_identity()  # the update moved lora_B: later steps run the reference pass
    fast.load_lora_state(GRPOTrainer(tiny_dir, cfg, reward_fn=by_length).lora_state())
    assert fast.adapter_is_identity()  # a roll-back to the start (TTRL) makes it the identity again


@pytest.mark.parametrize(("kl_coef", "flat", "passes"), [(0.5, False, 2), (0.5, True, 0), (0.0, False, 0)])
def test_reference_pass_only_for_groups_that_update(tiny_dir, kl_coef, flat, passes):
    """Once the adapter has moved, each group that updates gets one reference pass; a group that
    came back flat gets none (it is dropped), nor does any group without a KL term. A missing pass
    would make the KL term silently 0, so the count is checked both ways."""
    cfg = trainer_config(lr=1e-2, kl_coef=kl_coef, prompts_per_step=2, max_resample=0)
    reward = (lambda items: [RewardResult(0.05, False, "x", "") for _ in items]) if flat else by_length
    trainer = GRPOTrainer(tiny_dir, cfg, reward_fn=reward)
    with torch.no_grad():  # an adapter that has moved: the policy is no longer the reference
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    assert not trainer.adapter_is_identity()
    modes = []
    logprobs = trainer._logprobs
    trainer._logprobs = lambda grp, *a: modes.append(trainer.model.training) or logprobs(grp, *a)
    stats = trainer.step(lambda: PROMPT)
    assert modes.count(False) == passes
    assert stats.updated == (not flat) and stats.skipped == (2 if flat else 0)
    if passes:
        assert stats.kl > 0  # the adapter is not the identity here, and the reference was used
    assert modes.count(True) == (0 if flat else 2)  # one policy pass with gradients per kept group


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rewarded_completions_become_more_likely(tiny_dir, dtype):
    """Real learning on a fixed prompt: one-token completions earn 1 when their text starts with
    a letter a-m. At every step the rewarded completions' log-probabilities rise and the others'
    fall, and the first step's rewarded completions are still more likely three steps later;
    on fp32 base weights and on bf16 ones (the default on a CPU with native bf16)."""
    from engine.train.grpo import _Group

    good = set("abcdefghijklm")
    cfg = trainer_config(lr=1e-2, kl_coef=0.0, dtype=dtype)
    cfg.grpo.group_size, cfg.sample.max_tokens = 8, 1
    trainer = GRPOTrainer(tiny_dir, cfg, reward_fn=lambda items: [
        RewardResult(float(text[:1] in good and text != ""), False, None, "") for _, text in items])
    ids = trainer._prompt_ids(PROMPT)

    def logprob(token_ids: list[int]) -> float:
        c = torch.tensor([token_ids])
        with torch.no_grad():
            return float(trainer._logprobs(_Group(PROMPT, ids, c, torch.ones_like(c, dtype=torch.float), [])).sum())

    first_rewarded = None
    for _ in range(3):
        stats = trainer.step(lambda: PROMPT)
        assert stats.updated
        trained = [r for r in stats.rollouts if r.logprob is not None]
        up = [logprob(r.token_ids) - r.logprob for r in trained if r.advantage > 0]
        down = [logprob(r.token_ids) - r.logprob for r in trained if r.advantage < 0]
        assert sum(up) / len(up) > 0.1 and sum(down) / len(down) < 0, (up, down)
        if first_rewarded is None:
            first_rewarded = [r for r in trained if r.reward == 1.0]
    gain = [logprob(r.token_ids) - r.logprob for r in first_rewarded]
    assert sum(gain) / len(gain) > 0.1, gain


def test_checkpoint_roundtrip_is_exact(tiny_dir, tmp_path):
    """Saving and loading gives the same weights and the same next rollouts (RNG restored)."""
    cfg = trainer_config(lr=1e-2)
    a = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    a.step(lambda: PROMPT)
    a.save(tmp_path, {"step": 1})
    next_a = [r.text for r in a.step(lambda: PROMPT).rollouts]

    b = GRPOTrainer(tiny_dir, cfg, reward_fn=by_length)
    assert b.load(tmp_path) == {"step": 1}
    next_b = [r.text for r in b.step(lambda: PROMPT).rollouts]
    assert next_a == next_b
    assert all(torch.equal(v, b.lora_state()[k]) for k, v in a.lora_state().items())
