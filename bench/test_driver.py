"""The test driver against libvirt's, in the same run: throughput, listing, memory.

    python bench/test_driver.py [--quick] [--rounds N]

Runs one workload on libvirt's test driver through python3-libvirt (Debian's binding, built for
the system Python, so that side runs in a /usr/bin/python3 subprocess) and on virtkit's (a
subprocess of this Python), interleaved A B A B ... for N rounds (default 3; --quick: 2 rounds,
sizes up to 10,000), so that both sides see the same load on a shared machine. Prints, per
measure, each side's median and spread (min-max over the rounds) and the ratio of the medians
(>= 1.0 means virtkit is at least as good as libvirt):

- lifecycle ops/s: define, start, suspend, resume, destroy, undefine;
- lookup by name + info per second;
- listing 500, 10,000, 50,000 and 100,000 defined domains (all of them, with their names);
- define cost of the first and the last tenth of the defines up to 100,000 (flat: equal);
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
        sizes = (500, 10000) if quick else (500, 10000, 50000, 100000)
        costs = []
        for size in sizes:
            while defined < size - 1:  # plus the preloaded domain 'test'
                t = time.perf_counter()
                api.define(conn, xml(1000000 + defined))
                costs.append(time.perf_counter() - t)
                defined += 1
            if size == 10000:
                out["rss_10000_kib"] = rss_kib() - base
            reps = 20 if size == 500 else 3
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                names = api.list_names(conn)
                times.append(time.perf_counter() - t)
            out[f"list_{size}_ms"] = sorted(times)[len(times) // 2] * 1000
            assert len(names) == size, len(names)
        tenth = len(costs) // 10
        out["define_first_tenth_us"] = sum(costs[:tenth]) / tenth * 1e6
        out["define_last_tenth_us"] = sum(costs[-tenth:]) / tenth * 1e6
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
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"{python} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    import statistics

    quick = "--quick" in sys.argv
    rounds = 2 if quick else 3
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    runs: dict[str, list[dict[str, float]]] = {"libvirt": [], "virtkit": []}
    for i in range(rounds):  # A B A B ...: both sides see the same load
        runs["libvirt"].append(side("/usr/bin/python3", LIBVIRT_SIDE, quick))
        runs["virtkit"].append(side(sys.executable, VIRTKIT_SIDE, quick))
        print(f"round {i + 1}/{rounds} done", file=sys.stderr)
    sizes = ("500", "10,000") if quick else ("500", "10,000", "50,000", "100,000")
    rows = [
        ("lifecycle ops/s", "lifecycle_ops_s", True),
        ("lookup+info /s", "lookup_info_s", True),
        *[(f"list {n} domains (ms)", f"list_{n.replace(',', '')}_ms", False) for n in sizes],
        ("define, first tenth (us)", "define_first_tenth_us", False),
        ("define, last tenth (us)", "define_last_tenth_us", False),
        ("RSS of 10,000 domains (KiB)", "rss_10000_kib", False),
    ]

    def cell(side_runs: list[dict[str, float]], key: str) -> tuple[float, str]:
        values = [r[key] for r in side_runs]
        med = statistics.median(values)
        return med, f"{med:10.1f} ({min(values):.1f}-{max(values):.1f})"

    print(f"{'measure':30} {'libvirt median (min-max)':>30} {'virtkit median (min-max)':>30}"
          f" {'ratio':>7}   ({rounds} rounds ABAB; >= 1.0x: virtkit as good)")
    for label, key, higher_is_better in rows:
        lv, lv_text = cell(runs["libvirt"], key)
        vk, vk_text = cell(runs["virtkit"], key)
        ratio = (vk / lv) if higher_is_better else (lv / vk if vk else float("inf"))
        print(f"{label:30} {lv_text:>30} {vk_text:>30} {ratio:6.2f}x")
    for name, side_runs in runs.items():
        flat = [r["define_last_tenth_us"] / r["define_first_tenth_us"] for r in side_runs]
        print(f"{name}: define cost, last tenth / first tenth: "
              + ", ".join(f"{f:.2f}" for f in flat))


if __name__ == "__main__":
    main()
