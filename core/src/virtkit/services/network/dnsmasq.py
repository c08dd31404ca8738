"""dnsmasq for a network's DHCP and DNS: its configuration, its process, its lease file.

dnsmasq runs with ``--conf-file`` naming the file virtkit wrote and nothing else (so the host's
/etc/dnsmasq.conf and /etc/hosts are never read), binds only to the network's bridge, writes its
own pid file and lease file, and drops to the unprivileged ``nobody`` user when started as root.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import attrs

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.records import DhcpLease
from virtkit.xml.network import Network

DNSMASQ = "dnsmasq"


@attrs.frozen
class Files:
    """Where one network's dnsmasq keeps its configuration, pid and leases."""

    conf: Path
    pid: Path
    leases: Path

    @classmethod
    def under(cls, directory: Path, network: str) -> Files:
        return cls(
            directory / f"{network}.conf",
            directory / f"{network}.pid",
            directory / f"{network}.leases",
        )


def _prefix(address: str, prefix: int | None, netmask: str | None) -> int:
    if prefix is not None:
        return prefix
    if netmask is not None:
        return ipaddress.ip_network(f"0.0.0.0/{netmask}").prefixlen
    return 64 if ":" in address else 24


def needed(net: Network) -> bool:
    """Whether the network runs dnsmasq: it has an address and DNS or DHCP is wanted."""
    if not net.ips:
        return False
    dns_off = net.dns is not None and net.dns.enable is False
    return not dns_off or any(ip.dhcp is not None for ip in net.ips)


def config(net: Network, bridge: str, files: Files) -> str:
    """The dnsmasq configuration of ``net`` on ``bridge``."""
    lines = [
        f"# written by virtkit for network '{net.name}'; overwritten at each start",
        "strict-order",
        "no-hosts",
        f"pid-file={files.pid}",
        "except-interface=lo",
        "bind-dynamic",
        f"interface={bridge}",
    ]
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam("nobody")
            lines.append("user=nobody")
            import grp

            lines.append(f"group={grp.getgrgid(user.pw_gid).gr_name}")
    dns = net.dns
    if dns is not None and dns.enable is False:
        lines.append("port=0")
    if net.domain is not None:
        lines.append(f"domain={net.domain.name}")
        lines.append("expand-hosts")
        if net.domain.local_only:
            lines.append(f"local=/{net.domain.name}/")
    if dns is not None:
        if dns.forward_plain_names is False:
            lines.append("domain-needed")
        plain_forwarders = False
        for fw in dns.forwarders:
            if fw.domain and fw.addr:
                lines.append(f"server=/{fw.domain}/{fw.addr}")
            elif fw.domain:
                lines.append(f"local=/{fw.domain}/")
            elif fw.addr:
                lines.append(f"server={fw.addr}")
                plain_forwarders = True
        if plain_forwarders:
            lines.append("no-resolv")
        for host in dns.hosts:
            # host-record, not an addn-hosts file: dnsmasq reads its configuration before it
            # drops privileges, and the file would have to be readable by the unprivileged user.
            names = [*host.hostnames]
            if net.domain is not None:
                names += [f"{n}.{net.domain.name}" for n in host.hostnames if "." not in n]
            if names:
                lines.append(f"host-record={','.join(names)},{host.ip}")
        for txt in dns.txts:
            lines.append(f'txt-record={txt.name},"{txt.value}"')
        for srv in dns.srvs:
            name = f"_{srv.service}._{srv.protocol}" + (f".{srv.domain}" if srv.domain else "")
            rest = [srv.target or "", str(srv.port or ""), str(srv.priority or ""),
                    str(srv.weight or "")]
            lines.append("srv-host=" + ",".join([name, *rest]).rstrip(","))
    dhcp = False
    leases = 0
    for ip in net.ips:
        ipv6 = (ip.family or "ipv4") == "ipv6"
        prefix = _prefix(ip.address, ip.prefix, ip.netmask)
        if ipv6:
            lines.append("enable-ra")
        if ip.dhcp is None:
            if ipv6:
                lines.append(f"dhcp-range={ip.address},ra-only")
            continue
        subnet = ipaddress.ip_network(f"{ip.address}/{prefix}", strict=False)
        for r in ip.dhcp.ranges:
            dhcp = True
            span = int(ipaddress.ip_address(r.end)) - int(ipaddress.ip_address(r.start)) + 1
            leases += max(span, 0)
            mask = str(prefix) if ipv6 else str(subnet.netmask)
            lines.append(f"dhcp-range={r.start},{r.end},{mask}")
        for h in ip.dhcp.hosts:
            dhcp = True
            leases += 1
            parts = [p for p in (
                h.mac if not ipv6 else (f"id:{h.id}" if h.id else None),
                f"[{h.ip}]" if ipv6 and h.ip else h.ip,
                h.name,
            ) if p]
            if parts:
                lines.append("dhcp-host=" + ",".join(parts))
        if ip.dhcp.bootp is not None:
            server = f",,{ip.dhcp.bootp.server}" if ip.dhcp.bootp.server else ""
            lines.append(f"dhcp-boot={ip.dhcp.bootp.file}{server}")
        if ip.tftp is not None:
            lines += ["enable-tftp", f"tftp-root={ip.tftp.root}"]
    if dhcp:
        lines += [
            "dhcp-no-override",
            "dhcp-authoritative",
            f"dhcp-lease-max={leases}",
            f"dhcp-leasefile={files.leases}",
        ]
    return "\n".join(lines) + "\n"


