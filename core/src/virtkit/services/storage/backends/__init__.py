"""Pool backends by pool type; each module is imported only when a pool of its type is used."""

from __future__ import annotations

import importlib

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.services.storage.backends.base import Backend
from virtkit.services.storage.commands import Runner
from virtkit.xml.storage import StoragePool

#: pool type -> (module, class)
BACKENDS = {
    "dir": ("files", "DirBackend"),
    "fs": ("files", "FsBackend"),
    "netfs": ("files", "NetfsBackend"),
    "disk": ("disk", "DiskBackend"),
    "logical": ("logical", "LogicalBackend"),
    "iscsi": ("iscsi", "IscsiBackend"),
}


def check_type(pool: StoragePool) -> None:
    if pool.type not in BACKENDS:
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: storage pool '{pool.name}' has type '{pool.type}'; "
            f"host storage supports {', '.join(BACKENDS)}",
            ErrorDomain.STORAGE,
        )


def backend_for(pool: StoragePool, runner: Runner) -> Backend:
    check_type(pool)
    module, cls = BACKENDS[pool.type]
    mod = importlib.import_module(f"virtkit.services.storage.backends.{module}")
    backend: Backend = getattr(mod, cls)(pool, runner)
    return backend
