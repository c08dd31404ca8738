"""``virtkit admin``: virt-admin's commands that fit virtkitd, plus SCRAM password files.

``virtkit admin [--socket PATH] srv-threadpool-info | srv-clients-info | srv-clients-list |
srv-clients-set | client-info ID | client-disconnect ID`` talk to the daemon's read-write unix
socket (default: the system daemon's as root, else the session daemon's); only the daemon's owner
may use them. ``virtkit admin passwd USER --file FILE`` adds or replaces a user's SCRAM-SHA-256
credentials in a ``scram_users_file`` (no password is stored).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from virtkit.cli.state import CommandError

CONTEXT = {"help_option_names": ["-h", "--help"]}


@contextmanager
def _daemon(socket_path: str | None) -> Iterator[Any]:
    from virtkit.remote import procedures as procs
    from virtkit.remote.client import RpcClient
    from virtkit.remote.transport import connect
    from virtkit.sdk.errors import VirtError
    from virtkit.sdk.uri import URI

    params = (("socket", socket_path),) if socket_path else ()
    uri = URI(driver="admin", transport="unix", path="/system" if os.geteuid() == 0
              else "/session", params=params)
    try:
        client = RpcClient(connect(uri, False), "localhost", keepalive_interval=0)
    except VirtError as exc:
        raise CommandError("failed to connect to the daemon", exc.message) from None
    try:
        state = client.call(procs.AUTH_LIST)
        if not state.get("authenticated"):
            raise CommandError("failed to connect to the daemon",
                               "the admin commands need the daemon's read-write unix socket")
        yield client
    except VirtError as exc:
        raise CommandError("the daemon refused", exc.message) from None
    finally:
        client.close()


_socket = click.option("--socket", "socket_path", metavar="PATH",
                       help="The daemon's read-write socket.")


@click.group("admin", context_settings=CONTEXT,
             help="Administer virtkitd: its clients and limits (virt-admin's commands).")
def cmd_admin() -> None:
    pass


@cmd_admin.command("srv-threadpool-info", context_settings=CONTEXT)
@_socket
def admin_threadpool_info(socket_path: str | None) -> None:
    """The daemon's workers: maximum, priority and busy."""
    with _daemon(socket_path) as client:
        info = client.call("@admin_server_info")
    for key in ("max_workers", "prio_workers", "busy_workers"):
        click.echo(f"{key:<22}: {info[key]}")


@cmd_admin.command("srv-clients-info", context_settings=CONTEXT)
@_socket
def admin_clients_info(socket_path: str | None) -> None:
    """Client limits and how many are connected."""
    with _daemon(socket_path) as client:
        info = client.call("@admin_server_info")
    for key in ("max_clients", "clients", "max_anonymous_clients", "anonymous",
                "max_client_requests", "keepalive_interval", "keepalive_count"):
        click.echo(f"{key:<22}: {info[key]}")


@cmd_admin.command("srv-clients-list", context_settings=CONTEXT)
@_socket
def admin_clients_list(socket_path: str | None) -> None:
    """Connected clients: id, transport, who, since when."""
    import time

    with _daemon(socket_path) as client:
        clients = client.call("@admin_client_list")
    click.echo(f" {'Id':<5} {'Transport':<10} {'Who':<24} Connected since")
    click.echo("-" * 64)
    for c in clients:
        who = c["user"] or c["sasl_user"] or c["x509_dname"] or (
            f"uid {c['uid']}" if c["uid"] is not None else "-")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["connected_since"]))
        click.echo(f" {c['id']:<5} {c['transport']:<10} {who:<24} {since}")


@cmd_admin.command("client-info", context_settings=CONTEXT)
@click.argument("client_id", type=int)
@_socket
def admin_client_info(client_id: int, socket_path: str | None) -> None:
    """Everything known about one client."""
    with _daemon(socket_path) as client:
        clients = client.call("@admin_client_list")
    found = next((c for c in clients if c["id"] == client_id), None)
    if found is None:
        raise CommandError(f"no client with id {client_id}")
    for key, value in found.items():
        click.echo(f"{key:<16}: {'' if value is None else value}")


@cmd_admin.command("client-disconnect", context_settings=CONTEXT)
@click.argument("client_id", type=int)
@_socket
def admin_client_disconnect(client_id: int, socket_path: str | None) -> None:
    """Disconnect one client."""
    with _daemon(socket_path) as client:
        client.call("@admin_client_close", {"id": client_id})
    click.echo(f"client {client_id} disconnected")


@cmd_admin.command("srv-clients-set", context_settings=CONTEXT)
@click.option("--max-clients", type=click.IntRange(1), help="Most clients at once.")
@click.option("--max-unauth-clients", type=click.IntRange(1),
              help="Most clients not yet authenticated.")
@click.option("--max-client-requests", type=click.IntRange(1),
              help="Most calls in flight per client.")
@_socket
def admin_clients_set(max_clients: int | None, max_unauth_clients: int | None,
                      max_client_requests: int | None, socket_path: str | None) -> None:
    """Change client limits of the running daemon."""
    limits = {k: v for k, v in (("max_clients", max_clients),
                                ("max_anonymous_clients", max_unauth_clients),
                                ("max_client_requests", max_client_requests)) if v is not None}
    if not limits:
        raise CommandError("nothing to set", "give --max-clients, --max-unauth-clients or "
                           "--max-client-requests")
    with _daemon(socket_path) as client:
        client.call("@admin_set_limits", limits)


@cmd_admin.command("passwd", context_settings=CONTEXT)
@click.argument("user")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The scram_users_file to update.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def admin_passwd(user: str, path: Path, password_stdin: bool) -> None:
    """Add or replace USER's SCRAM-SHA-256 credentials in a users file."""
    import sys

    from virtkit.daemon.auth import make_credentials
    from virtkit.sdk.errors import VirtError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {user}: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("an empty password is not allowed")
    try:
        line = make_credentials(user, password)
    except VirtError as exc:
        raise CommandError("cannot add the user", exc.message) from None
    lines = []
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.split(":", 1)[0] != user]
    lines.append(line)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    click.echo(f"credentials of '{user}' written to {path}")
