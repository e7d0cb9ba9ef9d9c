"""The reward of a completion: verified answers earn 1 + the format reward, well-formed wrong ones
the format reward, and the format-only control earns nothing for being right."""

from __future__ import annotations

import pytest

from engine.errors import LadderError
from engine.runs.config import Config
from engine.train.reward import score_many

COMPLETIONS = [
    ("cos(x)", "<answer>sin(x)</answer>"),  # verified
    ("cos(x)", "<answer>sin(x) + x/1000</answer>"),  # parseable, wrong
    ("cos(x)", "<answer>sin(x</answer>"),  # tagged but unparseable
    ("cos(x)", "sin(x)"),  # no tags
]


def test_verified_reward_is_one_plus_the_format_reward():
    cfg = Config()
    results = score_many(COMPLETIONS, cfg)
    assert [r.reward for r in results] == pytest.approx([1.05, 0.05, 0.0, 0.0])
    assert [r.ok for r in results] == [True, False, False, False]


def test_format_only_control_pays_for_the_form_alone():
    cfg = Config()
    cfg.sample.reward = "format_only"
    results = score_many(COMPLETIONS, cfg)
    assert [r.reward for r in results] == pytest.approx([0.05, 0.05, 0.0, 0.0])
    assert results[0].ok  # still reported, for the accuracy curves


def test_unknown_reward_mode_is_a_one_line_error():
    cfg = Config()
    cfg.sample.reward = "vibes"
    with pytest.raises(LadderError, match="sample.reward"):
        score_many(COMPLETIONS[:1], cfg)
