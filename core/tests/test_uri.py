from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtkit.sdk.errors import ErrorCode, VirtError
from virtkit.sdk.uri import TRANSPORTS, URI, format_uri, parse_uri


@pytest.mark.parametrize(
    "text, expected",
    [
        ("test:///default", URI("test", path="/default")),
        ("qemu:///system", URI("qemu", path="/system")),
        ("qemu:///session", URI("qemu", path="/session")),
        ("test:///tmp/node%20one.xml", URI("test", path="/tmp/node one.xml")),
        (
            "qemu+ssh://root@example.com:2222/system?keyfile=/root/.ssh/id&no_verify=1",
            URI("qemu", "ssh", "root", "example.com", 2222, "/system",
                (("keyfile", "/root/.ssh/id"), ("no_verify", "1"))),
        ),
        ("qemu+tcp://[::1]:16509/system", URI("qemu", "tcp", None, "::1", 16509, "/system")),
        ("xen://[fe80::1%25eth0]/", URI("xen", None, None, "fe80::1%eth0", None, "/")),
        ("esx://us%40r@vc.example.com/?no_verify=1",
         URI("esx", None, "us@r", "vc.example.com", None, "/", (("no_verify", "1"),))),
        ("qemu+unix:///system?socket=/tmp/s", URI("qemu", "unix", path="/system",
                                                   params=(("socket", "/tmp/s"),))),
        ("lxc://", URI("lxc")),
    ],
)
def test_parse_examples(text: str, expected: URI) -> None:
    assert parse_uri(text) == expected


def test_remote_is_host_or_transport() -> None:
    assert not parse_uri("qemu:///system").is_remote
    assert parse_uri("qemu+unix:///system").is_remote
    assert parse_uri("qemu://host/system").is_remote


@pytest.mark.parametrize(
    "text, why",
    [
        ("qemu", "expected 'driver://"),
        ("", "expected 'driver://"),
        ("1qemu:///system", "invalid driver name"),
        ("qemu+carrier-pigeon://h/", "unknown transport 'carrier-pigeon'"),
        ("qemu://host:99999/system", "invalid port"),
        ("qemu://host:port/system", "invalid port"),
        ("qemu://[::1/system", "unterminated"),
        ("qemu://[zz]/system", "invalid IPv6"),
        ("qemu://@host/", "empty user name"),
        ("qemu:///sys tem", "white space"),
        ("qemu:///system#frag", "fragment"),
        ("qemu://:22/system", "a port needs a host"),
        ("qemu:///system?=x", "empty parameter name"),
        ("qemu:///%ff", "malformed URI"),
    ],
)
def test_malformed_uris_are_invalid_arg(text: str, why: str) -> None:
    with pytest.raises(VirtError) as info:
        parse_uri(text)
    assert info.value.code == ErrorCode.INVALID_ARG
    assert why in info.value.message
    assert "malformed URI" in info.value.message


_label = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
_hosts = st.one_of(
    st.builds(".".join, st.lists(_label, min_size=1, max_size=3)),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4).map(str),
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_path = st.one_of(
    st.just(""),
    st.lists(_text.filter(lambda s: "/" not in s), max_size=3).map(lambda parts: "/" + "/".join(parts)),
)


@st.composite
def uris(draw: st.DrawFn) -> URI:
    driver = draw(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True))
    transport = draw(st.none() | st.sampled_from(TRANSPORTS))
    host = draw(st.none() | _hosts)
    user = draw(st.none() | _text) if host else None
    port = draw(st.none() | st.integers(1, 65535)) if host else None
    path = draw(_path)
    if (host or user or port) and path == "":
        path = draw(st.sampled_from(["", "/", "/system"]))
    params = tuple(draw(st.lists(st.tuples(_text, st.text(max_size=8)), max_size=3)))
    return URI(driver, transport, user, host, port, path, params)


@given(uris())
def test_format_parse_round_trip(uri: URI) -> None:
    text = format_uri(uri)
    assert parse_uri(text) == uri
    assert format_uri(parse_uri(text)) == text


@given(st.text(max_size=60))
def test_parser_never_raises_anything_but_virterror(text: str) -> None:
    try:
        parsed = parse_uri(text)
    except VirtError as exc:
        assert exc.code == ErrorCode.INVALID_ARG
    else:
        assert parse_uri(format_uri(parsed)) == parsed
