"""The pytest plugin (entry point ``pytest11``): options, markers, fixtures, the "not supported"
rule, and the result record.

Options: ``--virtkit-uri URI`` (the driver under test), ``--virtkit-uri2 URI`` (a second host for
migration; for ``test:///`` URIs a fresh node file is made when none is given),
``--virtkit-prefix`` (``vkcert-``), ``--virtkit-only GROUP[,GROUP]``, ``--virtkit-json FILE``,
``--virtkit-timeout`` (seconds a guest may take to shut down), ``--virtkit-event-timeout``.

The rule: a test marked ``ops(...)``/``requires(...)`` that the driver lacks is skipped with a
reason starting "not supported:". A NO_SUPPORT error raised during a test is "not supported" when
the operation it names is not supported by the driver, and a failure when it is.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import GROUPS, NOT_SUPPORTED, __version__
from .kit import Kit, kit_for, pool_xml, remove_pool, sweep
from .requirements import Requirements

if TYPE_CHECKING:
    from virtkit.api.connection import Connection
    from virtkit.api.storage import StoragePool

ConnectionFactory = Callable[..., "Connection"]

_CONN = pytest.StashKey["Connection"]()
_REQ = pytest.StashKey[Requirements]()
_RESULTS = pytest.StashKey[dict[str, dict[str, Any]]]()
_START = pytest.StashKey[float]()
_FACTS = pytest.StashKey[dict[str, Any]]()

_NO_SUPPORT_OP = re.compile(r":\s*(\w+) is not implemented by driver")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("virtkit", "virtkit conformance suite")
    group.addoption("--virtkit-uri", default=None, help="URI of the driver under test")
    group.addoption("--virtkit-uri2", default=None,
                    help="URI of a second host (migration destination)")
    group.addoption("--virtkit-prefix", default="vkcert-",
                    help="prefix of every object the suite creates (and may delete)")
    group.addoption("--virtkit-only", default=None,
                    help="comma-separated groups to run (default: all)")
    group.addoption("--virtkit-json", default=None, help="write the JSON result record here")
    group.addoption("--virtkit-timeout", type=float, default=30.0,
                    help="seconds a guest may take to shut down")
    group.addoption("--virtkit-event-timeout", type=float, default=2.0,
                    help="seconds to wait for an expected event")
    group.addoption("--virtkit-domain-type", default=None,
                    help="<domain type=...> for generated XML (default: from capabilities)")
    group.addoption("--virtkit-os-type", default=None,
                    help="<os><type> for generated XML (default: from capabilities)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "group(name): the conformance group of a test")
    config.addinivalue_line("markers", "ops(*names): hooks the test needs (without virtkit_)")
    config.addinivalue_line("markers", "requires(*flags): capability flags the test needs")
    config.stash[_RESULTS] = {}
    config.stash[_START] = time.time()


def group_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("group")
    return str(marker.args[0]) if marker is not None and marker.args else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only = config.getoption("--virtkit-only")
    if not only:
        return
    wanted = {g.strip() for g in only.split(",") if g.strip()}
    unknown = wanted - set(GROUPS)
    if unknown:
        raise pytest.UsageError(f"unknown conformance group(s): {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(GROUPS)})")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        group = group_of(item)
        (keep if group is None or group in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def virtkit_connection_factory() -> ConnectionFactory:
    """``factory(uri, read_only=False) -> Connection``; override it to inject a connection."""
    import virtkit

    def factory(uri: str, read_only: bool = False) -> Connection:
        return virtkit.open(uri, read_only=read_only)

    return factory


@pytest.fixture(scope="session")
def virtkit_uri(pytestconfig: pytest.Config) -> str:
    uri = pytestconfig.getoption("--virtkit-uri") or os.environ.get("VIRTKIT_CERT_URI")
    if not uri:
        pytest.skip("no driver under test: give --virtkit-uri URI")
    return str(uri)


@pytest.fixture(scope="session")
def virtkit_prefix(pytestconfig: pytest.Config) -> str:
    prefix = str(pytestconfig.getoption("--virtkit-prefix"))
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{1,15}", prefix):
        raise pytest.UsageError(f"--virtkit-prefix {prefix!r}: letters, digits, _ and -, "
                                f"2 to 16 characters, starting with a letter")
    return prefix


@pytest.fixture(scope="session")
def vk_conn(
    pytestconfig: pytest.Config,
    virtkit_connection_factory: ConnectionFactory,
    virtkit_uri: str,
    virtkit_prefix: str,
) -> Iterator[Connection]:
    """The read-write connection to the driver under test (swept of leftovers before and
    after the session)."""
    conn = virtkit_connection_factory(virtkit_uri)
    pytestconfig.stash[_CONN] = conn
    pytestconfig.stash[_FACTS] = {"host": _host_facts(conn), "driver": _driver_facts(conn)}
    sweep(conn, virtkit_prefix)
    yield conn
    sweep(conn, virtkit_prefix)
    with contextlib.suppress(Exception):
        conn.close()


@pytest.fixture(scope="session")
def vk_ro_conn(virtkit_connection_factory: ConnectionFactory, virtkit_uri: str,
               vk_conn: Connection) -> Iterator[Connection]:
    conn = virtkit_connection_factory(virtkit_uri, read_only=True)
    yield conn
    with contextlib.suppress(Exception):
        conn.close()


@pytest.fixture(scope="session")
def virtkit_uri2(pytestconfig: pytest.Config, virtkit_uri: str,
                 tmp_path_factory: pytest.TempPathFactory) -> str | None:
    uri2 = pytestconfig.getoption("--virtkit-uri2") or os.environ.get("VIRTKIT_CERT_URI2")
    if uri2:
        return str(uri2)
    if virtkit_uri.startswith("test:///"):
        node = tmp_path_factory.mktemp("vkcert-dest") / "dest.xml"
        node.write_text("<node></node>")
        return f"test://{node}"
    return None


MIGRATION_HOOKS = ("migrate_begin", "migrate_prepare", "migrate_perform", "migrate_finish",
                   "migrate_confirm")


@pytest.fixture(scope="session")
def vk_conn2(virtkit_connection_factory: ConnectionFactory, virtkit_uri2: str | None,
             virtkit_prefix: str, vk_conn: Connection,
             virtkit_requirements: Requirements) -> Iterator[Connection]:
    """The second host (migration destination)."""
    if not any(virtkit_requirements.supports(op) for op in MIGRATION_HOOKS):
        pytest.skip(f"{NOT_SUPPORTED} the driver implements no migration hooks")
    if virtkit_uri2 is None:
        pytest.skip(f"{NOT_SUPPORTED} migration needs a second host (--virtkit-uri2)")
    conn = virtkit_connection_factory(virtkit_uri2)
    sweep(conn, virtkit_prefix)
    yield conn
    sweep(conn, virtkit_prefix)
    with contextlib.suppress(Exception):
        conn.close()


@pytest.fixture(scope="session")
def vk_job_conn(virtkit_connection_factory: ConnectionFactory, virtkit_uri: str,
                vk_conn: Connection) -> Iterator[Connection]:
    """A connection to the same host whose jobs last long enough to watch and abort: the URI
    with the driver's ``capabilities["job_uri_params"]`` added, or the main connection."""
    params = dict(getattr(vk_conn.driver, "capabilities", {}).get("job_uri_params") or {})
    if not params:
        yield vk_conn
        return
    from urllib.parse import urlencode

    sep = "&" if "?" in virtkit_uri else "?"
    conn = virtkit_connection_factory(f"{virtkit_uri}{sep}{urlencode(params)}")
    yield conn
    with contextlib.suppress(Exception):
        conn.close()


