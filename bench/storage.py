"""Host storage against libvirt's storage driver, in the same run, interleaved ABAB.

    python bench/storage.py [--reps N]

libvirt side: Debian's libvirtd (its storage driver), started here as an unprivileged session
daemon (user ``nobody``) with its own configuration file, unix socket and XDG directories in a
temporary directory, reached through python3-libvirt (built for the system Python, so it runs in
a /usr/bin/python3 worker) at ``storage+unix:///session?socket=...``. virtkit side: the host
storage service in a worker process, through the facade of a connection whose driver declares
``host_services = ("storage",)`` (no daemon: virtkit runs in the caller's process). Both sides'
pools are directories on the same filesystem.

Each measure runs on A then B then A then B... (``--reps``, default 5); printed: the median and
spread (min..max) of each side, and the ratio libvirt/virtkit of the medians (>= 1.0: virtkit
as fast or faster):

- create a 10 GiB qcow2; create a 1 GiB raw (allocation = capacity: fully allocated);
- clone a 1 GiB raw (a fully allocated source);
- refresh a pool of 1,000 volumes (1 MiB raw files); list them (names);
- upload and download 1 GiB through a stream (256 KiB messages).
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
import textwrap
import time

GiB = 1024 ** 3

COMMON = textwrap.dedent(
    r'''
    import json, os, sys, time

    GiB = 1024 ** 3
    CHUNK = 256 * 1024
    BUF = os.urandom(CHUNK)

    def vol(name, cap, fmt, alloc=None):
        a = "" if alloc is None else "<allocation>%d</allocation>" % alloc
        return ("<volume><name>%s</name><capacity>%d</capacity>%s"
                "<target><format type='%s'/></target></volume>" % (name, cap, a, fmt))

    def serve(api):
        counter = [0]
        def fresh(prefix):
            counter[0] += 1
            return "%s%d" % (prefix, counter[0])
        src = api.create(vol("clone-src", GiB, "raw"))
        many_ready = [False]
        def op(name):
            if name == "create_qcow2":
                n = fresh("q"); t = time.perf_counter()
                v = api.create(vol(n, 10 * GiB, "qcow2"))
                d = time.perf_counter() - t; api.delete(v); return d
            if name == "create_raw":
                n = fresh("r"); t = time.perf_counter()
                v = api.create(vol(n, GiB, "raw"))
                d = time.perf_counter() - t; api.delete(v); return d
            if name == "clone_raw":
                n = fresh("c"); t = time.perf_counter()
                v = api.clone(vol(n, GiB, "raw"), src)
                d = time.perf_counter() - t; api.delete(v); return d
            if name in ("refresh_1000", "list_1000"):
                if not many_ready[0]:
                    for i in range(1000):
                        with open(os.path.join(api.target, "many%04d" % i), "wb") as f:
                            f.truncate(1024 * 1024)
                    many_ready[0] = True
                    api.refresh()
                t = time.perf_counter()
                if name == "refresh_1000":
                    api.refresh()
                else:
                    names = api.names()
                    assert len(names) >= 1000, len(names)
                return time.perf_counter() - t
            if name == "upload_1g":
                v = api.create(vol(fresh("u"), GiB, "raw", 0))
                t = time.perf_counter()
                s = api.upload(v)
                for _ in range(GiB // CHUNK):
                    api.send(s, BUF)
                api.finish(s)
                d = time.perf_counter() - t; api.delete(v); return d
            if name == "download_1g":
                t = time.perf_counter()
                s = api.download(src)
                total = 0
                while True:
                    data = api.recv(s, CHUNK)
                    if not data:
                        break
                    total += len(data)
                api.finish(s)
                assert total == GiB, total
                return time.perf_counter() - t
            raise SystemExit("unknown op " + name)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            name = line.strip()
            if name == "quit":
                break
            print(json.dumps({"seconds": op(name)}), flush=True)
    '''
)

LIBVIRT_SIDE = COMMON + textwrap.dedent(
    '''
    import libvirt

    class Api:
        def __init__(self, uri, target):
            self.conn = libvirt.open(uri)
            self.target = target
            self.pool = self.conn.storagePoolCreateXML(
                "<pool type='dir'><name>bench</name><target><path>%s</path></target></pool>"
                % target, 0)
        def create(self, xml): return self.pool.createXML(xml, 0)
        def clone(self, xml, src): return self.pool.createXMLFrom(xml, src, 0)
        def delete(self, v): v.delete(0)
        def refresh(self): self.pool.refresh(0)
        def names(self): return [v.name() for v in self.pool.listAllVolumes(0)]
        def upload(self, v):
            s = self.conn.newStream(0); v.upload(s, 0, 0, 0); return s
        def download(self, v):
            s = self.conn.newStream(0); v.download(s, 0, 0, 0); return s
        def send(self, s, data): s.send(data)
        def recv(self, s, n): return s.recv(n)
        def finish(self, s): s.finish()

    serve(Api(sys.argv[1], sys.argv[2]))
    '''
)

VIRTKIT_SIDE = COMMON + textwrap.dedent(
    '''
    from virtkit.api.connection import Connection
    from virtkit.runtime import registry
    from virtkit.sdk.driver import Driver
    from virtkit.sdk.hookspecs import hookimpl
    from virtkit.sdk.uri import parse_uri

    class BenchDriver(Driver):
        """A hypervisor driver with no storage of its own, declaring the host service."""
        name = "bench"
        host_services = ("storage",)

        @hookimpl
        def virtkit_connect_open(self, uri, read_only):
            return True

    class Api:
        def __init__(self, uri, target):
            services = registry.service_classes(BenchDriver.host_services)
            self.conn = Connection(uri, parse_uri(uri), False, BenchDriver, (),
                                   services=services)
            self.target = target
            self.pool = self.conn.storage_pool_create_xml(
                "<pool type='dir'><name>bench</name><target><path>%s</path></target></pool>"
                % target, build=True)
        def create(self, xml): return self.pool.create_xml(xml)
        def clone(self, xml, src): return self.pool.create_xml_from(xml, src)
        def delete(self, v): v.delete()
        def refresh(self): self.pool.refresh()
        def names(self): return self.pool.list_volume_names()
        def upload(self, v): return v.upload()
        def download(self, v): return v.download()
        def send(self, s, data): s.send(data)
        def recv(self, s, n): return s.recv(n)
        def finish(self, s): s.finish()

    serve(Api("bench:///session", sys.argv[2]))
    '''
)

MEASURES = [
    ("create 10 GiB qcow2 (ms)", "create_qcow2", 1000),
    ("create 1 GiB raw (ms)", "create_raw", 1000),
    ("clone 1 GiB raw (s)", "clone_raw", 1),
    ("refresh 1,000 volumes (s)", "refresh_1000", 1),
    ("list 1,000 volumes (ms)", "list_1000", 1000),
    ("upload 1 GiB (s)", "upload_1g", 1),
    ("download 1 GiB (s)", "download_1g", 1),
]


class Worker:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self._read()

    def _read(self) -> dict[str, float]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.proc.args[0]} died")
        result: dict[str, float] = json.loads(line)
        return result

    def run(self, op: str) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        return self._read()["seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def start_libvirtd(base: str) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's libvirtd as an unprivileged session daemon with everything under ``base``."""
    for d in ("home", "run", "run/sock", "cfg", "pool"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    conf = os.path.join(base, "libvirtd.conf")
    with open(conf, "w") as f:
        f.write(f'unix_sock_dir = "{base}/run/sock"\nlisten_tcp = 0\nlisten_tls = 0\n'
                f'log_outputs = "3:file:{base}/libvirtd.log"\n')
    subprocess.run(["chown", "-R", "nobody:nogroup", base], check=True)
    os.chmod(os.path.join(base, "run"), 0o700)
    env = {"HOME": f"{base}/home", "XDG_RUNTIME_DIR": f"{base}/run",
           "XDG_CONFIG_HOME": f"{base}/cfg", "XDG_CACHE_HOME": f"{base}/home/.cache",
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    proc = subprocess.Popen(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "libvirtd", "-f",
         conf, "-p", f"{base}/run/libvirtd.pid"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    sock = f"{base}/run/sock/libvirt-sock"
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"libvirtd did not start (see {base}/libvirtd.log)")
        time.sleep(0.05)
    return proc, f"storage+unix:///session?socket={sock}"


def main() -> None:
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 5
    base = tempfile.mkdtemp(prefix="vk-bench-storage-")
    os.chmod(base, 0o711)  # the daemon's user reaches its own directory below
    daemon = None
    workers: list[Worker] = []
    try:
        daemon, uri = start_libvirtd(os.path.join(base, "libvirt"))
        lv_pool = os.path.join(base, "libvirt", "pool")
        vk_pool = os.path.join(base, "virtkit-pool")
        env = dict(os.environ)
        env["VIRTKIT_STATE_ROOT"] = os.path.join(base, "virtkit-state")
        workers = [
            Worker(["/usr/bin/python3", "-c", LIBVIRT_SIDE, uri, lv_pool], env),
            Worker([sys.executable, "-c", VIRTKIT_SIDE, "", vk_pool], env),
        ]
        print(f"host storage vs libvirt {subprocess.run(['libvirtd', '--version'], capture_output=True, text=True).stdout.strip()}; "  # noqa: E501
              f"{reps} rounds ABAB; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"{'measure':28} {'libvirt median (spread)':>30} {'virtkit median (spread)':>30} "
              f"{'ratio':>7}")
        for label, op, scale in MEASURES:
            times: list[list[float]] = [[], []]
            for _ in range(reps):
                for i, w in enumerate(workers):
                    times[i].append(w.run(op))
            cells = []
            for t in times:
                med = statistics.median(t) * scale
                cells.append(f"{med:10.2f} ({min(t) * scale:.2f}..{max(t) * scale:.2f})")
            ratio = statistics.median(times[0]) / statistics.median(times[1])
            print(f"{label:28} {cells[0]:>30} {cells[1]:>30} {ratio:6.2f}x", flush=True)
    finally:
        for w in workers:
            w.close()
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
