"""The reward of one completion: the numerical verifier is the only judge of correctness.

    reward = 1.0 if the verifier accepts the answer
           + [sample] format_reward (0.05, as in the authors' runs) if the completion holds a
             parseable answer between <answer> tags

So a completion earns 0 (no tagged answer, or one that does not parse), 0.05 (well formed but
wrong) or 1.05 (verified). No reference answer is ever used: the candidate is checked against the
integrand itself, so any correct form of the antiderivative is rewarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import LadderError
from engine.runs.config import Config
from engine.verify.judge import Judgement, Task, judge_many


@dataclass
class RewardResult:
    """The score of one completion and why."""

    reward: float
    ok: bool  # the verifier accepted the answer
    answer: str | None  # the extracted answer text, if any
    reason: str  # the verifier's reason, or why nothing was verified


def reward_of(judgement: Judgement, cfg: Config) -> RewardResult:
    """The reward a judgement earns (see the module docstring). With [sample] reward =
    "format_only" correctness earns nothing; `ok` is still reported, for the curves."""
    if cfg.sample.reward not in ("verified", "format_only"):
        raise LadderError(f"config key sample.reward: expected 'verified' or 'format_only', got {cfg.sample.reward!r}")
    reward = cfg.sample.format_reward if judgement.parsed else 0.0
    if cfg.sample.reward == "verified" and judgement.ok:
        reward += 1.0
    return RewardResult(reward, judgement.ok, judgement.answer, judgement.reason)


def score(integrand: str, completion: str, cfg: Config | None = None) -> RewardResult:
    """Score one completion of the solve prompt for `integrand`."""
    return score_many([(integrand, completion)], cfg)[0]


def score_many(items: list[tuple[str, str]], cfg: Config | None = None) -> list[RewardResult]:
    """Score (integrand, completion) pairs, in order; answers are verified in parallel by `judge_many`."""
    cfg = cfg or Config()
    judgements = judge_many([Task(integrand, completion) for integrand, completion in items], cfg.verify)
    return [reward_of(j, cfg) for j in judgements]
