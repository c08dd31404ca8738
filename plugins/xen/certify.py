#!/usr/bin/env python3
"""Certify virtkit-xen's ``xenapi://`` driver against the fake XenAPI server
(``virtkit_xen.fakexapi``; no XCP-ng or XenServer host was available): start the server, run
virtkit-certify against ``xenapi://root@127.0.0.1:PORT/?transport=http``, stop the server,
exit non-zero unless certified.

    python plugins/xen/certify.py OUTDIR

Writes OUTDIR/xenapi/{result.json,junit.xml,report.md} (the certified run) and
OUTDIR/xenapi-pv-console/ (the console group on PV guests, see CONSOLE_RUN). This certifies
the driver's logic (its XenAPI calls, the power-state mapping, the state machine, events from
event.from, snapshots, devices, the console protocol) against a server that answers as
XenAPI's documentation says; it is not a run on a real host. Then the xl backend's console
and devices groups on the plugin tests' stand-in dom0 (see XL_STANDIN_EXPECTED), into
OUTDIR/xl-standin.

The xl backend (``xen:///system``) is certified on the real Xen under QEMU TCG by
``certify_real.py`` (``tox -e certify-xen-real``: slow; docs/xen.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from virtkit_xen.fakexapi import FakeXapi

#: The groups certified. In devices, the interface tests run (the suite's NICs join a network
#: 'default': the fake pool is given a XenAPI network of that name before the run); the disk
#: tests are not supported (the suite's disks are image files, XenAPI's are VDIs: the plugin's
#: tests cover them). Left out: console (run apart, below), storage and networks (SRs and
#: networks are not created or started through this driver; the plugin's tests cover what it
#: does with them), guest-info, migration, and the suite's other groups (nothing of theirs is
#: implemented for xenapi://).
GROUPS = ("connection", "definition", "lifecycle", "save-restore", "snapshots", "resources",
          "devices", "readonly", "bad-input", "concurrency", "stateful")
#: The console group runs apart, on PV guests (``--virtkit-os-type=linux``): the suite's
#: domains are otherwise HVM guests (the first guest type of the capabilities), and XenAPI
#: gives an HVM guest only a graphical (rfb) console, no text one. That run passes when the
#: group has no failure (it has no mandatory group, so it cannot be "certified" by itself).
CONSOLE_RUN = ("console", "linux")


def _suite(server: FakeXapi, outdir: Path, groups: tuple[str, ...], *extra: str) -> int:
    outdir.mkdir(parents=True, exist_ok=True)
    uri = f"xenapi://{server.user}@127.0.0.1:{server.port}/?transport=http"
    print(f"certifying {uri} (the fake XenAPI server of virtkit_xen.fakexapi): "
          f"{', '.join(groups)} {' '.join(extra)}", flush=True)
    env = {**os.environ, "VIRTKIT_PASSWORD": server.password}
    env.pop("VIRTKIT_AUTH_FILE", None)
    cmd = [sys.executable, "-m", "virtkit_conformance", uri,
           "--json", str(outdir / "result.json"), "--junit", str(outdir / "junit.xml"),
           "--report", str(outdir / "report.md"), "-q", *(f"--only={g}" for g in groups),
           "--note", "against virtkit_xen.fakexapi, a FAKE XenAPI server (no XCP-ng or "
           "XenServer host was available; see docs/xen.md)"]
    if extra:
        cmd += ["--", *extra]
    return subprocess.run(cmd, env=env, timeout=900).returncode


#: The xl backend (``xen:///system``) on the stand-in dom0 of the plugin's tests
#: (tests/suite_standin.py; LABELLED: no Xen runs, xl's answers are the stand-in's, the console a
#: stand-in process), on HVM guests (libxl changes a cdrom's media in HVM guests only): the
#: console and devices groups, each test's outcome as given here. The suite's interface joins a
#: libvirt network ('default'), which xl has not: refused (CONFIG_UNSUPPORTED), so that test
#: fails; so does its live disk test, whose disk is on the virtio bus (``vdb``): libxl hotplugs
#: disks on the xen bus only (the real run's libxl refused ``vdb``), and the driver refuses it
#: first (CONFIG_UNSUPPORTED), as libvirt's libxl driver does. This checks the driver's side of
#: the suite's expectations (exclusivity and takeover of the console, the affect flags,
#: duplicates, detach by alias, media changes, refusals).
XL_STANDIN_EXPECTED = {
    "test_console_session": "passed", "test_console_is_exclusive": "passed",
    "test_console_inactive_is_invalid": "passed", "test_channel_stream": "not-supported",
    "test_disk_config": "passed", "test_disk_live": "failed",
    "test_detach_device_alias": "passed", "test_config_on_transient_is_invalid": "passed",
    "test_update_cdrom_media": "passed", "test_bad_device_xml": "passed",
    "test_interface_live": "failed",
}


def xl_standin(outdir: Path) -> int:
    """The console and devices groups against ``xen:///system`` on the stand-in dom0 into
    OUTDIR/xl-standin: 0 when every test's outcome is the expected one."""
    out = outdir / "xl-standin"
    out.mkdir(parents=True, exist_ok=True)
    tests = Path(__file__).resolve().parent / "tests"
    env = {**os.environ, "VIRTKIT_STATE_ROOT": str(out / "state"), "VIRTKIT_XEN_POLL": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tests),
                                                       os.environ.get("PYTHONPATH")]))}
    print("xen:///system on the stand-in dom0 (no Xen runs): console, devices", flush=True)
    subprocess.run([sys.executable, "-m", "virtkit_conformance", "xen:///system", "--json",
                    str(out / "result.json"), "-q", "--only=console", "--only=devices", "--",
                    "-p", "suite_standin", "--virtkit-os-type=hvm"], env=env, timeout=300)
    result = json.loads((out / "result.json").read_text())
    got = {t["name"]: (t["outcome"], t.get("message")) for t in result["tests"]
           if t["group"] in ("console", "devices")}
    wrong = {name: got.get(name) for name, outcome in XL_STANDIN_EXPECTED.items()
             if got.get(name, (None,))[0] != outcome}
    refusal = got.get("test_interface_live", (None, None))[1] or ""
    if "type 'network'" not in refusal:
        wrong["test_interface_live (its message)"] = (None, refusal)
    for name, seen in wrong.items():
        print(f"xl stand-in: {name}: expected {XL_STANDIN_EXPECTED.get(name)}, got {seen}")
    print(f"xl stand-in: {len(XL_STANDIN_EXPECTED) - len(wrong)} of "
          f"{len(XL_STANDIN_EXPECTED)} outcomes as expected")
    return 1 if wrong else 0


def certify(outdir: Path) -> int:
    """The main run into OUTDIR/xenapi, then the console run into OUTDIR/xenapi-pv-console:
    0 when the first certifies and the second has no failure."""
    with FakeXapi() as server:
        # the suite's interfaces join a network 'default' (as a XenAPI pool may name one)
        server.external(lambda x: x._network_create({"name_label": "default",
                                                     "bridge": "xenbr1"}))
        code = _suite(server, outdir / "xenapi", GROUPS)
        group, os_type = CONSOLE_RUN
        _suite(server, outdir / "xenapi-pv-console", (group,), f"--virtkit-os-type={os_type}")
    result = json.loads((outdir / "xenapi-pv-console" / "result.json").read_text())
    con = result["groups"][group]
    print(f"xenapi console on PV guests (fake XenAPI server): {con['passed']} passed, "
          f"{con['failed']} failed, {con['not-supported']} not supported")
    return code or (1 if con["failed"] or not con["passed"] else 0)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    code = certify(Path(argv[1]))
    print(f"xenapi (fake XenAPI server): "
          f"{'certified' if code == 0 else f'NOT certified (exit {code})'}")
    return code or xl_standin(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
