"""A cache of the methods attrs generates, so a process does not compile them again.

Importing the module installs it (``virtkit.sdk`` and ``virtkit.xml`` import it before anything
else, so it is in place before the first attrs class is made).

attrs writes ``__init__``, ``__eq__``, ``__repr__``... of every class as Python source and
``compile()``s it when the class is created: for virtkit's XML models and records that is about
1,400 compilations on each start of the command line, the largest single cost of a short command.
The compiled code objects are what Python's own ``.pyc`` files hold; this keeps them the same way:
:func:`install` gives attrs' module a ``compile`` that answers from a marshal file (keyed on the
exact source text and file name) and compiles only what it has not seen. New entries are written
back when the process exits, so the first run of a new version pays once.

The file lives in the user's cache directory (``$XDG_CACHE_HOME/virtkit/code/``), one per
interpreter, attrs and marshal version. It is loaded only from a directory owned by the user and
closed to others (as Python refuses nothing here, this check is ours: a code cache another user can
write would run their code). ``VIRTKIT_NO_CODE_CACHE=1`` turns it off.

A generated ``__hash__`` embeds ``hash()`` of the class's name, which differs from process to
process: the source is keyed with that number left out, and a code object read back gets this
process's number put in its constants.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from virtkit._userdirs import cache_home, private_dir

_MAX_ENTRIES = 20_000  # a development tree edits sources; past this the file starts afresh

_cache: dict[tuple[str, str], tuple[Any, int]] = {}  # (source, file name) -> (code, hash number)
_new: dict[tuple[str, str], tuple[Any, int]] = {}
_path: str | None = None
_installed = False


def _directory() -> str:
    return os.path.join(cache_home(), "virtkit", "code")


def _private(directory: str) -> bool:
    """The directory is ours and nobody else can write to it (``virtkit/code`` is made 0700)."""
    return private_dir(directory, closed=0o022)


def _type_hash(source: str, filename: str) -> int | None:
    """The per-process number attrs put in this source's ``__hash__``, if it has one."""
    prefix = "<attrs generated methods "
    if "def __hash__" not in source or not filename.startswith(prefix):
        return None
    name, dash, count = filename[len(prefix):-1].rpartition("-")
    if not (dash and count.isdigit()):
        name = filename[len(prefix):-1]  # attrs adds -N only when the name was taken
    number = hash(f"<attrs generated hash {name}>")
    return number if f"{number}," in source else None


def _swap(code: Any, old: int, new: int) -> Any:
    """``code`` with the integer constant ``old`` replaced by ``new``, nested code included."""
    consts = tuple(
        new if type(c) is int and c == old else _swap(c, old, new) if type(c) is type(code) else c
        for c in code.co_consts
    )
    return code.replace(co_consts=consts)


def _cached_compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
    if args or kwargs or mode != "exec" or not isinstance(source, str):
        return compile(source, filename, mode, *args, **kwargs)
    number = _type_hash(source, filename)
    if number is None and "def __hash__" in source:
        return compile(source, filename, mode)  # a hash we cannot place: not cached
    key = (source if number is None else source.replace(f"{number},", "__TYPE_HASH__,"), filename)
    entry = _cache.get(key)
    if entry is None:
        code = compile(source, filename, mode)
        _cache[key] = _new[key] = (code, number or 0)
        return code
    code, stored = entry
    return code if number is None or number == stored else _swap(code, stored, number)


def _save() -> None:
    if not _new or _path is None:
        return
    import marshal

    entries = _cache if len(_cache) <= _MAX_ENTRIES else _new
    directory = os.path.dirname(_path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(directory):
            return
        partial = f"{_path}.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as f:
            marshal.dump(list(entries.items()), f)
        os.replace(partial, _path)
    except (OSError, ValueError):
        pass  # no cache directory: the next process compiles, nothing else changes


def install() -> None:
    """Give attrs the caching ``compile``; load what earlier processes compiled."""
    global _path, _installed
    if _installed or os.environ.get("VIRTKIT_NO_CODE_CACHE"):
        return
    _installed = True
    try:
        from attr import _make
    except ImportError:  # pragma: no cover - attrs is a dependency
        return
    if not hasattr(_make, "_compile_and_eval"):
        return  # an attrs that builds its methods some other way: leave it alone
    import atexit
    import marshal
    import zlib

    # attrs' own file stands for its version: attr.__version__ would import importlib.metadata
    made = os.stat(_make.__file__)
    tag = f"{sys.version}|{_make.__file__}|{made.st_size}|{made.st_mtime_ns}|{marshal.version}"
    directory = _directory()
    _path = os.path.join(directory, f"attrs-{zlib.crc32(tag.encode()):08x}.marshal")
    if _private(directory):
        try:
            with open(_path, "rb") as f:
                loaded = marshal.load(f)
            _cache.update((tuple(key), tuple(entry)) for key, entry in loaded)
        except (OSError, EOFError, ValueError, TypeError):
            _cache.clear()
    _make.compile = _cached_compile  # type: ignore[attr-defined]  # shadows the builtin there only
    atexit.register(_save)


install()  # importing this module installs it: the SDK and XML packages import it first
