"""The API facade: thin, typed handles (Connection, Domain, Network, StoragePool, StorageVolume,
Interface, Snapshot, Stream) over the runtime's dispatch. No driver logic lives here."""
