"""The conformance suite's test classes, one or more per group.

A driver's whole test setup::

    # tests/test_conformance.py
    from virtkit_conformance.suite import *  # noqa: F403

and ``pytest --virtkit-uri mydriver:///session``.
"""

from .test_agent import TestGuestAgent
from .test_blockjobs import TestBlockJobs
from .test_checkpoints import TestCheckpoints
from .test_connection import TestConnection
from .test_definition import TestDefinition
from .test_devices import TestDevices, TestResources
from .test_domain_events import TestDomainEvents
from .test_graphics import TestInputPower
from .test_guest import TestGuestInfo
from .test_hardening import TestBadInput, TestConcurrency, TestReadOnly
from .test_host import TestHost
from .test_lifecycle import TestLifecycle, TestSaveRestore
from .test_migration import TestMigration
from .test_migtune import TestMigrationTuning
from .test_netupdate import TestNetworkUpdate
from .test_nodedev import TestNodeDevices
from .test_nwfilters import TestNWFilters
from .test_objects import TestInterfaces, TestNetworks, TestStorage
from .test_portparams import TestNetworkPortParameters
from .test_secrets import TestSecrets
from .test_snapshots import TestSnapshots
from .test_sparse import TestSparseStreams
from .test_stateful import TestStateful
from .test_streams import TestConsole
from .test_tuning import TestTuning

__all__ = [
    "TestBadInput",
    "TestBlockJobs",
    "TestCheckpoints",
    "TestConcurrency",
    "TestConnection",
    "TestConsole",
    "TestDefinition",
    "TestDevices",
    "TestDomainEvents",
    "TestGuestAgent",
    "TestGuestInfo",
    "TestHost",
    "TestInputPower",
    "TestInterfaces",
    "TestLifecycle",
    "TestMigration",
    "TestMigrationTuning",
    "TestNWFilters",
    "TestNetworkPortParameters",
    "TestNetworkUpdate",
    "TestNetworks",
    "TestNodeDevices",
    "TestReadOnly",
    "TestResources",
    "TestSaveRestore",
    "TestSecrets",
    "TestSnapshots",
    "TestSparseStreams",
    "TestStateful",
    "TestStorage",
    "TestTuning",
]
