"""The GRPO loss as small pure functions on tensors (no model, no trainer state).

For one group of G completions, per completion token t (tensors of shape (G, T), `mask` 1 on real
tokens and 0 on padding):

    A_i   = (r_i - mean(r)) / (std(r) + eps)              group-normalised advantage (std with
                                                           Bessel's correction, as torch.std)
    ratio = exp(logp - old_logp)                           pi / pi_old per token
    pg    = -min(ratio * A, clip(ratio, 1 - clip_eps, 1 + clip_eps) * A)
    kl    = exp(ref - logp) - (ref - logp) - 1             the k3 estimator of KL(pi || ref), >= 0
    loss  = sum over real tokens of (pg + kl_coef * kl) / n_tokens

n_tokens is the number of real tokens of the whole batch (all groups of the step), so the loss
is a token-level mean over the batch even when each group's part is computed (and
back-propagated) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ADV_EPS = 1e-4  # keeps advantages finite when a group's rewards barely differ


def group_advantages(rewards: torch.Tensor, eps: float = ADV_EPS) -> torch.Tensor:
    """(G,) rewards of one group -> (G,) advantages (r - mean) / (std + eps)."""
    return (rewards - rewards.mean()) / (rewards.std() + eps)


def clipped_policy_term(ratio: torch.Tensor, advantages: torch.Tensor, clip_eps: float) -> torch.Tensor:
    """Per-token -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A); advantages broadcast (G, 1)."""
    return -torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


@dataclass
class LossTerms:
    """One group's part of the step loss."""

    loss: torch.Tensor  # scalar, differentiable: sum of (pg + kl_coef * kl) over real tokens / n_tokens
    pg_sum: float  # sum of pg over real tokens
    kl_sum: float  # sum of kl over real tokens (the step's mean KL is the sum over groups / n_tokens)


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, *, clip_eps: float, kl_coef: float, n_tokens: float | None = None,
              is_weights: torch.Tensor | None = None) -> LossTerms:
    """The GRPO loss of one group (see the module docstring).

    logp (G, T) carries the gradient; old_logp and ref_logp (G, T) are constants; advantages (G,);
    mask (G, T); n_tokens defaults to mask.sum() (a batch of this one group). is_weights (G, T),
    constants: per-token importance weights multiplying pg, for completions sampled by another
    policy than the trained one (llama.cpp rollouts: engine/train/rollouts.importance_weights)."""
    mask = mask.to(logp.dtype)
    n = float(mask.sum()) if n_tokens is None else float(n_tokens)
    ratio = torch.exp(logp - old_logp.detach())
    pg = clipped_policy_term(ratio, advantages.to(logp.dtype)[:, None], clip_eps)
    if is_weights is not None:
        pg = pg * is_weights.detach()
    kl = k3_kl(logp, ref_logp.detach())
    per_token = (pg + kl_coef * kl) * mask
    return LossTerms(per_token.sum() / n, float((pg.detach() * mask).sum()), float((kl.detach() * mask).sum()))
