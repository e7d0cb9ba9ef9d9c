"""Variant trees: easier and equivalent versions of an integral, written by the model and by sympy."""