def _failed(message: str) -> VirtError:
    return VirtError(ErrorCode.OPERATION_FAILED, message, ErrorDomain.NETWORK)


def start(network: str, text: str, files: Files) -> int:
    """Write the configuration and start dnsmasq; its pid once it has written its pid file."""
    files.conf.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    files.conf.write_text(text)
    with contextlib.suppress(FileNotFoundError):
        files.pid.unlink()
    if "dhcp-leasefile" in text and not files.leases.exists():
        files.leases.touch(mode=0o644)
    try:
        done = subprocess.run(
            [DNSMASQ, f"--conf-file={files.conf}"],
            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise _failed(
            f"cannot start DHCP/DNS for network '{network}': dnsmasq (Debian package "
            f"dnsmasq-base) is not installed"
        ) from None
    if done.returncode != 0:
        raise _failed(
            f"dnsmasq failed to start for network '{network}': "
            f"{(done.stderr or done.stdout).strip()}"
        )
    # dnsmasq forks, writes the pid file in the child, and the parent exits: the file is there
    # by the time the parent returns, but wait briefly in case the file system is slow.
    for _ in range(200):
        pid = read_pid(files)
        if pid is not None:
            return pid
        time.sleep(0.005)
    raise _failed(f"dnsmasq for network '{network}' wrote no pid file {files.pid}")


def read_pid(files: Files) -> int | None:
    try:
        return int(files.pid.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int, files: Files) -> bool:
    """Whether ``pid`` is a dnsmasq running with this network's configuration file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"--conf-file={files.conf}".encode() in cmdline.split(b"\0")


def stop(pid: int, files: Files, timeout: float = 5.0) -> None:
    """Stop the dnsmasq ``pid`` if it is still this network's; remove its pid and conf files."""
    if alive(pid, files):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        delay = 0.001
        while alive(pid, files) and _not_zombie(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    for path in (files.pid, files.conf):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def leases(files: Files, bridge: str, net: Network, mac: str | None) -> list[DhcpLease]:
    """The current leases from dnsmasq's lease file (expired ones left out)."""
    try:
        text = files.leases.read_text()
    except FileNotFoundError:
        return []
    want = mac.lower() if mac else None
    now = int(time.time())
    prefixes = [
        ipaddress.ip_network(f"{ip.address}/{_prefix(ip.address, ip.prefix, ip.netmask)}",
                             strict=False)
        for ip in net.ips
    ]
    out: list[DhcpLease] = []
    for line in text.splitlines():
        fields = line.split()
        # IPv4: expiry mac ip hostname client-id; IPv6: expiry iaid ip hostname duid; the
        # "duid SERVER-DUID" line heads the IPv6 part.
        if len(fields) < 4 or fields[0] == "duid":
            continue
        expiry, hw, addr, host = fields[0], fields[1], fields[2], fields[3]
        client = fields[4] if len(fields) > 4 and fields[4] != "*" else None
        try:
            expiry_time = int(expiry)
            address = ipaddress.ip_address(addr)
        except ValueError:
            continue
        if expiry_time and expiry_time < now:
            continue
        hw = hw.lower()
        if want is not None and hw != want:
            continue
        prefix = next((p.prefixlen for p in prefixes if address in p), 0)
        out.append(DhcpLease(
            iface=bridge,
            expiry_time=expiry_time,
            mac=hw if address.version == 4 else "",
            ip_type=0 if address.version == 4 else 1,
            ipaddr=addr,
            prefix=prefix,
            hostname=None if host == "*" else host,
            client_id=client,
        ))
    return out
