"""virtkit's esx driver against plain pyvmomi (the floor), on govmomi's ESX simulator with 500 VMs.

Two workloads, each measured through virtkit (A) and through pyvmomi directly (B), interleaved
A B A B ... in the same run against the same simulator:

- ``list``: every domain with its identity, state and flags (virtkit ``list_domain_summaries``;
  pyvmomi: one container view and one RetrievePropertiesEx of the same properties);
- ``lifecycle``: define, start, suspend (managed save), start (resume), power off, undefine of a
  new VM (virtkit ``define_xml``, ``create``, ``managed_save``, ``create``, ``destroy``,
  ``undefine``; pyvmomi: CreateVM_Task, PowerOnVM_Task, SuspendVM_Task, PowerOnVM_Task,
  PowerOffVM_Task, UnregisterVM, each task waited for by reading its state).

Prints the median and spread (min-max) of each side and virtkit's ratio to pyvmomi; the target
is within 1.2x.

    python bench/vmware.py [-n ROUNDS] [--vms 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

TARGET_RATIO = 1.2


def raw_session(port: int) -> Any:
    from pyVim.connect import SmartConnect

    return SmartConnect(protocol="http", host="127.0.0.1", port=port, user="user", pwd="pass")


class Raw:
    """The same work written directly against pyvmomi, as a careful user would."""

    PROPS = ("name", "config.uuid", "runtime.powerState", "config.template", "config.managedBy",
             "snapshot", "runtime.host")

    def __init__(self, si: Any) -> None:
        from pyVmomi import vim, vmodl

        self.vim = vim
        content = si.RetrieveContent()
        self.content = content
        self.pc = content.propertyCollector
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine],
                                                       True)
        PF = vmodl.query.PropertyCollector
        self.spec = PF.FilterSpec(
            objectSet=[PF.ObjectSpec(obj=view, skip=True, selectSet=[PF.TraversalSpec(
                name="view", path="view", skip=False, type=vim.view.ContainerView)])],
            propSet=[PF.PropertySpec(type=vim.VirtualMachine, pathSet=list(self.PROPS))])
        self.options = PF.RetrieveOptions()
        dc = content.rootFolder.childEntity[0]
        self.folder = dc.vmFolder
        compute = dc.hostFolder.childEntity[0]
        self.pool = compute.resourcePool
        self.host = compute.host[0]
        self.datastore = compute.datastore[0].name

    def list(self) -> int:
        result = self.pc.RetrievePropertiesEx([self.spec], self.options)
        rows = []
        while True:
            for obj in result.objects:
                props = {p.name: p.val for p in obj.propSet}
                if not props.get("config.template"):
                    rows.append((props["name"], props["config.uuid"],
                                 props["runtime.powerState"]))
            if not result.token:
                break
            result = self.pc.ContinueRetrievePropertiesEx(result.token)
        return len(rows)

    def wait(self, task: Any) -> Any:
        while True:
            info = task.info
            if info.state == "success":
                return info.result
            if info.state == "error":
                raise RuntimeError(info.error.msg)
            time.sleep(0.01)

    def lifecycle(self, name: str) -> None:
        vim = self.vim
        spec = vim.vm.ConfigSpec(name=name, uuid=str(uuid.uuid4()), memoryMB=128, numCPUs=1,
                                 guestId="otherGuest64",
                                 files=vim.vm.FileInfo(vmPathName=f"[{self.datastore}]"))
        vm = self.wait(self.folder.CreateVM_Task(config=spec, pool=self.pool, host=self.host))
        self.wait(vm.PowerOnVM_Task())
        self.wait(vm.SuspendVM_Task())
        self.wait(vm.PowerOnVM_Task())
        self.wait(vm.PowerOffVM_Task())
        vm.UnregisterVM()


class Virtkit:
    def __init__(self, uri: str) -> None:
        import virtkit

        self.conn = virtkit.open(uri)

    def list(self) -> int:
        return len(self.conn.list_domain_summaries())

    def lifecycle(self, name: str) -> None:
        dom = self.conn.define_xml(
            f"<domain type='vmware'><name>{name}</name><memory unit='MiB'>128</memory>"
            f"<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
        dom.create()
        dom.managed_save()
        dom.create()
        dom.destroy()
        dom.undefine()


def timed(fn: Callable[[], Any], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def report(label: str, a: list[float], b: list[float]) -> float:
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = ma / mb
    verdict = "ok" if ratio <= TARGET_RATIO else f"ABOVE the {TARGET_RATIO}x target"
    print(f"{label:10s} virtkit {ma * 1000:8.2f} ms [{min(a) * 1000:.2f}-{max(a) * 1000:.2f}]   "
          f"pyvmomi {mb * 1000:8.2f} ms [{min(b) * 1000:.2f}-{max(b) * 1000:.2f}]   "
          f"ratio {ratio:.2f}x  {verdict}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=15, help="A/B pairs per workload")
    parser.add_argument("--vms", type=int, default=500, help="VMs in the simulator")
    args = parser.parse_args()

    from virtkit_vmware.vcsim import Simulator, SimulatorUnavailable

    os.environ["VIRTKIT_PASSWORD"] = "pass"
    try:
        sim = Simulator("esx", vms=args.vms).start(timeout=300)
    except SimulatorUnavailable as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    try:
        vk = Virtkit(sim.uri())
        raw = Raw(raw_session(sim.port))
        n_vk, n_raw = vk.list(), raw.list()
        if n_vk != n_raw or n_vk < args.vms:
            print(f"the two sides disagree: virtkit lists {n_vk}, pyvmomi {n_raw}",
                  file=sys.stderr)
            return 1
        print(f"govmomi simulator (ESX model) with {n_vk} VMs; {args.rounds} interleaved "
              f"rounds per workload; median [min-max] per operation")
        lists_a, lists_b, life_a, life_b = [], [], [], []
        for i in range(args.rounds):  # A B A B ...
            lists_a.append(timed(vk.list, 3))
            lists_b.append(timed(raw.list, 3))
            life_a.append(timed(lambda i=i: vk.lifecycle(f"bench-vk-{i}"), 1))
            life_b.append(timed(lambda i=i: raw.lifecycle(f"bench-raw-{i}"), 1))
        r1 = report("list", lists_a, lists_b)
        r2 = report("lifecycle", life_a, life_b)
        vk.conn.close()
        return 0 if max(r1, r2) <= TARGET_RATIO else 1
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