@pytest.fixture(scope="session")
def virtkit_requirements(vk_conn: Connection) -> Requirements:
    """The driver's requirements record; override to declare finer flags by hand."""
    return Requirements.from_connection(vk_conn)


def guest_types(capabilities: str) -> list[tuple[str, str]]:
    """The (domain type, OS type) pairs a capabilities document offers, in document order."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    found: list[tuple[str, str]] = []
    root = etree.fromstring(capabilities.encode(), parser)
    for guest in root.iterfind("guest"):
        os_type = (guest.findtext("os_type") or "").strip()
        for dom in guest.iterfind("arch/domain"):
            pair = (str(dom.get("type") or ""), os_type)
            if all(pair) and pair not in found:
                found.append(pair)
    return found


@pytest.fixture(scope="session")
def vk_guest_type(pytestconfig: pytest.Config, vk_conn: Connection) -> tuple[str, str]:
    """(domain type, OS type) of the generated domain XML: the first guest of the driver's
    capabilities (with the given ``--virtkit-domain-type``, if any), unless
    ``--virtkit-os-type`` says otherwise. A driver without a capabilities document gets its
    connection type and ``hvm``."""
    from virtkit.sdk.errors import VirtError

    want_dom = pytestconfig.getoption("--virtkit-domain-type")
    want_os = pytestconfig.getoption("--virtkit-os-type")
    try:
        pairs = guest_types(vk_conn.get_capabilities())
    except VirtError:
        pairs = []
    if want_dom:
        pairs = [p for p in pairs if p[0] == want_dom] or [(str(want_dom), "hvm")]
    dom_type, os_type = pairs[0] if pairs else (vk_conn.get_type(), "hvm")
    return dom_type, str(want_os or os_type)


@pytest.fixture(scope="session")
def vk_domain_type(vk_guest_type: tuple[str, str]) -> str:
    return vk_guest_type[0]


@pytest.fixture(scope="session")
def vk_workdir(tmp_path_factory: pytest.TempPathFactory, virtkit_prefix: str) -> Path:
    return tmp_path_factory.mktemp(f"{virtkit_prefix}work")


@pytest.fixture
def vk(pytestconfig: pytest.Config, vk_conn: Connection, virtkit_prefix: str,
       vk_workdir: Path, vk_guest_type: tuple[str, str]) -> Iterator[Kit]:
    """The per-test helper; every object made through it is removed after the test."""
    workdir = tempfile.mkdtemp(prefix=virtkit_prefix, dir=vk_workdir)
    with kit_for(vk_conn, virtkit_prefix, workdir,
                 float(pytestconfig.getoption("--virtkit-event-timeout")),
                 *vk_guest_type) as kit:
        yield kit


@pytest.fixture
def vk_pool(vk: Kit) -> StoragePool:
    """An active ``vkcert-`` directory pool in the test's own work directory (removed after)."""
    name = vk.name("pool")
    pool = vk.conn.storage_pool_define_xml(pool_xml(name, vk.path(name)))
    vk.track(lambda: remove_pool(pool, vk.prefix))
    pool.build()
    pool.create()
    return pool


