"""What every command shares: the options, the connection (opened on first use) and output.

Commands fail by raising :class:`CommandError`: one or more ``error:`` lines (virsh prints its own
context line, then libvirt's message) and an exit status. ``VirtError`` raised by the API inside
:meth:`CliState.failing` becomes a CommandError with the context line first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.domain import Domain
    from virtkit.api.interface import Interface
    from virtkit.api.network import Network
    from virtkit.api.storage import StoragePool, StorageVolume


T = TypeVar("T")

def cli_message(message: str) -> str:
    """An API message in the command line's terms: a Python flag it names ("use the
    snapshots_metadata flag") becomes the option that sets it ("--snapshots-metadata")."""
    if "_" not in message:
        return message
    import re

    return re.sub(r"\b([a-z]+(?:_[a-z]+)+) (flags?|options?)\b",
                  lambda m: f"--{m.group(1).replace('_', '-')} {m.group(2)}", message)

class CommandError(Exception):
    """A command failed: print each line as ``error: LINE`` and exit with ``status``."""

    def __init__(self, *lines: str, status: int = 1) -> None:
        super().__init__(lines[-1] if lines else "")
        self.lines = lines
        self.status = status


def check_config_file() -> None:
    """A configuration file that ``VIRTKIT_CONFIG`` names must exist: a typo in the variable must
    not silently give the defaults."""
    import os

    named = os.environ.get("VIRTKIT_CONFIG")
    if named and not os.path.exists(named):
        raise CommandError("failed to connect to the hypervisor",
                           f"configuration file '{named}' (named by VIRTKIT_CONFIG) does not "
                           f"exist")


NO_DEFAULT = (
    "no hypervisor driver installed here can serve the default connection; name one with "
    "-c URI, VIRTKIT_DEFAULT_URI or uri_default in the configuration file "
    "(test:///default is the test driver's simulated host)"
)


def check_default_uri() -> None:
    """Without a URI, refuse (as libvirt does when no driver fits) rather than quietly open the
    test driver's simulated host, whose fake guests could be taken for real ones: the default is
    ``VIRTKIT_DEFAULT_URI``, the configuration's ``uri_default``, or what a local hypervisor
    driver's probe answers, and nothing else."""
    import os

    if os.environ.get("VIRTKIT_DEFAULT_URI"):
        return
    from virtkit.api.connection import FALLBACK_URI, default_uri
    from virtkit.runtime.config import load_config

    if load_config().uri_default:
        return
    if default_uri() == FALLBACK_URI:
        raise CommandError("failed to connect to the hypervisor", NO_DEFAULT)


def show_warnings() -> None:
    """Send the library's warnings to stderr with virsh's ``warning:`` prefix (once)."""
    import logging

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            word = "warning" if record.levelno < logging.ERROR else "error"
            try:
                sys.stderr.write(f"{word}: {cli_message(record.getMessage())}\n")
            except (BrokenPipeError, ValueError):
                pass

    root = logging.getLogger()
    if not any(getattr(h, "virtkit_cli", False) for h in root.handlers):
        handler = Handler(logging.WARNING)
        handler.virtkit_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)


