"""Long jobs: a progress line while the job runs, and Ctrl-C aborting the job cleanly.

The job runs in a worker thread so the main thread stays free for Ctrl-C. While it runs, the main
thread polls the domain's job information and draws virsh's ``Save: [ 45 %]`` on stderr when
stdout is a terminal (or ``--verbose``). Ctrl-C asks the driver to abort the job and waits for
the job to end, so the domain is left in a clear state either way.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from virtkit.cli.state import CliState, CommandError

if TYPE_CHECKING:
    from virtkit.api.domain import Domain

POLL_SECONDS = 0.1


def run_job(
    state: CliState, label: str, work: Callable[[], None], dom: Domain, verbose: bool = False
) -> None:
    """Run ``work`` (a job on ``dom``), showing progress and handling Ctrl-C."""
    conn = dom.connection
    show = (verbose or sys.stdout.isatty()) and not state.quiet and conn.implements(
        "domain_get_job_info")
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    worker = threading.Thread(target=target, name=f"virtkit-{label.lower()}", daemon=True)
    # As virsh does while it watches a job, Ctrl-C aborts the job even where SIGINT was
    # inherited as ignored (a background job of a shell, for instance).
    previous = _catch_sigint()
    worker.start()
    aborted = False
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if show and worker.is_alive():
                _draw(label, _percent(dom))
    except KeyboardInterrupt:
        aborted = True
        _abort(dom)
        worker.join()
    finally:
        _restore_sigint(previous)
    if show:
        if not errors and not aborted:
            _draw(label, 100)
        sys.stderr.write("\n")
    if errors:
        raise errors[0]
    if aborted:
        raise CommandError(f"{label} of domain '{dom.name}' was interrupted and aborted")


def _catch_sigint() -> object:
    import signal

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.default_int_handler)


def _restore_sigint(previous: object) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]


def _percent(dom: Domain) -> int:
    from virtkit import VirtError

    try:
        job = dom.job_info()
    except VirtError:
        return 0
    if job.data_total <= 0:
        return 0
    return min(100, job.data_processed * 100 // job.data_total)


def _abort(dom: Domain) -> None:
    from virtkit import VirtError

    try:
        dom.abort_job()
    except VirtError as exc:
        sys.stderr.write(f"error: failed to abort the job: {exc.message}\n")


def _draw(label: str, percent: int) -> None:
    sys.stderr.write(f"\r{label}: [{percent:3d} %]")
    sys.stderr.flush()


class Bar:
    """virsh's ``Label: [ 45 %]`` on stderr for work that reports its own progress (volume
    streams, clones, wipes); shown when stdout is a terminal or with ``verbose``."""

    def __init__(self, state: CliState, label: str, verbose: bool = False) -> None:
        self.label = label
        self.show = (verbose or sys.stdout.isatty()) and not state.quiet
        self.percent = -1

    def update(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if self.show and percent != self.percent:
            self.percent = percent
            _draw(self.label, percent)

    def end(self, ok: bool) -> None:
        if self.show:
            if ok:
                _draw(self.label, 100)
            sys.stderr.write("\n")
            sys.stderr.flush()
