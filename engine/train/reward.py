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

from engine.runs.config import Config


@dataclass
class RewardResult:
    """The score of one completion and why."""

    reward: float
    ok: bool  # the verifier accepted the answer
    answer: str | None  # the extracted answer text, if any
    reason: str  # the verifier's reason, or why nothing was verified


def _parse_answer(completion: str) -> tuple[str | None, str | None]:
    """(answer, None) for a parseable tagged answer, else (answer or None, reason it scores 0)."""
    from engine.verify.answer import extract
    from engine.verify.parse import ParseError, parse

    answer = extract(completion)
    if answer is None:
        return None, "no answer in <answer> tags"
    try:
        parse(answer)
    except ParseError as e:
        return answer, f"unparseable answer: {e}"
    return answer, None


def score(integrand: str, completion: str, cfg: Config | None = None) -> RewardResult:
    """Score one completion of the solve prompt for `integrand`."""
    from engine.verify.verifier import verify

    cfg = cfg or Config()
    answer, problem = _parse_answer(completion)
    if problem is not None:
        return RewardResult(0.0, False, answer, problem)
    verdict = verify(integrand, answer, cfg=cfg.verify)
    return RewardResult(cfg.sample.format_reward + (1.0 if verdict.ok else 0.0), verdict.ok, answer, verdict.reason)


def score_many(items: list[tuple[str, str]], cfg: Config | None = None) -> list[RewardResult]:
    """Score (integrand, completion) pairs, in order; the parseable ones are verified in parallel
    by the verifier's worker pool (`engine.verify.verifier.verify_many`)."""
    from engine.verify.verifier import verify_many

    cfg = cfg or Config()
    results: list[RewardResult | None] = [None] * len(items)
    todo: list[tuple[int, str, str]] = []  # (position, integrand, answer)
    for i, (integrand, completion) in enumerate(items):
        answer, problem = _parse_answer(completion)
        if problem is not None:
            results[i] = RewardResult(0.0, False, answer, problem)
        else:
            todo.append((i, integrand, answer))
    verdicts = verify_many([(f, a) for _, f, a in todo], cfg=cfg.verify) if todo else []
    for (i, _, answer), verdict in zip(todo, verdicts):
        results[i] = RewardResult(
            cfg.sample.format_reward + (1.0 if verdict.ok else 0.0), verdict.ok, answer, verdict.reason
        )
    return results  # type: ignore[return-value]  # every slot is filled above