class CliState:
    """Options given on the command line and the connection they lead to."""

    def __init__(
        self,
        uri: str | None = None,
        read_only: bool = False,
        quiet: bool = False,
        debug: bool = False,
    ) -> None:
        self.uri = uri
        self.read_only = read_only
        self.quiet = quiet
        self.debug = debug
        self.interactive = False
        self.trailer = True  # print virsh's blank line after the command
        self._conn: Connection | None = None

    # -- connection ---------------------------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None or not self._conn.is_alive():
            self._conn = self._open(self.uri, self.read_only)
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.is_alive()

    def _open(self, uri: str | None, read_only: bool) -> Connection:
        import virtkit

        if not self.debug:
            show_warnings()
        check_config_file()
        try:
            if uri is None:
                check_default_uri()
            return virtkit.open(uri, read_only=read_only)
        except virtkit.VirtError as exc:
            raise CommandError("failed to connect to the hypervisor",
                               cli_message(exc.message)) from exc

    def reconnect(self, uri: str | None, read_only: bool) -> None:
        """Open ``uri`` and make it the connection, closing the previous one once it succeeds."""
        new = self._open(uri, read_only)
        self.close()
        self._conn, self.uri, self.read_only = new, uri, read_only

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # closing must never hide the command's own result
                if self.debug:
                    raise

    # -- lookups ------------------------------------------------------------------------------

    def domain(self, ident: str) -> Domain:
        """The domain ``ident`` names, tried as virsh does: an id, a uuid, then a name."""
        conn = self.conn
        by_id = (lambda: conn.lookup_by_id(int(ident))) if ident.isdigit() else None
        return _lookup("domain", ident, by_id, conn.lookup_by_uuid, conn.lookup_by_name)

    def network(self, ident: str) -> Network:
        """The network ``ident`` names: a uuid, then a name (virsh's order)."""
        conn = self.conn
        return _lookup("network", ident, None, conn.network_lookup_by_uuid,
                       conn.network_lookup_by_name)

    def interface(self, ident: str) -> Interface:
        """The host interface ``ident`` names: a name, then a MAC address."""
        from virtkit import VirtError

        conn = self.conn
        try:
            return conn.interface_lookup_by_name(ident)
        except VirtError as exc:
            if ident.count(":") != 5:
                raise CommandError(f"failed to get interface '{ident}'", exc.message) from exc
        try:
            return conn.interface_lookup_by_mac(ident)
        except VirtError as exc:
            raise CommandError(f"failed to get interface '{ident}'", exc.message) from exc

    def pool(self, ident: str) -> StoragePool:
        """The storage pool ``ident`` names: a uuid, then a name."""
        conn = self.conn
        return _lookup("pool", ident, None, conn.storage_pool_lookup_by_uuid,
                       conn.storage_pool_lookup_by_name)

    def volume(self, ident: str, pool: str | None = None) -> StorageVolume:
        """The volume ``ident`` names: a name in ``pool`` if given, then a key, then a path."""
        from virtkit import VirtError

        conn = self.conn
        last: VirtError | None = None
        if pool is not None:
            try:
                return self.pool(pool).storage_vol_lookup_by_name(ident)
            except VirtError as exc:
                last = exc
        for lookup in (conn.storage_vol_lookup_by_key, conn.storage_vol_lookup_by_path):
            try:
                return lookup(ident)
            except VirtError as exc:
                last = exc if pool is None else last or exc
        hint = "" if pool is not None else ", specifying --pool might help"
        lines = [f"failed to get vol '{ident}'{hint}"]
        if last is not None:
            lines.append(last.message)
        raise CommandError(*lines)

    @contextmanager
    def failing(self, context: str) -> Iterator[None]:
        """Turn a VirtError in the block into ``error: CONTEXT`` / ``error: MESSAGE``."""
        from virtkit import VirtError

        try:
            yield
        except VirtError as exc:
            raise CommandError(context, cli_message(exc.message)) from exc

    @contextmanager
    def api(self) -> Iterator[None]:
        """Turn a VirtError in the block into ``error: MESSAGE`` alone (where virsh adds no
        context line of its own)."""
        from virtkit import VirtError

        try:
            yield
        except VirtError as exc:
            raise CommandError(cli_message(exc.message)) from exc

    # -- output -------------------------------------------------------------------------------

    def out(self, text: str) -> None:
        """Data the command exists to print (always shown)."""
        sys.stdout.write(text)

    def info(self, text: str) -> None:
        """A message about what was done, one line; suppressed by ``-q`` as virsh's are."""
        if not self.quiet:
            sys.stdout.write(text + "\n")

    def json(self, data: Any) -> None:
        from virtkit.cli.fmt import to_json

        self.trailer = False
        sys.stdout.write(to_json(data))


def _lookup(
    what: str,
    ident: str,
    by_id: Callable[[], T] | None,
    by_uuid: Callable[[str], T],
    by_name: Callable[[str], T],
) -> T:
    """Look ``ident`` up as virsh does: an id (when given), a uuid (when it looks like one), then
    a name; only the name lookup's failure is reported."""
    from virtkit import VirtError

    if by_id is not None:
        try:
            return by_id()
        except VirtError:
            pass
    if _looks_like_uuid(ident):
        try:
            return by_uuid(ident)
        except VirtError:
            pass
    try:
        return by_name(ident)
    except VirtError as exc:
        raise CommandError(f"failed to get {what} '{ident}'", exc.message) from exc


def _looks_like_uuid(text: str) -> bool:
    hexdigits = text.replace("-", "")
    return len(hexdigits) == 32 and all(c in "0123456789abcdefABCDEF" for c in hexdigits)
