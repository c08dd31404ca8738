"""cgroup v2 device access: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE built from the
allow list the v1 devices controller takes (``c 1:3 rwm``, ``c 136:* rwm``), loaded and attached
to the container's cgroup with the bpf(2) system call (through ctypes: no compiler, no library).

The kernel runs the program on every open and mknod of a device node by a process of the cgroup
(and of its descendants); the program answers 1 (allowed) when the device's type, major, minor
and the access asked for (read, write, mknod) match one rule, else 0 (EPERM). An attached
program stays attached to the cgroup after its file descriptor is closed, and goes with it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_PROG_LOAD, _PROG_ATTACH, _PROG_QUERY = 5, 8, 16
_PROG_TYPE_CGROUP_DEVICE = 15
_CGROUP_DEVICE = 6  # attach type
_DEV_BLOCK, _DEV_CHAR = 1, 2  # bpf_cgroup_dev_ctx.access_type, low 16 bits
_ACC = {"m": 1, "r": 2, "w": 4}  # ... and high 16 bits
_LICENSE = b"Apache-2.0"  # the program calls no helper: any license string is accepted


class DeviceFilterError(Exception):
    """The program could not be built, loaded or attached (the message says which)."""


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


_LDXW = 0x61  # dst = *(u32 *)(src + off)
_MOV64_K = 0xB7
_MOV64_X = 0xBF
_AND64_K = 0x57
_RSH64_K = 0x77
_JNE_K = 0x55  # if dst != imm: pc += off
_JSET_K = 0x45  # if dst & imm: pc += off
_EXIT = 0x95


def parse_rule(rule: str) -> tuple[int | None, int | None, int | None, int]:
    """``'c 1:3 rwm'`` -> (type, major, minor, access bits); None for ``a`` and ``*``."""
    try:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
        dtype = {"a": None, "b": _DEV_BLOCK, "c": _DEV_CHAR}[kind]
        bits = 0
        for ch in access:
            bits |= _ACC[ch]
        return (dtype, None if major == "*" else int(major),
                None if minor == "*" else int(minor), bits)
    except (ValueError, KeyError):
        raise DeviceFilterError(f"not a device rule: {rule!r} (as 'c 1:3 rwm')") from None


def program(rules: tuple[str, ...] | list[str]) -> bytes:
    """The program's instructions: allow what one of ``rules`` allows, deny the rest."""
    code = [
        _insn(_LDXW, dst=2, src=1, off=0),  # r2 = ctx->access_type
        _insn(_MOV64_X, dst=3, src=2),
        _insn(_AND64_K, dst=3, imm=0xFFFF),  # r3 = device type
        _insn(_RSH64_K, dst=2, imm=16),  # r2 = access asked for
        _insn(_LDXW, dst=4, src=1, off=4),  # r4 = major
        _insn(_LDXW, dst=5, src=1, off=8),  # r5 = minor
    ]
    for rule in rules:
        dtype, major, minor, bits = parse_rule(rule)
        tests: list[tuple[int, int, int]] = []  # (opcode, register, imm): jump to next if true
        if dtype is not None:
            tests.append((_JNE_K, 3, dtype))
        if major is not None:
            tests.append((_JNE_K, 4, major))
        if minor is not None:
            tests.append((_JNE_K, 5, minor))
        if ~bits & 7:
            tests.append((_JSET_K, 2, ~bits & 7))  # asks for an access the rule lacks
        for i, (op, reg, imm) in enumerate(tests):
            skip = len(tests) - i - 1 + 2  # the remaining tests, then "r0 = 1; exit"
            code.append(_insn(op, dst=reg, off=skip, imm=imm))
        code += [_insn(_MOV64_K, dst=0, imm=1), _insn(_EXIT)]
    code += [_insn(_MOV64_K, dst=0, imm=0), _insn(_EXIT)]
    return b"".join(code)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise DeviceFilterError(f"bpf(2): unknown system call number on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    ret = int(libc.syscall(nr, cmd, ctypes.byref(attr), len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def attach(cgroup_dir: str, rules: tuple[str, ...] | list[str]) -> None:
    """Load the program of ``rules`` and attach it to the v2 cgroup ``cgroup_dir`` (replacing
    one attached before). Raises DeviceFilterError naming the step and the cgroup."""
    insns = program(rules)
    buf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(_LICENSE)
    log = ctypes.create_string_buffer(16384)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, _PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                     ctypes.addressof(buf), ctypes.addressof(lic), 1, len(log),
                     ctypes.addressof(log))
    struct.pack_into("<16s", attr, 48, b"virtkit_lxc_dev")
    struct.pack_into("<I", attr, 68, _CGROUP_DEVICE)  # expected_attach_type
    try:
        prog_fd = _bpf(_PROG_LOAD, attr)
    except OSError as exc:
        detail = log.value.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise DeviceFilterError(f"cannot load the device filter for {cgroup_dir}: "
                                f"{exc.strerror} {detail[0]}".rstrip()) from None
    try:
        try:
            cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise DeviceFilterError(f"cannot open {cgroup_dir}: {exc.strerror}") from None
        try:
            attr = ctypes.create_string_buffer(128)
            struct.pack_into("<IIII", attr, 0, cg_fd, prog_fd, _CGROUP_DEVICE, 0)
            _bpf(_PROG_ATTACH, attr)
        except OSError as exc:
            raise DeviceFilterError(f"cannot attach the device filter to {cgroup_dir}: "
                                    f"{exc.strerror}") from None
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)


def attached(cgroup_dir: str) -> int:
    """How many device programs are attached to ``cgroup_dir`` itself."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<III", attr, 0, fd, _CGROUP_DEVICE, 0)
        _bpf(_PROG_QUERY, attr)
        return int(struct.unpack_from("<I", attr, 24)[0])  # prog_cnt
    finally:
        os.close(fd)
