"""Hookspecs for the connection and the host node.

A driver plugin is instantiated once per connection (``DriverClass(context)``) and registered in
that connection's plugin manager, so its hooks need no connection argument: ``self`` is the
connection's driver state. Every hook here returns its first non-None result.
"""

from __future__ import annotations

from virtkit.sdk.hookspecs.markers import spec
from virtkit.sdk.records import NodeInfo


@spec(readonly=False, optional_result=True)
def virtkit_connect_probe() -> str | None:
    """Say whether this driver can serve a local default connection on this host.

    Called on a fresh driver instance that has not been opened, while the core picks a default
    URI (after ``VIRTKIT_DEFAULT_URI`` and the configuration file had none).

    :return: the URI to open (``"qemu:///system"``), or None when this host cannot run it.
    :raises: nothing; a driver that cannot tell returns None.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_open(uri: str, read_only: bool) -> bool | None:
    """Open the connection ``uri`` (already parsed and checked to name this driver).

    :param uri: the full URI text, as the user gave it after alias resolution.
    :param read_only: True for a read-only connection; the core already refuses every changing
        operation on it, a driver may use it to open its backend read-only.
    :return: True once open.
    :raises VirtError: NO_CONNECT when the backend cannot be reached or the path is unknown
        (message names the URI), AUTH_FAILED, INVALID_ARG for a path or parameter the driver
        does not accept.
    :state: the connection is open; the driver reconciles its records with reality here.
    """


@spec(readonly=True)
def virtkit_connect_close() -> bool | None:
    """Close the connection and release what ``connect_open`` took.

    :return: True.
    :raises: nothing; a failure to release is logged, never raised.
    :state: the connection is closed; guests keep running.
    """


@spec(readonly=True)
def virtkit_connect_get_capabilities() -> str | None:
    """The host's capabilities document (libvirt's ``<capabilities>``).

    :return: the XML text: host CPU, NUMA cells, guest types (os type, arch, emulator, machines).
    :raises VirtError: INTERNAL_ERROR when the backend cannot be queried.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_get_domain_capabilities(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
) -> str | None:
    """What a guest of this kind may use (libvirt's ``<domainCapabilities>``).

    :param emulator: path of the emulator binary, or None for the default.
    :param arch: guest architecture (``x86_64``), or None for the host's.
    :param machine: machine type, or None for the default.
    :param virttype: ``kvm``, ``qemu``... or None for the best available.
    :return: the XML text.
    :raises VirtError: INVALID_ARG for an unknown emulator/arch/machine/virttype combination.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_domain_xml_from_native(native_format: str, native_config: str) -> str | None:
    """Convert a guest configuration in the hypervisor's own format into domain XML (virsh
    ``domxml-from-native``, libvirt's virConnectDomainXMLFromNative).

    :param native_format: the format's name, as libvirt names it where it has one:
        ``vmware-vmx``, ``xen-xl``, ``vbox``... (a driver lists its formats in the capability
        flag ``native_formats``).
    :param native_config: the configuration text (a ``.vmx`` file, an xl.cfg, a ``.vbox``).
    :return: a ``<domain>`` document; what it cannot express is reported (kept in
        ``<metadata>`` or named in a logged warning), never silently dropped.
    :raises VirtError: CONFIG_UNSUPPORTED naming the format when the driver has no such format;
        CONFIG_UNSUPPORTED or XML_ERROR naming the setting when the configuration is malformed.
    :state: none (nothing is defined).
    """


@spec(readonly=True)
def virtkit_connect_domain_xml_to_native(native_format: str, xml: str) -> str | None:
    """Convert domain XML into the hypervisor's own configuration format (virsh
    ``domxml-to-native``, libvirt's virConnectDomainXMLToNative).

    :param native_format: as for ``connect_domain_xml_from_native``.
    :param xml: a ``<domain>`` document.
    :return: the configuration text.
    :raises VirtError: CONFIG_UNSUPPORTED naming the format or the element the format cannot
        express; XML_ERROR for a malformed document.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_get_hostname() -> str | None:
    """The hypervisor host's name.

    :return: the host name.
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_connect_get_version() -> int | None:
    """The hypervisor's version, encoded as major * 1,000,000 + minor * 1,000 + release.

    :return: the version number (the test driver: 2).
    :raises VirtError: INTERNAL_ERROR when the backend cannot say.
    :state: none.
    """


@spec(readonly=True)
def virtkit_node_get_info() -> NodeInfo | None:
    """The host's CPU and memory (libvirt's virNodeGetInfo).

    :return: a :class:`~virtkit.sdk.records.NodeInfo` (memory in KiB).
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_node_get_free_memory() -> int | None:
    """Free memory on the host, in bytes.

    :return: bytes free.
    :raises VirtError: SYSTEM_ERROR when it cannot be read.
    :state: none.
    """


@spec(readonly=True)
def virtkit_node_get_cells_free_memory(start_cell: int, max_cells: int) -> list[int] | None:
    """Free memory per NUMA cell, in bytes, for cells ``start_cell`` onwards (virsh freecell).

    :param start_cell: first cell, >= 0.
    :param max_cells: how many cells at most, >= 1.
    :return: one number per cell that exists in the range.
    :raises VirtError: INVALID_ARG when ``start_cell`` is beyond the last cell.
    :state: none.
    """
