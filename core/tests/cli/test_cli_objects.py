"""Network, host interface, storage, device, snapshot, console and migration commands through the
real executable: virsh's output, messages and exit statuses.

Each process starts with a fresh node, so scenarios run as batches (commands on stdin).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
OBJECTS_URI = f"test://{DATA / 'objects.xml'}"
Run = Callable[..., Any]  # the ``run`` fixture of conftest.py

DEFAULT = ("-c", "test:///default")
OBJECTS = ("-c", OBJECTS_URI)


def blocks(stdout: str) -> list[str]:
    """Each command's output in a batch (virsh ends each with a blank line)."""
    return stdout.split("\n\n")


# -- networks -------------------------------------------------------------------------------------


def test_net_list_and_info_match_virsh(run: Run) -> None:
    r = run(*DEFAULT, stdin="net-list\nnet-info default\nnet-dumpxml default\n")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == (
        " Name      State    Autostart   Persistent\n"
        "--------------------------------------------\n"
        " default   active   no          yes"
    )
    assert out[1] == (
        "Name:           default\n"
        "UUID:           dd8fe884-6c02-601e-7551-cca97df1c5df\n"
        "Active:         yes\n"
        "Persistent:     yes\n"
        "Autostart:      no\n"
        "Bridge:         virbr0"
    )
    assert out[2].startswith("<network>\n  <name>default</name>\n")


def test_net_lifecycle_in_batch(run: Run) -> None:
    r = run(*OBJECTS, stdin="""
net-list --all
net-list --inactive --name
net-list --all --autostart --name
net-list --all --no-autostart --uuid
net-list --all --name --uuid
net-name 0b7f2a4e-3c1d-4e5f-8a9b-1c2d3e4f5a6b
net-uuid isolated
net-start isolated
net-autostart isolated
net-autostart lab --disable
net-list --all
net-destroy lab
net-undefine isolated
net-list --all --transient --name
""")
    assert r.status == 0, r.stderr
    assert r.stdout == (
        " Name       State      Autostart   Persistent\n"
        "-----------------------------------------------\n"
        " isolated   inactive   no          yes\n"
        " lab        active     yes         yes\n"
        "\n"
        "isolated\n\n"
        "lab\n\n"
        "1c8e3b5f-4d2e-4f60-9bac-2d3e4f5a6b7c\n\n"
        "1c8e3b5f-4d2e-4f60-9bac-2d3e4f5a6b7c  isolated\n"
        "0b7f2a4e-3c1d-4e5f-8a9b-1c2d3e4f5a6b  lab\n\n"
        "lab\n\n"
        "1c8e3b5f-4d2e-4f60-9bac-2d3e4f5a6b7c\n\n"
        "Network isolated started\n\n"
        "Network isolated marked as autostarted\n\n"
        "Network lab unmarked as autostarted\n\n"
        " Name       State    Autostart   Persistent\n"
        "---------------------------------------------\n"
        " isolated   active   yes         yes\n"
        " lab        active   no          yes\n"
        "\n"
        "Network lab destroyed\n\n"
        "Network isolated has been undefined\n\n"
        "isolated\n\n"
    )


