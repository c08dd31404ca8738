"""The in-memory test driver (scheme ``test``)."""

from .driver import TestDriver

__all__ = ["TestDriver"]
