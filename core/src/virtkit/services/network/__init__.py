"""The host network service: virtual networks (Linux bridge, dnsmasq, nftables), their ports
(libvirt's virNetworkPort) and the host's interfaces, shared by the hypervisor drivers that
declare ``host_services = ("network",)``. Entry point ``network`` in group ``virtkit.services``.
"""

from virtkit.services.network.service import HostNetwork

__all__ = ["HostNetwork"]
