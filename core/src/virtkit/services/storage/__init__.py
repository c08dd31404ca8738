"""Host storage: the pools and volumes that hypervisor drivers share (entry point ``storage`` of
the group ``virtkit.services``). Imported only by connections whose driver declares it."""

from virtkit.services.storage.service import HostStorage

__all__ = ["HostStorage"]
