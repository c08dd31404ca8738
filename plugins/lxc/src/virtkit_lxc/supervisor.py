"""The per-container supervisor: ``python -m virtkit_lxc.supervisor CONFIG.json READY_FD``.

It detaches from whoever started it (so the container outlives the managing process), creates
the container's cgroup, starts init in new pid, mount, uts, ipc and net namespaces (and a user
namespace when the configuration maps ids), plugs the veth pairs, and then holds the console pty
and answers on a unix socket, one JSON request a line:

- ``{"op": "ping"}``: ``{"ok": true, "init_pid": N}``;
- ``{"op": "console", "force": bool}``: ``{"ok": true}``, then the connection carries the
  console both ways (output written while no client was attached is kept, up to 64 KiB);
- ``{"op": "shutdown", "signal": N, "timeout": S}``: signal init, SIGKILL it after S seconds;
- ``{"op": "destroy", "reason": R}``: SIGKILL init (the whole pid namespace goes with it).

When init exits it removes the cgroup and the host ends of the veths, writes the exit file
(``{"status", "code", "signal", "reason"}``) and removes its socket.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import termios
import time
import traceback
from typing import Any

from virtkit_lxc import rootfs, sysc
from virtkit_lxc.cgroups import Cgroup, CgroupError

BACKLOG = 64 * 1024
#: the devices cgroup's allow list: the safe set (null, zero, full, random, urandom, tty,
#: console, ptmx) and the pty slaves
DEVICE_RULES = ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm")


def _report(fd: int, msg: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(msg) + "\n").encode())


def _read_line(fd: int) -> str:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def apply_limits(cg: Cgroup, res: dict[str, Any]) -> None:
    if res.get("memory"):
        cg.set_memory(int(res["memory"]))
    if res.get("cpu_shares"):
        cg.set_cpu_shares(int(res["cpu_shares"]))
    if res.get("cpu_quota") or res.get("cpu_period"):
        cg.set_cpu_quota(int(res.get("cpu_quota") or -1), int(res.get("cpu_period") or 100000))
    if res.get("pids"):
        cg.set_pids(int(res["pids"]))
    if res.get("blkio_weight"):
        cg.set_blkio_weight(int(res["blkio_weight"]))
    if res.get("cpuset"):
        cg.set_cpuset(str(res["cpuset"]))


# ---------------------------------------------------------------- inside the container


def _resolve_user(spec: str, group: str | None) -> tuple[int, int]:
    """uid and gid of ``<inituser>``/``<initgroup>``: numbers, or names from the container's
    own /etc/passwd and /etc/group (read after pivot_root, so they are the container's)."""
    def lookup(path: str, name: str) -> list[str] | None:
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name:
                    return fields
        return None
    if spec.isdigit():
        uid, gid = int(spec), int(spec)
    else:
        ent = lookup("/etc/passwd", spec)
        if ent is None:
            raise RuntimeError(f"user '{spec}' does not exist in the container")
        uid, gid = int(ent[2]), int(ent[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = lookup("/etc/group", group)
            if g is None:
                raise RuntimeError(f"group '{group}' does not exist in the container")
            gid = int(g[2])
    return uid, gid


def _child(cfg: dict[str, Any], slave: int, to_parent: int, from_parent: int) -> None:
    """pid 1 of the new pid namespace: finish the namespaces, the root, and exec init."""
    try:
        sysc.unshare(sysc.CLONE_NEWNS | sysc.CLONE_NEWUTS | sysc.CLONE_NEWIPC | sysc.CLONE_NEWNET)
        os.write(to_parent, b"ns\n")
        if _read_line(from_parent) != "go":
            os._exit(1)
        socket.sethostname(cfg["name"])
        sysc.link_up("lo")
        for i, nic in enumerate(cfg.get("interfaces", [])):
            _ip("link", "set", nic["peer"], "name", f"eth{i}")
            _ip("link", "set", f"eth{i}", "up")
        rootfs.setup(cfg["root"], cfg.get("binds", []), slave, cfg.get("root_readonly", False))
        if cfg.get("idmap"):
            # last: the namespaces above stay owned by the host, so the mapped root cannot
            # remount or reconfigure them; it is root only over its own files
            sysc.unshare(sysc.CLONE_NEWUSER)
            os.write(to_parent, b"user\n")
            if _read_line(from_parent) != "mapped":
                os._exit(1)
            os.setgid(0)
            os.setuid(0)
        sysc.drop_bounding_caps()
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if cfg.get("user"):
            uid, gid = _resolve_user(cfg["user"], cfg.get("group"))
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        os.chdir(cfg.get("workdir") or "/")
        env = {"PATH": "/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin", "TERM": "linux",
               "container": "lxc-virtkit", "LIBVIRT_LXC_NAME": cfg["name"],
               "LIBVIRT_LXC_UUID": cfg.get("uuid", ""), **cfg.get("env", {})}
        os.closerange(3, to_parent)
        os.closerange(to_parent + 1, 65536)
        argv = [cfg["init"], *cfg.get("initargs", [])]
        os.execve(cfg["init"], argv, env)
    except BaseException as exc:  # report why the container could not start
        text = str(exc) if isinstance(exc, (OSError, RuntimeError, rootfs.RootfsError)) else \
            traceback.format_exc(limit=3)
        _report(to_parent, {"error": text})
        os._exit(127)


# ---------------------------------------------------------------- the supervisor


class Supervisor:
    def __init__(self, cfg: dict[str, Any], ready_fd: int) -> None:
        self.cfg = cfg
        self.ready_fd = ready_fd
        self.name = cfg["name"]
        self.cg: Cgroup | None = None
        self.init_pid = 0
        self.master = -1
        self.reason = "exit"
        self.kill_at: float | None = None
        self.console: socket.socket | None = None
        self.backlog = bytearray()
        self.sel = selectors.DefaultSelector()
        self.host_devs: list[str] = []

    def fail(self, message: str) -> None:
        self.cleanup()  # first: the starter may remove everything once it has the report
        _report(self.ready_fd, {"error": message})
        os._exit(1)

    def cleanup(self) -> None:
        if self.init_pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.init_pid, 0)
        if self.cg is not None:
            self.cg.remove()
        for dev in self.host_devs:
            with contextlib.suppress(RuntimeError):
                _ip("link", "del", dev)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.cfg["socket"])

    def start(self) -> None:
        cfg = self.cfg
        try:
            self.cg = cg = Cgroup.create(cfg["cgroup_name"], cfg.get("cgroup_version"))
            apply_limits(cg, cfg.get("resources", {}))
            cg.allow_devices(DEVICE_RULES)
        except (CgroupError, OSError) as exc:
            self.fail(f"cgroup setup failed: {exc}")
        self.master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # the console carries what init writes, unchanged
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        c_r, c_w = os.pipe()
        p_r, p_w = os.pipe()
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        sysc.unshare(sysc.CLONE_NEWPID)
        pid = os.fork()
        if pid != 0:  # later children (ip) stay in the host's pid namespace
            sysc.setns(own_pidns, sysc.CLONE_NEWPID)
            os.close(own_pidns)
        if pid == 0:
            os.close(c_r)
            os.close(p_w)
            os.close(self.master)
            _child(cfg, slave, c_w, p_r)
        self.init_pid = pid
        os.close(c_w)
        os.close(p_r)
        os.close(slave)
        try:
            line = _read_line(c_r)
            if line != "ns":
                raise RuntimeError(json.loads(line or '{"error": "init failed"}')
                                   .get("error", "init failed"))
            cg.attach(pid)
            for nic in cfg.get("interfaces", []):
                _ip("link", "add", nic["host"], "type", "veth", "peer", "name", nic["peer"],
                    "address", nic["mac"], "netns", str(pid))
                self.host_devs.append(nic["host"])
                if nic.get("mtu"):
                    _ip("link", "set", nic["host"], "mtu", str(nic["mtu"]))
                if nic.get("bridge"):
                    _ip("link", "set", nic["host"], "master", nic["bridge"])
                _ip("link", "set", nic["host"], "up")
            os.write(p_w, b"go\n")
            if cfg.get("idmap"):
                line = _read_line(c_r)
                if line != "user":
                    raise RuntimeError(json.loads(line or '{"error": "init failed"}')
                                       .get("error", "init failed"))
                for kind in ("uid", "gid"):
                    lines = "".join(f"{a} {b} {c}\n" for a, b, c in cfg["idmap"][kind])
                    with open(f"/proc/{pid}/{kind}_map", "w") as f:
                        f.write(lines)
                os.write(p_w, b"mapped\n")
            os.close(p_w)
            rest = _read_line(c_r)  # EOF: init was exec'd (the pipe is close-on-exec)
            if rest:
                raise RuntimeError(json.loads(rest).get("error", rest))
        except (OSError, RuntimeError, CgroupError, ValueError) as exc:
            self.fail(f"container '{self.name}' failed to start: {exc}")
        os.close(c_r)
        self.listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cfg["socket"])
        self.listen.bind(cfg["socket"])
        os.chmod(cfg["socket"], 0o600)
        self.listen.listen(8)
        with open("/proc/self/stat") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19])
        _report(self.ready_fd, {"ok": True, "init_pid": pid, "supervisor_pid": os.getpid(),
                                "supervisor_start": started,
                                "cgroup": cg.to_dict(), "host_devs": self.host_devs})
        os.close(self.ready_fd)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *a: None)
        signal.signal(signal.SIGTERM, lambda *a: None)  # only the socket stops a container
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.sel.register(self.listen, selectors.EVENT_READ, "listen")
        self.sel.register(self.master, selectors.EVENT_READ, "pty")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        status = None
        while status is None:
            timeout = None if self.kill_at is None else max(0.0, self.kill_at - time.monotonic())
            for key, _ in self.sel.select(timeout):
                what = key.data
                if what == "listen":
                    conn, _ = self.listen.accept()
                    self.sel.register(conn, selectors.EVENT_READ, ("req", bytearray()))
                elif what == "pty":
                    self._pty_output()
                elif what == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                elif what == "console":
                    self._console_input(key.fileobj)  # type: ignore[arg-type]
                else:
                    self._request(key.fileobj, what[1])  # type: ignore[arg-type]
            if self.kill_at is not None and time.monotonic() >= self.kill_at:
                self.kill_at = None
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signal.SIGKILL)
            pid, st = os.waitpid(self.init_pid, os.WNOHANG)
            if pid == self.init_pid:
                status = st
        self.finish(status)

    def _pty_output(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:  # every slave closed: init's end is gone; wait for its exit status
            self.sel.unregister(self.master)
            return
        if self.console is not None:
            try:
                self.console.sendall(data)
                return
            except OSError:
                self._drop_console()
        self.backlog += data
        del self.backlog[:-BACKLOG]

    def _console_input(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_console()
            return
        with contextlib.suppress(OSError):
            os.write(self.master, data)

    def _drop_console(self) -> None:
        if self.console is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.console)
            self.console.close()
            self.console = None

    def _request(self, conn: socket.socket, buf: bytearray) -> None:
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(conn)
            conn.close()
            return
        buf += data
        if b"\n" not in buf:
            return
        line, _, _ = bytes(buf).partition(b"\n")
        self.sel.unregister(conn)
        try:
            req = json.loads(line)
            reply = self._serve(req, conn)
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"error": f"bad request: {exc}"}
        if reply is None:
            return  # the connection became the console
        with contextlib.suppress(OSError):
            conn.sendall((json.dumps(reply) + "\n").encode())
        conn.close()

    def _serve(self, req: dict[str, Any], conn: socket.socket) -> dict[str, Any] | None:
        op = req["op"]
        if op == "ping":
            return {"ok": True, "init_pid": self.init_pid}
        if op == "console":
            if self.console is not None and not req.get("force"):
                return {"error": "busy"}
            self._drop_console()
            conn.sendall(b'{"ok": true}\n')
            self.console = conn
            self.sel.register(conn, selectors.EVENT_READ, "console")
            if self.backlog:
                with contextlib.suppress(OSError):
                    conn.sendall(bytes(self.backlog))
                self.backlog.clear()
            return None
        if op == "shutdown":
            self.reason = "shutdown"
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, int(req.get("signal", signal.SIGTERM)))
            self.kill_at = time.monotonic() + float(req.get("timeout", 30))
            return {"ok": True}
        if op == "destroy":
            self.reason = str(req.get("reason", "destroy"))
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)
            return {"ok": True}
        return {"error": f"unknown op '{op}'"}

    def finish(self, status: int) -> None:
        self._drop_console()
        init_pid, self.init_pid = self.init_pid, 0
        self.cleanup()
        self.listen.close()
        result = {
            "status": status, "init_pid": init_pid, "reason": self.reason,
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        }
        tmp = self.cfg["exit_file"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, self.cfg["exit_file"])


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        cfg = json.load(f)
    ready_fd = int(argv[1])
    if os.fork() > 0:  # the starter reaps this at once; the supervisor is re-parented
        os._exit(0)
    os.setsid()
    sup = Supervisor(cfg, ready_fd)
    sup.start()
    try:
        sup.run()
    finally:
        sup.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
