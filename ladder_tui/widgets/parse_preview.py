"""The integral as the parser understood it, pretty-printed, or the parse error."""

from __future__ import annotations

from textual.widgets import Static


class ParsePreview(Static):
    """Shows `∫ … dx` in sympy's pretty form, or why the input does not parse."""

    def __init__(self, content: str = "", **kwargs) -> None:
        # Pretty-printed maths is full of brackets; it must never be read as markup.
        super().__init__(content, markup=False, **kwargs)

    def show_ok(self, pretty: str) -> None:
        self.update(pretty)
        self.set_class(False, "-error")

    def show_error(self, message: str) -> None:
        self.update(f"✗ {message}")
        self.set_class(True, "-error")

    def show_hint(self, message: str) -> None:
        self.update(message)
        self.set_class(False, "-error")
