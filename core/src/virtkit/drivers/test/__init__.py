"""The in-memory test driver (scheme ``test``)."""

from virtkit.drivers.test.driver import TestDriver

__all__ = ["NOT_IMPLEMENTED", "TestDriver"]

#: The hookspecs the test driver leaves out by design, and why (the checklist tests read this).
NOT_IMPLEMENTED = {
    "connect_domain_xml_from_native": "the test hypervisor has no native configuration format "
    "(libvirt's test driver has none either)",
    "connect_domain_xml_to_native": "the test hypervisor has no native configuration format",
}
