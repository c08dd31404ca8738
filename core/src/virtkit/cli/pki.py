"""``virtkit pki``: a CA, server and client certificates for virtkitd's TLS, with cryptography.

``virtkit pki setup DIR --server-name HOST`` makes everything in one step: ``cacert.pem`` and
``cakey.pem`` (the CA), ``servercert.pem``/``serverkey.pem`` (for virtkitd's cert_file and
key_file) and ``clientcert.pem``/``clientkey.pem`` (what a client's ``pkipath=DIR`` reads).
``ca``, ``server`` and ``client`` make one of them with the CA already in DIR. Keys are ECDSA
P-256 and written mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import Any

import click

from virtkit.cli.state import CommandError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _name(cn: str, org: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_ca(directory: Path) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate((directory / "cacert.pem").read_bytes())
        key = serialization.load_pem_private_key((directory / "cakey.pem").read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise CommandError(f"no CA in '{directory}'", f"{exc} (run 'virtkit pki ca "
                           f"{directory}' first)") from None
    return cert, key


def make_ca(directory: Path, cn: str, org: str, days: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    name = _name(cn, org)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    _write_key(directory / "cakey.pem", key)
    _write_cert(directory / "cacert.pem", cert)


def make_leaf(directory: Path, prefix: str, cn: str, org: str, days: int,
              server_names: tuple[str, ...] = ()) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_cert, ca_key = _load_ca(directory)
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if prefix == "server" else \
        ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn, org)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if server_names:
        alt: list[x509.GeneralName] = []
        for host in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alt.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(directory / f"{prefix}key.pem", key)
    _write_cert(directory / f"{prefix}cert.pem", cert)


_org = click.option("--org", default="virtkit", show_default=True, help="Organization (O=).")
_days = click.option("--days", type=click.IntRange(1, 36500), default=3650, show_default=True,
                     help="Validity in days.")


@click.group("pki", context_settings=CONTEXT,
             help="Create a CA and TLS certificates for virtkitd and its clients.")
def cmd_pki() -> None:
    pass


@cmd_pki.command("setup", context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--server-name", "server_names", multiple=True, default=("localhost", "127.0.0.1"),
              show_default=True, help="Host name or address of the daemon (repeatable).")
@click.option("--client-cn", default="virtkit-client", show_default=True,
              help="Common name (CN=) of the client certificate.")
@_org
@_days
def pki_setup(directory: Path, server_names: tuple[str, ...], client_cn: str, org: str,
              days: int) -> None:
    """CA, server and client certificates in DIRECTORY, in one step."""
    make_ca(directory, f"{org} CA", org, days)
    make_leaf(directory, "server", server_names[0], org, days, server_names)
    make_leaf(directory, "client", client_cn, org, days)
    click.echo(f"CA, server and client certificates written to {directory}\n"
               f"daemon: ca_file = \"{directory}/cacert.pem\", cert_file = "
               f"\"{directory}/servercert.pem\", key_file = \"{directory}/serverkey.pem\"\n"
               f"client: DRIVER+tls://{server_names[0]}/...?pkipath={directory}")


@cmd_pki.command("ca", context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cn", default=None, help="Common name of the CA.")
@_org
@_days
def pki_ca(directory: Path, cn: str | None, org: str, days: int) -> None:
    """A new CA (cacert.pem, cakey.pem) in DIRECTORY."""
    make_ca(directory, cn or f"{org} CA", org, days)
    click.echo(f"CA written to {directory}")


@cmd_pki.command("server", context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--server-name", "server_names", multiple=True, required=True,
              help="Host name or address of the daemon (repeatable).")
@_org
@_days
def pki_server(directory: Path, server_names: tuple[str, ...], org: str, days: int) -> None:
    """A server certificate signed by the CA in DIRECTORY."""
    make_leaf(directory, "server", server_names[0], org, days, server_names)
    click.echo(f"server certificate written to {directory}")


@cmd_pki.command("client", context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cn", required=True, help="Common name (CN=) of the client.")
@_org
@_days
def pki_client(directory: Path, cn: str, org: str, days: int) -> None:
    """A client certificate signed by the CA in DIRECTORY."""
    make_leaf(directory, "client", cn, org, days)
    click.echo(f"client certificate written to {directory}")
