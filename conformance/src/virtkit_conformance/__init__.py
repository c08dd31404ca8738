"""The virtkit conformance suite (not built yet)."""

__version__ = "0.1.0"
