"""The host network service against libvirt's network driver, in the same run.

    sudo python bench/network.py [--rounds N]

Needs root (it makes network namespaces), Debian's libvirt-daemon (whose libvirtd includes the
network driver), python3-libvirt, dnsmasq-base, iptables (libvirt 9's firewall) and nftables.

Each side runs in a network namespace of its own that this script makes and deletes, so the
host's interfaces and firewall are never touched:

- libvirt: ``libvirtd`` started here with its own config file, in a private mount namespace whose
  /etc/libvirt, /run/libvirt, /var/lib/libvirt are empty tmpfs (so no host file changes; the
  libvirt-qemu and libvirt-dnsmasq users it insists on exist only in that namespace's copy of
  /etc/passwd), driven by python3-libvirt under /usr/bin/python3 over its unix socket;
- virtkit: the host network service in a worker process, called through pluggy as a
  connection calls it (the facade's own cost, a few microseconds, is left out).

Measures, interleaved ABAB (each round alternates which side goes first), median and spread:

- one NAT network with DHCP: define, start, stop, undefine (milliseconds per cycle);
- listing 100 defined networks (milliseconds per listing).

The ratio is libvirt's time over virtkit's: >= 1.0 means virtkit is at least as fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NAT = (
    "<network><name>{name}</name><forward mode='nat'/>"
    "<ip address='10.{a}.{b}.1' netmask='255.255.255.0'>"
    "<dhcp><range start='10.{a}.{b}.10' end='10.{a}.{b}.200'/></dhcp></ip></network>"
)
LIST_SIZE = 100

LIBVIRTD_CONF = """\
unix_sock_dir = "{sock}"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:{log}"
"""

LIBVIRTD_START = """\
set -e
mount --make-rprivate /
for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /etc/libvirt /var/log/libvirt; do
  mkdir -p "$d" 2>/dev/null || true
  mount -t tmpfs tmpfs "$d"
done
cp /etc/passwd {tmp}/passwd
cp /etc/group {tmp}/group
grep -q '^libvirt-qemu:' {tmp}/passwd || \
  echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >> {tmp}/passwd
grep -q '^libvirt-dnsmasq:' {tmp}/passwd || \
  echo 'libvirt-dnsmasq:x:64056:64056::/var/lib/libvirt/dnsmasq:/usr/sbin/nologin' \
  >> {tmp}/passwd
for g in libvirt-qemu:64055 libvirt-dnsmasq:64056 libvirt:64057; do
  grep -q "^${{g%%:*}}:" {tmp}/group || echo "${{g%%:*}}:x:${{g#*:}}:" >> {tmp}/group
