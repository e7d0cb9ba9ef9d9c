"""Public import path of answer extraction, which lives in `engine.verify.answer`."""

from engine.verify.answer import extract

__all__ = ["extract"]
