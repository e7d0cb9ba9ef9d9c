"""ladder engine: everything that is not UI (never imports textual)."""

__version__ = "0.1.0"
