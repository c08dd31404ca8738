"""A pytest plugin ``certify.py`` loads into the conformance run: every domain the suite
generates gets the busybox root filesystem (``VKL_ROOT``) and an init that runs until it is
asked to stop (SIGTERM: exit 0, an orderly shutdown). The lxc driver never starts a container
without a root filesystem of its own, and the suite's template names none. It changes no
assertion of the suite.
"""

from __future__ import annotations

import os
from typing import Any

from virtkit_conformance import kit

ROOT = os.environ["VKL_ROOT"]
_domain_xml = kit.domain_xml
INIT = ("<init>/bin/sh</init><initarg>-c</initarg>"
        "<initarg>trap 'exit 0' TERM; echo virtkit-certify; while :; do sleep 0.1; done"
        "</initarg>")


def domain_xml(name: str, **kwargs: Any) -> str:
    text = _domain_xml(name, **kwargs)
    assert "<os><type>{os}</type></os>" in text, "the suite's domain template changed"
    text = text.replace("<os><type>{os}</type></os>", f"<os><type>{{os}}</type>{INIT}</os>")
    fs = f"<filesystem type='mount'><source dir='{ROOT}'/><target dir='/'/></filesystem>"
    if "<devices>" in text:
        return text.replace("<devices>", f"<devices>{fs}", 1)
    return text.replace("</domain>", f"<devices>{fs}</devices></domain>")


kit.domain_xml = domain_xml
