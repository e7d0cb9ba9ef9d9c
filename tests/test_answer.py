"""engine.verify.answer.extract: the last tagged answer, and \\boxed{} only when asked for."""

from __future__ import annotations

from engine.verify.answer import extract
from engine.runs.config import VerifyConfig


def test_last_tagged_answer_wins():
    text = "First <answer>x**2</answer>, wait, no: <answer> x**3/3 </answer>"
    assert extract(text) == "x**3/3"


def test_tags_are_case_insensitive_and_may_span_lines():
    assert extract("<ANSWER>\nsin(x)\n</Answer>") == "sin(x)"


def test_missing_empty_or_unclosed_answers_are_none():
    assert extract("") is None
    assert extract("the answer is x**2/2") is None
    assert extract("<answer>   </answer>") is None
    assert extract("<answer>x**2/2") is None


def test_boxed_fallback_only_when_configured():
    text = r"So we get \boxed{\frac{x^2}{2}} and also \boxed{x^{3}}."
    assert extract(text) is None
    assert extract(text, boxed=True) == "x^{3}"
    assert VerifyConfig().boxed_fallback is False


def test_boxed_braces_are_matched_and_tags_take_precedence():
    assert extract(r"\boxed{\frac{1}{2}\ln|x|}", boxed=True) == r"\frac{1}{2}\ln|x|"
    assert extract(r"\boxed{x} <answer>y</answer>", boxed=True) == "y"
    assert extract(r"\boxed{x^{2", boxed=True) is None


def test_extracted_text_is_returned_verbatim_for_the_safe_parser():
    hostile = "<answer>__import__('os').system('ls')</answer>"
    assert extract(hostile) == "__import__('os').system('ls')"
