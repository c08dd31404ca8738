"""The user's cache directory and the check that a directory is the user's own.

Imported by the command line's client (``virtkit.cli.launch``), so it uses ``os`` alone.
"""

from __future__ import annotations

import os


def cache_home() -> str:
    """``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def private_dir(directory: str, *, create: bool = False, closed: int = 0o077) -> bool:
    """``directory`` exists (made 0700 when ``create``), belongs to this user, and none of the
    permission bits in ``closed`` is set (0o077: nobody else may use it; 0o022: nobody else may
    write to it)."""
    if create:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError:
            return False
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & closed
