"""Cross-cutting plugins shipped with core (entry-point group ``virtkit.plugins``)."""
