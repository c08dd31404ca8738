"""The in-memory test driver (scheme ``test``)."""

from virtkit.drivers.test.driver import TestDriver

__all__ = ["TestDriver"]
