"""One GRPO trainer of another commit, stepped on request: the step benchmark's historical anchor.

Issue "Learning signal per hour" asks for a step ≥ 2× faster than the trainer it was written
against. Today's code with HF rollouts shares every later trainer improvement, so it is a stricter
anchor than that; this process runs the older trainer itself, in the same run as today's, so the
two are timed under the same machine load. bench/rollouts.py extracts the commit with `git
archive`, starts this script with PYTHONPATH pointing at it (so `engine` is the old package), and
alternates its steps with its own trainers'.

Protocol, one JSON object per line: the child prints {"ready": ..., "engine": path of its grpo.py, "dtype": ...}
once its trainer is built, then for each line "step" on stdin one object with the step's fields;
it exits at end of input. Only the GRPOTrainer API both commits share is used here:
GRPOTrainer(model_dir, cfg, reward_fn=...), step(draw) -> stats with event_fields() and tokens.

    PYTHONPATH=OLD_TREE python bench/anchor_trainer.py MODEL_DIR PROBLEM GROUP MAX_TOKENS SEED
"""

from __future__ import annotations

import inspect
import json
import sys


def main() -> None:
    model_dir, problem, group, max_tokens, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    # engine first, from PYTHONPATH (the older tree): bench/common then puts this checkout on the
    # path, but engine's submodules are found through the package already imported
    import engine  # noqa: F401 - imported for its place on the path
    from common import updating_reward
    from engine.runs.config import Config
    from engine.train.grpo import GRPOTrainer

    cfg = Config()
    cfg.device = "auto"
    cfg.grpo.group_size, cfg.grpo.seed, cfg.grpo.max_resample = group, seed, 0
    cfg.grpo.rollout_backend = "hf"
    cfg.sample.max_tokens = max_tokens

    trainer = GRPOTrainer(model_dir, cfg, reward_fn=updating_reward(cfg))
    dtype = str(trainer.model.dtype).removeprefix("torch.")
    # the file the trainer class came from, so the parent can check it is the older tree's
    print(json.dumps({"ready": True, "engine": inspect.getfile(GRPOTrainer), "dtype": dtype}), flush=True)
    prompt = {"id": "bench", "integrand": problem}
    for line in sys.stdin:
        if line.strip() != "step":
            continue
        s = trainer.step(lambda: prompt)
        print(json.dumps({**s.event_fields(), "tokens": s.tokens}), flush=True)


if __name__ == "__main__":
    main()
