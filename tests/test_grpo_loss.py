"""The GRPO loss (engine/train/loss.py) against values worked out by hand, and the trainer's use of it:
the reference is the model with the adapter switched off, and the KL term enters with its coefficient."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import by_length, trainer_config

from engine.train.loss import clipped_policy_term, group_advantages, grpo_loss, k3_kl

# Two completions of 3 tokens; the second has 2 real tokens and one pad (whose numbers must not count).
LOGP = [[-1.0, -2.0, -0.5], [-1.5, -0.2, 0.0]]
OLD = [[-1.2, -1.5, -0.5], [-1.0, -0.2, -9.0]]
REF = [[-1.1, -2.0, -0.3], [-1.5, -0.7, 5.0]]
MASK = [[1, 1, 1], [1, 1, 0]]
ADV = [1.0, -0.5]

# By hand, clip_eps = 0.2:
#   ratio = exp(logp - old) = [[e^0.2 = 1.2214, e^-0.5 = 0.6065, 1], [e^-0.5 = 0.6065, 1, (pad)]]
#   row 0, A = 1:    min(r, clip(r)) -> 1.2 (clipped), 0.6065 (unclipped: below 0.8 min keeps r), 1
#                    pg = -1.2, -0.60653066, -1
#   row 1, A = -0.5: min(-0.5 r, -0.5 clip(r)) -> -0.4 (clip 0.8 gives the smaller), -0.5
#                    pg = 0.4, 0.5
PG = [[-1.2, -math.exp(-0.5), -1.0], [0.4, 0.5]]
PG_SUM = -1.2 - math.exp(-0.5) - 1.0 + 0.4 + 0.5  # -1.90653066
#   d = ref - logp = [[-0.1, 0, 0.2], [0, -0.5]]; k3 = e^d - d - 1
KL = [[math.exp(-0.1) - 0.9, 0.0, math.exp(0.2) - 1.2], [0.0, math.exp(-0.5) - 0.5]]
KL_SUM = 0.004837418 + 0.021402758 + 0.106530660  # 0.132770836
N = 5  # real tokens


def tensors():
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return t(LOGP).requires_grad_(True), t(OLD), t(REF), t(ADV), t(MASK)


def test_clipped_policy_term_per_token():
    logp, old, _, adv, _ = tensors()
    pg = clipped_policy_term(torch.exp(logp - old), adv[:, None], 0.2)
    assert pg[0].tolist() == pytest.approx(PG[0], abs=1e-9)
    assert pg[1, :2].tolist() == pytest.approx(PG[1], abs=1e-9)


def test_k3_kl_per_token():
    logp, _, ref, _, _ = tensors()
    kl = k3_kl(logp, ref)
    assert kl[0].tolist() == pytest.approx(KL[0], abs=1e-9)
    assert kl[1, :2].tolist() == pytest.approx(KL[1], abs=1e-9)
    assert sum(KL[0]) + sum(KL[1]) == pytest.approx(KL_SUM, abs=1e-8)
    assert float(k3_kl(torch.tensor(-1.0), torch.tensor(-1.0))) == 0.0  # no divergence from itself
    assert float(k3_kl(torch.tensor(-3.0), torch.tensor(-1.0))) > 0  # and >= 0 otherwise


@pytest.mark.parametrize("kl_coef", [0.0, 0.1, 1.0])
def test_grpo_loss_is_the_token_mean_of_clipped_term_plus_weighted_k3(kl_coef):
    logp, old, ref, adv, mask = tensors()
    terms = grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=kl_coef)
    assert terms.pg_sum == pytest.approx(PG_SUM, abs=1e-8)
    assert terms.kl_sum == pytest.approx(KL_SUM, abs=1e-8)
    # token-level mean: divided by the 5 real tokens, not averaged per completion
    assert float(terms.loss.detach()) == pytest.approx((PG_SUM + kl_coef * KL_SUM) / N, abs=1e-8)
    per_sequence_mean = ((sum(PG[0]) + kl_coef * sum(KL[0])) / 3 + (sum(PG[1]) + kl_coef * sum(KL[1])) / 2) / 2
    assert abs(float(terms.loss.detach()) - per_sequence_mean) > 1e-3


def test_kl_coefficient_weights_the_kl_term():
    logp, old, ref, adv, mask = tensors()
    base = float(grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=0.0).loss.detach())
    with_kl = float(grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=0.5).loss.detach())
    assert with_kl - base == pytest.approx(0.5 * KL_SUM / N, abs=1e-9)


def test_n_tokens_is_the_whole_batch():
    """Per-group parts divided by the batch's token count add up to the batch's token mean."""
    logp, old, ref, adv, mask = tensors()
    whole = grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=0.1)
    parts = [grpo_loss(logp[i:i + 1], old[i:i + 1], ref[i:i + 1], adv[i:i + 1], mask[i:i + 1],
                       clip_eps=0.2, kl_coef=0.1, n_tokens=N) for i in range(2)]
    assert float(sum(p.loss.detach() for p in parts)) == pytest.approx(float(whole.loss.detach()), abs=1e-12)
    assert float(grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=0.1, n_tokens=10).loss.detach()) \
        == pytest.approx(float(whole.loss.detach()) / 2, abs=1e-12)


def test_gradient_at_ratio_one():
    """With old = the detached policy (the trainer's single update) d loss / d logp per real token is
    (-A + kl_coef * (1 - exp(ref - logp))) / n, and 0 on padding; old_logp carries no gradient."""
    logp, _, ref, adv, mask = tensors()
    old = logp.detach().clone().requires_grad_(True)
    beta = 0.3
    grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, kl_coef=beta).loss.backward()
    for i in range(2):
        for t in range(3):
            want = 0.0 if not MASK[i][t] else (-ADV[i] + beta * (1 - math.exp(REF[i][t] - LOGP[i][t]))) / N
            assert float(logp.grad[i, t]) == pytest.approx(want, abs=1e-9), (i, t)
    assert old.grad is None or float(old.grad.abs().sum()) == 0.0


def test_clipping_stops_the_gradient_outside_the_trust_region():
    """A token whose ratio is already past 1 + eps with A > 0 gets no policy gradient."""
    logp = torch.tensor([[0.5]], dtype=torch.float64, requires_grad=True)
    old = torch.tensor([[0.0]], dtype=torch.float64)  # ratio e^0.5 = 1.65 > 1.2
    grpo_loss(logp, old, logp.detach(), torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 1),
              clip_eps=0.2, kl_coef=0.0).loss.backward()
    assert float(logp.grad) == 0.0


def test_group_advantages_by_hand():
    # mean 0.5, std with Bessel's correction sqrt((0.25 + 0.25 + 0.25 + 0.25) / 3) = 0.57735
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    a = 0.5 / (0.5773503 + 1e-4)  # 0.865876
    assert adv.tolist() == pytest.approx([a, -a, -a, a], abs=1e-6)
    assert group_advantages(torch.tensor([0.05, 0.05])).tolist() == [0.0, 0.0]  # flat: no signal


# ------------------------------------------------------------------ the trainer's use of the loss





PROMPT = {"id": "p", "integrand": "x**2"}


def test_reference_is_the_model_without_the_adapter(tiny_dir):
    """The reference log-probs that enter the KL term equal those of a separately loaded base model
    (no adapter), and differ from the policy's once the adapter has been trained."""
    from engine.inference.hf import load_hf_model
    from engine.train.grpo import GRPOTrainer

    trainer = GRPOTrainer(tiny_dir, trainer_config(lr=5e-2), reward_fn=by_length)
    assert trainer.step(lambda: PROMPT).updated  # the adapter now differs from the base
    seen = []
    update = trainer._update

    def spy(groups, refs, *rest):
        seen.extend((g, refs[id(g)].clone()) for g in groups)
        return update(groups, refs, *rest)

    trainer._update = spy
    assert trainer.step(lambda: PROMPT).updated and seen
    base, _ = load_hf_model(tiny_dir, "cpu")
    for grp, ref in seen:
        G = grp.completion_ids.shape[0]
        ids = torch.cat([grp.prompt_ids.expand(G, -1), grp.completion_ids], dim=1)
        with torch.no_grad():
            logits = base(input_ids=ids).logits[:, grp.prompt_ids.shape[1] - 1:-1].float()
            want = torch.log_softmax(logits, -1).gather(-1, grp.completion_ids.unsqueeze(-1)).squeeze(-1)
            trainer.model.eval()
            policy = trainer._logprobs(grp)
        m = grp.mask.bool()
        assert torch.allclose(ref[m], want[m], atol=1e-4)
        assert float((policy[m] - ref[m]).abs().max()) > 1e-3, "the policy still equals the reference"


def test_trainer_loss_includes_the_kl_term_with_its_coefficient(tiny_dir):
    """At the single update ratio = 1, so the step's loss is (-sum_i A_i * len_i + beta * sum kl) / n;
    with the adapter trained away from the reference, the KL is > 0 and must appear with beta."""
    from engine.train.grpo import GRPOTrainer

    beta = 0.5
    trainer = GRPOTrainer(tiny_dir, trainer_config(lr=5e-2, kl_coef=beta), reward_fn=by_length)
    assert trainer.step(lambda: PROMPT).updated
    stats = trainer.step(lambda: PROMPT)
    assert stats.updated and stats.kl > 1e-6
    trained = [r for r in stats.rollouts if r.logprob is not None]
    n = sum(len(r.token_ids) for r in trained)
    pg = -sum(r.advantage * len(r.token_ids) for r in trained) / n
    assert stats.loss == pytest.approx(pg + beta * stats.kl, rel=1e-4, abs=1e-6)


def test_grpo_loss_computes_in_the_dtype_of_logp():
    """A float64 mask or float64 advantages (rewards come from Python floats) do not promote the
    loss: it stays in logp's dtype, as the backward pass through the model expects."""
    g = torch.Generator().manual_seed(0)
    logp = (-torch.rand(2, 3, generator=g)).requires_grad_()
    mask = torch.ones(2, 3, dtype=torch.float64)
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    terms = grpo_loss(logp, logp.detach() - 0.1, logp.detach() + 0.1, adv, mask, clip_eps=0.2, kl_coef=0.05)
    assert terms.loss.dtype == torch.float32
    terms.loss.backward()
    assert logp.grad.dtype == torch.float32
    ref = grpo_loss(logp, logp.detach() - 0.1, logp.detach() + 0.1, adv.float(), mask.float(), clip_eps=0.2, kl_coef=0.05)
    assert terms.loss.item() == pytest.approx(ref.loss.item(), rel=1e-6)