@pytest.fixture(autouse=True)
def _vk_capability_gate(request: pytest.FixtureRequest) -> None:
    """Skip, as "not supported", a conformance test whose ops or flags the driver lacks."""
    item = request.node
    if not isinstance(item, pytest.Item) or group_of(item) is None:
        return
    ops: list[str] = []
    flags: list[str] = []
    for marker in item.iter_markers("ops"):
        ops.extend(str(a) for a in marker.args)
    for marker in item.iter_markers("requires"):
        flags.extend(str(a) for a in marker.args)
    if not ops and not flags:
        return
    req: Requirements = request.getfixturevalue("virtkit_requirements")
    request.config.stash[_REQ] = req
    missing = req.missing(tuple(ops), tuple(flags))
    if missing:
        pytest.skip(f"{NOT_SUPPORTED} {', '.join(missing)}")


# -- NO_SUPPORT during a test ---------------------------------------------------------------------


def _unsupported_reason(config: pytest.Config, exc: BaseException) -> str | None:
    """The skip reason when ``exc`` is a NO_SUPPORT for an operation the driver does not
    support; None when it must count as a failure."""
    from virtkit.sdk.errors import ErrorCode, VirtError

    if not isinstance(exc, VirtError) or exc.code != ErrorCode.NO_SUPPORT:
        return None
    found = _NO_SUPPORT_OP.search(exc.message)
    op = found.group(1) if found else None
    req = config.stash.get(_REQ, None)
    if req is None and _CONN in config.stash:
        req = Requirements.from_connection(config.stash[_CONN])
        config.stash[_REQ] = req
    if op is None or req is None:
        return None
    if req.supports(op):
        return None  # declared (by its hookimpl or the record) yet refused: a failure
    return f"{NOT_SUPPORTED} {op} ({exc.message})"


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    try:
        return (yield)
    except BaseException as exc:
        reason = _unsupported_reason(pyfuncitem.config, exc)
        if reason is not None:
            pytest.skip(reason)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    except BaseException as exc:
        reason = _unsupported_reason(item.config, exc)
        if reason is not None:
            pytest.skip(reason)
        raise


# -- results --------------------------------------------------------------------------------------

_EXAMPLE = re.compile(r"Falsifying example", re.I)


