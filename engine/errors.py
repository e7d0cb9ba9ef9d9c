"""Errors that reach the user as one clear line (the CLI prints them and exits 2)."""


class LadderError(Exception):
    """A problem caused by input or environment that the user can fix; never a bug."""
