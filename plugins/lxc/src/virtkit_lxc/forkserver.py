"""The fork server: ``python -S -m virtkit_lxc.forkserver``, started by a driver instance the
first time it starts a container. It has the supervisor's code loaded already, so a container
start costs a fork instead of a Python interpreter's start-up.

One request a line on stdin (``{"cfg": PATH, "log": PATH}``); it forks, the child becomes the
container's supervisor (which detaches at once into its own session, so the container outlives
this process and the driver), and the supervisor's one-line report (``{"ok": ...}`` or
``{"error": ...}``) is written back on stdout. It exits when its stdin closes.
"""

from __future__ import annotations

import json
import os
import sys

from virtkit_lxc import supervisor


def _serve_one(req: dict[str, str]) -> bytes:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            null = os.open(os.devnull, os.O_RDWR)
            log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            supervisor.main([req["cfg"], str(w)])
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)  # the child forks the real supervisor and exits at once
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(r, 65536)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    if not buf.strip():
        buf = json.dumps({"error": f"the supervisor exited without a report "
                                   f"(see {req['log']})"}).encode()
    return buf.strip() + b"\n"


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    for line in iter(stdin.readline, b""):
        try:
            reply = _serve_one(json.loads(line))
        except (OSError, ValueError, KeyError) as exc:
            reply = (json.dumps({"error": f"fork server: {exc}"}) + "\n").encode()
        stdout.write(reply)
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
