"""Hypothesis: random sequences of create, clone, resize and delete on an fs pool (its own ext4
on a loop-mounted image, so nothing else writes there) keep the pool's accounting equal to
what qemu-img and the filesystem report."""

from __future__ import annotations

import os
import subprocess
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from storagekit import loops_of, mounts_under, open_host, qemu_img_info, vol_xml

import virtkit

MiB = 1024 * 1024
FORMATS = st.sampled_from(["raw", "qcow2", "qed", "vdi", "vmdk"])
SIZES = st.integers(min_value=1, max_value=24).map(lambda n: n * MiB)


class Accounting(RuleBasedStateMachine):
    volumes = Bundle("volumes")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="vk-acct-")
        os.environ["VIRTKIT_STATE_ROOT"] = os.path.join(self.tmp, "state")
        self.image = os.path.join(self.tmp, "fs.img")
        with open(self.image, "wb") as f:
            f.truncate(160 * MiB)
        self.target = os.path.join(self.tmp, "mnt")
        self.conn = open_host()
        self.pool = self.conn.storage_pool_create_xml(
            f"<pool type='fs'><name>acct</name><source><device path='{self.image}'/>"
            f"<format type='ext4'/></source><target><path>{self.target}</path></target>"
            f"</pool>", build=True)
        self.model: dict[str, tuple[str, int]] = {}
        self.counter = 0

    def _name(self, fmt: str) -> str:
        self.counter += 1
        return f"v{self.counter}.{fmt}"

    @rule(target=volumes, fmt=FORMATS, size=SIZES, sparse=st.booleans())
    def create(self, fmt, size, sparse):
        name = self._name(fmt)
        try:
            self.pool.create_xml(vol_xml(name, size, fmt, allocation=0 if sparse else None))
        except virtkit.VirtError as exc:  # only a full pool may refuse
            assert exc.code == virtkit.ErrorCode.OPERATION_FAILED, exc
            assert "free space" in str(exc)
            assert name not in os.listdir(self.target)
            return None
        self.model[name] = (fmt, size)
        return name

    @rule(target=volumes, src=volumes, fmt=FORMATS)
    def clone(self, src, fmt):
        if src is None or src not in self.model:
            return None
        name = self._name(fmt)
        source = self.pool.storage_vol_lookup_by_name(src)
        try:
            self.pool.create_xml_from(vol_xml(name, 0, fmt), source)
        except virtkit.VirtError as exc:
            assert exc.code == virtkit.ErrorCode.OPERATION_FAILED, exc
            assert name not in os.listdir(self.target)
            return None
        self.model[name] = (fmt, self.model[src][1])
        return name

    @rule(vol=volumes, size=SIZES, shrink=st.booleans())
    def resize(self, vol, size, shrink):
        if vol is None or vol not in self.model:
            return
        fmt, old = self.model[vol]
        v = self.pool.storage_vol_lookup_by_name(vol)
        try:
            v.resize(size, shrink=shrink)
        except virtkit.VirtError as exc:
            if fmt in ("vmdk", "vdi"):
                assert exc.code == virtkit.ErrorCode.OPERATION_UNSUPPORTED, exc
            else:
                assert exc.code == virtkit.ErrorCode.INVALID_ARG, exc
                assert size < old and (not shrink or fmt not in ("raw", "qcow2"))
            return
        self.model[vol] = (fmt, size)

    @rule(vol=consumes(volumes))
    def delete(self, vol):
        if vol is None or vol not in self.model:
            return
        self.pool.storage_vol_lookup_by_name(vol).delete()
        del self.model[vol]

    @invariant()
    def accounting_matches_qemu_img_and_the_filesystem(self):
        assert sorted(self.pool.list_volume_names()) == sorted(self.model)
        assert sorted(n for n in os.listdir(self.target) if n != "lost+found") == \
            sorted(self.model)
        total = 0
        for name, (fmt, size) in self.model.items():
            v = self.pool.storage_vol_lookup_by_name(name)
            info = v.info()
            q = qemu_img_info(v.path, fmt)
            assert info.capacity == q["virtual-size"] == size, name
            assert info.allocation == q["actual-size"] == os.stat(v.path).st_blocks * 512
            total += info.allocation
        pool = self.pool.info()
        fs = os.statvfs(self.target)
        assert pool.capacity == fs.f_frsize * fs.f_blocks
        assert pool.available == fs.f_frsize * fs.f_bavail
        assert pool.allocation == fs.f_frsize * (fs.f_blocks - fs.f_bfree)
        assert total <= pool.allocation

    def teardown(self):
        try:
            self.conn.close()
        finally:
            for point in mounts_under(self.target):
                subprocess.run(["umount", "-l", point], capture_output=True)
            for dev in loops_of(self.image):
                subprocess.run(["losetup", "-d", dev], capture_output=True)
            subprocess.run(["rm", "-rf", self.tmp])
            os.environ.pop("VIRTKIT_STATE_ROOT", None)


Accounting.TestCase.settings = settings(
    max_examples=10, stateful_step_count=8, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAccounting = Accounting.TestCase
