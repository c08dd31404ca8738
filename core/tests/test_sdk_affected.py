"""virtkit.sdk.states.affected: libvirt's affect flags, resolved the same way by every driver."""

from __future__ import annotations

import pytest

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.states import affected


@pytest.mark.parametrize(("active", "persistent", "live", "config", "want"), [
    (True, True, False, False, (True, False)),    # current: the running guest
    (False, True, False, False, (False, True)),   # current: the definition
    (True, False, False, False, (True, False)),   # current, transient: live
    (True, True, True, True, (True, True)),
    (True, True, False, True, (False, True)),
    (False, True, False, True, (False, True)),
])
def test_the_definitions_reached(active: bool, persistent: bool, live: bool, config: bool,
                                 want: tuple[bool, bool]) -> None:
    assert affected("web", active, persistent, live, config) == want


def test_live_on_a_stopped_domain_is_refused_naming_it() -> None:
    with pytest.raises(VirtError) as e:
        affected("web", False, True, True, False, ErrorDomain.QEMU)
    assert (e.value.code, e.value.domain) == (ErrorCode.OPERATION_INVALID, ErrorDomain.QEMU)
    assert "domain 'web' is not running" in str(e.value)


def test_config_on_a_transient_domain_is_refused_naming_it() -> None:
    with pytest.raises(VirtError) as e:
        affected("web", True, False, True, True)
    assert e.value.code == ErrorCode.OPERATION_INVALID
    assert "transient domain 'web'" in str(e.value)
