"""Public import path of the allow-list parser, which lives in `engine.verify.parse`."""

from engine.verify.parse import ParseError, parse, parse_integrand, parse_tree

__all__ = ["ParseError", "parse", "parse_integrand", "parse_tree"]
