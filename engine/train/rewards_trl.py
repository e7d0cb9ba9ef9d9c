"""Our reward (numerical verifier + format reward) behind the import paths other RL stacks expect.

A team training on its own cluster points its stack at these names; the dataset they train on comes
from `ladder export-dataset` (engine/train/datasets.py), whose rows carry the integrand both as a column
(`integrand`, for TRL) and as `reward_model.ground_truth` (for veRL).

TRL (`GRPOTrainer(reward_funcs=...)`):

    from engine.train.rewards_trl import integration_reward
    trainer = GRPOTrainer(model, reward_funcs=integration_reward, train_dataset=ds, ...)

    TRL calls it with `prompts`, `completions` (plain strings, or chat messages for a
    conversational dataset) and every other dataset column as a keyword list, here `integrand`.

veRL (`custom_reward_function.path=engine/train/rewards_trl.py custom_reward_function.name=compute_score`):

    compute_score(data_source, solution_str, ground_truth, extra_info=None) -> float

The reward is the one `ladder train` uses (engine.train.reward.score): 1.0 for an answer our verifier
accepts, plus the format reward (0.05 by default) for a parseable answer between <answer> tags.
`ground_truth` is the integrand, not a reference answer: correctness is checked numerically against
the integrand, so any correct form of the antiderivative earns the reward.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from engine.runs.config import Config
from engine.runs.events import EventSink, Rollout

DATA_SOURCE = "ladder/integration"


def completion_text(completion: Any) -> str:
    """The assistant's text from a TRL completion: a string, or a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))
    return str(completion)


class VerifierReward:
    """A TRL reward function scoring completions with our verifier, optionally writing rollout events.

    `engine/train/trl_backend.py` uses an instance bound to the run's event sink, so every scored
    completion can appear in the TUI; `integration_reward` below is an unbound instance for
    other people's TRL scripts.
    """

    __name__ = "verifier"  # TRL names the reward's log keys after this: rewards/verifier/mean

    def __init__(self, cfg: Config | None = None, sink: EventSink | None = None, max_events: int = 64):
        self.cfg = cfg or Config()
        self.sink = sink
        self.max_events = max_events
        self.calls = 0
        self.verify_seconds = 0.0  # summed over calls; the trainer reports the per-step share

    def __call__(
        self,
        prompts: list[Any] | None = None,
        completions: list[Any] | None = None,
        integrand: list[str] | None = None,
        variant: list[str] | None = None,
        trainer_state: Any = None,
        log_metric: Any = None,
        **_: Any,
    ) -> list[float]:
        from engine.train.reward import score_many

        if completions is None or integrand is None:
            raise ValueError("integration_reward needs `completions` and an `integrand` dataset column")
        texts = [completion_text(c) for c in completions]
        start = time.perf_counter()
        results = score_many(list(zip(integrand, texts)), self.cfg)
        self.verify_seconds += time.perf_counter() - start
        self.calls += 1
        if log_metric is not None:  # TRL averages it over the step and logs it as "accuracy"
            log_metric("accuracy", sum(r.ok for r in results) / max(len(results), 1))
        if self.sink is not None:
            step = trainer_state.global_step + 1 if trainer_state is not None else self.calls
            for i, (f, text, r) in enumerate(zip(integrand, texts, results)):
                if i >= self.max_events:
                    break
                self.sink.emit(Rollout(variant=variant[i] if variant else None, integrand=f, step=step,
                    completion=text, answer=r.answer, reward=r.reward, ok=r.ok, reason=r.reason,))
        return [float(r.reward) for r in results]


integration_reward = VerifierReward()


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None) -> float:
    """veRL's custom reward signature; `ground_truth` is the integrand (see the module docstring)."""
    from engine.train.reward import score

    return float(score(ground_truth, solution_str, integration_reward.cfg).reward)