def _example(text: str) -> str | None:
    """The minimal failing example Hypothesis printed, if any."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _EXAMPLE.search(line) or line.lstrip("E ").startswith("state = "):
            out: list[str] = []
            for raw in lines[i:]:
                stripped = re.sub(r"^E\s{0,3}", "", raw)
                if raw.startswith(("___", "===")) or (out and raw.startswith("-" * 10)):
                    break
                out.append(stripped.rstrip())
                if stripped.strip() == "state.teardown()":
                    break
            return "\n".join(out[:80]).strip() or None
    return None


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text[len("Skipped: "):] if text.startswith("Skipped: ") else text
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(longrepr or "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    group = group_of(item)
    if group is None:
        return report
    results = item.config.stash[_RESULTS]
    entry = results.setdefault(item.nodeid, {
        "nodeid": item.nodeid,
        "name": item.name,
        "class": item.cls.__name__ if isinstance(item, pytest.Function) and item.cls else None,
        "group": group,
        "outcome": "passed",
        "message": "",
        "duration": 0.0,
        "example": None,
    })
    entry["duration"] = round(entry["duration"] + report.duration, 4)
    if report.failed:
        if entry["outcome"] != "failed":
            entry["outcome"] = "failed"
            entry["message"] = _message(report)[:2000]
            text = report.longreprtext
            entry["example"] = _example(text)
            if report.when != "call":
                entry["message"] = f"error in {report.when}: {entry['message']}"
    elif report.skipped and entry["outcome"] == "passed":
        msg = _message(report)
        entry["outcome"] = "not-supported" if msg.startswith(NOT_SUPPORTED) else "skipped"
        entry["message"] = msg[:2000]
    return report


def _host_facts(conn: Connection | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if conn is None:
        return facts
    from virtkit.sdk.errors import VirtError

    for key, fn in (("hostname", conn.get_hostname), ("hypervisor_version", conn.get_version)):
        with contextlib.suppress(VirtError):
            facts[key] = fn()
    with contextlib.suppress(VirtError):
        info = conn.node_info()
        facts["node"] = {"model": info.model, "memory_kib": info.memory, "cpus": info.cpus,
                         "mhz": info.mhz, "nodes": info.nodes}
    return facts


def _driver_facts(conn: Connection | None) -> dict[str, Any]:
    facts: dict[str, Any] = {"name": None, "class": None, "distribution": None, "version": None,
                             "backend": "real"}
    if conn is None:
        return facts
    cls = type(conn.driver)
    facts["name"] = conn.driver_name
    facts["backend"] = str((getattr(conn.driver, "capabilities", {}) or {}).get("backend", "real"))
    facts["class"] = f"{cls.__module__}:{cls.__qualname__}"
    with contextlib.suppress(Exception):
        from virtkit.runtime import registry

        for entry in registry.drivers():
            if entry.target == facts["class"]:
                facts["distribution"], facts["version"] = entry.distribution, entry.version
                break
    if facts["distribution"] is None:
        # an injected or subclassed driver: name the distribution of its module, if any
        with contextlib.suppress(Exception):
            from importlib.metadata import packages_distributions, version

            top = cls.__module__.split(".")[0]
            dists = packages_distributions().get(top, [])
            if dists:
                facts["distribution"], facts["version"] = dists[0], version(dists[0])
    return facts


def build_record(config: pytest.Config) -> dict[str, Any]:
    from .results import summarize

    conn = config.stash.get(_CONN, None)
    uri = config.getoption("--virtkit-uri")
    req = config.stash.get(_REQ, None)
    if req is None and conn is not None:
        with contextlib.suppress(Exception):
            req = Requirements.from_connection(conn)
    facts = config.stash.get(_FACTS, {})
    tests = sorted(config.stash[_RESULTS].values(), key=lambda t: t["nodeid"])
    record: dict[str, Any] = {
        "suite": {"name": "virtkit-conformance", "version": __version__},
        "uri": uri,
        "driver": facts.get("driver") or _driver_facts(None),
        "host": facts.get("host") or _host_facts(None),
        "requirements": req.to_dict() if req is not None else None,
        "started": config.stash[_START],
        "duration_s": round(time.time() - config.stash[_START], 3),
        "tests": tests,
    }
    record["backend"] = record["driver"].get("backend", "real")
    record.update(summarize(tests, record["backend"]))
    with contextlib.suppress(Exception):
        import virtkit

        record["virtkit_version"] = virtkit.__version__
    return record


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not config.stash[_RESULTS]:
        return
    record = build_record(config)
    config.stash[_RECORD] = record
    path = config.getoption("--virtkit-json")
    if path:
        import json

        Path(path).write_text(json.dumps(record, indent=2) + "\n")


_RECORD = pytest.StashKey[dict[str, Any]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    record = config.stash.get(_RECORD, None)
    if record is None:
        return
    from .results import summary_lines

    terminalreporter.section("virtkit conformance")
    for line in summary_lines(record):
        terminalreporter.write_line(line)
