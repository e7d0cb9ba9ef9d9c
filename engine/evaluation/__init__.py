"""Held-out evaluation, solving and result statistics."""
