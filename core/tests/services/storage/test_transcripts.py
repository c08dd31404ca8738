"""logical (lvm2) and iscsi (open-iscsi) pools against RECORDED TRANSCRIPTS.

This machine's kernel has no device-mapper and no iscsi_tcp, so logical volumes cannot be
activated and iSCSI sessions cannot log in here. These tests check the exact command sequence
each pool operation runs and how the output is read, by replaying transcripts:

- logical: the pvcreate, vgcreate, vgs, vgchange, vgremove and pvremove steps (and their output)
  were recorded on this machine with lvm2 2.03.16 on a loop device; lvcreate, lvs with volumes,
  lvresize and lvremove fail here without device-mapper, so their output is written in lvm2's
  report format (``--noheadings --units b --nosuffix --separator '#'``) — labelled "written".
- iscsi: every step is written in open-iscsi 2.1.8's output format — labelled "written"; none
  was run against a target.
"""

from __future__ import annotations

import pytest
from storagekit import vol_xml

import virtkit
from virtkit.sdk.errors import ErrorCode

MiB = 1024 * 1024
REPORT = ["--noheadings", "--units", "b", "--nosuffix", "--separator", "#"]
LVS = ["lvs", *REPORT, "-o", "lv_name,lv_uuid,lv_size,lv_attr", "vg0"]
VGS = ["vgs", *REPORT, "-o", "vg_size,vg_free", "vg0"]
LV1 = "  lv1#2mB0fR-oQ2l-Tz6e-Xa1x-3Jkq-aYb1-9ZyQpw#16777216#-wi-a-----\n"
LV1_32 = LV1.replace("16777216", "33554432")

LOGICAL = [
    # pool build, recorded here
    (["pvcreate", "/dev/loop7"], 0, '  Physical volume "/dev/loop7" successfully created.\n', ""),
    (["vgcreate", "vg0", "/dev/loop7"], 0, '  Volume group "vg0" successfully created\n', ""),
    # pool start, recorded here
    (["vgchange", "-aay", "vg0"], 0,
     '  0 logical volume(s) in volume group "vg0" now active\n', ""),
    # pool info, recorded here
    (VGS, 0, "  130023424#130023424\n", ""),
    # volume create: lvs (name free), vgs (space), lvcreate — written
    (LVS, 0, "", ""),
    (VGS, 0, "  130023424#130023424\n", ""),
    (["lvcreate", "--yes", "--name", "lv1", "-L", "16777216b", "vg0"], 0,
     '  Logical volume "lv1" created.\n', ""),
    # list, info — written
    (LVS, 0, LV1, ""),
    (LVS, 0, LV1, ""),
    # resize to 32 MiB: lvs, vgs (space), lvresize — written
    (LVS, 0, LV1, ""),
    (VGS, 0, "  130023424#113246208\n", ""),
    (["lvresize", "-L", "33554432b", "vg0/lv1"], 0,
     "  Size of logical volume vg0/lv1 changed from 16.00 MiB (4 extents) to 32.00 MiB "
     "(8 extents).\n  Logical volume vg0/lv1 successfully resized.\n", ""),
    # delete — written
    (LVS, 0, LV1_32, ""),
    (["lvremove", "-f", "vg0/lv1"], 0, '  Logical volume "lv1" successfully removed.\n', ""),
    # pool stop and delete, recorded here
    (["vgchange", "-aan", "vg0"], 0,
     '  0 logical volume(s) in volume group "vg0" now active\n', ""),
    (["vgremove", "-f", "vg0"], 0, '  Volume group "vg0" successfully removed\n', ""),
    (["pvremove", "/dev/loop7"], 0,
     '  Labels on physical volume "/dev/loop7" successfully wiped.\n', ""),
]


def test_logical_pool_command_sequence(conn, transcript):
    t = transcript(LOGICAL)
    p = conn.storage_pool_define_xml(
        "<pool type='logical'><name>vg0</name><source><device path='/dev/loop7'/>"
        "<name>vg0</name></source><target><path>/dev/vg0</path></target></pool>")
    p.build()
    p.create()
    info = p.info()
    assert (info.capacity, info.allocation, info.available) == (130023424, 0, 130023424)
    vol = p.create_xml(vol_xml("lv1", 16 * MiB))
    assert vol.path == "/dev/vg0/lv1"
    assert p.list_volume_names() == ["lv1"]
    vi = vol.info()
    assert (vi.type, vi.capacity) == (1, 16 * MiB)
    vol.resize(32 * MiB)
    vol.delete()
    p.destroy()
    p.delete()
    t.done()


def test_logical_volume_names_and_formats_are_checked(conn, transcript):
    t = transcript([
        (["vgchange", "-aay", "vg0"], 0, "", ""),
    ])
    p = conn.storage_pool_create_xml(
        "<pool type='logical'><name>vg0</name><source><name>vg0</name></source>"
        "<target><path>/dev/vg0</path></target></pool>")
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml("lv1", MiB, "qcow2"))
    assert e.value.code == ErrorCode.INVALID_ARG and "raw" in str(e.value)
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml("-bad", MiB, allocation=0))
    assert e.value.code == ErrorCode.INVALID_ARG and "logical volume name" in str(e.value)
    t.done()


