"""The nftables rules of a network, in one ``inet`` table of virtkit's own per network.

Everything a network adds lives in its own table (``virtkit_<bridge>``), so stopping the network
is one ``delete table`` that cannot touch a rule virtkit did not make. The forward chain only
decides packets entering or leaving the network's bridge and accepts everything else; the
postrouting chain masquerades the network's subnets in ``nat`` mode.
"""

from __future__ import annotations

import ipaddress
import subprocess

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

NFT = "nft"


def _fail(message: str) -> VirtError:
    return VirtError(ErrorCode.BUILD_FIREWALL, message, ErrorDomain.NETWORK)


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def ruleset(
    table: str,
    mode: str,
    bridge: str,
    subnets: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    dev: str | None = None,
    nat_ipv6: bool = False,
) -> str | None:
    """The nft script that creates ``table`` for a network, or None when the mode needs none."""
    if mode in ("open", "bridge"):
        return None
    br = _q(bridge)
    out = _q(dev) if dev else None
    fwd = [f"iifname {br} oifname {br} accept"]
    nat: list[str] = []
    if mode in ("nat", "route"):
        for net in subnets:
            fam = "ip" if net.version == 4 else "ip6"
            oif = f" oifname {out}" if out else ""
            fwd.append(f"iifname {br}{oif} {fam} saddr {net} accept")
            if mode == "nat" and (net.version == 4 or nat_ipv6):
                fwd.append(f"oifname {br} {fam} daddr {net} ct state established,related accept")
            else:
                fwd.append(f"oifname {br}{' iifname ' + out if out else ''} {fam} daddr {net} "
                           f"accept")
            if mode == "nat" and (net.version == 4 or nat_ipv6):
                if net.version == 4:
                    nat.append(f"ip saddr {net} ip daddr 224.0.0.0/24 return")
                    nat.append(f"ip saddr {net} ip daddr 255.255.255.255 return")
                nat.append(f"{fam} saddr {net} {fam} daddr != {net}{oif} masquerade")
    fwd.append(f"iifname {br} reject")
    fwd.append(f"oifname {br} reject")
    lines = [
        f"table inet {table} {{",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        *(f"    {r}" for r in fwd),
        "  }",
    ]
    if nat:
        lines += [
            "  chain postrouting {",
            "    type nat hook postrouting priority srcnat; policy accept;",
            *(f"    {r}" for r in nat),
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nft(args: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [NFT, *args], input=script, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise _fail("the nft command (Debian package nftables) is not installed") from None


def table_exists(table: str) -> bool:
    return _nft(["list", "table", "inet", table]).returncode == 0


def add(table: str, script: str, network: str) -> None:
    """Create ``table`` from ``script`` in one transaction; refuses a table that exists."""
    done = _nft(["-f", "-"], f"create table inet {table}\n" + script)
    if done.returncode != 0:
        if "File exists" in done.stderr:
            raise _fail(
                f"nftables table 'inet {table}' for network '{network}' already exists and was "
                f"not made by this network; refusing to touch it"
            )
        raise _fail(f"cannot add firewall rules of network '{network}': {done.stderr.strip()}")


def remove(table: str) -> None:
    """Delete ``table`` (and with it every rule the network added); absent is fine."""
    done = _nft(["delete", "table", "inet", table])
    if done.returncode != 0 and table_exists(table):
        raise _fail(f"cannot delete nftables table 'inet {table}': {done.stderr.strip()}")
