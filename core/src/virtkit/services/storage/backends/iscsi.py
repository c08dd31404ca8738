"""An iSCSI target's LUNs (``<pool type='iscsi'>``, open-iscsi's iscsiadm).

Start discovers the portal (``iscsiadm --mode discovery --type sendtargets``), checks the target
is offered and logs in; stop logs out. The volumes are the target's LUNs, named ``unit:0:0:N``
as libvirt names them, found in ``iscsiadm --mode session -r SID -P 3``; their size comes from
``blockdev --getsize64``. LUNs are made by the target's administrator: volumes cannot be created
or deleted here.
"""

from __future__ import annotations

import re

from virtkit.services.storage.backends.base import Backend, VolEntry, VolFacts
from virtkit.services.storage.errors import bad_arg, failed

_SESSION = re.compile(r"^\S+:\s+\[(\d+)\]\s+(\S+?),\d+\s+(\S+)")


class IscsiBackend(Backend):
    vol_type = "block"
    formats = ("raw",)
    makes_volumes = False

    def portal(self) -> str:
        src = self.pool.source
        if src is None or not src.hosts:
            raise bad_arg(f"storage pool '{self.name}' needs <source><host name=...>")
        host = src.hosts[0]
        return f"{host.name}:{host.port or 3260}"

    def iqn(self) -> str:
        src = self.pool.source
        if src is None or not src.devices:
            raise bad_arg(f"storage pool '{self.name}' needs <source><device path='IQN'/>")
        return src.devices[0].path

    def _node(self) -> list[str]:
        return ["iscsiadm", "--mode", "node", "--targetname", self.iqn(), "--portal",
                self.portal()]

    def _session(self) -> str | None:
        result = self.runner.run(["iscsiadm", "--mode", "session"], check=False)
        if result.returncode != 0:
            return None  # 21: no active sessions
        for line in result.stdout.splitlines():
            m = _SESSION.match(line.strip())
            if m and m.group(3) == self.iqn() and m.group(2) == self.portal():
                return m.group(1)
        return None

    def start(self) -> None:
        if self._session() is not None:
            return
        found = self.runner.run(
            ["iscsiadm", "--mode", "discovery", "--type", "sendtargets", "--portal",
             self.portal()],
            what=self.what("start"),
        ).stdout
        if not any(line.split()[-1:] == [self.iqn()] for line in found.splitlines()):
            raise failed(f"{self.what('start')}: portal {self.portal()} does not offer target "
                         f"'{self.iqn()}'")
        self.runner.run([*self._node(), "--login"], what=self.what("start"))

    def stop(self) -> None:
        if self._session() is None:
            return
        self.runner.run([*self._node(), "--logout"], what=self.what("stop"))

    def is_up(self) -> bool:
        return self._session() is not None

    def _luns(self) -> dict[int, str]:
        sid = self._session()
        if sid is None:
            raise failed(f"storage pool '{self.name}': no iSCSI session to '{self.iqn()}'")
        out = self.runner.run(["iscsiadm", "--mode", "session", "-r", sid, "-P", "3"],
                              what=f"cannot read storage pool '{self.name}'").stdout
        luns: dict[int, str] = {}
        lun = None
        for line in out.splitlines():
            m = re.search(r"Lun:\s*(\d+)", line)
            if m:
                lun = int(m.group(1))
                continue
            m = re.search(r"Attached scsi disk (\S+)", line)
            if m and lun is not None:
                luns[lun] = f"/dev/{m.group(1)}"
                lun = None
        return luns

    def _size(self, dev: str) -> int:
        out = self.runner.run(["blockdev", "--getsize64", dev],
                              what=f"cannot read storage pool '{self.name}'").stdout
        return int(out.strip())

    def scan(self) -> dict[str, VolEntry]:
        found = {}
        for lun, dev in sorted(self._luns().items()):
            size = self._size(dev)
            found[f"unit:0:0:{lun}"] = VolEntry(dev, VolFacts("block", size, size, size))
        return found

    def info(self) -> tuple[int, int, int]:
        total = sum(e.facts.capacity for e in self.scan().values() if e.facts is not None)
        return total, total, 0