def test_lvcreate_failure_is_reported_with_lvm2s_message(conn, transcript):
    t = transcript([
        (["vgchange", "-aay", "vg0"], 0, "", ""),
        (LVS, 0, "", ""),
        (["lvcreate", "--yes", "--name", "lv9", "-L", "1048576b", "vg0"], 5, "",
         # recorded here: what lvcreate says without device-mapper
         "  /dev/mapper/control: open failed: No such device\n"
         "  striped: Required device-mapper target(s) not detected in your kernel.\n"),
    ])
    p = conn.storage_pool_create_xml(
        "<pool type='logical'><name>vg0</name><source><name>vg0</name></source>"
        "<target><path>/dev/vg0</path></target></pool>")
    with pytest.raises(virtkit.VirtError) as e:
        p.create_xml(vol_xml("lv9", MiB, allocation=0))
    assert e.value.code == ErrorCode.OPERATION_FAILED
    assert "lv9" in str(e.value) and "device-mapper" in str(e.value)
    t.done()


IQN = "iqn.2024-01.org.example:store"
NODE = ["iscsiadm", "--mode", "node", "--targetname", IQN, "--portal", "192.0.2.10:3260"]
SESSION_LIST = f"tcp: [3] 192.0.2.10:3260,1 {IQN} (non-flash)\n"
SESSION_P3 = f"""iSCSI Transport Class version 2.0-870
version 2.1.8
Target: {IQN} (non-flash)
\tCurrent Portal: 192.0.2.10:3260,1
\tPersistent Portal: 192.0.2.10:3260,1
\t\t**********
\t\tInterface:
\t\t**********
\t\tIface Name: default
\t\tSID: 3
\t\tiSCSI Connection State: LOGGED IN
\t\tiSCSI Session State: LOGGED_IN
\t\t************************
\t\tAttached SCSI devices:
\t\t************************
\t\tHost Number: 4\tState: running
\t\tscsi4 Channel 00 Id 0 Lun: 0
\t\tscsi4 Channel 00 Id 0 Lun: 1
\t\t\tAttached scsi disk sdb\t\tState: running
\t\tscsi4 Channel 00 Id 0 Lun: 2
\t\t\tAttached scsi disk sdc\t\tState: running
"""
SCAN = [
    (["iscsiadm", "--mode", "session"], 0, SESSION_LIST, ""),
    (["iscsiadm", "--mode", "session", "-r", "3", "-P", "3"], 0, SESSION_P3, ""),
    (["blockdev", "--getsize64", "/dev/sdb"], 0, "1073741824\n", ""),
    (["blockdev", "--getsize64", "/dev/sdc"], 0, "2147483648\n", ""),
]

ISCSI = [
    # start: no session yet (exit 21), discovery, login — all written
    (["iscsiadm", "--mode", "session"], 21, "", "iscsiadm: No active sessions.\n"),
    (["iscsiadm", "--mode", "discovery", "--type", "sendtargets", "--portal",
      "192.0.2.10:3260"], 0, f"192.0.2.10:3260,1 {IQN}\n192.0.2.10:3260,1 iqn.other:x\n", ""),
    ([*NODE, "--login"], 0,
     f"Logging in to [iface: default, target: {IQN}, portal: 192.0.2.10,3260]\n"
     f"Login to [iface: default, target: {IQN}, portal: 192.0.2.10,3260] successful.\n", ""),
    *SCAN,  # list
    *SCAN,  # lookup of unit:0:0:2
    *SCAN,  # its info
    *SCAN,  # pool info
    # stop — written
    (["iscsiadm", "--mode", "session"], 0, SESSION_LIST, ""),
    ([*NODE, "--logout"], 0,
     f"Logging out of session [sid: 3, target: {IQN}, portal: 192.0.2.10,3260]\n"
     f"Logout of [sid: 3, target: {IQN}, portal: 192.0.2.10,3260] successful.\n", ""),
]


def test_iscsi_pool_command_sequence(conn, transcript):
    t = transcript(ISCSI)
    p = conn.storage_pool_create_xml(
        f"<pool type='iscsi'><name>san</name><source><host name='192.0.2.10'/>"
        f"<device path='{IQN}'/></source><target><path>/dev/disk/by-path</path></target>"
        f"</pool>")
    assert p.list_volume_names() == ["unit:0:0:1", "unit:0:0:2"]
    vol = p.storage_vol_lookup_by_name("unit:0:0:2")
    assert vol.path == "/dev/sdc" and vol.info().capacity == 2 * 1024 * MiB
    info = p.info()
    assert (info.capacity, info.available) == (3 * 1024 * MiB, 0)
    p.destroy()
    t.done()


def test_iscsi_target_not_offered_and_no_volume_creation(conn, transcript):
    t = transcript([
        (["iscsiadm", "--mode", "session"], 21, "", ""),
        (["iscsiadm", "--mode", "discovery", "--type", "sendtargets", "--portal",
          "192.0.2.10:3260"], 0, "192.0.2.10:3260,1 iqn.other:x\n", ""),
    ])
    xml = (f"<pool type='iscsi'><name>san</name><source><host name='192.0.2.10'/>"
           f"<device path='{IQN}'/></source><target><path>/dev/disk/by-path</path></target>"
           f"</pool>")
    with pytest.raises(virtkit.VirtError) as e:
        conn.storage_pool_create_xml(xml)
    assert e.value.code == ErrorCode.OPERATION_FAILED and IQN in str(e.value)
    t.done()
    p = conn.storage_pool_define_xml(xml)
    with pytest.raises(virtkit.VirtError) as e:
        p.build()
    assert e.value.code == ErrorCode.OPERATION_UNSUPPORTED and "san" in str(e.value)
