"""Host services that hypervisor drivers share: storage and networking."""
