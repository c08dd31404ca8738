"""The test driver against libvirt's, in the same run: throughput, listing, memory.

    python bench/test_driver.py [--quick]

Runs one workload twice: on libvirt's test driver through python3-libvirt (Debian's binding,
built for the system Python, so that side runs in a /usr/bin/python3 subprocess), and on
virtkit's in this process. Prints each measure and the ratio (>= 1.0 means virtkit is at least
as good as libvirt):

- lifecycle ops/s: define, start, suspend, resume, destroy, undefine;
- lookup by name + info per second;
- listing 500 and 10,000 defined domains (all of them, with their names);
- resident memory added by 10,000 defined domains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

WORKLOAD = textwrap.dedent(
    r'''
    import json, sys, time

    def rss_kib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def xml(i):
        return ("<domain type='test'><name>bench%d</name><memory unit='MiB'>64</memory>"
                "<vcpu>1</vcpu><os><type>hvm</type></os></domain>" % i)

    def run(api, quick):
        conn = api.open("test:///default")
        cycles = 300 if quick else 2000
        t = time.perf_counter()
        for i in range(cycles):
            d = api.define(conn, xml(i))
            api.start(d); api.suspend(d); api.resume(d); api.destroy(d); api.undefine(d)
        lifecycle = cycles * 6 / (time.perf_counter() - t)
        n = 5000 if quick else 30000
        t = time.perf_counter()
        for _ in range(n):
            api.info(api.lookup(conn, "test"))
        lookups = n / (time.perf_counter() - t)
        out = {"lifecycle_ops_s": lifecycle, "lookup_info_s": lookups}
        base = rss_kib()
        defined = 0
        for size in (500, 10000):
            while defined < size - 1:  # plus the preloaded domain 'test'
                api.define(conn, xml(100000 + defined))
                defined += 1
            reps = 20 if size == 500 else 3
            t = time.perf_counter()
            for _ in range(reps):
                names = api.list_names(conn)
            out[f"list_{size}_ms"] = (time.perf_counter() - t) / reps * 1000
            assert len(names) == size, len(names)
        out["rss_10000_kib"] = rss_kib() - base
        return out
    '''
)

LIBVIRT_SIDE = WORKLOAD + textwrap.dedent(
    '''
    import libvirt

    class Api:
        open = staticmethod(libvirt.open)
        define = staticmethod(lambda c, x: c.defineXML(x))
        start = staticmethod(lambda d: d.create())
        suspend = staticmethod(lambda d: d.suspend())
        resume = staticmethod(lambda d: d.resume())
        destroy = staticmethod(lambda d: d.destroy())
        undefine = staticmethod(lambda d: d.undefine())
        lookup = staticmethod(lambda c, n: c.lookupByName(n))
        info = staticmethod(lambda d: d.info())
        list_names = staticmethod(lambda c: [d.name() for d in c.listAllDomains()])

    print(json.dumps(run(Api, "--quick" in sys.argv)))
    '''
)

VIRTKIT_SIDE = WORKLOAD + textwrap.dedent(
    '''
    import virtkit

    class Api:
        open = staticmethod(virtkit.open)
        define = staticmethod(lambda c, x: c.define_xml(x))
        start = staticmethod(lambda d: d.create())
        suspend = staticmethod(lambda d: d.suspend())
        resume = staticmethod(lambda d: d.resume())
        destroy = staticmethod(lambda d: d.destroy())
        undefine = staticmethod(lambda d: d.undefine())
        lookup = staticmethod(lambda c, n: c.lookup_by_name(n))
        info = staticmethod(lambda d: d.info())
        list_names = staticmethod(lambda c: [d.name for d in c.list_domains()])

    print(json.dumps(run(Api, "--quick" in sys.argv)))
    '''
)


def side(python: str, code: str, quick: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    args = [python, "-c", code] + (["--quick"] if quick else [])
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{python} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    quick = "--quick" in sys.argv
    libvirt = side("/usr/bin/python3", LIBVIRT_SIDE, quick)
    virtkit = side(sys.executable, VIRTKIT_SIDE, quick)
    rows = [
        ("lifecycle ops/s", "lifecycle_ops_s", True),
        ("lookup+info /s", "lookup_info_s", True),
        ("list 500 domains (ms)", "list_500_ms", False),
        ("list 10,000 domains (ms)", "list_10000_ms", False),
        ("RSS of 10,000 domains (KiB)", "rss_10000_kib", False),
    ]
    print(f"{'measure':30} {'libvirt':>12} {'virtkit':>12} {'ratio':>7}"
          "   (>= 1.0x: virtkit as good)")
    for label, key, higher_is_better in rows:
        lv, vk = libvirt[key], virtkit[key]
        ratio = (vk / lv) if higher_is_better else (lv / vk if vk else float("inf"))
        print(f"{label:30} {lv:12.1f} {vk:12.1f} {ratio:6.2f}x")


if __name__ == "__main__":
    main()