done
mount --bind {tmp}/passwd /etc/passwd
mount --bind {tmp}/group /etc/group
exec libvirtd -f {tmp}/libvirtd.conf
"""


# -- the workers (run inside a namespace; the libvirt one under /usr/bin/python3) ----------------


class LibvirtSide:
    def __init__(self, socket: str) -> None:
        import libvirt

        self.conn = libvirt.open(f"network:///system?socket={socket}")

    def cycle(self, i: int) -> None:
        net = self.conn.networkDefineXML(NAT.format(name=f"cyc{i}", a=200, b=i % 250))
        net.create()
        net.destroy()
        net.undefine()

    def define_many(self) -> None:
        for i in range(LIST_SIZE):
            self.conn.networkDefineXML(NAT.format(name=f"l{i:03d}", a=150, b=i))

    def list_all(self) -> int:
        return len([n.name() for n in self.conn.listAllNetworks()])


class VirtkitSide:
    def __init__(self) -> None:
        import pluggy

        from virtkit.sdk.driver import DriverContext
        from virtkit.sdk.hookspecs import MODULES, PROJECT
        from virtkit.sdk.uri import parse_uri
        from virtkit.services.network import HostNetwork

        pm = pluggy.PluginManager(PROJECT)
        for module in MODULES:
            pm.add_hookspecs(module)
        ctx = DriverContext(parse_uri("bench:///system"), False, lambda ev: None)
        pm.register(HostNetwork(ctx))
        self.hook = pm.hook

    def cycle(self, i: int) -> None:
        h = self.hook
        net = h.virtkit_network_define_xml(xml=NAT.format(name=f"cyc{i}", a=200, b=i % 250))
        h.virtkit_network_create(net=net)
        h.virtkit_network_destroy(net=net)
        h.virtkit_network_undefine(net=net)

    def define_many(self) -> None:
        for i in range(LIST_SIZE):
            self.hook.virtkit_network_define_xml(xml=NAT.format(name=f"l{i:03d}", a=150, b=i))

    def list_all(self) -> int:
        return len([s.ref.name for s in self.hook.virtkit_network_list()])


def worker(kind: str, arg: str) -> None:
    side: Any = LibvirtSide(arg) if kind == "libvirt" else VirtkitSide()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        op, n = req["op"], req.get("n", 1)
        t = time.perf_counter()
        if op == "cycle":
            side.cycle(req["i"])
            result: Any = None
        elif op == "define_many":
            side.define_many()
            result = None
        else:
            for _ in range(n):
                result = side.list_all()
        print(json.dumps({"s": (time.perf_counter() - t) / n, "result": result}), flush=True)


# -- the driver of the benchmark ------------------------------------------------------------------


class Worker:
    def __init__(self, ns: str, python: str, kind: str, arg: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, python, __file__, "--worker", kind, arg],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {kind} worker did not start")

    def ask(self, **req: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a worker died during {req}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def netns_kill_all(ns: str) -> None:
    for _ in range(50):
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM if _ < 20 else signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):8.2f} ms  ({ms[0]:.2f}-{ms[-1]:.2f}, n={len(ms)})"


def main() -> None:
    rounds = 10
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    if os.geteuid() != 0:
        raise SystemExit("bench/network.py needs root: it makes network namespaces")
    tmp = Path(tempfile.mkdtemp(prefix="vk-netbench-"))
    ref_ns, vk_ns = f"vkbref{os.getpid()}", f"vkbvk{os.getpid()}"
    workers: list[Worker] = []
    try:
        for ns in (ref_ns, vk_ns):
            sh("ip", "netns", "add", ns)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sock = tmp / "sock"
        sock.mkdir()
        (tmp / "libvirtd.conf").write_text(LIBVIRTD_CONF.format(sock=sock, log=tmp / "log"))
        (tmp / "start.sh").write_text(LIBVIRTD_START.format(tmp=tmp))
        subprocess.Popen(["ip", "netns", "exec", ref_ns, "unshare", "--mount", "sh",
                          str(tmp / "start.sh")], stdout=subprocess.DEVNULL,
                         stderr=open(tmp / "libvirtd.stderr", "w"))
        for _ in range(300):
            if (sock / "libvirt-sock").exists():
                break
            time.sleep(0.05)
        else:
            raise SystemExit("libvirtd did not start: " + (tmp / "libvirtd.stderr").read_text())
        env = dict(os.environ, VIRTKIT_STATE_ROOT=str(tmp / "virtkit"))
        lv = Worker(ref_ns, "/usr/bin/python3", "libvirt", str(sock / "libvirt-sock"), env)
        workers.append(lv)
        vk = Worker(vk_ns, sys.executable, "virtkit", "-", env)
        workers.append(vk)
        sides = {"libvirt": lv, "virtkit": vk}

        # Warm up each side once (first dnsmasq/iptables/nft run, imports).
        for w in (lv, vk):
            w.ask(op="cycle", i=999)
        cycles: dict[str, list[float]] = {"libvirt": [], "virtkit": []}
        for r in range(rounds):
            order = ("libvirt", "virtkit") if r % 2 == 0 else ("virtkit", "libvirt")
            for name in order:
                cycles[name].append(sides[name].ask(op="cycle", i=r)["s"])
        for w in (lv, vk):
            w.ask(op="define_many")
        listing: dict[str, list[float]] = {"libvirt": [], "virtkit": []}
        for r in range(rounds * 2):
            order = ("libvirt", "virtkit") if r % 2 == 0 else ("virtkit", "libvirt")
            for name in order:
                reply = sides[name].ask(op="list", n=10)
                assert reply["result"] == LIST_SIZE, reply
                listing[name].append(reply["s"])

        print(f"host network service vs libvirt {time.strftime('%Y-%m-%d')} "
              f"({rounds} rounds, interleaved ABAB)")
        for title, data in (("NAT network with DHCP: define+start+stop+undefine", cycles),
                            (f"list {LIST_SIZE} defined networks", listing)):
            ratio = statistics.median(data["libvirt"]) / statistics.median(data["virtkit"])
            print(title)
            print(f"  libvirt  {summary(data['libvirt'])}")
            print(f"  virtkit  {summary(data['virtkit'])}")
            print(f"  ratio (libvirt/virtkit) {ratio:.2f}")
    finally:
        for w in workers:
            w.close()
        for ns in (ref_ns, vk_ns):
            netns_kill_all(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
