"""GRPO with a LoRA adapter, written out by hand on torch + peft (the readable reference trainer).

One step, for P prompts (variants) of G completions each (defaults P = 1, G = 8):

  1. rollouts     sample G completions per prompt from the current policy in ONE batched
                  `generate` call; the prompt is prefilled once and its KV cache shared by the G rows.
                  With [grpo] rollout_backend = "llamacpp" (engine/train/rollouts.py) llama.cpp samples
                  all P x G in one batch with the adapter as GGUF, and the policy-gradient term of each
                  token is weighted by a truncated importance weight min(pi / pi_rollout, is_cap)
  2. rewards      verifier + format reward (engine/train/reward.py; it fans out to worker processes and
                  takes milliseconds an answer), before the reference pass, which only the groups
                  that update (step 3) need
  3. dynamic      a group whose rewards are all equal carries no signal (all advantages are 0): it is
     sampling     dropped and a fresh prompt drawn, up to [grpo] max_resample times
  4. advantages   A_i = (r_i - mean(r)) / (std(r) + 1e-4) within each group
  5. loss         (engine/train/loss.py, pure functions) per completion token t:
                    ratio = pi(t) / pi_old(t)           = 1 here (one optimizer step per batch, so
                                                          pi_old = the detached current policy)
                    pg    = -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)
                    kl    = exp(ref - logp) - (ref - logp) - 1          (k3 estimator, >= 0)
                  loss = sum over all tokens of (pg + beta * kl) / number of tokens (token-level mean)
                  ref = the same model with the adapter disabled (peft `disable_adapter()`), so no
                  second copy of the weights is kept
  6. update       clip the gradient norm, AdamW step on the LoRA weights only

Because the ratio is 1 at the single update, old-policy log-probs need no separate pass: the one
forward with gradients gives them (detached). The policy and reference passes each run the shared
prompt once (batch 1) and the G completions against its expanded KV cache, which saves most of
their cost on long few-shot prompts; gradients flow through the prompt's keys and values too, so the
result equals the plain full-sequence forward. Every solve prompt starts with the same head (its
instructions and worked examples, about 90 % of its tokens): the reference pass keeps the head's
keys and values for the whole run, and the update runs it once per step for all its groups.

Reproducibility: [grpo] seed fixes the LoRA initialisation and the sampling RNG; checkpoints store
the adapter, the optimizer, every RNG state and the caller's extra state (step, data cursor).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.inference.base import Chat
from engine.inference.device import pick_device, pick_train_dtype
from engine.inference.hf import (
    chat_text,
    cut_at_stop,
    end_token_ids,
    find_adapter,
    load_hf_model,
)
from engine.inference.prompts import solve_chat
from engine.runs.config import Config
from engine.train.loss import ADV_EPS, group_advantages, grpo_loss  # noqa: F401 (ADV_EPS re-exported)
from engine.train.reward import RewardResult, score_many
from engine.train.rollouts import choose_backend, gguf_source, importance_weights, lora_version

# (integrand, completion) pairs -> one RewardResult each, in order
RewardFn = Callable[[list[tuple[str, str]]], list[RewardResult]]
STOP = ("</answer>",)
MIN_SHARED_HEAD = 16  # a shorter head shared by the solve prompts is run with each prompt instead
HEAD_MARGIN = 8  # tokens before the integrand left out of that head (tokenizers merge across the boundary)


@dataclass
class Rollout:
    """One scored completion of one prompt."""

    variant: str  # the prompt's id
    integrand: str
    text: str
    tokens: int
    reward: float
    ok: bool
    answer: str | None
    reason: str
    advantage: float = 0.0
    token_ids: list[int] = field(default_factory=list)  # the completion's tokens as trained on
    logprob: float | None = None  # summed log-probability under the policy before the update


@dataclass
class StepStats:
    """What one GRPO step did; `updated` is False when every drawn group was flat."""

    updated: bool
    reward_mean: float
    reward_std: float
    accuracy: float  # share of verified completions among the trained groups
    kl: float
    loss: float
    tokens: int  # completion tokens generated (all draws, skipped groups included)
    groups: int  # groups trained on
    skipped: int  # flat groups dropped by dynamic sampling
    gen_s: float
    verify_s: float
    train_s: float  # reference pass + policy forward/backward
    opt_s: float
    seconds: float
    rollouts: list[Rollout] = field(default_factory=list)  # every scored completion, skipped included
    verified: int = 0  # verified completions among all drawn (skipped groups included)
    verified_trained: int = 0  # verified completions in the groups the update used
    signal_groups: int = 0  # drawn groups holding both a verified and a failed completion
    drawn: int = 0  # groups drawn (trained + skipped)
    distinct: int = 0  # distinct completions in the groups the update used (identical ones run once)
    logp_gap: float = 0.0  # llama.cpp rollouts: mean |log pi_train - log pi_rollout| per trained token
    is_weight: float = 1.0  # mean truncated importance weight over trained tokens
    is_capped: float = 0.0  # share of trained tokens whose weight hit [grpo] is_cap

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.gen_s if self.gen_s > 0 else 0.0

    def event_fields(self) -> dict[str, Any]:
        """The flat fields of a `step` event."""
        return {
            "reward_mean": round(self.reward_mean, 4), "reward_std": round(self.reward_std, 4),
            "accuracy": round(self.accuracy, 4), "kl": round(self.kl, 6), "loss": round(self.loss, 6),
            "tokens_per_s": round(self.tokens_per_s, 1), "seconds": round(self.seconds, 2),
            "gen_s": round(self.gen_s, 2), "verify_s": round(self.verify_s, 2),
            "train_s": round(self.train_s, 2), "opt_s": round(self.opt_s, 2),
            "groups": self.groups, "skipped": self.skipped, "updated": self.updated,
            "verified": self.verified, "verified_trained": self.verified_trained, "signal_groups": self.signal_groups, "drawn": self.drawn,
            "distinct": self.distinct,
            "rollout_tokens_per_s": round(self.tokens_per_s, 1), "logp_gap": round(self.logp_gap, 4),
            "is_weight": round(self.is_weight, 4), "is_capped": round(self.is_capped, 4),
        }


@dataclass
class _Group:
    """G completions of one prompt, as tensors ready for the loss."""

    prompt: dict[str, Any]
    prompt_ids: torch.Tensor  # (1, Tp)
    completion_ids: torch.Tensor  # (G, Tc) right-padded
    mask: torch.Tensor  # (G, Tc) 1 on real completion tokens
    rollouts: list[Rollout]
    rollout_logp: torch.Tensor | None = None  # (G, Tc) log-probs under the llama.cpp rollout policy

    def distinct(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The distinct completions (U, Tc) and, for each of the G rows, its index among them (G,)."""
        return torch.unique(self.completion_ids, dim=0, return_inverse=True)


