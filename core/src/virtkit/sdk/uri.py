"""Connection URIs in libvirt's grammar.

``driver[+transport]://[user@][host][:port]/[path][?param=value&...]``

A host or a transport means the remote driver; neither means the local one. Components are
percent-decoded when parsed and encoded again when formatted, IPv6 hosts are written in brackets,
and a malformed URI is refused with ``VirtError(INVALID_ARG)`` that quotes it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

TRANSPORTS = ("unix", "tcp", "tls", "ssh", "libssh", "libssh2", "ext")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9.-]*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9._~%!$&'()*+,;=-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?$")
_ALIAS = re.compile(r"^[A-Za-z0-9_.-]+$")


def _bad(uri: str, why: str) -> VirtError:
    return VirtError(
        ErrorCode.INVALID_ARG, f"invalid argument: malformed URI '{uri}': {why}", ErrorDomain.URI
    )


def _decode(part: str, uri: str, what: str) -> str:
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        raise _bad(uri, f"the {what} is not valid UTF-8 once percent-decoded") from None


@attrs.frozen
class URI:
    """A parsed connection URI. ``params`` keeps query parameters in order, repeats included."""

    driver: str
    transport: str | None = None
    user: str | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()

    @property
    def scheme(self) -> str:
        return f"{self.driver}+{self.transport}" if self.transport else self.driver

    @property
    def is_remote(self) -> bool:
        """True when the remote driver must carry this connection (a host or a transport)."""
        return bool(self.host) or self.transport is not None

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return default

    def __str__(self) -> str:
        return format_uri(self)


def parse_uri(text: str) -> URI:
    """Parse ``text``; raises INVALID_ARG naming the URI and what is wrong with it."""
    if not isinstance(text, str):
        raise VirtError(ErrorCode.INVALID_ARG, "invalid argument: a URI must be a string")
    if len(text) > 4096:
        raise _bad(text[:64] + "...", "longer than 4096 characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise _bad(text, "contains white space or control characters")
    scheme, sep, rest = text.partition("://")
    if not sep:
        # libvirt accepts 'driver:///path' only with '://'; 'driver:' alone is not a URI.
        raise _bad(text, "expected 'driver://...' or 'driver+transport://...'")
    driver, plus, transport = scheme.partition("+")
    if not _SCHEME.match(driver):
        raise _bad(text, f"invalid driver name '{driver}'")
    if plus:
        if transport not in TRANSPORTS:
            raise _bad(text, f"unknown transport '{transport}' (known: {', '.join(TRANSPORTS)})")
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise _bad(text, "a URI must not have a fragment")
    rest, qmark, query = rest.partition("?")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    user = host = None
    port = None
    if authority:
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            if not userinfo:
                raise _bad(text, "empty user name before '@'")
            user = _decode(userinfo, text, "user name")
        else:
            hostport = authority
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise _bad(text, "unterminated '[' in IPv6 host")
            host = _decode(hostport[1:end], text, "host")  # RFC 6874: zone as %25
            if not _IPV6.match(host):
                raise _bad(text, f"invalid IPv6 address '{host}'")
            tail = hostport[end + 1 :]
            if tail and not tail.startswith(":"):
                raise _bad(text, "unexpected text after ']'")
            portpart = tail[1:] if tail else None
        else:
            hostpart, colon, portpart_s = hostport.partition(":")
            portpart = portpart_s if colon else None
            if not _HOST_CHARS.match(hostpart):
                raise _bad(text, f"invalid host '{hostpart}'")
            host = _decode(hostpart, text, "host") or None
        if portpart is not None:
            if not _PORT.match(portpart) or not 0 < int(portpart) < 65536:
                raise _bad(text, f"invalid port '{portpart}'")
            port = int(portpart)
            if host is None:
                raise _bad(text, "a port needs a host")
    params: list[tuple[str, str]] = []
    if qmark and query:
        for item in query.split("&"):
            if not item:
                continue
            key, _eq, value = item.partition("=")
            if not key:
                raise _bad(text, f"empty parameter name in '{item}'")
            params.append(
                (
                    _decode(key.replace("+", " "), text, "parameter name"),
                    _decode(value.replace("+", " "), text, "parameter value"),
                )
            )
    return URI(
        driver=driver,
        transport=transport or None,
        user=user,
        host=host,
        port=port,
        path=_decode(path, text, "path"),
        params=tuple(params),
    )


_USER_SAFE = "!$&'()*+,;=-._~"
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = "/!$'()*,;:@-._~"


def format_uri(uri: URI) -> str:
    """The text form of ``uri``; ``parse_uri(format_uri(u)) == u`` for every valid ``u``."""
    out = [uri.scheme, "://"]
    if uri.user is not None:
        out += [quote(uri.user, safe=_USER_SAFE), "@"]
    if uri.host is not None:
        if ":" in uri.host:
            out += ["[", uri.host.replace("%", "%25"), "]"]
        else:
            out.append(quote(uri.host, safe=_USER_SAFE))
    if uri.port is not None:
        out += [":", str(uri.port)]
    if uri.path:
        out.append(quote(uri.path, safe=_PATH_SAFE))
    if uri.params:
        out.append("?")
        out.append(
            "&".join(
                f"{quote(k, safe=_QUERY_SAFE)}={quote(v, safe=_QUERY_SAFE)}" for k, v in uri.params
            )
        )
    return "".join(out)


def is_alias_name(text: str) -> bool:
    return bool(_ALIAS.match(text))