def test_net_define_create_and_json(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "net.xml"
    xml.write_text("<network><name>extra</name><ip address='10.30.0.1' prefix='24'/></network>")
    r = run(*DEFAULT, stdin=f"net-define {xml}\nnet-create {xml}\nnet-list --all --json\n")
    assert r.status == 1
    assert r.stdout.startswith("Network extra defined from " + str(xml) + "\n\n")
    assert r.stderr.splitlines()[0] == f"error: Failed to create network from {xml}"
    data = json.loads(r.stdout[r.stdout.index("["):])
    assert [(d["name"], d["active"], d["persistent"]) for d in data] == [
        ("default", True, True), ("extra", False, True)]
    r = run(*DEFAULT, "net-info", "default", "--json")
    assert json.loads(r.stdout)["bridge"] == "virbr0"


def test_net_dhcp_leases(run: Run) -> None:
    r = run(*OBJECTS, stdin="net-dhcp-leases lab\nnet-dhcp-leases lab --mac 52:54:00:00:00:09\n"
                            "net-dhcp-leases lab --json\nnet-dhcp-leases isolated\n")
    assert r.status == 1
    lines = r.stdout.splitlines()
    assert lines[0] == (" Expiry Time           MAC address         Protocol   IP address      "
                        "Hostname   Client ID or DUID")
    assert lines[1] == "-" * 100
    assert re.fullmatch(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d   52:54:00:00:00:01   ipv4       "
                        r"10.10.0.11/24   web        -", lines[2])
    assert lines[3] == ""
    # --mac with no lease: the header only
    assert lines[4].startswith(" Expiry Time") and lines[6] == ""
    data = json.loads("\n".join(lines[7:lines.index("]") + 1]))
    assert data[0]["mac"] == "52:54:00:00:00:01" and data[0]["hostname"] == "web"
    assert r.stderr.splitlines()[0] == "error: Failed to get leases info for isolated"


def test_net_errors(run: Run) -> None:
    r = run(*DEFAULT, stdin="net-info nosuch\nnet-start default\nnet-list --name --table\n")
    assert r.status == 2
    assert r.stderr.splitlines() == [
        "error: failed to get network 'nosuch'",
        "error: Network not found: no network with matching name 'nosuch'",
        "error: Failed to start network default",
        r.stderr.splitlines()[3],
        "error: Options --table and --name are mutually exclusive",
    ]
    assert run(*DEFAULT, "net-dumpxml").status == 2
    assert run(*DEFAULT, "net-define", "/nonexistent.xml").status == 1


# -- host interfaces ------------------------------------------------------------------------------


def test_iface_commands(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "iface.xml"
    xml.write_text("<interface type='ethernet' name='eth5'><mac address='52:54:00:aa:00:05'/>"
                   "</interface>")
    r = run(*OBJECTS, stdin=f"""
iface-list
iface-list --all
iface-mac eth0
iface-name 52:54:00:aa:00:09
iface-start eth9
iface-destroy eth0
iface-define {xml}
iface-undefine eth5
iface-dumpxml 52:54:00:aa:00:01
iface-list --inactive --json
""")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == (" Name   State    MAC Address\n"
                      "------------------------------------\n"
                      " eth0   active   52:54:00:aa:00:01")
    assert out[1] == (" Name   State      MAC Address\n"
                      "--------------------------------------\n"
                      " eth0   active     52:54:00:aa:00:01\n"
                      " eth9   inactive   52:54:00:aa:00:09")
    assert out[2:8] == [
        "52:54:00:aa:00:01", "eth9", "Interface eth9 started", "Interface eth0 destroyed",
        f"Interface eth5 defined from {xml}", "Interface eth5 undefined",
    ]
    assert out[8].startswith("<interface type='ethernet' name='eth0'>")
    assert json.loads(out[9]) == [{"name": "eth0", "active": False, "mac": "52:54:00:aa:00:01"}]
    r = run(*OBJECTS, stdin="iface-mac nosuch\niface-undefine eth0\n")
    assert r.status == 1
    assert r.stderr.splitlines()[:3] == [
        "error: failed to get interface 'nosuch'",
        "error: Interface not found: no interface with matching name 'nosuch'",
        "error: Failed to undefine interface eth0",
    ]


# -- storage pools ------------------------------------------------------------------------------


def test_pool_list_and_info_match_virsh(run: Run) -> None:
    r = run(*OBJECTS, stdin="pool-list\npool-list --all --details\npool-info images\n"
                            "pool-info spare\npool-info images --bytes\n"
                            "pool-list --all --name --uuid\n")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == (" Name     State    Autostart\n"
                      "------------------------------\n"
                      " images   active   no")
    assert out[1] == (
        " Name     State      Autostart   Persistent   Capacity    Allocation   Available\n"
        "----------------------------------------------------------------------------------\n"
        " images   running    no          yes          10.00 GiB   1.50 GiB     8.50 GiB\n"
        " spare    inactive   no          yes          -           -            -"
    )
    assert out[2] == (
        "Name:           images\n"
        "UUID:           35bb2ad9-388a-cdfe-461a-b8907f6e53fe\n"
        "State:          running\n"
        "Persistent:     yes\n"
        "Autostart:      no\n"
        "Capacity:       10.00 GiB\n"
        "Allocation:     1.50 GiB\n"
        "Available:      8.50 GiB"
    )
    assert out[3].endswith("State:          inactive\nPersistent:     yes\nAutostart:      no")
    assert "Capacity:       10737418240\n" in out[4]
    assert out[5] == ("35bb2ad9-388a-cdfe-461a-b8907f6e53fe  images\n"
                      "7ff0bc2c-6aa1-4499-af1e-ecc687a82f90  spare")


def test_pool_lifecycle_in_batch(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "pool.xml"
    xml.write_text("<pool type='dir'><name>more</name><target><path>/srv/more</path></target>"
                   "</pool>")
    r = run(*OBJECTS, stdin=f"""
pool-define-as extra dir --target /srv/extra --print-xml
pool-define-as extra dir --target /srv/extra
pool-build extra
pool-start extra
pool-autostart extra
pool-list --autostart --name
pool-refresh extra
pool-autostart extra --disable
pool-destroy extra
pool-delete extra
pool-undefine extra
pool-uuid images
pool-name 35bb2ad9-388a-cdfe-461a-b8907f6e53fe
pool-define {xml}
pool-create-as temp dir --target /srv/temp
pool-list --all --transient --json
""")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == ("<pool type='dir'>\n  <name>extra</name>\n  <target>\n"
                      "    <path>/srv/extra</path>\n  </target>\n</pool>")
    assert out[1:14] == [
        "Pool extra defined", "Pool extra built", "Pool extra started",
        "Pool extra marked as autostarted", "extra", "Pool extra refreshed",
        "Pool extra unmarked as autostarted", "Pool extra destroyed", "Pool extra deleted",
        "Pool extra has been undefined", "35bb2ad9-388a-cdfe-461a-b8907f6e53fe", "images",
        f"Pool more defined from {xml}",
    ]
    assert out[14] == "Pool temp created"
    data = json.loads(out[15])
    assert [(d["name"], d["state"], d["persistent"]) for d in data] == [
        ("temp", "running", False)]


def test_pool_errors(run: Run) -> None:
    r = run(*OBJECTS, stdin="pool-info nosuch\npool-start images\npool-delete images\n"
                            "vol-list spare\npool-build images --overwrite --no-overwrite\n")
    assert r.status == 2
    err = r.stderr.splitlines()
    assert err[:2] == ["error: failed to get pool 'nosuch'",
                       "error: Storage pool not found: no storage pool with matching name "
                       "'nosuch'"]
    assert err[2] == "error: Failed to start pool images"
    assert "error: Failed to delete pool images" in err
    assert "error: Failed to list storage volumes" in err
    assert err[-1] == "error: Options --overwrite and --no-overwrite are mutually exclusive"


# -- storage volumes ----------------------------------------------------------------------------


def test_vol_list_and_info_match_virsh(run: Run) -> None:
    r = run(*OBJECTS, stdin="""
vol-list images
vol-list images --details
vol-info disk1.qcow2 --pool images
vol-info /srv/images/disk2.raw --bytes
vol-path disk1.qcow2 --pool images
vol-key /srv/images/disk1.qcow2
vol-pool /srv/images/disk1.qcow2
vol-pool /srv/images/disk1.qcow2 --uuid
vol-name /srv/images/disk2.raw
vol-list images --json
""")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == (" Name          Path\n"
                      "----------------------------------------\n"
                      " disk1.qcow2   /srv/images/disk1.qcow2\n"
                      " disk2.raw     /srv/images/disk2.raw")
    assert out[1] == (
        " Name          Path                      Type   Capacity     Allocation\n"
        "-------------------------------------------------------------------------\n"
        " disk1.qcow2   /srv/images/disk1.qcow2   file   2.00 GiB     1.00 GiB\n"
        " disk2.raw     /srv/images/disk2.raw     file   512.00 MiB   512.00 MiB"
    )
    assert out[2] == ("Name:           disk1.qcow2\n"
                      "Type:           file\n"
                      "Capacity:       2.00 GiB\n"
                      "Allocation:     1.00 GiB")
    assert out[3] == ("Name:           disk2.raw\n"
                      "Type:           file\n"
                      "Capacity:       536870912\n"
                      "Allocation:     536870912")
    assert out[4:9] == ["/srv/images/disk1.qcow2", "/srv/images/disk1.qcow2", "images",
                        "35bb2ad9-388a-cdfe-461a-b8907f6e53fe", "disk2.raw"]
    data = json.loads(out[9])
    assert data[0] == {"name": "disk1.qcow2", "path": "/srv/images/disk1.qcow2",
                       "key": "/srv/images/disk1.qcow2", "type": "file",
                       "capacity": 2147483648, "allocation": 1073741824}


def test_vol_changes_in_batch(run: Run, tmp_path: Path) -> None:
    upload = tmp_path / "up.bin"
    upload.write_bytes(bytes(range(256)) * 12)
    download = tmp_path / "down.bin"
    xml = tmp_path / "vol.xml"
    xml.write_text("<volume><name>fromxml.raw</name><capacity>1048576</capacity></volume>")
    r = run(*OBJECTS, stdin=f"""
vol-create-as images new.qcow2 1G --allocation 10M --format qcow2 --print-xml
vol-create-as images new.qcow2 1G --allocation 10M --format qcow2
vol-create images {xml}
vol-clone new.qcow2 copy.qcow2 --pool images
vol-resize copy.qcow2 2G --pool images
vol-resize --pool images --shrink --delta copy.qcow2 -- -512M
vol-info copy.qcow2 --pool images
vol-upload disk2.raw {upload} --pool images
vol-download disk2.raw {download} --pool images --length 3072
vol-wipe copy.qcow2 --pool images
vol-delete copy.qcow2 --pool images
vol-list images
""")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[0] == ("<volume>\n  <name>new.qcow2</name>\n  <capacity>1073741824</capacity>\n"
                      "  <allocation>10485760</allocation>\n  <target>\n"
                      "    <format type='qcow2'/>\n  </target>\n</volume>")
    assert out[1:6] == [
        "Vol new.qcow2 created", f"Vol fromxml.raw created from {xml}",
        "Vol copy.qcow2 cloned from new.qcow2",
        "Size of volume 'copy.qcow2' successfully changed to 2G",
        "Size of volume 'copy.qcow2' successfully changed by 512M",
    ]
    assert "Capacity:       1.50 GiB\n" in out[6]
    # vol-upload and vol-download print nothing (but the blank line); no progress off a terminal
    assert out[7:10] == ["", "Vol copy.qcow2 wiped", "Vol copy.qcow2 deleted"]
    assert "copy.qcow2" not in out[10] and "fromxml.raw" in out[10]
    assert download.read_bytes() == upload.read_bytes()
    assert r.stderr == ""


def test_vol_errors(run: Run, tmp_path: Path) -> None:
    r = run(*OBJECTS, stdin=f"""
vol-info nosuch
vol-info nosuch --pool images
vol-upload disk2.raw {tmp_path / 'missing.bin'} --pool images
vol-create-as images big.raw 20G
vol-resize --pool images disk2.raw -- -1M
vol-create-as images bad.raw 12QB
""")
    assert r.status == 2
    assert r.stderr.splitlines() == [
        "error: failed to get vol 'nosuch', specifying --pool might help",
        "error: Storage volume not found: no storage vol with matching path 'nosuch'",
        "error: failed to get vol 'nosuch'",
        r.stderr.splitlines()[3],
        f"error: cannot read {tmp_path / 'missing.bin'}",
        "error: No such file or directory",
        "error: Failed to create vol big.raw",
        r.stderr.splitlines()[7],
        "error: negative size requires --shrink",
        "error: Malformed size 12QB",
    ]
    assert not (tmp_path / "missing.bin").exists()


# -- domain devices and statistics --------------------------------------------------------------


def test_domblklist_domiflist(run: Run) -> None:
    r = run(*OBJECTS, stdin="domblklist web\ndomblklist web --details\ndomiflist web\n"
                            "domblklist db --json\ndomiflist nosuch\n")
    assert r.status == 1
    out = blocks(r.stdout)
    assert out[0] == (" Target   Source\n"
                      "-----------------------------------\n"
                      " vda      /srv/images/disk1.qcow2\n"
                      " sda      /srv/iso/install.iso")
    assert out[1] == (" Type   Device   Target   Source\n"
                      "---------------------------------------------------\n"
                      " file   disk     vda      /srv/images/disk1.qcow2\n"
                      " file   cdrom    sda      /srv/iso/install.iso")
    assert out[2] == (" Interface   Type      Source   Model    MAC\n"
                      "------------------------------------------------------------\n"
                      " -           network   lab      virtio   52:54:00:00:00:01")
    assert json.loads(out[3])[1] == {"type": "file", "device": "disk", "target": "vdb",
                                     "source": "/srv/other/data.img"}
    assert r.stderr.splitlines()[0] == "error: failed to get domain 'nosuch'"


def test_domstats(run: Run) -> None:
    r = run(*OBJECTS, "domstats", "--state", "--balloon", "--vcpu", "--block")
    assert r.status == 0, r.stderr
    web, db = r.stdout.split("\n\n")[:2]
    assert web.splitlines()[:6] == [
        "Domain: 'web'", "  state.state=1", "  state.reason=1", "  balloon.current=524288",
        "  balloon.maximum=1048576", "  balloon.available=1048576"]
    assert "  vcpu.current=2\n  vcpu.maximum=2\n  vcpu.0.state=1\n" in web
    assert "  block.count=2\n  block.0.name=vda\n" \
           "  block.0.path=/srv/images/disk1.qcow2\n  block.0.rd.reqs=" in web
    sizes = "  block.{0}.allocation=1099511627776\n  block.{0}.capacity=1099506450432\n" \
            "  block.{0}.physical=1099511627776\n"  # the test driver's (libvirt's) disk sizes
    assert db == ("Domain: 'db'\n  state.state=5\n  state.reason=0\n  balloon.current=262144\n"
                  "  balloon.maximum=262144\n  vcpu.current=1\n  vcpu.maximum=1\n"
                  "  block.count=2\n  block.0.name=vda\n  block.0.path=/srv/images/disk2.raw\n"
                  + sizes.format(0) + "  block.1.name=vdb\n  block.1.path=/srv/other/data.img\n"
                  + sizes.format(1)).rstrip("\n")
    r = run(*OBJECTS, "domstats", "--interface", "--list-running", "--json")
    data = json.loads(r.stdout)
    assert [d["name"] for d in data] == ["web"]
    assert data[0]["stats"]["net.count"] == 1 and data[0]["stats"]["net.0.name"] == "vnet0"
    assert "net.0.rx.bytes" in data[0]["stats"]


def test_attach_and_detach(run: Run) -> None:
    r = run(*OBJECTS, stdin="""
attach-disk web /srv/images/new.img vdb --subdriver raw --mode readonly --print-xml
attach-disk web /srv/images/disk2.raw vdb --driver qemu --subdriver raw --live
domblklist web
detach-disk web /srv/images/disk2.raw
detach-disk web vdz
attach-interface web network lab --mac 52:54:00:00:00:02 --model virtio --live
detach-interface web network
detach-interface web network --mac 52:54:00:00:00:02
detach-interface web bridge
attach-interface web user x
attach-disk web /x vdc --mode bogus
domiflist web
""")
    assert r.status == 1
    out = [line for line in r.stdout.splitlines() if line]
    assert out[:7] == ["<disk type='file'>", "  <driver type='raw'/>",
                       "  <source file='/srv/images/new.img'/>", "  <target dev='vdb'/>",
                       "  <readonly/>", "</disk>", "Disk attached successfully"]
    assert out[7:12] == [" Target   Source", "-" * 35, " vda      /srv/images/disk1.qcow2",
                         " sda      /srv/iso/install.iso", " vdb      /srv/images/disk2.raw"]
    assert out[12:15] == ["Disk detached successfully", "Interface attached successfully",
                          "Interface detached successfully"]
    assert out[15:] == [" Interface   Type      Source   Model    MAC", "-" * 60,
                        " -           network   lab      virtio   52:54:00:00:00:01"]
    assert r.stderr.splitlines() == [
        "error: No disk found whose source path or target is vdz",
        "error: Domain has 2 interfaces. Please specify which one to detach using --mac",
        "error: No interface found whose type is bridge",
        "error: No support for user in command 'attach-interface'",
        "error: No support for bogus in command 'attach-disk'",
    ]


def test_undefine_remove_all_storage(run: Run) -> None:
    r = run(*OBJECTS, stdin="undefine db --remove-all-storage\nvol-list images --json\n"
                            "undefine web --storage vdz\n")
    assert r.status == 1
    assert r.stdout.startswith(
        "Storage volume 'vdb'(/srv/other/data.img) is not managed by virtkit. Remove it "
        "manually.\n"
        "Domain 'db' has been undefined\n"
        "Volume 'vda'(/srv/images/disk2.raw) removed.\n\n"
    )
    assert [v["name"] for v in json.loads(blocks(r.stdout)[1])] == ["disk1.qcow2"]
    assert r.stderr == "error: Volume 'vdz' was not found in domain's definition.\n"


# -- snapshots ----------------------------------------------------------------------------------

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"


def test_snapshots_in_batch(run: Run, tmp_path: Path) -> None:
    xml = tmp_path / "snap.xml"
    xml.write_text("<domainsnapshot><name>s3</name></domainsnapshot>")
    r = run(*DEFAULT, stdin=f"""
snapshot-create-as test s1 --description first
snapshot-create-as test s2
snapshot-create test {xml}
snapshot-create-as test --print-xml --name s9 --description 'a <b>'
snapshot-list test
snapshot-list test --parent
snapshot-list test --tree
snapshot-list test --roots --name
snapshot-current test --name
snapshot-parent test s2
snapshot-parent test --current
snapshot-revert test s1 --paused
domstate test
snapshot-delete test s2 --children-only
snapshot-delete test s2
snapshot-list test --json
snapshot-dumpxml test s1
""")
    assert r.status == 0, r.stderr
    out = blocks(r.stdout)
    assert out[:3] == ["Domain snapshot s1 created", "Domain snapshot s2 created",
                       f"Domain snapshot s3 created from '{xml}'"]
    assert out[3] == ("<domainsnapshot>\n  <name>s9</name>\n"
                      "  <description>a &lt;b&gt;</description>\n</domainsnapshot>")
    lines = out[4].splitlines()
    assert lines[0] == " Name   Creation Time               State"
    assert lines[1] == "-" * 45
    assert [re.fullmatch(rf" s\d     {TIME}   running", line) is not None
            for line in lines[2:]] == [True] * 3
    lines = out[5].splitlines()
    assert lines[0] == " Name   Creation Time               State     Parent"
    assert lines[2].startswith(" s1 ") and lines[2].endswith("running   ")
    assert lines[4].endswith("running   s2")
    assert out[6] == "s1\n  |\n  +- s2\n      |\n      +- s3\n        "
    assert out[7:11] == ["s1", "s3", "s1", "s2"]
    assert out[11:13] == ["Domain snapshot s1 reverted", "paused"]  # virsh's confirmation
    assert out[13:15] == ["Domain snapshot s2 children deleted", "Domain snapshot s2 deleted"]
    listing, dumped = out[15].split("]\n")
    assert [s["name"] for s in json.loads(listing + "]")] == ["s1"]
    assert dumped.startswith("<domainsnapshot>\n  <name>s1</name>\n")


def test_snapshot_errors(run: Run) -> None:
    r = run(*DEFAULT, stdin="snapshot-current test\nsnapshot-dumpxml test nosuch\n"
                            "snapshot-create-as test s1\nsnapshot-parent test s1\n"
                            "snapshot-parent test s1 --current\n"
                            "snapshot-revert test s1 --running --paused\n")
    assert r.status == 2
    err = r.stderr.splitlines()
    assert err[1:] == [
        "error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'",
        "error: snapshot 's1' has no parent",
        "error: Options --current and SNAPSHOTNAME are mutually exclusive",
        "error: Options --running and --paused are mutually exclusive",
    ]
    assert err[0].startswith("error: ")


# -- console and migration ----------------------------------------------------------------------


def test_console_copies_stdin_and_output(run: Run) -> None:
    r = run(*DEFAULT, "console", "test", stdin="root\n")
    assert r.status == 0, r.stderr
    assert r.stdout == ("Connected to domain 'test'\n"
                        "Escape character is ^] (Ctrl + ])\n"
                        "\nvirtkit test console of 'test'\nlogin: root\n\n")  # text mode: \r\n
    r = run("-q", *DEFAULT, "console", "test", stdin="ab\x1dcd\n")
    assert r.stdout == "\nvirtkit test console of 'test'\nlogin: ab"
    r = run(*DEFAULT, stdin="destroy test\nconsole test\nstart test --console\n")
    assert r.status == 1
    assert r.stderr == "error: The domain is not running\n"
    assert "Domain 'test' started\nConnected to domain 'test'\n" in r.stdout


def test_migrate(run: Run) -> None:
    r = run(*DEFAULT, stdin=f"migrate --live --persistent --undefinesource test {OBJECTS_URI}\n"
                            "list --all --name\n")
    assert r.status == 0, r.stderr
    assert r.stdout == "\n\n"
    r = run(*DEFAULT, stdin="migrate test test:///default\nmigrate test test:///nonexist.xml\n"
                            "migrate --live --offline test test:///default\n")
    assert r.status == 2
    assert r.stderr.splitlines() == [
        "error: operation invalid: attempt to migrate a guest to the same host",
        "error: failed to connect to the hypervisor",
        "error: cannot load test node file '/nonexist.xml': No such file or directory",
        "error: Options --live and --offline are mutually exclusive",
    ]


def test_pool_capabilities_and_source_discovery(run: Run, tmp_path: Path) -> None:
    r = run(*DEFAULT, "pool-capabilities")
    assert r.status == 0, r.stderr
    assert r.stdout.startswith("<storagepoolCapabilities>\n  <pool type='dir' supported='yes'>")
    assert r.stdout.endswith("</storagepoolCapabilities>\n\n")
    spec = tmp_path / "spec.xml"
    spec.write_text("<source><host name='nas.example'/></source>")
    r = run(*DEFAULT, "find-storage-pool-sources", "netfs", "--srcSpec", str(spec))
    assert r.status == 0, r.stderr
    assert "<host name='nas.example'/>\n    <dir path='/testshare'/>" in r.stdout
    r = run(*DEFAULT, "find-storage-pool-sources", "warp")
    assert r.status == 1
    assert "error: Failed to find any warp pool sources\n" in r.stderr
    assert "unknown storage pool type 'warp'" in r.stderr
    r = run("-r", *DEFAULT, "find-storage-pool-sources", "logical")
    assert r.status == 1 and "read" in r.stderr.lower()
