"""The audit log: who did what to which object, and how it ended.

Active when ``VIRTKIT_AUDIT_LOG`` names a file. Each operation that changes anything appends one
JSON line: time, user and uid, process, connection URI, operation, the object (its identity
record: name, uuid...), and the outcome (``ok``, or the error's code and message). Set
``VIRTKIT_AUDIT_READS=1`` to record read-only operations too.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from virtkit.sdk.driver import DriverContext
from virtkit.sdk.errors import VirtError
from virtkit.sdk.hookspecs import PREFIX, object_args, readonly_ops
from virtkit.sdk.records import to_plain
from virtkit.sdk.wrap import Around, wrap_every_hook

log = logging.getLogger("virtkit.plugins.audit")

_NAME_ARGS = ("name", "uuid", "id", "key", "path", "mac")


def _user() -> tuple[int, str]:
    uid = os.getuid()
    try:
        import pwd

        return uid, pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return uid, str(uid)


@wrap_every_hook
class AuditLog:
    """Records operations to the file named by ``VIRTKIT_AUDIT_LOG``."""

    def __init__(self, context: DriverContext) -> None:
        self.path = os.environ.get("VIRTKIT_AUDIT_LOG") or None
        self.active = self.path is not None
        self.reads = os.environ.get("VIRTKIT_AUDIT_READS") == "1"
        self.uri = str(context.uri)
        self.uid, self.user = _user()
        self._readonly = readonly_ops()
        self._objects = object_args()

    def around(self, op: str, args: dict[str, Any]) -> Around:
        if not self.reads and PREFIX + op in self._readonly:
            return (yield)
        try:
            result = yield
        except VirtError as exc:
            self.record(op, args, None, {"code": exc.code.name, "message": exc.message})
            raise
        except Exception as exc:
            self.record(op, args, None, {"code": "INTERNAL_ERROR", "message": str(exc)})
            raise
        self.record(op, args, result, None)
        return result

    def record(
        self, op: str, args: dict[str, Any], result: Any, error: dict[str, str] | None
    ) -> None:
        obj = next(
            (args[k] for k in self._objects.get(PREFIX + op, ()) if args.get(k) is not None), None
        )
        if obj is None and hasattr(result, "uuid"):
            obj = result  # define/create: the object exists only in the result
        if obj is None:
            obj = {k: args[k] for k in _NAME_ARGS if args.get(k) is not None} or None
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z",
            "user": self.user,
            "uid": self.uid,
            "pid": os.getpid(),
            "uri": self.uri,
            "op": op,
            "object": to_plain(obj),
            "outcome": "ok" if error is None else "error",
        }
        if error is not None:
            entry["error"] = error
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        assert self.path is not None
        # The change itself has happened (or failed) already: an audit log that cannot be
        # written is reported in the log, never as the outcome of the operation.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("audit log %s cannot be written (%s): lost entry %s", self.path, exc,
                      line.decode().strip())
