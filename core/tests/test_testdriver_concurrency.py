"""8 threads doing random operations on shared domains for 10 s: only VirtErrors, and the
state is consistent afterwards."""

from __future__ import annotations

import random
import threading
import time
from functools import partial

import virtkit
from virtkit.drivers.test.node import shared_default_node
from virtkit.sdk.errors import VirtError
from virtkit.sdk.states import ACTIVE_STATES

XML = ("<domain type='test'><name>c{n}</name><memory>1024</memory><vcpu>2</vcpu>"
       "<os><type>hvm</type></os></domain>")
DISK = "<disk type='file' device='disk'><source file='/d{n}'/><target dev='vd{t}'/></disk>"


def _worker(seed: int, stop: float, errors: list[BaseException], counts: list[int]) -> None:
    rng = random.Random(seed)
    conn = virtkit.open("test:///default")
    done = 0
    try:
        while time.monotonic() < stop:
            n = rng.randrange(6)
            op = rng.randrange(12)
            try:
                if op == 0:
                    conn.define_xml(XML.format(n=n))
                elif op == 1:
                    conn.create_xml(XML.format(n=n).replace("<name>c", "<name>t"))
                else:
                    dom = conn.lookup_by_name(f"c{n}" if rng.random() < 0.8 else f"t{n}")
                    action = [dom.create, dom.suspend, dom.resume, dom.destroy, dom.shutdown,
                              dom.undefine, dom.info, partial(dom.set_vcpus, 1),
                              partial(dom.attach_device, DISK.format(n=n, t="bcdefg"[n])),
                              conn.list_domains][op - 2]
                    action()
            except VirtError:
                pass
            done += 1
    except BaseException as exc:  # anything but VirtError is a failure
        errors.append(exc)
    finally:
        counts.append(done)
        conn.close()


def test_eight_threads_for_ten_seconds() -> None:
    errors: list[BaseException] = []
    counts: list[int] = []
    stop = time.monotonic() + 10
    threads = [threading.Thread(target=_worker, args=(s, stop, errors, counts)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], errors
    assert sum(counts) > 1000, counts

    conn = virtkit.open("test:///default")
    node = shared_default_node()
    summaries = conn.list_domain_summaries()
    ids = [s.ref.id for s in summaries if s.ref.id != -1]
    assert len(ids) == len(set(ids)), "active ids are unique"
    with node.lock:
        assert set(node.names) == {s.ref.name for s in summaries}
        assert set(node.ids) == set(ids)
    for s in summaries:
        dom = conn.lookup_by_name(s.ref.name)
        state, _reason = dom.state()
        assert (state in ACTIVE_STATES) == (dom.id > 0)
        assert s.persistent or state in ACTIVE_STATES, "no inactive transient domain remains"
        info = dom.info()
        assert info.state == state and 1 <= info.nr_virt_cpu <= 2
