"""The small device languages inside xl.cfg values: the disk specification
(xl-disk-configuration(5)), the vif, vfb and pci specifications and the vif rate.

Each is parsed into ordered ``key -> value`` pairs and written back in key=value form.
"""

from __future__ import annotations

import re

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = [
    "format_disk", "format_kv", "parse_disk", "parse_kv", "parse_pci_bdf", "parse_rate",
]

DISK_FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed", "empty")
ACCESS = {"r": "ro", "ro": "ro", "w": "rw", "rw": "rw"}
DISK_FLAGS = {"cdrom": ("devtype", "cdrom"), "direct-io-safe": ("direct-io-safe", "1"),
              "discard": ("discard", "1"), "no-discard": ("discard", "0")}
#: deprecated target prefixes: (backendtype or None, format)
PREFIXES = {
    "phy:": ("phy", "raw"), "file:": (None, "raw"), "tap:aio:": ("tap", "raw"),
    "tap:qcow2:": ("tap", "qcow2"), "tap:qcow:": ("tap", "qcow"), "tap:vhd:": ("tap", "vhd"),
    "tap2:aio:": ("tap", "raw"), "tap2:vhd:": ("tap", "vhd"), "aio:": (None, "raw"),
    "raw:": (None, "raw"), "qcow2:": (None, "qcow2"), "qcow:": (None, "qcow"),
    "vhd:": (None, "vhd"),
}


def bad(what: str, spec: str, why: str) -> VirtError:
    return VirtError(ErrorCode.CONF_SYNTAX, f"xl.cfg {what} '{spec}': {why}", ErrorDomain.XENXL)


def parse_disk(spec: str) -> dict[str, str]:
    """An xl disk specification as ``{"target":..., "format":..., "vdev":..., "access": "ro"
    or "rw", "backendtype":..., "devtype":..., other keys as written}``.

    Positional parameters are target, format, vdev, access; a target with a deprecated prefix
    (``phy:``, ``file:``, ``tap:aio:``...) takes vdev and access next. ``target=`` must come
    last and takes the rest of the string, commas included."""
    out: dict[str, str] = {}
    rest = spec.strip()
    target_kw: str | None = None
    m = re.search(r"(?:^|,)\s*target=", rest)
    if m:
        target_kw = rest[m.end():]
        rest = rest[:m.start()]
    positional: list[str] = []
    for part in (p.strip() for p in rest.split(",")) if rest else ():
        if "=" in part:
            k, v = part.split("=", 1)
            k, v = k.strip(), v.strip()
            if k == "access":
                v = _access(spec, v)
            out[k] = v
        elif part in DISK_FLAGS:
            k, v = DISK_FLAGS[part]
            out[k] = v
        else:
            positional.append(part)
    if target_kw is not None:
        if positional and positional[0] and "target" not in out:
            pass  # a positional target and target=: the keyword wins, positionals shift
        out["target"] = target_kw
        order = ["format", "vdev", "access"]
    else:
        order = ["target", "format", "vdev", "access"]
    if positional and target_kw is None:
        first = positional[0]
        for prefix, (backend, fmt) in PREFIXES.items():
            if first.startswith(prefix):
                positional[0] = first[len(prefix):]
                out.setdefault("format", fmt)
                if backend:
                    out.setdefault("backendtype", backend)
                order = ["target", "vdev", "access"]
                break
    if len(positional) > len(order):
        raise bad("disk", spec, "too many positional parameters")
    for key, value in zip(order, positional, strict=False):
        if value == "":
            continue
        if key == "access":
            value = _access(spec, value)
        if key == "format" and value not in DISK_FORMATS:
            raise bad("disk", spec, f"unknown format '{value}'")
        out.setdefault(key, value)
    if "vdev" not in out:
        raise bad("disk", spec, "no vdev (the guest's device name)")
    return out


def _access(spec: str, value: str) -> str:
    if value not in ACCESS:
        raise bad("disk", spec, f"access must be r, ro, w or rw, not '{value}'")
    return ACCESS[value]


def format_disk(d: dict[str, str]) -> str:
    """A disk specification in key=value form, ``target=`` last."""
    parts = [f"{k}={v}" for k, v in d.items() if k != "target"]
    parts.append(f"target={d.get('target', '')}")
    return ", ".join(parts)


def parse_kv(what: str, spec: str) -> dict[str, str]:
    """A ``key=value,key=value`` specification (vif, vfb, vtpm...); a bare word is ``word=1``."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not k.strip():
            raise bad(what, spec, f"'{part}' has no key")
        out[k.strip()] = v.strip() if sep else "1"
    return out


def format_kv(d: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in d.items())


_RATE = re.compile(r"^(\d+)([KMG]?)([Bb])/s(?:@(\d+)(us|ms|s))?$")
_MULT = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3}


def parse_rate(spec: str) -> tuple[int, str | None]:
    """A vif ``rate`` (``10Mb/s``, ``100KB/s@20ms``) as bytes per second and the replenish
    interval as written (or None). xl's units are decimal; ``b`` is bits, ``B`` bytes."""
    m = _RATE.match(spec.strip())
    if not m:
        raise bad("vif rate", spec, "expected RATE[KMG]{B,b}/s[@INTERVAL{us,ms,s}]")
    n = int(m.group(1)) * _MULT[m.group(2)]
    if m.group(3) == "b":
        if n % 8:
            raise bad("vif rate", spec, "a bit rate must be a whole number of bytes")
        n //= 8
    interval = f"{m.group(4)}{m.group(5)}" if m.group(4) else None
    return n, interval


_BDF = re.compile(r"^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])"
                  r"(?:@([0-9a-fA-F]{1,2}))?$")


def parse_pci_bdf(spec: str) -> tuple[tuple[int, int, int, int], int | None, dict[str, str]]:
    """A ``pci`` entry ``[DDDD:]BB:DD.F[@VSLOT][,key=value...]``: the host address, the guest
    slot (or None) and the options."""
    head, _, opts = spec.partition(",")
    m = _BDF.match(head.strip())
    if not m:
        raise bad("pci", spec, "expected [DDDD:]BB:DD.F[@VSLOT]")
    addr = (int(m.group(1) or "0", 16), int(m.group(2), 16), int(m.group(3), 16),
            int(m.group(4)))
    vslot = int(m.group(5), 16) if m.group(5) else None
    return addr, vslot, parse_kv("pci", opts) if opts else {}
