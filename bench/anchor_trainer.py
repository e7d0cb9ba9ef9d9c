"""One GRPO trainer of another commit, stepped on request: the step benchmark's historical anchor.

Issue "Learning signal per hour" asks for a step ≥ 2× faster than the trainer it was written
against. Today's code with HF rollouts shares every later trainer improvement, so it is a stricter
anchor than that; this process runs the older trainer itself, in the same run as today's, so the
two are timed under the same machine load. bench/rollouts.py extracts the commit with `git
archive`, starts this script with PYTHONPATH pointing at it (so `engine` is the old package), and
alternates its steps with its own trainers'.

Protocol, one JSON object per line: the child prints {"ready": ..., "engine": path, "dtype": ...}
once its trainer is built, then for each line "step" on stdin one object with the step's fields;
it exits at end of input. Only the GRPOTrainer API both commits share is used here:
GRPOTrainer(model_dir, cfg, reward_fn=...), step(draw) -> stats with event_fields() and tokens.

    PYTHONPATH=OLD_TREE python bench/anchor_trainer.py MODEL_DIR PROBLEM GROUP MAX_TOKENS SEED
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    model_dir, problem, group, max_tokens, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    import engine
    from engine.runs.config import Config
    from engine.train.grpo import GRPOTrainer
    from engine.train.reward import RewardResult, score_many

    cfg = Config()
    cfg.device = "auto"
    cfg.grpo.group_size, cfg.grpo.seed, cfg.grpo.max_resample = group, seed, 0
    cfg.grpo.rollout_backend = "hf"
    cfg.sample.max_tokens = max_tokens

    # the same reward as bench/common.updating_reward: the verifier's plus 1e-6 x length, so that
    # every timed step makes its update
    def reward(items: list[tuple[str, str]]) -> list:
        return [RewardResult(r.reward + 1e-6 * len(text), r.ok, r.answer, r.reason)
                for r, (_, text) in zip(score_many(items, cfg), items)]

    trainer = GRPOTrainer(model_dir, cfg, reward_fn=reward)
    dtype = str(trainer.model.dtype).removeprefix("torch.")
    print(json.dumps({"ready": True, "engine": engine.__file__, "dtype": dtype}), flush=True)
    prompt = {"id": "bench", "integrand": problem}
    for line in sys.stdin:
        if line.strip() != "step":
            continue
        s = trainer.step(lambda: prompt)
        print(json.dumps({**s.event_fields(), "tokens": s.tokens}), flush=True)


if __name__ == "__main__":
    main()