def _flat(grp: _Group) -> bool:
    """Every completion of the group earned the same reward: all advantages are 0, nothing to learn."""
    rewards = [r.reward for r in grp.rollouts]
    return max(rewards) - min(rewards) <= 1e-9


class GRPOTrainer:
    """A causal LM with a trainable LoRA adapter and the GRPO update (see the module docstring)."""

    def __init__(
        self,
        model_dir: str | Path,
        cfg: Config,
        *,
        reward_fn: RewardFn | None = None,
        adapter: str | Path | None = None,
        chat_fn: Callable[[dict[str, Any]], Chat] | None = None,
    ):
        from peft import LoraConfig, PeftModel, get_peft_model

        self.cfg = cfg
        g = cfg.grpo
        self.device = pick_device(cfg.device)
        self.rollout_backend = choose_backend(g.rollout_backend, self.device, gguf_source(cfg.model, model_dir))
        torch.manual_seed(g.seed)  # LoRA init and, from here on, sampling
        random.seed(g.seed)
        self.dtype = pick_train_dtype(self.device, g.dtype)
        base, self.tokenizer = load_hf_model(model_dir, self.device, self.dtype)
        if adapter is not None:
            self.model = PeftModel.from_pretrained(base, find_adapter(adapter), is_trainable=True)
        else:
            lora = LoraConfig(
                r=g.lora_r, lora_alpha=g.lora_alpha, lora_dropout=g.lora_dropout,
                target_modules=list(g.lora_targets), task_type="CAUSAL_LM",
            )
            self.model = get_peft_model(base, lora)
        self.model.to(self.device)
        if g.gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=g.lr, weight_decay=0.0)
        self.reward_fn: RewardFn = reward_fn or (lambda items: score_many(items, cfg))
        self.chat_fn = chat_fn or (lambda prompt: solve_chat(prompt["integrand"]))
        self.end_ids = end_token_ids(self.tokenizer)
        self._identity_checked: tuple[int | None, bool] = (None, False)  # (lora_version, adapter_is_identity)
        self._head: list[int] | None = None  # the token ids every solve prompt starts with (_head_ids)
        self._ref_head: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # its keys, values under the reference
        self.rollouts = None  # llama.cpp rollouts (engine/train/rollouts.py), or HF `generate`
        if self.rollout_backend == "llamacpp":
            from engine.train.rollouts import LlamaCppRollouts

            self.rollouts = LlamaCppRollouts(cfg, gguf_source(cfg.model, model_dir), model_dir, self.chat_ids)

    # ----------------------------------------------------------------------------------- rollouts

    def _prompt_ids(self, prompt: dict[str, Any]) -> torch.Tensor:
        return self.chat_ids(self.chat_fn(prompt))

    def chat_ids(self, chat: Chat) -> torch.Tensor:
        """The chat rendered with the model's template, as (1, Tp) token ids."""
        text = chat_text(self.tokenizer, chat)
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.device)

    @torch.no_grad()
    def generate(self, prompt_ids: torch.Tensor, n: int, temperature: float, max_tokens: int) -> torch.Tensor:
        """n completions of one prompt (1, Tp) -> (n, Tc) new token ids, padded after each row's end.

        The prompt minus its last token is prefilled once at batch 1 and the cache repeated n times,
        so `generate` only decodes; temperature 0 is greedy.
        """
        from transformers import DynamicCache, GenerationConfig

        self.model.eval()
        greedy = temperature <= 0
        config = GenerationConfig(
            max_new_tokens=max_tokens, do_sample=not greedy,
            temperature=None if greedy else temperature, top_p=None if greedy else self.cfg.sample.top_p,
            top_k=None if greedy else (self.cfg.sample.top_k or None),
            min_p=None if greedy else (self.cfg.sample.min_p or None),
            repetition_penalty=1.0, eos_token_id=self.end_ids, pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(STOP),
        )
        cache = DynamicCache(config=self.model.config)
        self.model(input_ids=prompt_ids[:, :-1], cache=cache, use_cache=True)
        cache.batch_repeat_interleave(n)
        ids = prompt_ids.expand(n, -1)  # (n, Tp)
        out = self.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache,
            generation_config=config, tokenizer=self.tokenizer,
        )
        return out[:, prompt_ids.shape[1]:]  # (n, Tc)

    def _trim(self, row: list[int]) -> tuple[int, str]:
        """(real length, text) of one generated row: up to and including an end token the model
        produced, or up to the token that completed the stop string (padding after it dropped)."""
        end = next((k for k, t in enumerate(row) if t in self.end_ids), len(row))
        real = row[:end]
        text = self.tokenizer.decode(real, skip_special_tokens=True)
        if any(s in text for s in STOP):
            length = len(real)
            while length > 1 and any(s in self.tokenizer.decode(real[: length - 1], skip_special_tokens=True) for s in STOP):
                length -= 1
            return length, cut_at_stop(text, STOP)[0]
        return (end + 1 if end < len(row) else end), text

    def _rollout_groups(self, prompts: list[dict[str, Any]]) -> list[_Group]:
        """Sample G completions for each prompt (no rewards yet)."""
        if self.rollouts is not None:
            return self._llamacpp_groups(prompts)
        s, G = self.cfg.sample, self.cfg.grpo.group_size
        groups = []
        for prompt in prompts:
            prompt_ids = self._prompt_ids(prompt)
            new = self.generate(prompt_ids, G, s.temperature, s.max_tokens)  # (G, Tc)
            lengths, rollouts = [], []
            for row in new.tolist():
                length, text = self._trim(row)
                lengths.append(length)
                rollouts.append(Rollout(prompt.get("id", ""), prompt["integrand"], text, length, 0.0, False,
                                        None, "", token_ids=row[:length]))
            Tc = max(max(lengths), 1)
            mask = (torch.arange(Tc, device=self.device)[None, :] < torch.tensor(lengths, device=self.device)[:, None])
            groups.append(_Group(prompt, prompt_ids, new[:, :Tc], mask.float(), rollouts))
        return groups

    def _llamacpp_groups(self, prompts: list[dict[str, Any]]) -> list[_Group]:
        """_rollout_groups on llama.cpp: the current LoRA weights swapped in if they changed, then
        all P x G completions decoded together; groups also carry the rollout log-probs."""
        s, G = self.cfg.sample, self.cfg.grpo.group_size
        self.rollouts.sync(self.model)
        prompt_ids = [self._prompt_ids(p) for p in prompts]
        seed = int(torch.randint(0, 2**31 - 1, (1,)))  # from the trainer's RNG: resumes reproduce it
        outs = self.rollouts.generate([p[0].tolist() for p in prompt_ids], G, s.temperature, s.max_tokens, STOP, seed,
                                      training=True)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        groups = []
        for prompt, ids, completions in zip(prompts, prompt_ids, outs):
            trimmed = [self._trim(c.token_ids) for c in completions]
            Tc = max(max(length for length, _ in trimmed), 1)
            new = torch.full((G, Tc), pad, dtype=torch.long)
            rollout_logp = torch.zeros(G, Tc)
            rollouts = []
            for k, (c, (length, text)) in enumerate(zip(completions, trimmed)):
                new[k, :length] = torch.tensor(c.token_ids[:length])
                rollout_logp[k, :length] = torch.tensor(c.logprobs[:length])
                rollouts.append(Rollout(prompt.get("id", ""), prompt["integrand"], text, length, 0.0, False,
                                        None, "", token_ids=c.token_ids[:length]))
            lengths = torch.tensor([length for length, _ in trimmed])
            mask = (torch.arange(Tc)[None, :] < lengths[:, None]).float()
            groups.append(_Group(prompt, ids, new.to(self.device), mask.to(self.device), rollouts,
                                 rollout_logp.to(self.device)))
        return groups

    def _score(self, groups: list[_Group]) -> None:
        items = [(r.integrand, r.text) for grp in groups for r in grp.rollouts]
        results = iter(self.reward_fn(items))
        for grp in groups:
            for r in grp.rollouts:
                res = next(results)
                r.reward, r.ok, r.answer, r.reason = float(res.reward), bool(res.ok), res.answer, res.reason

    # ----------------------------------------------------------------------------------- log-probs

    def _head_ids(self) -> list[int]:
        """The head every solve prompt starts with (its instructions and worked examples: 172 of
        the 190 tokens of qwen2.5-coder's prompt for x*exp(x)); [] when shorter than
        MIN_SHARED_HEAD. It is what the chats of two probe integrands share, less HEAD_MARGIN
        tokens, so it is the same for every prompt whatever the tokenizer does where the integrand
        starts; being fixed, a resumed run splits every prompt where the uninterrupted run did and
        computes the same numbers."""
        if self._head is None:
            a, b = (self._prompt_ids({"id": "", "integrand": t})[0].tolist() for t in ("x", "y"))
            n = next((k for k, (u, v) in enumerate(zip(a, b)) if u != v), min(len(a), len(b))) - HEAD_MARGIN
            self._head = a[:n] if n >= MIN_SHARED_HEAD else []
        return self._head

    def _starts_with_head(self, grp: _Group) -> bool:
        head = self._head_ids()
        return bool(head) and grp.prompt_ids.shape[1] > len(head) and grp.prompt_ids[0, :len(head)].tolist() == head

    def _run_head(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The head's keys and values per layer, (1, kv_heads, Th, head_dim) each, under the
        current weights and grad mode."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        self.model(input_ids=torch.tensor([self._head_ids()], device=self.device), cache=cache, use_cache=True,
                   logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _logprobs(self, grp: _Group, head: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
        """Per-token log-probs of the group's completions under the current weights -> (G, Tc).

        Shares the prompt: one batch-1 pass over the prompt, then the G completions attend to its
        repeated cache. `head`: the keys and values of the head the prompt starts with
        (`_run_head`), so that only the prompt's tail runs here. With gradient checkpointing
        (which refuses a cache in training mode) the full sequences are run instead.

        Identical completions (common once a variant is solved: the same short answer, token for
        token) run once: a row's log-probs depend on its token ids alone, and indexing the U
        distinct rows back out to G makes autograd sum their gradients, so the result and its
        gradient are exactly those of running all G.
        """
        from transformers import DynamicCache

        completions, rows = grp.distinct()  # (U, Tc), (G,)
        U, Tc = completions.shape
        if self.cfg.grpo.gradient_checkpointing and self.model.training:
            ids = torch.cat([grp.prompt_ids.expand(U, -1), completions], dim=1)  # (U, Tp+Tc)
            logits = self.model(input_ids=ids, use_cache=False, logits_to_keep=Tc + 1).logits[:, :-1]
        else:
            cache = DynamicCache(config=self.model.config)
            for i, (k, v) in enumerate(head or []):
                cache.update(k, v, i)  # a new tensor per layer, so the head itself is never extended
            n = head[0][0].shape[-2] if head else 0
            # only the last prompt position's logits are needed (the vocabulary projection of the
            # other positions would be a quarter of the prompt's cost, forward and backward)
            prefix = self.model(input_ids=grp.prompt_ids[:, n:], cache=cache, use_cache=True, logits_to_keep=1)
            cache.batch_repeat_interleave(U)
            # the prompt's last position predicts the first completion token
            first = prefix.logits[:, -1:].expand(U, -1, -1)  # (U, 1, V)
            logits = first
            if Tc > 1:
                rest = self.model(input_ids=completions[:, :-1], cache=cache, use_cache=True).logits
                logits = torch.cat([first, rest], dim=1)  # (U, Tc, V)
        logits = logits.float()
        chosen = logits.gather(-1, completions.unsqueeze(-1)).squeeze(-1)  # (U, Tc)
        return (chosen - torch.logsumexp(logits, dim=-1))[rows]  # (G, Tc)

    def _reference_logprobs(self, grp: _Group) -> torch.Tensor:
        """The group's per-token log-probs under the reference (the adapter disabled) -> (G, Tc).
        The reference never changes, so the head its prompt starts with runs once per run."""
        with torch.no_grad(), self.model.disable_adapter():
            head = None
            if self._starts_with_head(grp) and not self.cfg.grpo.gradient_checkpointing:
                if self._ref_head is None:
                    self._ref_head = self._run_head()
                head = self._ref_head
            return self._logprobs(grp, head)

    def completion_logprob(self, prompt: dict[str, Any], completion: str) -> float:
        """Summed log-probability of `completion` (as text) after `prompt` under the current policy."""
        ids = self.tokenizer(completion, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.device)
        grp = _Group(prompt, self._prompt_ids(prompt), ids, torch.ones_like(ids, dtype=torch.float), [])
        self.model.eval()
        with torch.no_grad():
            return float(self._logprobs(grp).sum())

    # ----------------------------------------------------------------------------------- the step

    def step(self, draw: Callable[[], dict[str, Any]],
             on_scored: Callable[[list[list[Rollout]]], None] | None = None) -> StepStats:
        """One GRPO update on `prompts_per_step` groups drawn with `draw()` (see module docstring).
        `on_scored(groups)` (one list of rollouts per group) runs as soon as a round of draws is
        verified, before the next round is drawn, so that a pool can stop offering a variant that
        just came back flat."""
        g = self.cfg.grpo
        t0 = time.perf_counter()
        gen_s = verify_s = train_s = 0.0
        kept: list[_Group] = []
        all_rollouts: list[Rollout] = []
        skipped = tokens = signal = 0
        refs: dict[int, torch.Tensor] = {}
        want = g.prompts_per_step
        for attempt in range(g.max_resample + 1):
            prompts = [draw() for _ in range(want - len(kept))]
            t = time.perf_counter()
            groups = self._rollout_groups(prompts)
            gen_s += time.perf_counter() - t
            tokens += sum(r.tokens for grp in groups for r in grp.rollouts)
            t = time.perf_counter()
            self._score(groups)
            verify_s += time.perf_counter() - t
            if on_scored is not None:
                on_scored([grp.rollouts for grp in groups])
            # The reference pass, for the groups that will update only (verdicts take milliseconds,
            # a reference pass seconds): none while the adapter is still the identity (the policy
            # is then the reference) and none without a KL term.
            t = time.perf_counter()
            self.model.eval()
            if g.kl_coef > 0 and not self.adapter_is_identity():
                for grp in groups:
                    if not _flat(grp):
                        refs[id(grp)] = self._reference_logprobs(grp)
            train_s += time.perf_counter() - t
            for grp in groups:
                all_rollouts.extend(grp.rollouts)
                signal += len({r.ok for r in grp.rollouts}) == 2
                if not _flat(grp):
                    kept.append(grp)
                else:
                    skipped += 1
            if len(kept) == want:
                break

        stats = StepStats(False, 0.0, 0.0, 0.0, 0.0, 0.0, tokens, len(kept), skipped, gen_s,
                          verify_s, train_s, 0.0, 0.0, all_rollouts,
                          verified=sum(r.ok for r in all_rollouts), signal_groups=signal, drawn=len(kept) + skipped,
                          distinct=sum(len(grp.distinct()[0]) for grp in kept))
        trained = [r for grp in kept for r in grp.rollouts]
        scored = trained or all_rollouts
        rewards = torch.tensor([r.reward for r in scored])
        stats.reward_mean = float(rewards.mean())
        stats.reward_std = float(rewards.std(unbiased=False))
        stats.accuracy = sum(r.ok for r in scored) / max(len(scored), 1)
        stats.verified_trained = sum(r.ok for r in trained)
        if kept:
            t = time.perf_counter()
            stats.loss, stats.kl = self._update(kept, refs, stats)
            train_s += time.perf_counter() - t
            t = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(self.params, g.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            stats.opt_s = time.perf_counter() - t
            stats.updated = True
        stats.train_s = train_s
        stats.seconds = time.perf_counter() - t0
        return stats

    def adapter_is_identity(self) -> bool:
        """True while the LoRA adapter changes nothing (every lora_B exactly zero, as peft
        initialises it and as TTRL's roll-back restores it): the policy's log-probs are then exactly
        the reference's, so the step skips the reference pass (at batch 1 on a CPU, a third of the
        first step's training time). False for any other trainable weight (DoRA magnitudes, ...)."""
        version = lora_version(self.model)
        if version != self._identity_checked[0]:
            names = [(k, p) for k, p in self.model.named_parameters() if p.requires_grad]
            identity = bool(names) and all("lora_A" in k or "lora_B" in k for k, _ in names) and not any(
                bool(p.detach().any()) for k, p in names if "lora_B" in k)
            self._identity_checked = (version, identity)
        return self._identity_checked[1]

    def _update(self, groups: list[_Group], refs: dict[int, torch.Tensor],
                stats: StepStats | None = None) -> tuple[float, float]:
        """Accumulate the gradient of the token-level GRPO loss over `groups`; returns (loss, kl)."""
        g = self.cfg.grpo
        n_tokens = sum(float(grp.mask.sum()) for grp in groups)
        self.model.train()
        loss_sum = kl_sum = gap_sum = w_sum = capped = 0.0
        # The head the prompts share runs once for all groups: each group's backward stops at
        # detached copies of its keys and values (`leaves`), whose gradients, summed over the
        # groups, then go back through the head in one backward. Same gradient, one head pass.
        shared = {id(grp) for grp in groups if self._starts_with_head(grp)} if not g.gradient_checkpointing else set()
        head = leaves = None
        if len(shared) > 1:
            head = self._run_head()
            leaves = [(k.detach().requires_grad_(), v.detach().requires_grad_()) for k, v in head]
        for grp in groups:
            r = torch.tensor([ro.reward for ro in grp.rollouts], device=self.device)  # (G,)
            adv = group_advantages(r)  # (G,)
            for ro, a in zip(grp.rollouts, adv.tolist()):
                ro.advantage = a
            logp = self._logprobs(grp, leaves if id(grp) in shared else None)  # (G, Tc), with grad
            for ro, lp in zip(grp.rollouts, (logp.detach() * grp.mask).sum(1).tolist()):
                ro.logprob = lp
            # old = the detached current policy (one update per batch): the ratio is 1 but carries d logp
            w = None
            if grp.rollout_logp is not None:  # sampled by llama.cpp: truncated importance weights
                w = importance_weights(logp, grp.rollout_logp, g.is_cap)
                gap_sum += float(((logp.detach() - grp.rollout_logp).abs() * grp.mask).sum())
                w_sum += float((w * grp.mask).sum())
                capped += float(((w >= g.is_cap) * grp.mask).sum()) if g.is_cap > 0 else 0.0
            ref = refs.get(id(grp))  # None: identity adapter, the reference log-probs are the policy's
            ref = logp.detach() if ref is None else ref
            terms = grpo_loss(logp, logp.detach(), ref, adv, grp.mask,
                              clip_eps=g.clip_eps, kl_coef=g.kl_coef, n_tokens=n_tokens, is_weights=w)
            terms.loss.backward()
            loss_sum += float(terms.loss.detach())
            kl_sum += terms.kl_sum
        if head is not None:
            torch.autograd.backward([t for kv in head for t in kv], [t.grad for kv in leaves for t in kv])
        self.model.eval()
        if stats is not None and any(grp.rollout_logp is not None for grp in groups):
            stats.logp_gap, stats.is_weight, stats.is_capped = gap_sum / n_tokens, w_sum / n_tokens, capped / n_tokens
        return loss_sum, kl_sum / n_tokens

    # ----------------------------------------------------------------------------------- sampling

    def sample(self, prompt: dict[str, Any], n: int, temperature: float) -> list[str]:
        """n answers of the current policy to one prompt (TTRL test samples, greedy checks)."""
        return self.sample_many([prompt], n, temperature)[0]

    def sample_many(self, prompts: list[dict[str, Any]], n: int, temperature: float,
                    max_tokens: int | None = None) -> list[list[str]]:
        """n answers of the current policy to each prompt (at most `max_tokens`, default [sample]'s);
        on llama.cpp with the current adapter when rollouts run there (all P x n decoded together),
        else one HF batch per prompt."""
        if not prompts:
            return []
        max_tokens = max_tokens or self.cfg.sample.max_tokens
        ids = [self._prompt_ids(p) for p in prompts]
        if self.rollouts is not None:
            self.rollouts.sync(self.model)
            seed = int(torch.randint(0, 2**31 - 1, (1,)))
            outs = self.rollouts.generate([i[0].tolist() for i in ids], n, temperature, max_tokens, STOP, seed)
            return [[self._trim(c.token_ids)[1] for c in group] for group in outs]
        return [[self._trim(row)[1] for row in self.generate(i, n, temperature, max_tokens).tolist()] for i in ids]

    def backend(self) -> "PolicyBackend":
        """The current policy behind the Backend interface (for engine.evaluation.evaluate)."""
        return PolicyBackend(self)

    # ----------------------------------------------------------------------------------- state

    def lora_state(self) -> dict[str, torch.Tensor]:
        """A copy of the trainable (LoRA) weights."""
        return {k: v.detach().clone() for k, v in self.model.named_parameters() if v.requires_grad}

    def load_lora_state(self, state: dict[str, torch.Tensor]) -> None:
        """Put back LoRA weights taken with `lora_state` (exactly) and reset the optimizer."""
        with torch.no_grad():
            for k, v in self.model.named_parameters():
                if k in state:
                    v.copy_(state[k])
        self.optimizer = torch.optim.AdamW(self.params, lr=self.cfg.grpo.lr, weight_decay=0.0)

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        """Write adapter, optimizer, RNG states and `extra` (step, data cursor) into `folder`."""
        import numpy as np

        self.model.save_pretrained(folder / "adapter")
        torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
        rng = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, folder / "rng.pt")
        (folder / "state.json").write_text(json.dumps(extra, indent=2) + "\n")

    def load(self, folder: Path) -> dict[str, Any]:
        """Restore what `save` wrote; returns its `extra`."""
        import numpy as np
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = load_file(str(folder / "adapter" / "adapter_model.safetensors"), device=str(self.device))
        result = set_peft_model_state_dict(self.model, weights)
        if getattr(result, "unexpected_keys", None):
            raise RuntimeError(f"checkpoint {folder} does not match this adapter: {result.unexpected_keys[:3]}")
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=self.device))
        rng = torch.load(folder / "rng.pt", weights_only=False)
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        return json.loads((folder / "state.json").read_text())


class PolicyBackend:
    """A Backend (engine/inference/base.py) sampling from the trainer's live policy, adapter on."""

    name = "hf"

    def __init__(self, trainer: GRPOTrainer):
        self.trainer = trainer
        self.model_name = trainer.cfg.model

    def generate(self, prompts: list[Chat], params: Any, on_token: Any = None) -> list[list[Any]]:
        # A seeded call (evaluation) draws from its own RNG stream, leaving training's untouched.
        cuda = self.trainer.device.startswith("cuda")
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            return self._generate(prompts, params)

    def _generate(self, prompts: list[Chat], params: Any) -> list[list[Any]]:
        from engine.inference.base import Sample

        t = self.trainer
        results = []
        for chat in prompts:
            n = 1 if params.temperature <= 0 else params.n
            start = time.perf_counter()
            rows = t.generate(t.chat_ids(chat), n, params.temperature, params.max_tokens).tolist()
            per_row = (time.perf_counter() - start) / len(rows)
            samples = []
            for row in rows:
                length, text = t._trim(row)
                samples.append(Sample(text=text, tokens=length, seconds=per_row, token_ids=row[:length]))
            results.append(samples * (params.n if n == 1 else 1))
        return results
